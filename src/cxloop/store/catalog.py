"""The catalogue of what feedback is about: touchpoints, segments and questions (driver items).

Imports register what they see for the first time (``ensure_*``): a new touchpoint, segment or driver item
in a file gets a row with a readable default name, and anything already there is left alone, so a
programme's own names and journey order survive every import. A programme declares its catalogue
explicitly with the ``upsert_*`` functions. Who may add to it is the import's business
(:mod:`cxloop.services.listen.catalogue`); what a new id may look like is this module's:

* a driver item: 1 to 64 lower-case letters, digits and ``_``, starting with a letter or digit
  (:data:`ITEM_ID`): it becomes the warehouse column ``q_<item>`` and appears in URLs and files;
* a touchpoint or segment: 1 to 64 characters, letters (any script), digits, spaces and
  ``_ - . , : / & + ( ) ' #``, starting with a letter or digit: no markup, no control characters, no
  emoji-only or JSON-looking values.

Ids already in the catalogue are accepted whatever they look like (they were added before these rules).

The catalogue tables are small (tens to hundreds of rows), so each function reads the ids it needs in one
query and writes through the ORM.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxloop.store.tables import Question, QuestionType, Segment, Survey, Touchpoint

__all__ = [
    "DEFAULT_ITEM_SCALE",
    "ITEM_ID",
    "LABEL_ID_MAX",
    "STANDARD_QUESTIONS",
    "driver_item_count",
    "ensure_items",
    "ensure_segments",
    "ensure_standard_questions",
    "ensure_touchpoints",
    "humanise",
    "id_problem",
    "item_problem",
    "item_scales",
    "question_ids",
    "segment_ids",
    "touchpoint_ids",
    "upsert_question",
    "upsert_segments",
    "upsert_touchpoints",
]

STANDARD_QUESTIONS: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
"""The headline questions: their ids (also their type) and answer scales."""

DEFAULT_ITEM_SCALE: tuple[float, float] = (0.0, 10.0)
"""Scale given to a driver item first seen without one."""

ITEM_ID = re.compile(r"[a-z0-9][a-z0-9_]{0,63}")
"""What a new driver item's id must match (whole)."""
LABEL_ID_MAX = 64
"""Longest new touchpoint or segment id (the importer's ceiling on every name-like id too)."""
_LABEL_MARKS = frozenset(" _-.,:/&+()'#")

_STANDARD_LABELS = {
    "nps": "How likely are you to recommend us to a friend or colleague?",
    "csat": "How satisfied are you overall?",
    "ces": "How easy was it to get what you needed?",
}
_SCORED_TYPES = (QuestionType.nps, QuestionType.csat, QuestionType.ces, QuestionType.rating)


def _shown(value: object) -> str:
    """A value for a message: its repr, cut to 40 characters (a 5,000-character name is not echoed)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def item_problem(item: object) -> str | None:
    """Why ``item`` cannot be a new driver item's id, or None when it can."""
    if not isinstance(item, str) or not ITEM_ID.fullmatch(item):
        return (
            f"{_shown(item)} is not a usable driver item id: 1 to 64 lower-case letters, digits and _, "
            "starting with a letter or digit (a column q_<item>)"
        )
    return None


def id_problem(kind: str, value: object) -> str | None:
    """Why ``value`` cannot be a new ``kind`` (touchpoint, segment) id, or None when it can."""
    wanted = f"1 to {LABEL_ID_MAX} letters, digits, spaces and _-.,:/&+()'#, starting with a letter or digit"
    if not isinstance(value, str):
        return f"{kind} must be a text id ({wanted}), not {type(value).__name__} {_shown(value)}"
    ok = (
        0 < len(value) <= LABEL_ID_MAX
        and value[0].isalnum()
        and value == value.strip()
        and all(c.isalnum() or c in _LABEL_MARKS or unicodedata.category(c) in ("Mn", "Mc") for c in value)
    )
    return None if ok else f"{_shown(value)} is not a usable {kind} id: {wanted}"


def humanise(identifier: str) -> str:
    """A readable default name for an id: ``"branch_visit"`` -> ``"Branch visit"``."""
    words = identifier.replace("_", " ").replace("-", " ").split()
    text = " ".join(words)
    return text[:1].upper() + text[1:] if text else identifier


