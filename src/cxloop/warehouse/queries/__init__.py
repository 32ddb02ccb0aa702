"""Questions asked of the warehouse, as Ibis expressions or engine SQL that run where the data is.

``cube`` (NPS/CSAT/CES sufficient statistics per cell), ``driver_stats`` (key-driver moments and answer
patterns), ``plan_stats`` (item windows for action plans), ``rfm``, ``kpis``, ``value`` (customer value
and its write-back), ``churn_features`` (point-in-time features, labels and scores) and ``comment_tags``
(comments to tag, their tags, and what the customers did next).
"""
