"""After-store hooks: what runs on responses as soon as real-time ingestion has stored them.

``listen`` stores responses and knows nothing of what acts on them (alert rules live in ``act``, a domain
above it). Whoever sets up ingestion hands the hooks in: the web app gives its
:class:`~cxloop.services.listen.imports.Importer` the alert rules' hook
(:func:`cxloop.services.act.rules.engine.run_on_arrival`), and
:func:`~cxloop.services.listen.realtime.ingest_responses` runs them on every posted batch it stored.

**A post stores its rows and opens all its cases, or stores nothing.** The rows go to the warehouse and the
cases to the app database, two stores with no transaction spanning both, so the post keeps a write-ahead
record: the posted ids are written to the app database (:mod:`cxloop.store.arrivals`) in the transaction
that opens the import run, before the warehouse stores anything; :func:`settle_arrival` runs the hooks on
what was stored and removes the record, in one app-database transaction (what the hooks write and the
removal commit together). When the hooks fail, the record stays, and the post answers
:class:`ArrivalIncompleteError` (503: post again); the cases are then opened by whichever comes first: the
same post again (its stored responses count as duplicates and go through the hooks again), or
:func:`recover_arrivals` (when the web app starts, and on every round of its case job). A process that dies
between the two stores leaves the record too; its import run is closed as interrupted at the next start and
the record recovered then.

That is why **a hook must be idempotent**: run again on the same ids, it does nothing it did before (the
alert rules open one case per rule and subject, whoever asks twice).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

from ibis.backends import BaseBackend
from sqlalchemy import Engine, inspect
from sqlalchemy.orm import Session

from cxloop.config import Settings
from cxloop.services.storage import storage_problem
from cxloop.services.stores import session_scope
from cxloop.store import arrivals
from cxloop.store.tables import PendingArrival, utcnow

__all__ = [
    "AfterStore",
    "Arrival",
    "ArrivalIncompleteError",
    "ArrivalOutcome",
    "Recovery",
    "recover_arrivals",
    "run_after_store",
    "settle_arrival",
]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Arrival:
    """Responses just stored (and those posted again, stored already), as a hook receives them."""

    response_ids: tuple[str, ...]
    settings: Settings
    engine: Engine
    """The app database's engine."""
    con: BaseBackend
    """A warehouse connection to read the stored responses through (not the importer's writer)."""
    now: datetime
    session: Session
    """The app-database session every hook writes through: committed, together with the removal of the
    post's record, when every hook has returned; rolled back when one fails."""


@dataclass(frozen=True)
class ArrivalOutcome:
    """What a hook did that the poster is told: cases it opened, and notes (e.g. a rule it could not run)."""

    cases_opened: tuple[int, ...] = ()
    notes: tuple[str, ...] = ()


AfterStore = Callable[[Arrival], ArrivalOutcome]
"""A hook: called once per stored batch, in the order given; idempotent (see the module's text)."""


class ArrivalIncompleteError(RuntimeError):
    """The responses were stored but their after-store work (the alert rules) failed; they are recorded,
    and posting them again, or the recovery pass, finishes the work.

    ``reason`` is the storage failure's code when one caused it (:mod:`cxloop.services.storage`), else
    ``after_store_failed``; the message names no path and no data.
    """

    def __init__(self, run_id: int, cause: BaseException) -> None:
        problem = storage_problem(cause)
        self.run_id = run_id
        self.reason = problem.code if problem is not None else "after_store_failed"
        why = problem.reason if problem is not None else "the server log has the details"
        super().__init__(
            f"the responses were stored but their cases could not all be opened ({why}); post the same "
            "responses again to finish (stored ones count as duplicates), or cxloop opens them itself at its "
            "next recovery pass"
        )


def run_after_store(hooks: Sequence[AfterStore], arrival: Arrival) -> ArrivalOutcome:
    """Run ``hooks`` in order on ``arrival``; their cases and notes together."""
    opened: list[int] = []
    notes: list[str] = []
    for hook in hooks:
        outcome = hook(arrival)
        opened.extend(outcome.cases_opened)
        notes.extend(outcome.notes)
    return ArrivalOutcome(tuple(opened), tuple(notes))


