"""Verbatims for a viewer: the comments of a unit's subtree with their scores, filtered and searched.

Scope first (:func:`~cxloop.services.access.scope.require_unit` before any warehouse query), then anonymity:
when fewer than ``min_n`` responses match the filters (before the text search), nothing is returned, so a few
comments cannot be traced to the few people who wrote them. Personal data (e-mail addresses, phone, card
and account numbers) is redacted from every comment (:func:`cxloop.text.redact.redact`). The text is
returned as data: escaping it for HTML is the job of whoever renders it.

Themes: ``themes`` keeps the comments tagged (``cxloop text tag``) with any of the named themes, like the
text search it narrows the stream after the anonymity check; ``negative_only`` keeps those whose comment
sentiment is below -0.05 (VADER's usual cut). Each item lists its comment's themes (``themes``).

Speed: pages are cached by the warehouse's data version, viewer and query (:mod:`cxloop.services.cache`),
and the counts (``n``, ``total``) separately, so paging never counts twice. Without a text search or
theme filter, and with dates on month boundaries (or none), the counts come from the monthly leaf
aggregate (``responses_monthly``, which counts comments per unit x month x touchpoint x channel x
segment) and a page is read only from the months that hold it, found from those counts: keyset
pagination by month, so no request sorts or counts the whole table, however deep the offset.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

import ibis
from ibis.backends import BaseBackend

from cxloop.services.access.scope import Viewer, require_unit, subtree_units
from cxloop.services.cache import cached, freeze, warehouse_tables
from cxloop.services.stores import Stores
from cxloop.text.redact import redact
from cxloop.warehouse.derived import responses_monthly
from cxloop.warehouse.derived.responses_monthly import has_comment
from cxloop.warehouse.periods import check_day
from cxloop.warehouse.sql import check_printable

__all__ = ["CommentsPage", "CommentsQuery", "comments"]

MAX_LIMIT = 500


@dataclass(frozen=True)
class CommentsQuery:
    """Which comments: a unit's subtree, optional filters, a case-insensitive search ``q`` and a page."""

    unit: str | None = None
    touchpoints: frozenset[str] | None = None
    channels: frozenset[str] | None = None
    segments: frozenset[str] | None = None
    start: date | None = None
    end: date | None = None
    q: str | None = None
    limit: int = 50
    offset: int = 0
    themes: frozenset[str] | None = None
    negative_only: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {self.limit}")
        if self.offset < 0:
            raise ValueError(f"offset must not be negative, got {self.offset}")
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        for name in ("unit", "touchpoints", "channels", "segments", "q", "themes"):
            check_printable(name, getattr(self, name))
        check_day(self.start, "from")
        check_day(self.end, "to")


@dataclass(frozen=True)
class CommentsPage:
    """One page of comments, newest first.

    ``n`` is the number of responses matching the filters (``None`` when suppressed); ``total`` the
    comments matching the filters and the search; ``items`` the page (response_id, unit_id, submitted_at,
    touchpoint, channel, segment, nps, csat, ces, comment).
    """

    unit: str
    suppressed: bool
    min_n: int
    n: int | None
    total: int
    limit: int
    offset: int
    items: list[dict[str, Any]]


def _values(values: Iterable[str] | None) -> list[str] | None:
    return sorted(values) if values else None


def comments(viewer: Viewer, query: CommentsQuery, *, stores: Stores) -> CommentsPage:
    """Comments of ``query.unit``'s subtree (default: the viewer's unit) that ``viewer`` may see.

    Raises
    ------
    ScopeError, UnknownUnitError
        The unit is outside the viewer's subtree or does not exist (before any warehouse query).
    """
    settings, session, con = stores.settings, stores.session, stores.warehouse
    focus = query.unit or viewer.unit_id
    require_unit(session, viewer, focus)
    subtree = subtree_units(session, focus)
    key = (viewer.unit_id, subtree, freeze(query), settings.min_n)
    return cached(
        "comments",
        con,
        key,
        lambda: _comments(focus, sorted(subtree), query, settings.min_n, con),
        copy=lambda page: replace(page, items=[dict(item) for item in page.items]),
    )


def _comments(
    focus: str, subtree: list[str], query: CommentsQuery, min_n: int, con: BaseBackend
) -> CommentsPage:
    empty = CommentsPage(focus, True, min_n, None, 0, query.limit, query.offset, [])
    if "responses" not in warehouse_tables(con):
        return empty
    responses = con.table("responses")
    matching = responses.filter(responses.unit_id.isin(subtree))
    for column, values in (
        ("touchpoint", query.touchpoints),
        ("channel", query.channels),
        ("segment", query.segments),
    ):
        chosen = _values(values)
        if chosen:
            matching = matching.filter(matching[column].isin(chosen))
    if query.start is not None:
        matching = matching.filter(matching.submitted_at >= datetime.combine(query.start, time.min))
    if query.end is not None:
        matching = matching.filter(
            matching.submitted_at < datetime.combine(query.end + timedelta(days=1), time.min)
        )
    with_text = matching.filter(has_comment(matching))
    if query.q and query.q.strip():
        needle = query.q.strip().lower()
        with_text = with_text.filter(with_text.comment.lower().contains(needle))
    with_text = _theme_filter(con, with_text, query)

    # Counts (and, for the plain stream, where each month's comments start) from the monthly leaf
    # aggregate when it covers the dates: no scan of the responses. Cached per data version, so paging
    # through a stream never counts again.
    counts_key = (tuple(subtree), freeze(replace(query, limit=1, offset=0)))
    n, total, months = cached(
        "comments.counts", con, counts_key, lambda: _counts(con, subtree, query, matching, with_text)
    )
    if n < min_n:
        return empty
    page_rows = with_text
    offset = query.offset
    if months is not None:
        window = _window(months, query.offset, query.limit)
        if window is None:
            return CommentsPage(focus, False, min_n, n, total, query.limit, query.offset, [])
        first, stop, offset = window
        page_rows = with_text.filter(
            (with_text.submitted_at >= datetime.combine(first, time.min))
            & (with_text.submitted_at < datetime.combine(stop, time.min))
        )
    page = (
        page_rows.select(
            "response_id",
            "unit_id",
            "submitted_at",
            "touchpoint",
            "channel",
            "segment",
            "nps",
            "csat",
            "ces",
            "comment",
        )
        .order_by([ibis.desc("submitted_at"), "response_id"])
        .limit(query.limit, offset=offset)
        .to_pyarrow()
        .to_pylist()
    )
    themes_of = _themes_of(con, [item["response_id"] for item in page])
    for item in page:
        item["comment"] = redact(item["comment"])
        item["themes"] = themes_of.get(item["response_id"], [])
    return CommentsPage(focus, False, min_n, n, total, query.limit, query.offset, page)


