"""Every kind of alert rule, listed in one place.

The rule engine (:mod:`cxloop.services.act.rules.engine`) validates and evaluates rules through
:data:`KINDS` only. The list is written out here rather than filled by each kind's module when imported, so
the set of kinds is the same whatever a process imported first (the web app, the command line, a script
that only ingests): a stored rule is never skipped because its kind's module happened not to be loaded. A new
kind is a module under ``act/rules/`` exporting a :class:`~cxloop.services.act.rules.kind.RuleKind`, and a
line below.

Example
-------
>>> sorted(KINDS)[:3]
['ces_at_least', 'ces_at_most', 'comment_keywords']
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from cxloop.services.act.rules.churn_risk import CHURN_RISK
from cxloop.services.act.rules.keywords import COMMENT_KEYWORDS
from cxloop.services.act.rules.kind import RuleKind
from cxloop.services.act.rules.score_drop import UNIT_SCORE_DROP
from cxloop.services.act.rules.theme import THEME
from cxloop.services.act.rules.thresholds import CES_AT_LEAST, CES_AT_MOST, CSAT_AT_MOST, NPS_AT_MOST
from cxloop.services.act.rules.value_tier import DETRACTOR_IN_TOP_VALUE_TIER

__all__ = ["KINDS"]

KINDS: Mapping[str, RuleKind] = MappingProxyType(
    {
        kind.name: kind
        for kind in (
            NPS_AT_MOST,
            CSAT_AT_MOST,
            CES_AT_MOST,
            CES_AT_LEAST,
            COMMENT_KEYWORDS,
            DETRACTOR_IN_TOP_VALUE_TIER,
            UNIT_SCORE_DROP,
            THEME,
            CHURN_RISK,
        )
    }
)
"""Every kind of rule by name (read-only)."""
