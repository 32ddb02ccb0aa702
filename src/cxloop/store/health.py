"""The readiness probe's write: one row of ``health_probe`` updated and committed, proving the app database
takes writes (a full disk, a read-only file or a read-only server fails it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from cxloop.store.tables import HealthProbe, utcnow

__all__ = ["probe_write"]


def probe_write(session: Session, *, now: datetime | None = None) -> None:
    """Write the probe's row (made on first use) in the session's transaction; its caller commits."""
    now = now or utcnow()
    if session.execute(update(HealthProbe).where(HealthProbe.id == 1).values(checked_at=now)).rowcount == 0:  # type: ignore[attr-defined]
        session.add(HealthProbe(id=1, checked_at=now))
    session.flush()
