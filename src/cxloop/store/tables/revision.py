"""The scope stamp's one-row table (migration 0009, which also adds the triggers that renew it).

Read by :mod:`cxloop.store.revision`, which explains what the stamp is for.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cxloop.store.tables._base import Base

__all__ = ["AppRevision"]


class AppRevision(Base):
    """One row: the database's id and the stamp the triggers renew."""

    __tablename__ = "app_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    database_id: Mapped[str] = mapped_column(String(32))
    stamp: Mapped[int] = mapped_column(BigInteger)
