"""SQLAlchemy tables for targets and action plans (issue 7).

Registered on ``cxloop.store.models.Base.metadata`` by the import at the end of ``cxloop.store.models``;
created by migration 0006.
"""

from __future__ import annotations
