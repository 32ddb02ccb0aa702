"""Login sessions: the server-side half of every session cookie and API token (migration 0010)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from cxloop.store.tables._base import Base, utcnow

__all__ = ["LoginSession"]


class LoginSession(Base):
    """One login: a session cookie (``kind`` ``page``) or an API token (``api``) works while its row exists.

    ``id`` is the random session id the signed token carries. Logging out deletes the row; a password change
    or disabling the user deletes all of theirs; rows past ``expires_at`` (the token's own expiry) are
    deleted as new logins come in.
    """

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
