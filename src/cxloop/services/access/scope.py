"""Who sees what: a viewer sees their unit's subtree of the org hierarchy and nothing else.

Every service function takes the :class:`Viewer` first and calls :func:`visible_units` (or
:func:`require_unit`) before any query runs, so scope is decided in one place and never by a template.
:class:`ScopeError` means "outside your subtree" and :class:`UnknownUnitError` "no such unit"; the web
layer answers both with 404 for non-admins, so that a unit's existence does not leak.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.orm import Session

from cxloop.services.cache import MISSING, ResultCache
from cxloop.store import revision
from cxloop.store import units as unit_store
from cxloop.store import users as user_store
from cxloop.store.tables import Role, User

T = TypeVar("T")

__all__ = [
    "NoHierarchyError",
    "Role",
    "ScopeError",
    "UnknownUnitError",
    "UnknownUserError",
    "Viewer",
    "acting_viewer",
    "nearby_units",
    "require_unit",
    "scope_cached",
    "subtree_units",
    "viewer_for_user",
    "visible_units",
]

#: Who-sees-what answers (a user's viewer, a unit's subtree) kept under the app database's scope stamp
#: (:mod:`cxloop.store.revision`): any change to users or units renews the stamp, so an entry is never
#: read after the state it was computed from has changed. A subtree of 10,000 unit ids is ~1 MB.
scope_results = ResultCache(maxsize=2048)


def scope_cached(session: Session, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()`` for ``key`` at the app database's current scope stamp, kept for the next request.

    Without a stamp (a database not built by the migrations) nothing is kept.
    """
    stamp = revision.current(session)
    if stamp is None:
        return compute()
    full = (stamp, key)
    value = scope_results.get(full)
    if value is MISSING:
        value = compute()
        scope_results.put(full, value)
    return value


class ScopeError(PermissionError):
    """The viewer asked for a unit outside their subtree."""

    def __init__(self, unit_id: str, viewer: Viewer) -> None:
        self.unit_id = unit_id
        self.viewer = viewer
        super().__init__(f"unit {unit_id!r} is outside your scope (the subtree of {viewer.unit_id!r})")


class UnknownUnitError(LookupError):
    """No unit has this id. ``suggestions`` lists visible units with similar ids, then nearby ones."""

    def __init__(self, unit_id: str, suggestions: list[str]) -> None:
        self.unit_id = unit_id
        self.suggestions = suggestions
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown unit {unit_id!r}{hint}")


class UnknownUserError(LookupError):
    """No active user has this e-mail address."""

    def __init__(self, email: str) -> None:
        self.email = email
        super().__init__(f"no active user {email!r}; list users with `cxloop users list`")


class NoHierarchyError(LookupError):
    """The app database has no org hierarchy yet, so there is nobody to act as."""

    def __init__(self) -> None:
        super().__init__(
            "the app database has no org hierarchy: run `cxloop demo generate`, or `cxloop db upgrade` then "
            "`cxloop import units FILE`"
        )


@dataclass(frozen=True)
class Viewer:
    """Someone looking at data: the top of what they may see, their role and (if a user) their id."""

    unit_id: str
    role: Role = Role.analyst
    user_id: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", Role(self.role))

    @classmethod
    def for_user(cls, user: User) -> Viewer:
        """The viewer a logged-in user acts as."""
        return cls(unit_id=user.unit_id, role=Role(user.role), user_id=user.id)


def visible_units(session: Session, viewer: Viewer) -> frozenset[str]:
    """The viewer's unit and every unit below it.

    Raises
    ------
    ScopeError
        If the viewer's own unit no longer exists (they see nothing until it is fixed).
    """
    try:
        return subtree_units(session, viewer.unit_id)
    except KeyError:
        raise ScopeError(viewer.unit_id, viewer) from None


def fact_units(session: Session, viewer: Viewer) -> frozenset[str] | None:
    """The units whose customers' facts the viewer sees, or ``None`` (no filter) for a viewer at the top.

    Facts and customers without a unit belong to the root: a transaction of a customer not imported yet,
    a customer without a home unit. Filtering by the subtree's units would hide them from everyone, even
    an admin of the whole organisation (issue 21: ``cxloop clv fit`` found "no transactions" after
    transactions were imported without a customers file), so the top of the hierarchy is not filtered.
    """
    units = visible_units(session, viewer)
    unit = unit_store.get_unit(session, viewer.unit_id)
    return None if unit is not None and unit.parent_id is None else units


def subtree_units(session: Session, unit_id: str) -> frozenset[str]:
    """The unit and every unit below it, kept under the scope stamp. Raises ``KeyError`` if unknown."""
    units = scope_cached(session, ("subtree", unit_id), lambda: _subtree(session, unit_id))
    if units is None:
        raise KeyError(f"unknown unit {unit_id!r}")
    return units


def _subtree(session: Session, unit_id: str) -> frozenset[str] | None:
    try:
        return frozenset(unit_store.subtree_ids(session, unit_id))
    except KeyError:
        return None


def viewer_for_user(session: Session, user_id: int) -> Viewer | None:
    """The viewer an active user acts as, or ``None`` (no such user, or disabled)."""

    def load() -> Viewer | None:
        user = session.get(User, user_id)
        return Viewer.for_user(user) if user is not None and user.is_active else None

    return scope_cached(session, ("user", user_id), load)


def require_unit(
    session: Session, viewer: Viewer, unit_id: str, visible: frozenset[str] | None = None
) -> frozenset[str]:
    """Check that ``unit_id`` is in the viewer's subtree; returns the visible units.

    Raises
    ------
    UnknownUnitError
        If no unit has this id; its ``suggestions`` are visible units with similar ids (or, failing
        that, the viewer's own unit and its children).
    ScopeError
        If the unit exists but lies outside the viewer's subtree.
    """
    visible = visible_units(session, viewer) if visible is None else visible
    if unit_id in visible:
        return visible
    if unit_store.get_unit(session, unit_id) is None:
        raise UnknownUnitError(unit_id, nearby_units(session, viewer, unit_id, visible))
    raise ScopeError(unit_id, viewer)


def nearby_units(session: Session, viewer: Viewer, unit_id: str, visible: frozenset[str]) -> list[str]:
    """Units to suggest for a ``unit_id`` the viewer cannot see: visible units with similar ids, or, failing
    that, the viewer's own unit and its first children. Drawn only from ``visible``, so they leak nothing."""
    close = difflib.get_close_matches(unit_id, sorted(visible), n=5, cutoff=0.5)
    if close:
        return close
    return [viewer.unit_id, *unit_store.children_ids(session, viewer.unit_id)[:8]]


def acting_viewer(session: Session, *, as_user: str | None = None, unit_id: str | None = None) -> Viewer:
    """The viewer a command line or script acts as.

    A user (``as_user``, an e-mail address: their role and scope), else an admin at ``unit_id``, else an
    admin at the top of the hierarchy (there is one root: imports refuse a second).

    Raises
    ------
    UnknownUserError
        ``as_user`` names no active user.
    NoHierarchyError
        Neither a unit nor a hierarchy to take the top of.
    """
    if as_user:
        user = user_store.get_user_by_email(session, as_user)
        if user is None or not user.is_active:
            raise UnknownUserError(as_user)
        return Viewer.for_user(user)
    if unit_id is not None:
        return Viewer(unit_id=unit_id, role=Role.admin)
    units = unit_store.all_units(session)  # ordered by depth: the root first
    if not units:
        raise NoHierarchyError()
    return Viewer(unit_id=units[0].unit_id, role=Role.admin)
