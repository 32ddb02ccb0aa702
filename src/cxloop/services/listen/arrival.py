"""After-store hooks: what runs on responses as soon as real-time ingestion has stored them.

``listen`` stores responses and knows nothing of what acts on them (alert rules live in ``act``, a domain
above it). Whoever sets up ingestion hands the hooks in: the web app gives its
:class:`~cxloop.services.listen.imports.Importer` the alert rules' hook
(:func:`cxloop.services.act.rules.engine.run_on_arrival`), and
:func:`~cxloop.services.listen.realtime.ingest_responses` runs them on every posted batch it stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ibis.backends import BaseBackend
from sqlalchemy import Engine

from cxloop.config import Settings

__all__ = ["AfterStore", "Arrival", "ArrivalOutcome", "run_after_store"]


@dataclass(frozen=True)
class Arrival:
    """Responses just stored (and those posted again, stored already), as a hook receives them."""

    response_ids: tuple[str, ...]
    settings: Settings
    engine: Engine
    """The app database's engine; a hook opens its own session (committed when it returns)."""
    con: BaseBackend
    """A warehouse connection to read the stored responses through (not the importer's writer)."""
    now: datetime


@dataclass(frozen=True)
class ArrivalOutcome:
    """What a hook did that the poster is told: cases it opened, and notes (e.g. a rule it could not run)."""

    cases_opened: tuple[int, ...] = ()
    notes: tuple[str, ...] = ()


AfterStore = Callable[[Arrival], ArrivalOutcome]
"""A hook: called once per stored batch, in the order given."""


def run_after_store(hooks: Sequence[AfterStore], arrival: Arrival) -> ArrivalOutcome:
    """Run ``hooks`` in order on ``arrival``; their cases and notes together."""
    opened: list[int] = []
    notes: list[str] = []
    for hook in hooks:
        outcome = hook(arrival)
        opened.extend(outcome.cases_opened)
        notes.extend(outcome.notes)
    return ArrivalOutcome(tuple(opened), tuple(notes))