def _month_aligned(query: CommentsQuery) -> bool:
    return (query.start is None or query.start.day == 1) and (
        query.end is None or (query.end + timedelta(days=1)).day == 1
    )


def _counts(
    con: BaseBackend, subtree: list[str], query: CommentsQuery, matching: ibis.Table, with_text: ibis.Table
) -> tuple[int, int, list[tuple[int, int]] | None]:
    """Responses matching the filters, comments matching filters and search, and (for a stream without
    search or theme filters) the comments per month, newest first, as ``(month key, comments)``."""
    if not _month_aligned(query) or not responses_monthly.usable(con):
        return int(matching.count().to_pyarrow().as_py()), int(with_text.count().to_pyarrow().as_py()), None
    leaf = con.table(responses_monthly.TABLE)
    leaf = leaf.filter(leaf.unit_id.isin(subtree))
    for column, values in (
        ("touchpoint", query.touchpoints),
        ("channel", query.channels),
        ("segment", query.segments),
    ):
        chosen = _values(values)
        if chosen:
            leaf = leaf.filter(leaf[column].isin(chosen))
    if query.start is not None:
        leaf = leaf.filter(leaf.month >= _month_number(query.start))
    if query.end is not None:
        leaf = leaf.filter(leaf.month <= _month_number(query.end))
    per_month = (
        leaf.group_by("month")
        .aggregate(responses=leaf.responses.sum(), comments=leaf.comments.sum())
        .to_pyarrow()
        .to_pylist()
    )
    n = sum(int(row["responses"] or 0) for row in per_month)
    plain = not (query.q and query.q.strip()) and not query.themes and not query.negative_only
    if not plain:
        return n, int(with_text.count().to_pyarrow().as_py()), None
    months = sorted(((int(r["month"]), int(r["comments"] or 0)) for r in per_month), reverse=True)
    return n, sum(c for _, c in months), [m for m in months if m[1]]


def _month_number(day: date) -> int:
    return day.year * 12 + day.month - 1


def _month_start(number: int) -> date:
    return date(number // 12, number % 12 + 1, 1)


def _window(months: list[tuple[int, int]], offset: int, limit: int) -> tuple[date, date, int] | None:
    """The months holding comments ``offset`` to ``offset + limit - 1`` of the stream (newest first):
    ``(first day, day after the last, offset within them)``, or ``None`` past the end."""
    newer = 0
    first_hit: int | None = None
    skipped = 0
    last_hit = None
    for number, count in months:
        if first_hit is None and newer + count > offset:
            first_hit, skipped = number, newer
        if first_hit is not None:
            last_hit = number
            if newer + count >= offset + limit:
                break
        newer += count
    if first_hit is None or last_hit is None:
        return None
    return _month_start(last_hit), _month_start(first_hit + 1), offset - skipped


NEGATIVE = -0.05


def _theme_filter(con: BaseBackend, rows: ibis.Table, query: CommentsQuery) -> ibis.Table:
    """Keep the comments carrying one of ``query.themes`` (and negative ones if asked)."""
    if not query.themes and not query.negative_only:
        return rows
    tables = set(con.list_tables())
    if "comment_tags" not in tables or "comment_sentiment" not in tables:
        return rows.filter(ibis.literal(False))
    if query.themes:
        tags = con.table("comment_tags")
        rows = rows.semi_join(tags.filter(tags.theme.isin(sorted(query.themes))), "response_id")
    if query.negative_only:
        sentiment = con.table("comment_sentiment")
        rows = rows.semi_join(sentiment.filter(sentiment.compound < NEGATIVE), "response_id")
    return rows


def _themes_of(con: BaseBackend, response_ids: list[str]) -> dict[str, list[str]]:
    if not response_ids or "comment_tags" not in warehouse_tables(con):
        return {}
    tags = con.table("comment_tags")
    found = tags.filter(tags.response_id.isin(response_ids)).select("response_id", "theme").to_pyarrow()
    out: dict[str, list[str]] = {}
    for rid, theme in zip(
        found.column("response_id").to_pylist(), found.column("theme").to_pylist(), strict=True
    ):
        out.setdefault(rid, []).append(theme)
    return {rid: sorted(themes) for rid, themes in out.items()}