def settle_arrival(
    hooks: Sequence[AfterStore],
    run_id: int,
    response_ids: Sequence[str],
    *,
    settings: Settings,
    engine: Engine,
    con: BaseBackend,
    now: datetime,
) -> ArrivalOutcome:
    """Run ``hooks`` on the stored responses ``response_ids`` of the import run ``run_id`` and remove the
    run's record of them (:mod:`cxloop.store.arrivals`; with any earlier record holding only these ids), in
    one app-database transaction: the cases the hooks open and the removal commit together or not at all.

    Raises
    ------
    ArrivalIncompleteError
        A hook (or the commit) failed: nothing of the hooks' work is kept and the record stays (with the
        attempt counted, its ids narrowed to ``response_ids``, those stored) for a retry or the recovery
        pass; the failure is logged with its traceback.
    """
    ids = tuple(response_ids)
    try:
        with session_scope(engine) as session:
            arrival = Arrival(ids, settings, engine, con, now, session)
            outcome = run_after_store(hooks, arrival) if ids else ArrivalOutcome()
            arrivals.settle(session, run_id, covered=ids)
    except Exception as exc:
        _log.exception("after-store work of import run %s failed; it stays recorded for a retry", run_id)
        try:
            with session_scope(engine) as session:
                arrivals.failed(session, run_id, f"{type(exc).__name__}: {exc}", response_ids=ids, now=now)
        except Exception:  # noqa: BLE001 - the record is there already; only its attempt count is lost
            _log.exception("could not count the failed attempt of import run %s", run_id)
        raise ArrivalIncompleteError(run_id, exc) from exc
    return outcome


@dataclass(frozen=True)
class Recovery:
    """What a recovery pass did: the import runs whose after-store work it finished, those it could not
    finish (still recorded), and the cases opened."""

    settled: tuple[int, ...] = ()
    failed: tuple[int, ...] = ()
    cases_opened: tuple[int, ...] = ()


def recover_arrivals(
    hooks: Sequence[AfterStore],
    *,
    settings: Settings,
    engine: Engine,
    warehouse: Callable[[], AbstractContextManager[BaseBackend]],
    now: datetime | None = None,
    grace: timedelta = timedelta(0),
) -> Recovery:
    """Finish the after-store work of every recorded arrival whose import run is no longer running (the
    post failed after storing, or its process died and its run was closed as interrupted): the hooks run on
    the recorded ids (only stored responses are found) and the record is removed.

    ``warehouse`` gives a connection to read the responses through, asked for only when there is work (a
    DuckDB file is not opened for nothing). ``grace``: leave records touched less than this long ago (a post
    may be running its own hooks on them this very moment; the periodic pass waits a minute, the start-up
    pass none). An app database without the records' table yet (not migrated) has nothing to recover.
    """
    now = now or utcnow()
    if not inspect(engine).has_table(PendingArrival.__tablename__):
        return Recovery()
    with session_scope(engine) as session:
        pending = [(p.run_id, tuple(p.response_ids)) for p in arrivals.due(session, before=now - grace)]
    if not pending:
        return Recovery()
    settled: list[int] = []
    failed: list[int] = []
    opened: list[int] = []
    with warehouse() as con:
        for run_id, ids in pending:
            try:
                outcome = settle_arrival(
                    hooks, run_id, ids, settings=settings, engine=engine, con=con, now=now
                )
            except ArrivalIncompleteError:
                failed.append(run_id)
                continue
            settled.append(run_id)
            opened.extend(outcome.cases_opened)
    _log.warning(
        "recovery pass: after-store work finished for import run(s) %s (%d case(s) opened); failing for %s",
        ", ".join(map(str, settled)) or "none",
        len(opened),
        ", ".join(map(str, failed)) or "none",
    )
    return Recovery(tuple(settled), tuple(failed), tuple(opened))
