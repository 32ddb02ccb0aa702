"""The comment codebook in the app database: themes analysts create, edit, re-parent and retire.

Themes are plain records here (``name``, ``description``, ``keywords`` as a list, ``parent`` name,
``active``); :mod:`cxloop.services.understand.themes` turns them into a :class:`cxloop.text.Codebook`.
Retiring a theme (``active=False``) keeps it and its past tags; :func:`delete_theme` removes a theme with no
children.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cxloop.store.tables import Theme

__all__ = [
    "create_theme",
    "delete_theme",
    "get_theme",
    "list_themes",
    "seed_themes",
    "theme_record",
    "update_theme",
]

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
_UNSET: Any = object()


def _keywords_text(keywords: Iterable[str] | str) -> str:
    if isinstance(keywords, str):
        keywords = [k for line in keywords.splitlines() for k in line.split(",")]
    cleaned = [" ".join(k.split()).lower() for k in keywords]
    return "\n".join(dict.fromkeys(k for k in cleaned if k))


def theme_record(theme: Theme) -> dict[str, Any]:
    """A theme as a plain record (``parent`` is the parent's name)."""
    return {
        "name": theme.name,
        "description": theme.description,
        "keywords": [k for k in theme.keywords.splitlines() if k],
        "parent": theme.parent.name if theme.parent is not None else None,
        "active": theme.active,
    }


def get_theme(session: Session, name: str) -> Theme | None:
    return session.scalars(select(Theme).where(Theme.name == name)).one_or_none()


def list_themes(session: Session, *, include_inactive: bool = False) -> list[Theme]:
    query = select(Theme).order_by(Theme.name)
    if not include_inactive:
        query = query.where(Theme.active.is_(True))
    return list(session.scalars(query))


def _parent(session: Session, name: str | None, child: str) -> Theme | None:
    if name is None:
        return None
    parent = get_theme(session, name)
    if parent is None:
        raise ValueError(f"theme {child!r}: no parent theme {name!r}")
    node: Theme | None = parent
    while node is not None:
        if node.name == child:
            raise ValueError(f"theme {child!r}: parent {name!r} would make a cycle")
        node = node.parent
    return parent


def create_theme(
    session: Session,
    name: str,
    keywords: Iterable[str] | str = (),
    *,
    description: str = "",
    parent: str | None = None,
    active: bool = True,
) -> Theme:
    """Add a theme.

    Raises
    ------
    ValueError
        If the name is not snake_case (a lower-case letter, then letters, digits or ``_``), already
        taken, or the parent does not exist.
    """
    if not _NAME.match(name):
        raise ValueError(f"theme name {name!r}: use lower-case letters, digits and _ (like 'long_wait')")
    if get_theme(session, name) is not None:
        raise ValueError(f"theme {name!r} exists already")
    theme = Theme(
        name=name,
        description=description,
        keywords=_keywords_text(keywords),
        parent=_parent(session, parent, name),
        active=active,
    )
    session.add(theme)
    session.flush()
    return theme


def update_theme(
    session: Session,
    name: str,
    *,
    keywords: Iterable[str] | str | None = None,
    description: str | None = None,
    parent: str | None = _UNSET,
    active: bool | None = None,
) -> Theme:
    """Change a theme's keywords, description, parent (``None``: top level) or active flag.

    Raises :class:`KeyError` if there is no such theme, :class:`ValueError` for a bad parent.
    """
    theme = get_theme(session, name)
    if theme is None:
        raise KeyError(name)
    if keywords is not None:
        theme.keywords = _keywords_text(keywords)
    if description is not None:
        theme.description = description
    if parent is not _UNSET:
        theme.parent = _parent(session, parent, name)
    if active is not None:
        theme.active = active
    session.flush()
    return theme


def delete_theme(session: Session, name: str) -> None:
    """Remove a theme that has no child themes (retire it with ``active=False`` to keep it)."""
    theme = get_theme(session, name)
    if theme is None:
        raise KeyError(name)
    if session.scalars(select(Theme).where(Theme.parent_id == theme.theme_id)).first() is not None:
        raise ValueError(f"theme {name!r} has child themes: move or delete them first")
    session.delete(theme)
    session.flush()


def seed_themes(session: Session, records: Sequence[Mapping[str, Any]]) -> int:
    """Add the themes of ``records`` that do not exist yet (parents first); returns how many were added."""
    added = 0
    pending = [r for r in records if get_theme(session, str(r["name"])) is None]
    while pending:
        ready = [
            r for r in pending if not r.get("parent") or get_theme(session, str(r["parent"])) is not None
        ]
        if not ready:
            raise ValueError(
                "themes refer to parents that are not in the records: "
                + ", ".join(sorted(str(r["parent"]) for r in pending))
            )
        for record in ready:
            create_theme(
                session,
                str(record["name"]),
                record.get("keywords", ()),
                description=str(record.get("description") or ""),
                parent=record.get("parent") or None,
                active=bool(record.get("active", True)),
            )
            added += 1
        pending = [r for r in pending if r not in ready]
    return added
