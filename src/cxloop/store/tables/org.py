"""The org hierarchy and who logs in: units, users and their roles.

Created by migration 0001. ``units.owner_user_id`` and ``users.unit_id`` point at each other, so the
two tables live together.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, DateTime, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cxloop.store.tables._base import Base, utcnow

__all__ = ["Role", "Unit", "User"]


class Role(enum.StrEnum):
    """What a user may do; what they may *see* is set by their scope unit."""

    admin = "admin"
    executive = "executive"
    manager = "manager"
    analyst = "analyst"
    frontline = "frontline"


class Unit(Base):
    """A node of the org hierarchy (company, division, region, branch, team...).

    ``path`` is the materialised path of unit ids from the root (``/bank/retail/north/b01/``), so a
    subtree is one ``LIKE 'prefix%'`` on any database; ``depth`` is 0 at the root.
    """

    __tablename__ = "units"

    unit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("units.unit_id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(64))
    depth: Mapped[int] = mapped_column(Integer, default=0)
    path: Mapped[str] = mapped_column(String(2000), index=True)
    owner_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", use_alter=True, name="fk_units_owner_user_id_users"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    parent: Mapped[Unit | None] = relationship(remote_side=[unit_id], back_populates="children")
    children: Mapped[list[Unit]] = relationship(back_populates="parent")
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_user_id])


class User(Base):
    """A person who logs in. They see their scope unit's subtree and nothing else."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(Enum(Role, name="user_role", native_enum=False, length=32))
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.unit_id"), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    unit: Mapped[Unit] = relationship(foreign_keys=[unit_id])
