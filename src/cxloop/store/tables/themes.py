"""The comment codebook's themes, editable by analysts (migration 0003)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cxloop.store.tables._base import Base, utcnow

__all__ = ["Theme"]


class Theme(Base):
    """A theme of the programme's comment codebook (``cxloop.text``), editable by analysts.

    ``keywords`` holds one keyword or phrase per line (``*`` stands for up to three words). A parent
    theme groups children ("staff" over "friendly_staff" and "unhelpful_staff"); inactive themes are
    kept (their past tags stay readable) but no longer tag new comments.
    """

    __tablename__ = "themes"

    theme_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[str] = mapped_column(Text, default="")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("themes.theme_id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    parent: Mapped[Theme | None] = relationship(remote_side=[theme_id])
