"""SQLAlchemy tables for trained model registry and outreach settings (issue 11).

Registered on ``cxloop.store.models.Base.metadata`` by the import at the end of ``cxloop.store.models``;
created by migration 0008.
"""

from __future__ import annotations
