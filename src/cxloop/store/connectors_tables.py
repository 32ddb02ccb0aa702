"""SQLAlchemy tables for saved mappings and upload jobs (issue 10).

Registered on ``cxloop.store.models.Base.metadata`` by the import at the end of ``cxloop.store.models``;
created by migration 0007.
"""

from __future__ import annotations
