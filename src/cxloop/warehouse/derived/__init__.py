"""Tables derived from the facts and kept in step by the writer, batch by batch.

``response_items`` (the wide copy of the driver items), ``responses_monthly`` (the metrics cube's monthly
leaf), ``driver_moments_monthly`` (key-driver sums per leaf cell) and ``data_version`` (the number caches
are keyed by).
"""
