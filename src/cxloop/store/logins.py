"""Login sessions: opened at login, checked on every request, ended by logout, a password change or
disabling the user.

A session cookie or API token is a signed JWT naming a user and a random session id; it works only while
that id's row in ``login_sessions`` exists for that user. So ending a session is a delete that every
process sees on its next request (the web app, ``cxloop users ...`` in another process, plain SQL).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from cxloop.store.tables import LoginSession, utcnow

__all__ = ["end_all_sessions", "end_session", "is_live", "open_session", "purge_expired"]


def open_session(
    session: Session, user_id: int, kind: str, minutes: int, *, now: datetime | None = None
) -> str:
    """Start a login session for ``user_id`` lasting ``minutes``; returns its new random id.

    Sessions past their expiry are deleted on the way (so the table holds only live ones).
    """
    started = now or utcnow()
    purge_expired(session, started)
    session_id = secrets.token_urlsafe(32)
    session.add(
        LoginSession(
            id=session_id,
            user_id=user_id,
            kind=kind,
            created_at=started,
            expires_at=started + timedelta(minutes=minutes),
        )
    )
    session.flush()
    return session_id


def is_live(session: Session, user_id: int, session_id: str) -> bool:
    """Whether ``session_id`` is a session of ``user_id`` that has not been ended (one primary-key read)."""
    owner = session.scalar(select(LoginSession.user_id).where(LoginSession.id == session_id))
    return owner is not None and owner == user_id


def end_session(session: Session, session_id: str) -> bool:
    """End one session (logout); whether it was live."""
    return _delete(session, LoginSession.id == session_id) > 0


def end_all_sessions(session: Session, user_id: int) -> int:
    """End every session of ``user_id`` (password change, disabled user, logout everywhere); how many."""
    return _delete(session, LoginSession.user_id == user_id)


def purge_expired(session: Session, now: datetime | None = None) -> int:
    """Delete sessions past their expiry (their tokens are refused anyway); how many."""
    return _delete(session, LoginSession.expires_at <= (now or utcnow()))


def _delete(session: Session, where: ColumnElement[bool]) -> int:
    # No synchronisation with objects in the session: none are kept there, and evaluating the criterion in
    # Python would compare stored naive timestamps (SQLite) with aware ones.
    statement = delete(LoginSession).where(where).execution_options(synchronize_session=False)
    return int(session.execute(statement).rowcount)  # type: ignore[attr-defined]
