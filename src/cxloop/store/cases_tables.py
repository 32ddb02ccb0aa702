"""SQLAlchemy tables for alert rules, cases with one owner, SLA clocks, audit trail, notifications (issue 7).

Registered on ``cxloop.store.models.Base.metadata`` by the import at the end of ``cxloop.store.models``;
created by migration 0005.
"""

from __future__ import annotations
