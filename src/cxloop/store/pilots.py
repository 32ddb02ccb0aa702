"""Pilots in the app database: definition, treated and control units, rollout waves, decisions.

Plain persistence: no scope checks here (they belong to :mod:`cxloop.services.prove.pilots`), but every write
checks that the units it names exist, so a typo never creates a pilot of nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from cxloop.store.tables import Pilot, PilotDecision, PilotDecisionKind, PilotUnit, PilotWave, Unit

__all__ = [
    "CONTROL",
    "TREATED",
    "PilotDraft",
    "PilotStoreError",
    "add_wave",
    "create_pilot",
    "get_pilot",
    "list_pilots",
    "pilot_unit_ids",
    "record_decision",
    "set_controls",
]

TREATED = "treated"
CONTROL = "control"


class PilotStoreError(ValueError):
    """A pilot cannot be written as asked (unknown units, duplicate name, bad dates)."""


@dataclass(frozen=True)
class PilotDraft:
    """What a user declares when creating a pilot."""

    name: str
    start_date: date
    units: tuple[str, ...]
    hypothesis: str = ""
    end_date: date | None = None
    one_off_cost: float = 0.0
    running_cost: float = 0.0
    touchpoints: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    target_metrics: tuple[str, ...] = ("nps",)
    linked_actions: tuple[str, ...] = ()
    controls: tuple[str, ...] = field(default=())
    created_by: int | None = None


def _check_units(session: Session, unit_ids: Iterable[str]) -> list[str]:
    ids = list(dict.fromkeys(unit_ids))
    found = set(session.scalars(select(Unit.unit_id).where(Unit.unit_id.in_(ids))))
    unknown = [u for u in ids if u not in found]
    if unknown:
        raise PilotStoreError(f"unknown unit(s): {', '.join(unknown)}")
    return ids


def create_pilot(session: Session, draft: PilotDraft) -> Pilot:
    """Insert a pilot with its treated units (and named controls, if any); returns it (flushed)."""
    name = draft.name.strip()
    if not name:
        raise PilotStoreError("a pilot needs a name")
    if session.scalar(select(Pilot.id).where(Pilot.name == name)) is not None:
        raise PilotStoreError(f"a pilot named {name!r} exists already")
    if draft.end_date is not None and draft.end_date < draft.start_date:
        raise PilotStoreError(f"end {draft.end_date} is before start {draft.start_date}")
    if draft.one_off_cost < 0 or draft.running_cost < 0:
        raise PilotStoreError("costs must be non-negative")
    if not draft.units:
        raise PilotStoreError("a pilot needs at least one unit")
    treated = _check_units(session, draft.units)
    controls = _check_units(session, draft.controls)
    overlap = set(treated) & set(controls)
    if overlap:
        raise PilotStoreError(
            f"unit(s) both in the pilot and in its control group: {', '.join(sorted(overlap))}"
        )
    pilot = Pilot(
        name=name,
        hypothesis=draft.hypothesis,
        start_date=draft.start_date,
        end_date=draft.end_date,
        one_off_cost=float(draft.one_off_cost),
        running_cost=float(draft.running_cost),
        touchpoints=list(draft.touchpoints),
        segments=list(draft.segments),
        target_metrics=list(draft.target_metrics),
        linked_actions=list(draft.linked_actions),
        created_by=draft.created_by,
    )
    pilot.units = [PilotUnit(unit_id=u, role=TREATED) for u in treated] + [
        PilotUnit(unit_id=u, role=CONTROL) for u in controls
    ]
    session.add(pilot)
    session.flush()
    return pilot


def get_pilot(session: Session, pilot: int | str) -> Pilot | None:
    """A pilot by id or by name, with its units, waves and decisions loaded."""
    query = select(Pilot).options(
        selectinload(Pilot.units), selectinload(Pilot.waves), selectinload(Pilot.decisions)
    )
    if isinstance(pilot, int) or (isinstance(pilot, str) and pilot.isdigit()):
        return session.scalar(query.where(Pilot.id == int(pilot)))
    return session.scalar(query.where(Pilot.name == pilot))


def list_pilots(session: Session) -> list[Pilot]:
    """Every pilot, newest start first, with units, waves and decisions loaded."""
    query = (
        select(Pilot)
        .options(selectinload(Pilot.units), selectinload(Pilot.waves), selectinload(Pilot.decisions))
        .order_by(Pilot.start_date.desc(), Pilot.id.desc())
    )
    return list(session.scalars(query))


def pilot_unit_ids(pilot: Pilot, role: str = TREATED, wave_id: int | None = None) -> list[str]:
    """Units of a pilot in ``role``: the pilot's own (``wave_id`` None) or a wave's."""
    return [u.unit_id for u in pilot.units if u.role == role and u.wave_id == wave_id]


def set_controls(session: Session, pilot: Pilot, unit_ids: Sequence[str], wave_id: int | None = None) -> None:
    """Replace the control group of the pilot (or of one wave) by ``unit_ids``."""
    controls = _check_units(session, unit_ids)
    treated = {u.unit_id for u in pilot.units if u.role == TREATED}
    overlap = treated & set(controls)
    if overlap:
        raise PilotStoreError(f"unit(s) in the pilot cannot be controls: {', '.join(sorted(overlap))}")
    pilot.units = [u for u in pilot.units if not (u.role == CONTROL and u.wave_id == wave_id)] + [
        PilotUnit(unit_id=u, role=CONTROL, wave_id=wave_id) for u in controls
    ]
    session.flush()


def add_wave(
    session: Session,
    pilot: Pilot,
    *,
    name: str,
    start_date: date,
    units: Sequence[str],
    end_date: date | None = None,
    one_off_cost: float = 0.0,
    running_cost: float = 0.0,
    note: str = "",
) -> PilotWave:
    """Add a rollout wave taking the pilot's change to further ``units`` from ``start_date``."""
    if start_date < pilot.start_date:
        raise PilotStoreError(f"a wave cannot start ({start_date}) before its pilot ({pilot.start_date})")
    ids = _check_units(session, units)
    if not ids:
        raise PilotStoreError("a wave needs at least one unit")
    already = {u.unit_id for u in pilot.units if u.role == TREATED}
    overlap = already & set(ids)
    if overlap:
        raise PilotStoreError(f"unit(s) already treated: {', '.join(sorted(overlap))}")
    wave = PilotWave(
        pilot=pilot,
        name=name,
        start_date=start_date,
        end_date=end_date,
        one_off_cost=float(one_off_cost),
        running_cost=float(running_cost),
        note=note,
    )
    session.add(wave)
    session.flush()
    pilot.units.extend(PilotUnit(unit_id=u, role=TREATED, wave_id=wave.id) for u in ids)
    session.flush()
    return wave


def record_decision(
    session: Session,
    pilot: Pilot,
    decision: PilotDecisionKind | str,
    *,
    note: str = "",
    decided_by: str = "",
    wave_id: int | None = None,
) -> PilotDecision:
    """Record scale, iterate or stop for the pilot (or one of its waves)."""
    try:
        kind = PilotDecisionKind(decision)
    except ValueError:
        raise PilotStoreError(f"decision must be scale, iterate or stop, got {decision!r}") from None
    row = PilotDecision(pilot=pilot, decision=kind, note=note, decided_by=decided_by, wave_id=wave_id)
    session.add(row)
    session.flush()
    return row
