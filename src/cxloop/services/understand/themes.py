"""Verbatims for a viewer: tag comments with the codebook, and what each theme weighs.

* :func:`load_codebook` / :func:`seed_demo_codebook` — the programme's codebook from the app database.
* :func:`tag_comments` — incremental tagging: only comments never tagged, or tagged with an older codebook
  version, are read, tagged (:func:`cxloop.text.tag_comments`) and written to the warehouse tables
  ``comment_sentiment`` and ``comment_tags``, in batches.
* :func:`theme_impact` — per theme in the viewer's scope (optionally one unit's subtree, touchpoint,
  segment, window): volume and share of comments, mean sentiment, effect on NPS (or CSAT/CES) with an HC3
  interval (:func:`cxloop.text.effects.theme_effects`, adjusted for the rated driver items when the
  responses have them), monthly trend, and emerging themes (share in the last month vs the month before,
  two-proportion z test, Benjamini-Hochberg across themes).
* :func:`theme_behaviour` — what customers did after a comment with the theme: repurchase and
  subscription churn in the following days, effect of each theme in percentage points (linear probability
  model, HC3), an association in observational data, not a causal effect.
* :func:`theme_breakdown` — volume, share and sentiment per theme by child unit, touchpoint or segment.
* :func:`suggest_new_themes` — candidate themes from the comments no theme matched.

**Anonymity.** A cell (a theme's volume in a unit, a month, a touchpoint) is computed from comments; where
fewer than ``settings.min_n`` comments stand behind a cell, its numbers are suppressed (NaN,
``suppressed=True``). Theme effects need at least ``min_n`` comments carrying the theme. Complementary
suppression across cells is not applied here.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
from ibis.backends import BaseBackend
from sqlalchemy.orm import Session

from cxloop import stats
from cxloop.services.access.scope import ScopeError, Viewer, require_unit, visible_units
from cxloop.services.stores import Stores
from cxloop.store import themes as theme_store
from cxloop.text import tagging
from cxloop.text.codebook import DEMO_CODEBOOK, Codebook
from cxloop.text.effects import theme_effects
from cxloop.text.redact import redact_many
from cxloop.text.suggest import ThemeSuggestions, suggest_themes
from cxloop.warehouse.queries.comment_tags import (
    behaviour_after,
    comments_to_tag,
    item_names,
    response_items,
    tagged_responses,
    write_comment_tags,
)

__all__ = [
    "NoCodebookError",
    "TagRun",
    "ThemeBehaviour",
    "ThemeBreakdown",
    "ThemeImpact",
    "load_codebook",
    "seed_demo_codebook",
    "theme_behaviour",
    "suggest_new_themes",
    "tag_comments",
    "theme_breakdown",
    "theme_impact",
]

Outcome = Literal["nps", "nps_points", "csat", "ces"]


class NoCodebookError(LookupError):
    """The app database has no active theme."""


def load_codebook(session: Session) -> Codebook:
    """The active themes of the app database as a :class:`~cxloop.text.Codebook`.

    Raises :class:`NoCodebookError` if there is none (the message says how to add themes).
    """
    records = [theme_store.theme_record(t) for t in theme_store.list_themes(session)]
    if not records:
        raise NoCodebookError(
            "the codebook is empty: add themes (`cxloop text themes add NAME --keywords ...`) or load the "
            "demo codebook (`cxloop text themes seed-demo`)"
        )
    return Codebook.from_records(records)


def seed_demo_codebook(session: Session) -> int:
    """Add the demo bank's default codebook's themes that are missing; returns how many were added."""
    return theme_store.seed_themes(session, DEMO_CODEBOOK.to_records())


# --- tagging ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TagRun:
    """What a tagging run did: comments tagged, (comment, theme) tags written, codebook version."""

    tagged: int
    tags: int
    codebook_version: str
    seconds: float
    retag: bool

    def summary(self) -> str:
        return (
            f"tagged {self.tagged} comments ({self.tags} theme tags) with codebook {self.codebook_version} "
            f"in {self.seconds:.1f} s"
        )


def tag_comments(
    viewer: Viewer,
    *,
    stores: Stores,
    retag: bool = False,
    n_jobs: int = 1,
    batch_size: int = 200_000,
) -> TagRun:
    """Tag the comments of the viewer's scope that are untagged or tagged with an older codebook.

    ``retag=True`` tags every comment of the scope again.
    """
    started = _time.perf_counter()
    session, con = stores.session, stores.warehouse
    units, codebook = visible_units(session, viewer), load_codebook(session)
    todo = comments_to_tag(con, codebook.version, units=units, retag=retag)
    leaves = codebook.names
    tagged = tags_written = 0
    now = datetime.now(UTC).replace(tzinfo=None)
    for offset in range(0, todo.num_rows, batch_size):
        batch = todo.slice(offset, batch_size)
        result = tagging.tag_comments(batch.column("comment"), codebook, n_jobs=n_jobs)
        ids = np.asarray(batch.column("response_id").to_pylist(), dtype=object)
        rows, cols = np.nonzero(result.presence)
        tag_rows = pa.table(
            {
                "response_id": pa.array(ids[rows], pa.string()),
                "theme": pa.array(np.asarray(leaves, dtype=object)[cols], pa.string()),
                "confidence": result.confidence[rows, cols],
                "sentiment": result.theme_sentiment[rows, cols],
            }
        )
        sentiment_rows = pa.table(
            {
                "response_id": batch.column("response_id"),
                "compound": result.sentiment,
                "themes": result.presence.sum(axis=1).astype(np.int32),
                "codebook_version": pa.array([codebook.version] * batch.num_rows, pa.string()),
                "tagged_at": pa.array([now] * batch.num_rows, pa.timestamp("us")),
            }
        )
        tagged += write_comment_tags(con, sentiment_rows, tag_rows)
        tags_written += tag_rows.num_rows
    return TagRun(tagged, tags_written, codebook.version, _time.perf_counter() - started, retag)


# --- impact -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThemeImpact:
    """What each theme weighs in a scope.

    ``frame`` (one row per theme): ``theme``, ``parent``, ``volume`` (comments carrying it), ``share`` (of
    tagged comments), ``sentiment`` (mean theme sentiment), ``effect``/``ci_low``/``ci_high``/``p_value``
    (score points when present; adjusted for the rated items when ``adjusted``), ``effect_total`` (without
    the items), ``rank`` (by ``|effect|``, leaf themes), ``suppressed``. ``trend``: ``theme, month,
    comments, volume, share, sentiment, suppressed``. ``emerging``: ``theme, share_previous, share_last,
    difference, p_value, q_value, emerging`` for the last two months.
    """

    frame: pd.DataFrame
    trend: pd.DataFrame
    emerging: pd.DataFrame
    comments: int
    outcome: str
    adjusted_for: tuple[str, ...]
    codebook_version: str
    min_n: int
    confidence: float
    filters: dict[str, object] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        return self.frame

    def summary(self) -> str:
        cols = ["theme", "volume", "share", "sentiment", "effect", "ci_low", "ci_high", "suppressed"]
        adjusted = f", adjusted for {len(self.adjusted_for)} rated items" if self.adjusted_for else ""
        head = f"{self.comments} tagged comments; effect on {self.outcome.upper()}{adjusted}"
        return head + "\n" + self.frame[cols].round(3).to_string(index=False)


def _scope(
    viewer: Viewer, session: Session, unit: str | None, con: BaseBackend
) -> tuple[frozenset[str], Codebook]:
    visible = visible_units(session, viewer)
    if unit is not None and unit != viewer.unit_id:
        require_unit(session, viewer, unit, visible)
    codebook = load_codebook(session)
    if unit is None or unit == viewer.unit_id:
        return visible, codebook
    closure = con.table("unit_closure")
    below = frozenset(con.execute(closure.filter(closure.ancestor_id == unit).unit_id))
    if not below & visible:
        raise ScopeError(unit, viewer)
    return below & visible, codebook


def _theme_matrix(con: BaseBackend, base, themes: tuple[str, ...]) -> pd.DataFrame:  # noqa: ANN001
    tags = con.table("comment_tags").semi_join(base.select("response_id"), "response_id")
    wide = tags.group_by("response_id").aggregate(
        **{f"t__{name}": (tags.theme == name).any().cast("int8") for name in themes}
    )
    return wide.to_pandas()


def theme_impact(
    viewer: Viewer,
    *,
    stores: Stores,
    unit: str | None = None,
    touchpoint: str | None = None,
    segment: str | None = None,
    start: date | None = None,
    end: date | None = None,
    outcome: Outcome = "nps",
    adjust_for_items: bool = True,
) -> ThemeImpact:
    """Volume, sentiment, effect on ``outcome``, trend and emerging status of every theme in a scope.

    ``outcome``: ``nps`` (the 0-10 answer: effects in answer points), ``nps_points`` (100 x (promoter -
    detractor) per response, whose mean is the NPS: effects in NPS points), ``csat`` or ``ces``.

    Raises :class:`ScopeError` / :class:`UnknownUnitError` for a unit outside the viewer's subtree and
    :class:`NoCodebookError` without a codebook. Comments tagged with an older codebook count as tagged
    with their stored themes (run :func:`tag_comments` first to refresh them).
    """
    if outcome not in ("nps", "nps_points", "csat", "ces"):
        raise ValueError(
            f"unknown outcome {outcome!r}: use nps, csat or ces (or nps_points for effects in NPS points)"
        )
    settings, session, con = stores.settings, stores.session, stores.warehouse
    units, codebook = _scope(viewer, session, unit, con)
    base = tagged_responses(con, units=units, start=start, end=end, touchpoint=touchpoint, segment=segment)
    column = "nps" if outcome == "nps_points" else outcome
    rows = base.select("response_id", "month", column, "compound").to_pandas()
    if outcome == "nps_points":
        # 100 x (promoter - detractor) per response: its mean is the NPS, so effects are in NPS points.
        score = rows["nps"].astype(float)
        rows["nps_points"] = np.where(score.isna(), np.nan, 100.0 * ((score >= 9) * 1.0 - (score <= 6) * 1.0))
    themes = codebook.names
    wide = _theme_matrix(con, base, themes) if len(rows) else pd.DataFrame(columns=["response_id"])
    rows = rows.merge(wide, on="response_id", how="left")
    flags = rows.reindex(columns=[f"t__{t}" for t in themes]).fillna(0).to_numpy(dtype=float)
    sentiment_by_theme = _theme_sentiment(con, base, themes)
    min_n, confidence = settings.min_n, settings.confidence

    volume = flags.sum(axis=0).astype(np.int64)
    n = len(rows)
    frame = pd.DataFrame(
        {
            "theme": themes,
            "parent": [codebook[t].parent for t in themes],
            "volume": volume,
            "share": volume / n if n else np.nan,
            "sentiment": [sentiment_by_theme.get(t, np.nan) for t in themes],
        }
    )
    leaves = [j for j, t in enumerate(themes) if not codebook.children(t)]
    effects, adjusted_for = _effects(
        con, base, rows, flags, themes, leaves, outcome, adjust_for_items, confidence
    )
    frame = frame.merge(effects, on="theme", how="left")
    frame["rank"] = frame.effect.abs().rank(ascending=False, method="min")
    frame["suppressed"] = frame.volume < min_n
    hidden = [
        "volume",
        "share",
        "sentiment",
        "effect",
        "ci_low",
        "ci_high",
        "p_value",
        "effect_total",
        "rank",
    ]
    frame.loc[frame.suppressed, hidden] = np.nan
    frame = frame.sort_values(["rank", "theme"], na_position="last").reset_index(drop=True)

    trend = _trend(rows, flags, themes, con, base, min_n)
    emerging = _emerging(trend, themes, confidence)
    return ThemeImpact(
        frame=frame,
        trend=trend,
        emerging=emerging,
        comments=n,
        outcome=outcome,
        adjusted_for=adjusted_for,
        codebook_version=codebook.version,
        min_n=min_n,
        confidence=confidence,
        filters={"unit": unit, "touchpoint": touchpoint, "segment": segment, "start": start, "end": end},
    )


def _theme_sentiment(con: BaseBackend, base, themes: tuple[str, ...]) -> dict[str, float]:  # noqa: ANN001
    tags = con.table("comment_tags").semi_join(base.select("response_id"), "response_id")
    agg = (
        tags.filter(tags.theme.isin(list(themes)))
        .group_by("theme")
        .aggregate(sentiment=tags.sentiment.mean())
    )
    out = agg.to_pandas()
    return dict(zip(out.theme, out.sentiment, strict=True))


def _effects(con, base, rows, flags, themes, leaves, outcome, adjust, confidence):  # noqa: ANN001, ANN202
    columns = ["theme", "effect", "ci_low", "ci_high", "p_value", "effect_total"]
    y = rows[outcome].to_numpy(dtype=float)
    ok = ~np.isnan(y)
    names = [themes[j] for j in leaves]
    x = flags[:, leaves]
    if ok.sum() <= len(leaves) + 1:
        return pd.DataFrame(columns=columns), ()
    total = theme_effects(x[ok], y[ok], names, confidence=confidence).frame
    result = total.rename(columns={"effect": "effect_total"})[["theme", "effect_total"]]
    adjusted_for: tuple[str, ...] = ()
    main = total
    if adjust:
        items = item_names(con, base)
        if items:
            wide = response_items(con, base, items).to_pandas()
            cov = rows[["response_id"]].merge(wide, on="response_id", how="left")[items].to_numpy(dtype=float)
            # A skipped item is filled with its mean (2% in the demo), keeping the response in the model.
            means = np.nanmean(cov, axis=0)
            cov = np.where(np.isnan(cov), means, cov)
            keep = ok & ~np.isnan(cov).any(axis=1)
            if keep.sum() > len(leaves) + len(items) + 1:
                main = theme_effects(
                    x[keep], y[keep], names, covariates=cov[keep], confidence=confidence
                ).frame
                adjusted_for = tuple(items)
    return main[["theme", "effect", "ci_low", "ci_high", "p_value"]].merge(result, on="theme"), adjusted_for


def _trend(rows, flags, themes, con, base, min_n) -> pd.DataFrame:  # noqa: ANN001
    if not len(rows):
        return pd.DataFrame(
            columns=["theme", "month", "comments", "volume", "share", "sentiment", "suppressed"]
        )
    month = pd.to_datetime(rows.month)
    per_month = pd.DataFrame(flags, columns=list(themes)).groupby(month.to_numpy()).sum()
    comments = month.value_counts().sort_index()
    tags = con.table("comment_tags").semi_join(base.select("response_id"), "response_id")
    joined = tags.join(base.select("response_id", "month"), "response_id")
    senti = joined.group_by(["theme", "month"]).aggregate(sentiment=joined.sentiment.mean()).to_pandas()
    senti["month"] = pd.to_datetime(senti.month)
    long = per_month.stack().reset_index()
    long.columns = pd.Index(["month", "theme", "volume"])
    long["comments"] = long.month.map(comments).astype(np.int64)
    long["share"] = long.volume / long.comments
    long = long.merge(senti, on=["theme", "month"], how="left")
    long["suppressed"] = long.comments < min_n
    long.loc[long.suppressed, ["volume", "share", "sentiment"]] = np.nan
    long.loc[long.volume < min_n, "sentiment"] = np.nan
    long["month"] = long.month.dt.date
    return long[["theme", "month", "comments", "volume", "share", "sentiment", "suppressed"]].sort_values(
        ["theme", "month"], ignore_index=True
    )


def _emerging(trend: pd.DataFrame, themes: tuple[str, ...], confidence: float) -> pd.DataFrame:
    columns = [
        "theme",
        "month",
        "share_previous",
        "share_last",
        "difference",
        "p_value",
        "q_value",
        "emerging",
    ]
    open_months = sorted(trend.loc[~trend.suppressed.astype(bool), "month"].unique()) if len(trend) else []
    if len(open_months) < 2:
        return pd.DataFrame(columns=columns)
    previous, last = open_months[-2], open_months[-1]
    a = trend[trend.month == last].set_index("theme").reindex(list(themes))
    b = trend[trend.month == previous].set_index("theme").reindex(list(themes))
    diff = stats.proportion_difference(
        stats.proportion(a.volume.to_numpy(float), a.comments.to_numpy(float), confidence),
        stats.proportion(b.volume.to_numpy(float), b.comments.to_numpy(float), confidence),
    )
    p = np.asarray(diff.p_value, dtype=float)
    bh = stats.benjamini_hochberg(p, alpha=1 - confidence)
    return pd.DataFrame(
        {
            "theme": list(themes),
            "month": last,
            "share_previous": np.asarray(diff.share_b, dtype=float),
            "share_last": np.asarray(diff.share_a, dtype=float),
            "difference": np.asarray(diff.difference, dtype=float),
            "p_value": p,
            "q_value": bh.p_adjusted,
            "emerging": bh.reject & (np.asarray(diff.difference, dtype=float) > 0),
        }
    ).sort_values("q_value", ignore_index=True)


# --- behaviour ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThemeBehaviour:
    """``frame``: ``theme, outcome (repurchase|churn), n (with the theme), rate_with, rate_without,
    effect, ci_low, ci_high, p_value, suppressed``; effects in probability points (0.05 = 5 points)."""

    frame: pd.DataFrame
    horizon_days: int
    responses: int
    min_n: int

    def to_frame(self) -> pd.DataFrame:
        return self.frame


def theme_behaviour(
    viewer: Viewer,
    *,
    stores: Stores,
    horizon_days: int = 180,
    unit: str | None = None,
    touchpoint: str | None = None,
    segment: str | None = None,
) -> ThemeBehaviour:
    """Repurchase and churn within ``horizon_days`` after a response, by theme of its comment.

    For each leaf theme: the rate among responses whose comment carries it and among the others, and the
    theme's effect from a linear probability model on all leaf-theme indicators (HC3 intervals). Churn uses
    the responses of customers with a subscription active when they answered. Responses less than
    ``horizon_days`` before the warehouse's last transaction are left out (their window is not over).
    """
    if horizon_days < 1:
        raise ValueError("horizon_days must be at least 1")
    settings, session, con = stores.settings, stores.session, stores.warehouse
    units, codebook = _scope(viewer, session, unit, con)
    base = tagged_responses(con, units=units, touchpoint=touchpoint, segment=segment)
    rows = behaviour_after(con, base, horizon_days).to_pandas()
    leaves = [t for t in codebook.names if not codebook.children(t)]
    wide = _theme_matrix(con, base, tuple(leaves)) if len(rows) else pd.DataFrame(columns=["response_id"])
    rows = rows.merge(wide, on="response_id", how="left")
    flags = rows.reindex(columns=[f"t__{t}" for t in leaves]).fillna(0).to_numpy(dtype=float)
    frames = []
    for outcome, column, keep in (
        ("repurchase", "repurchased", np.ones(len(rows), dtype=bool)),
        ("churn", "churned", rows.get("at_risk", pd.Series(dtype=float)).to_numpy() == 1),
    ):
        y = rows[column].to_numpy(dtype=float) if len(rows) else np.zeros(0)
        x, yk = flags[keep], y[keep]
        present = x.astype(bool)
        with np.errstate(invalid="ignore", divide="ignore"):
            n_with = present.sum(axis=0)
            rate_with = (present * yk[:, None]).sum(axis=0) / n_with
            rate_without = ((~present) * yk[:, None]).sum(axis=0) / (~present).sum(axis=0)
        frame = pd.DataFrame(
            {
                "theme": leaves,
                "outcome": outcome,
                "n": n_with,
                "rate_with": rate_with,
                "rate_without": rate_without,
            }
        )
        if len(yk) > len(leaves) + 1:
            fit = theme_effects(x, yk, leaves, confidence=settings.confidence).frame
            frame = frame.merge(fit[["theme", "effect", "ci_low", "ci_high", "p_value"]], on="theme")
        else:
            frame[["effect", "ci_low", "ci_high", "p_value"]] = np.nan
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out["suppressed"] = out.n < settings.min_n
    out.loc[out.suppressed, ["rate_with", "effect", "ci_low", "ci_high", "p_value"]] = np.nan
    return ThemeBehaviour(out, horizon_days, len(rows), settings.min_n)


# --- breakdown --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThemeBreakdown:
    """``frame``: ``group, theme, comments, volume, share, sentiment, suppressed`` by ``by``."""

    frame: pd.DataFrame
    by: str
    min_n: int

    def to_frame(self) -> pd.DataFrame:
        return self.frame

    def share_table(self) -> pd.DataFrame:
        """Groups x themes, share of comments (NaN where suppressed)."""
        return self.frame.pivot_table(index="group", columns="theme", values="share", dropna=False)


def theme_breakdown(
    viewer: Viewer,
    *,
    stores: Stores,
    by: Literal["unit", "touchpoint", "segment"] = "unit",
    unit: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> ThemeBreakdown:
    """Theme volume, share and sentiment per child unit of ``unit`` (its subtree), touchpoint or segment."""
    if by not in ("unit", "touchpoint", "segment"):
        raise ValueError(f"unknown breakdown {by!r}: use unit, touchpoint or segment")
    settings, session, con = stores.settings, stores.session, stores.warehouse
    focus = unit or viewer.unit_id
    units, codebook = _scope(viewer, session, unit, con)
    base = tagged_responses(con, units=units, start=start, end=end)
    if by == "unit":
        closure = con.table("unit_closure")
        hierarchy = con.table("units")
        children = hierarchy.filter(hierarchy.parent_id == focus).select(group="unit_id")
        links = closure.join(children, closure.ancestor_id == children.group).select("group", "unit_id")
        grouped = base.join(links, "unit_id").select("response_id", "group")
    else:
        grouped = base.select("response_id", group=base[by])
    totals = grouped.group_by("group").aggregate(comments=grouped.response_id.count()).to_pandas()
    tags = con.table("comment_tags")
    joined = tags.join(grouped, "response_id")
    cells = (
        joined.group_by(["group", "theme"])
        .aggregate(volume=joined.response_id.count(), sentiment=joined.sentiment.mean())
        .to_pandas()
    )
    grid = pd.MultiIndex.from_product([totals.group.tolist(), list(codebook.names)], names=["group", "theme"])
    frame = cells.set_index(["group", "theme"]).reindex(grid).reset_index()
    frame["volume"] = frame.volume.fillna(0).astype(np.int64)
    frame = frame.merge(totals, on="group")
    frame["share"] = frame.volume / frame.comments
    frame["suppressed"] = frame.comments < settings.min_n
    frame.loc[frame.suppressed, ["volume", "share", "sentiment"]] = np.nan
    frame.loc[frame.volume < settings.min_n, "sentiment"] = np.nan
    columns = ["group", "theme", "comments", "volume", "share", "sentiment", "suppressed"]
    return ThemeBreakdown(
        frame[columns].sort_values(["group", "theme"], ignore_index=True), by, settings.min_n
    )


# --- suggestions ------------------------------------------------------------------------------------


def suggest_new_themes(
    viewer: Viewer,
    *,
    stores: Stores,
    n_themes: int = 8,
    method: str = "nmf",
    limit: int = 50_000,
) -> ThemeSuggestions:
    """Candidate themes from the scope's tagged comments that carry no theme (redacted examples).

    At most ``limit`` comments are read (the most recent ones).
    """
    session, con = stores.session, stores.warehouse
    units, _ = _scope(viewer, session, None, con)
    base = tagged_responses(con, units=units)
    unmatched = base.filter(base.themes == 0).select("response_id", "submitted_at")
    responses = con.table("responses").select("response_id", "comment")
    texts = (
        unmatched.join(responses, "response_id")
        .order_by([unmatched.submitted_at.desc(), "response_id"])
        .limit(limit)
        .comment.to_pyarrow()
        .to_pylist()
    )
    result = suggest_themes(texts, n_themes=n_themes, method=method)
    redacted = tuple(
        type(s)(s.terms, s.comments, tuple(t for t in redact_many(s.examples) if t is not None))
        for s in result.suggestions
    )
    return ThemeSuggestions(redacted, result.method, result.unmatched)
