"""API keys for integrations, scoped to a unit's subtree (migration 0004)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cxloop.store.tables._base import Base, utcnow
from cxloop.store.tables.org import Role

__all__ = ["ApiKey"]


class ApiKey(Base):
    """A long-lived key for an integration, scoped to a unit's subtree. Only a hash of the key is stored.

    ``prefix`` (the key's first characters, unique) finds the row; ``key_hash`` (SHA-256 of the whole key,
    which is 256 random bits, so a slow hash adds nothing) proves it.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(Enum(Role, name="api_key_role", native_enum=False, length=32))
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.unit_id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
