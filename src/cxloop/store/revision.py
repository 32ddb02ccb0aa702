"""The app database's scope stamp: a value that changes with every change to users or units.

Who a bearer token stands for (role, unit, active) and which units a viewer can see are read on every
request, and both change rarely. Database triggers (migration 0009) give ``app_revision.stamp`` a new
random 63-bit value in the same transaction as any insert, update or delete of ``users`` or ``units`` --
whoever writes them: the web app, ``cxloop users ...`` in another process, a hierarchy import, a
hand-written SQL statement. So ``(database id, stamp)`` names one state of everything scope depends on,
and an answer computed at that state can be kept under it (:mod:`cxloop.services.access.scope`); nothing is
invalidated by hand.

Random rather than a counter: a transaction that changes a user and then rolls back has seen a stamp
that no committed state will ever carry, so an answer it cached under that stamp is never read again (a
counter would hand the same number to the next change). The database id tells two databases (or a
re-created one) apart.

:func:`current` is one primary-key read per transaction (remembered until the session writes, commits or
rolls back); it answers ``None`` -- do not cache -- when the table is missing or empty (a database built by
``create_all`` rather than the migrations). A write made through ``session.connection()`` directly is not
seen by the session's memory until its transaction ends.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from sqlalchemy import Engine, event, inspect, text
from sqlalchemy.orm import ORMExecuteState, Session

from cxloop.store.tables import AppRevision

__all__ = ["Stamp", "current"]

Stamp = tuple[str, int]
"""``(database id, stamp)``."""

TABLE = AppRevision.__tablename__

_MEMO = "cxloop.scope_stamp"
_has_table: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def current(session: Session) -> Stamp | None:
    """The scope stamp as this session sees it, or ``None`` when answers must not be kept.

    Read once per transaction and remembered in ``session.info`` until the session writes (a flush or
    any statement other than a SELECT through it), commits or rolls back; a request asks several times.
    """
    if _MEMO in session.info:
        return session.info[_MEMO]
    session.info[_MEMO] = stamp = _read(session)
    return stamp


def _read(session: Session) -> Stamp | None:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    with _lock:
        known = _has_table.get(engine)
    if not known:
        # Asked until the table appears (a test may upgrade a database its engine already served).
        known = inspect(session.connection()).has_table(TABLE)
        if not known:
            return None
        with _lock:
            _has_table[engine] = True
    row = session.execute(text(f"SELECT database_id, stamp FROM {TABLE} WHERE id = 1")).first()  # noqa: S608
    return (str(row[0]), int(row[1])) if row is not None else None


def _forget(session: Session, *_args: Any) -> None:
    session.info.pop(_MEMO, None)


def _forget_after_write(state: ORMExecuteState) -> None:
    if not state.is_select:
        _forget(state.session)


event.listen(Session, "after_flush", _forget)
event.listen(Session, "after_commit", _forget)
event.listen(Session, "after_rollback", _forget)
event.listen(Session, "do_orm_execute", _forget_after_write)
