"""Who may add to the catalogue (touchpoints, segments, driver items) when importing.

The catalogue is global: every unit's dashboard, every analysis and every warehouse column follows it. So
it grows only through an admin of the whole organisation: the command line (``cxloop import``, ``cxloop
catalogue``, the demo), an admin at the top of the hierarchy posting with their token or API key, or an
upload that admin started. Anyone else (an API key or user scoped to a subtree, a signed webhook, an
analyst) may name only what is in the catalogue already: a row naming an unknown touchpoint, segment or item
is rejected with a reason (quarantined) and the good rows are kept.

An import that may add items still meets the ceilings: at most ``CXLOOP_MAX_ITEMS`` driver items in the
catalogue, and at most ``CXLOOP_MAX_NEW_ITEMS_PER_REQUEST`` new ones per API post or webhook delivery.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from cxloop.config import Settings
from cxloop.services.access.scope import Role, Viewer
from cxloop.store import catalog, units
from cxloop.store.tables import Question, QuestionType, Segment, Touchpoint

__all__ = [
    "ADMIN",
    "SIGNED_WEBHOOK",
    "CatalogueEntry",
    "CatalogueRights",
    "add_item",
    "add_segment",
    "add_touchpoint",
    "catalogue_entries",
    "catalogue_rights",
]

#: Why a scoped import may not add to the catalogue, and what to do instead.
_ONLY_ADMINS = (
    "only an admin of the whole organisation adds them (`cxloop catalogue add-{kind} ID`, or an import or "
    "post of theirs)"
)


@dataclass(frozen=True)
class CatalogueRights:
    """What an import may add to the catalogue.

    ``extend``: may add touchpoints, segments and driver items; ``new_items``: most new driver items it may
    add at once (``None``: no limit but the catalogue's ``CXLOOP_MAX_ITEMS``); ``refusal``: why it may not
    (words for the rejected rows; ``{kind}`` stands for touchpoint, segment or item).
    """

    extend: bool = True
    new_items: int | None = None
    refusal: str = ""

    def refused(self, kind: str, name: str) -> str:
        """The reason given to a row naming the unknown ``kind`` (touchpoint, segment, item) ``name``."""
        return f"unknown {kind} {name!r}: " + (self.refusal or _ONLY_ADMINS).format(kind=kind)


ADMIN = CatalogueRights()
"""The command line's, the demo's, an admin's: adds what it meets, within the ceiling."""
SIGNED_WEBHOOK = CatalogueRights(extend=False, refusal=_ONLY_ADMINS + "; a webhook names only what is there")
"""A survey tool's signed delivery: its fields may carry what respondents typed, so it adds nothing."""


def catalogue_rights(
    session: Session, viewer: Viewer | None, settings: Settings, *, request: bool = False
) -> CatalogueRights:
    """The rights of ``viewer`` (``None``: a signed webhook) importing; ``request``: one API post or webhook
    delivery (at most ``settings.max_new_items_per_request`` new items)."""
    limit = settings.max_new_items_per_request if request else None
    if viewer is None:
        return SIGNED_WEBHOOK
    unit = units.get_unit(session, viewer.unit_id)
    if viewer.role == Role.admin and unit is not None and unit.parent_id is None:
        return CatalogueRights(new_items=limit)
    return CatalogueRights(extend=False)


# --- declaring the catalogue (the command line: ``cxloop catalogue``) -----------------------------------


@dataclass(frozen=True)
class CatalogueEntry:
    """One touchpoint, segment or driver item as ``cxloop catalogue list`` shows it."""

    kind: str
    id: str
    name: str
    detail: str = ""


def catalogue_entries(session: Session) -> list[CatalogueEntry]:
    """Every touchpoint (journey order), segment and driver item (by id)."""
    entries = [
        CatalogueEntry("touchpoint", t.touchpoint_id, t.name, f"stage {t.stage_order}")
        for t in session.scalars(
            select(Touchpoint).order_by(Touchpoint.stage_order, Touchpoint.touchpoint_id)
        )
    ]
    entries += [
        CatalogueEntry(
            "segment", s.segment_id, s.name, "" if s.value_rank is None else f"value rank {s.value_rank}"
        )
        for s in session.scalars(select(Segment).order_by(Segment.segment_id))
    ]
    entries += [
        CatalogueEntry("item", q.question_id, q.label, f"scale {q.scale_min:g} to {q.scale_max:g}")
        for q in session.scalars(select(Question).where(Question.is_driver).order_by(Question.question_id))
        if q.scale_min is not None and q.scale_max is not None
    ]
    return entries


def _checked(kind: str, identifier: str, problem: str | None, present: bool) -> None:
    if present:
        raise ValueError(f"{kind} {identifier!r} is in the catalogue already")
    if problem is not None:
        raise ValueError(problem)


def add_item(
    session: Session, item: str, *, settings: Settings, label: str = "", scale: tuple[float, float] = (0, 10)
) -> None:
    """Add driver item ``item`` (rows then may answer it in column ``q_<item>``), within ``CXLOOP_MAX_ITEMS``.

    Raises ``ValueError`` for an id in use or against the rules, a bad scale, or a full catalogue.
    """
    _checked("item", item, catalog.item_problem(item), item in catalog.question_ids(session))
    held = catalog.driver_item_count(session)
    if held >= settings.max_items:
        raise ValueError(
            f"the catalogue holds {held} driver items, the ceiling (CXLOOP_MAX_ITEMS={settings.max_items}); "
            "raise it if your surveys truly need more"
        )
    catalog.upsert_question(
        session, item, label or catalog.humanise(item), QuestionType.rating, scale=scale, is_driver=True
    )


def add_touchpoint(session: Session, touchpoint: str, *, name: str = "") -> None:
    """Add ``touchpoint`` at the end of the journey. Raises ``ValueError`` for an id in use or against the
    rules."""
    _checked(
        "touchpoint",
        touchpoint,
        catalog.id_problem("touchpoint", touchpoint),
        touchpoint in catalog.touchpoint_ids(session),
    )
    catalog.ensure_touchpoints(session, [touchpoint])
    if name:
        session.get_one(Touchpoint, touchpoint).name = name


def add_segment(session: Session, segment: str, *, name: str = "", value_rank: int | None = None) -> None:
    """Add ``segment`` (``value_rank``: 1 = most valuable). Raises ``ValueError`` for an id in use or
    against the rules."""
    _checked(
        "segment", segment, catalog.id_problem("segment", segment), segment in catalog.segment_ids(session)
    )
    catalog.upsert_segments(session, [(segment, name or catalog.humanise(segment), value_rank)])
