"""Themes as drivers in the priorities: what the complaint themes of a scope cost in NPS, and in money.

The rated items say which parts of the experience matter (:mod:`cxloop.services.understand.priorities`); the
themes in comments add what the items do not ask about, in the customers' own words. Each leaf theme becomes a
priority row from the theme impact regression (:func:`cxloop.services.understand.themes.theme_impact` with
outcome ``nps_points``: 100 x (promoter - detractor) per response regressed on the theme indicators, adjusted
for the rated items, HC3 intervals), so its effect is in NPS points for a respondent whose comment carries it,
beyond what their ratings already say.

For a theme with a negative effect ``e`` (NPS points) carried by ``v`` of the scope's ``N`` NPS answers:

* **expected NPS points** ``= -e x v / N x share_closed``: the scope's NPS gain if ``share_closed`` of the
  theme's occurrences went away (the same "close half of the gap" as the item rows);
* **expected money** ``= points x value of an NPS point`` (the figure the priorities and the value page use,
  :attr:`cxloop.services.understand.priorities.PriorityResult.nps_point_value`), per year;
* praise themes (positive effect) are strengths to keep, not gaps: listed with 0 expected points.

:func:`priorities_with_themes` puts the item rows and the theme rows in one table ranked by expected NPS
points, with ``source`` saying which is which. Associations in observational data, like the item rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from cxloop.services.access.scope import Viewer
from cxloop.services.stores import Stores
from cxloop.services.understand.priorities import PriorityResult, priorities
from cxloop.services.understand.themes import NoCodebookError, theme_impact
from cxloop.services.understand.themes import _scope as theme_scope  # the scope resolution theme_impact uses

__all__ = ["ThemePriorities", "priorities_with_themes", "theme_priorities"]

COLUMNS = [
    "rank",
    "source",
    "driver",
    "label",
    "volume",
    "share",
    "sentiment",
    "effect",
    "ci_low",
    "ci_high",
    "p_value",
    "expected_nps_points",
    "expected_margin",
    "why",
]


@dataclass(frozen=True)
class ThemePriorities:
    """Theme rows for the priorities of one scope (``frame``: :data:`COLUMNS`, first priority first)."""

    frame: pd.DataFrame
    responses: int
    comments: int
    share_closed: float
    nps_point_value: float | None
    adjusted_for: tuple[str, ...]

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()


def _nps_answers(con: BaseBackend, units: Any, touchpoint: str | None, segment: str | None) -> int:
    responses = con.table("responses")
    rows = responses.filter(responses.unit_id.isin(sorted(units)) & responses.nps.notnull())
    if touchpoint is not None:
        rows = rows.filter(rows.touchpoint == touchpoint)
    if segment is not None:
        rows = rows.filter(rows.segment == segment)
    return int(rows.count().to_pyarrow().as_py())


def theme_priorities(
    viewer: Viewer,
    *,
    stores: Stores,
    unit_id: str | None = None,
    touchpoint: str | None = None,
    segment: str | None = None,
    start: date | None = None,
    end: date | None = None,
    share_closed: float = 0.5,
    nps_point_value: float | None = None,
) -> ThemePriorities:
    """Priority rows for the leaf themes of a scope (see the module docstring).

    Raises
    ------
    ScopeError, UnknownUnitError
        The unit is outside the viewer's subtree (before any warehouse query).
    NoCodebookError
        No theme is defined.
    """
    if not 0.0 < share_closed <= 1.0:
        raise ValueError(f"share_closed must lie in (0, 1], got {share_closed!r}")
    settings, session, con = stores.settings, stores.session, stores.warehouse
    impact = theme_impact(
        viewer,
        stores=stores,
        unit=unit_id,
        touchpoint=touchpoint,
        segment=segment,
        start=start,
        end=end,
        outcome="nps_points",
    )
    units, codebook = theme_scope(viewer, session, unit_id, con)
    answers = _nps_answers(con, units, touchpoint, segment)
    leaves = [t for t in codebook.names if not codebook.children(t)]
    frame = impact.frame[impact.frame.theme.isin(leaves)].copy()
    cost = (-frame.effect).clip(lower=0.0)
    frame["expected_nps_points"] = cost * frame.volume / answers * share_closed if answers else np.nan
    frame["expected_margin"] = (
        frame.expected_nps_points * max(0.0, nps_point_value) if nps_point_value is not None else np.nan
    )
    frame = frame.sort_values(["expected_nps_points", "theme"], ascending=[False, True], na_position="last")
    frame = frame.reset_index(drop=True)
    out = pd.DataFrame(
        {
            "rank": np.arange(1, len(frame) + 1),
            "source": "theme",
            "driver": frame.theme.to_numpy(),
            "label": [f"Comments about {codebook[t].name.replace('_', ' ')}" for t in frame.theme],
            "volume": frame.volume.to_numpy(),
            "share": frame.share.to_numpy(),
            "sentiment": frame.sentiment.to_numpy(),
            "effect": frame.effect.to_numpy(),
            "ci_low": frame.ci_low.to_numpy(),
            "ci_high": frame.ci_high.to_numpy(),
            "p_value": frame.p_value.to_numpy(),
            "expected_nps_points": frame.expected_nps_points.to_numpy(),
            "expected_margin": frame.expected_margin.to_numpy(),
        }
    )
    out["why"] = [_why(row, answers, share_closed, settings.min_n) for row in out.itertuples()]
    return ThemePriorities(
        frame=out[COLUMNS],
        responses=answers,
        comments=impact.comments,
        share_closed=share_closed,
        nps_point_value=nps_point_value,
        adjusted_for=impact.adjusted_for,
    )


def _why(row: Any, answers: int, share_closed: float, min_n: int) -> str:
    name = str(row.driver).replace("_", " ")
    if row.volume is None or (isinstance(row.volume, float) and np.isnan(row.volume)):
        return f"Fewer than {min_n} comments mention {name}: hidden."
    if row.effect is None or np.isnan(row.effect):
        return f"{int(row.volume):,} comments mention {name}; too few to estimate its effect."
    interval = f"{row.ci_low:+.1f} to {row.ci_high:+.1f}"
    if row.effect >= 0:
        return (
            f"A strength: respondents mentioning {name} give {row.effect:+.1f} NPS points ({interval}) "
            "beyond their ratings; keep it."
        )
    clear = row.ci_high < 0
    return (
        f"{int(row.volume):,} of {answers:,} respondents mention {name}, each {row.effect:+.1f} NPS points "
        f"({interval}{'' if clear else ', not clearly below zero'}) beyond their ratings; removing "
        f"{share_closed:.0%} of these complaints would add {row.expected_nps_points:+.2f} points."
    )


def priorities_with_themes(
    viewer: Viewer,
    *,
    stores: Stores,
    unit_id: str | None = None,
    segment: str | None = None,
    touchpoint: str | None = None,
    share_closed: float = 0.5,
    currency: str | None = None,
) -> tuple[PriorityResult, pd.DataFrame]:
    """The NPS priorities of a scope with the themes as drivers: the item result and one table of item and
    theme rows ranked together by expected NPS points (``source`` = ``item`` or ``theme``).

    Without a codebook the table holds the item rows only.
    """
    items = priorities(
        viewer,
        stores=stores,
        unit_id=unit_id,
        outcome="nps",
        segment=segment,
        touchpoint=touchpoint,
        share_closed=share_closed,
        currency=currency,
    )
    table = items.priorities.copy()
    table.insert(1, "source", "item")
    try:
        themes = theme_priorities(
            viewer,
            stores=stores,
            unit_id=unit_id,
            touchpoint=touchpoint,
            segment=segment,
            share_closed=share_closed,
            nps_point_value=getattr(items, "nps_point_value", None),  # set where margins exist
        ).frame
    except NoCodebookError:
        themes = pd.DataFrame(columns=COLUMNS)
    combined = pd.concat([table, themes.drop(columns=["rank"])], ignore_index=True, sort=False)
    combined = combined.sort_values(
        ["expected_nps_points", "source"], ascending=[False, True], na_position="last", kind="stable"
    ).reset_index(drop=True)
    combined["rank"] = np.arange(1, len(combined) + 1)
    return items, combined