def _unique(ids: Iterable[str]) -> list[str]:
    """The ids in order of first sight, without repeats or blanks."""
    seen: dict[str, None] = {}
    for identifier in ids:
        if identifier is None or not str(identifier).strip():
            raise ValueError(f"empty id {identifier!r}")
        seen.setdefault(str(identifier), None)
    return list(seen)


def _refuse(new: Iterable[str], problem: Callable[[str], str | None]) -> None:
    """Raise ``ValueError`` for the first new id that breaks its rule (the importer checks rows first)."""
    for value in new:
        if (reason := problem(value)) is not None:
            raise ValueError(reason)


def _check_scale(question_id: str, scale: tuple[float, float]) -> tuple[float, float]:
    low, high = float(scale[0]), float(scale[1])
    if not low < high:
        raise ValueError(f"question {question_id!r}: scale minimum {low} must be below its maximum {high}")
    return low, high


def touchpoint_ids(session: Session) -> set[str]:
    """Every touchpoint id of the catalogue."""
    return set(session.scalars(select(Touchpoint.touchpoint_id)))


def segment_ids(session: Session) -> set[str]:
    """Every segment id of the catalogue."""
    return set(session.scalars(select(Segment.segment_id)))


def question_ids(session: Session) -> set[str]:
    """Every question id (the headline questions and the driver items)."""
    return set(session.scalars(select(Question.question_id)))


def driver_item_count(session: Session) -> int:
    """How many driver items the catalogue holds."""
    return int(session.scalar(select(func.count()).select_from(Question).where(Question.is_driver)) or 0)


def ensure_standard_questions(session: Session) -> None:
    """Create the ``nps``, ``csat`` and ``ces`` questions if they are missing (existing ones untouched)."""
    standard = select(Question.question_id).where(Question.question_id.in_(STANDARD_QUESTIONS))
    present = set(session.scalars(standard))
    for question_id, (low, high) in STANDARD_QUESTIONS.items():
        if question_id not in present:
            session.add(
                Question(
                    question_id=question_id,
                    label=_STANDARD_LABELS[question_id],
                    type=QuestionType(question_id),
                    scale_min=float(low),
                    scale_max=float(high),
                    is_driver=False,
                )
            )
    session.flush()


def ensure_touchpoints(session: Session, touchpoint_ids: Iterable[str]) -> list[str]:
    """Register touchpoints seen for the first time; return the new ids, in order of first sight.

    A new touchpoint is named after its id (``"branch_visit"`` -> ``"Branch visit"``) and placed at the
    end of the journey (``stage_order`` after the last existing one), in the order first seen.
    """
    wanted = _unique(touchpoint_ids)
    if not wanted:
        return []
    present = set(session.scalars(select(Touchpoint.touchpoint_id)))
    new = [touchpoint_id for touchpoint_id in wanted if touchpoint_id not in present]
    _refuse(new, lambda value: id_problem("touchpoint", value))
    last = session.scalar(select(func.max(Touchpoint.stage_order)))
    start = (last if last is not None else 0) + 1
    session.add_all(
        Touchpoint(touchpoint_id=touchpoint_id, name=humanise(touchpoint_id), stage_order=start + offset)
        for offset, touchpoint_id in enumerate(new)
    )
    session.flush()
    return new


def ensure_segments(session: Session, segment_ids: Iterable[str]) -> list[str]:
    """Register segments seen for the first time (named after their id, no value rank); return the new."""
    wanted = _unique(segment_ids)
    if not wanted:
        return []
    present = set(session.scalars(select(Segment.segment_id)))
    new = [segment_id for segment_id in wanted if segment_id not in present]
    _refuse(new, lambda value: id_problem("segment", value))
    session.add_all(Segment(segment_id=segment_id, name=humanise(segment_id)) for segment_id in new)
    session.flush()
    return new


def ensure_items(session: Session, items: Mapping[str, tuple[float, float] | None]) -> list[str]:
    """Register driver items seen for the first time; return the new ids, in the mapping's order.

    Each new item becomes a ``rating`` question with ``is_driver=True`` and the given scale
    (``None``: :data:`DEFAULT_ITEM_SCALE`). A question that already exists under that id is left as it is,
    whatever scale is passed.
    """
    wanted = _unique(items)
    if not wanted:
        return []
    present = set(session.scalars(select(Question.question_id)))
    new = [item for item in wanted if item not in present]
    _refuse(new, item_problem)
    for item in new:
        low, high = _check_scale(item, items[item] or DEFAULT_ITEM_SCALE)
        session.add(
            Question(
                question_id=item,
                label=humanise(item),
                type=QuestionType.rating,
                scale_min=low,
                scale_max=high,
                is_driver=True,
            )
        )
    session.flush()
    return new


def item_scales(session: Session) -> dict[str, tuple[float, float]]:
    """``{question_id: (min, max)}`` for every scored question (nps, csat, ces, rating) with a scale."""
    rows = session.execute(
        select(Question.question_id, Question.scale_min, Question.scale_max).where(
            Question.type.in_(_SCORED_TYPES),
            Question.scale_min.is_not(None),
            Question.scale_max.is_not(None),
        )
    )
    return {
        question_id: (float(low), float(high))
        for question_id, low, high in rows
        if low is not None and high is not None
    }


def upsert_touchpoints(session: Session, rows: Sequence[tuple[str, str, int]]) -> None:
    """Declare the journey: ``(touchpoint_id, name, stage_order)`` rows, inserted or updated."""
    declared = select(Touchpoint).where(Touchpoint.touchpoint_id.in_([row[0] for row in rows]))
    existing = {touchpoint.touchpoint_id: touchpoint for touchpoint in session.scalars(declared)}
    for touchpoint_id, name, stage_order in rows:
        if not touchpoint_id.strip() or not name.strip():
            raise ValueError(f"touchpoint {touchpoint_id!r}: id and name must not be empty")
        touchpoint = existing.get(touchpoint_id)
        if touchpoint is None:
            touchpoint = Touchpoint(touchpoint_id=touchpoint_id)
            session.add(touchpoint)
            existing[touchpoint_id] = touchpoint
        touchpoint.name = name
        touchpoint.stage_order = int(stage_order)
    session.flush()


def upsert_segments(session: Session, rows: Sequence[tuple[str, str, int | None]]) -> None:
    """Declare segments: ``(segment_id, name, value_rank)`` rows (rank 1 = most valuable, or ``None``)."""
    declared = select(Segment).where(Segment.segment_id.in_([row[0] for row in rows]))
    existing = {segment.segment_id: segment for segment in session.scalars(declared)}
    for segment_id, name, value_rank in rows:
        if not segment_id.strip() or not name.strip():
            raise ValueError(f"segment {segment_id!r}: id and name must not be empty")
        segment = existing.get(segment_id)
        if segment is None:
            segment = Segment(segment_id=segment_id)
            session.add(segment)
            existing[segment_id] = segment
        segment.name = name
        segment.value_rank = value_rank
    session.flush()


def upsert_question(
    session: Session,
    question_id: str,
    label: str,
    type: QuestionType | str,  # noqa: A002 - the column's name
    scale: tuple[float, float] | None = None,
    is_driver: bool = False,
    survey_id: str | None = None,
) -> None:
    """Insert or update one question with exactly these values (``scale=None`` clears the scale).

    Raises ``ValueError`` for an unknown type, an inverted scale or an unknown survey.
    """
    if not question_id.strip():
        raise ValueError("question_id must not be empty")
    try:
        question_type = QuestionType(type)
    except ValueError:
        known = ", ".join(member.value for member in QuestionType)
        raise ValueError(f"question {question_id!r}: unknown type {type!r} (one of {known})") from None
    low, high = _check_scale(question_id, scale) if scale is not None else (None, None)
    if survey_id is not None and session.get(Survey, survey_id) is None:
        raise ValueError(f"question {question_id!r}: unknown survey {survey_id!r}")
    question = session.get(Question, question_id)
    if question is None:
        question = Question(question_id=question_id)
        session.add(question)
    question.label = label
    question.type = question_type
    question.scale_min = low
    question.scale_max = high
    question.is_driver = is_driver
    question.survey_id = survey_id
    session.flush()
