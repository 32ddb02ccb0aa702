"""Benchmarks: what a unit is compared with, and what of it may be published. One policy for every output.

A viewer compares their units with the **aggregates of the groups they belong to**, never with another
unit's own numbers, id or name (``docs/benchmark-policy.md``):

* **the parent and the company** (every ancestor): the group's estimate over its whole subtree and the
  difference with its significance. The test compares the unit with *the rest* of the group (the group
  minus the unit, an independent sample: :func:`~cxloop.services.understand.comparisons.nested_difference`).
  A group outside the viewer's subtree is named by its level only ("your region", "the company").
* **peers**: the units at the same level, across the company (or under the same parent): the unit's rank
  among them with a rank interval, the peer median and the top quartile (75th percentile of the peer
  units' estimates), never a peer's id or name.
* **targets** (stored per unit, metric and period; :mod:`cxloop.services.act.targets`).

**Anonymity.** Two rules on top of the cell suppression of :mod:`cxloop.services.access.suppression`:

1. *Complementary suppression across the viewer's boundary.* A viewer who sees unit ``V``'s subtree knows
   ``V``'s own statistics, so publishing a group ``G`` above ``V`` publishes ``G - V`` too. ``G - V`` is
   split into disjoint *contributors*: for each unit ``A`` on the path from ``V``'s parent up to ``G``,
   every child of ``A`` off the path (a whole subtree) and the responses filed on ``A`` itself. ``G`` is
   published only when at least two contributors hold ``min_n`` responses or more: where ``G - V`` is one
   other unit (a parent with two children, or one other published child) the comparison is withheld, with
   a note saying why.
2. *Peer groups.* A peer median, top quartile or rank is published only when at least ``min_peers``
   (``CXLOOP_MIN_PEERS``, default 5) units of the group hold ``min_n`` responses or more each (the unit
   itself included); only those units enter the distribution.

Viewers above a unit (its parent in their scope) keep seeing its siblings by name in league tables
(``compare=siblings``), as before; everything here is for the groups *around* the viewer's scope.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from cxloop.services.cache import cached
from cxloop.services.understand import comparisons as cmp
from cxloop.warehouse.queries.cube import STATISTICS

__all__ = [
    "HIGHER_IS_BETTER",
    "PEER_FIELDS",
    "OrgTree",
    "contributors",
    "group_cells",
    "group_is_safe",
    "group_label",
    "peer_comparison",
    "org_tree",
    "peers_label",
    "plural",
    "read_units",
    "top_quartile",
    "verdict",
]

#: Fields of a peer comparison beyond the common ones (reference = the peer median).
PEER_FIELDS = ("rank", "rank_low", "rank_high", "league_size", "median", "top_quartile")
#: At least this many published contributors in ``G - V`` before a group ``G`` above the viewer is shown.
MIN_CONTRIBUTORS = 2

_PLURALS = {"branch": "branches", "company": "companies", "country": "countries", "city": "cities"}


#: Whether a higher value is good, per measure (tiles, metrics); anything else is taken as higher-is-better.
HIGHER_IS_BETTER = {
    "nps": True,
    "csat": True,
    "ces": True,  # 1-7, higher = easier
    "repeat_purchase": True,
    "clv": True,
    "churn": False,
    "revenue_at_risk": False,
}


def verdict(difference: float | None, significant: bool | None, measure: str) -> dict[str, str]:
    """Whether a difference from a benchmark is good or bad news, as a class and in words.

    ``state``: ``better`` or ``worse`` (significant, by the measure's direction), ``level`` (not
    significant) or ``unknown`` (no comparison); ``arrow``: the actual direction of the difference (up,
    down, =); ``words``: the state for readers who do not see colour; ``relation``: the same, to put
    before the benchmark's name ("significantly worse than", "not significantly different from").
    """
    if difference is None or (isinstance(difference, float) and np.isnan(difference)):
        return {"state": "unknown", "arrow": "", "words": "no comparison", "relation": "not compared with"}
    arrow = "\u25b2" if difference > 0 else "\u25bc" if difference < 0 else "="
    if not significant:
        return {
            "state": "level",
            "arrow": arrow,
            "words": "no significant difference",
            "relation": "not significantly different from",
        }
    good = (difference > 0) == HIGHER_IS_BETTER.get(measure, True)
    state = "better" if good else "worse"
    return {
        "state": state,
        "arrow": arrow,
        "words": f"significantly {state}",
        "relation": f"significantly {state} than",
    }


def plural(level: str) -> str:
    """``branch`` -> ``branches``, ``region`` -> ``regions``."""
    return _PLURALS.get(level, level if level.endswith("s") else level + "s")


def group_label(level: str | None, *, company: bool) -> str:
    """How a group above the viewer is named: by its level, never its id or name."""
    if company:
        return "the company"
    return f"your {level or 'parent unit'}"


def peers_label(level: str, within: Literal["company", "parent"] = "company", parent_level: str = "") -> str:
    """``branches in the company`` / ``branches in your region``."""
    where = "the company" if within == "company" else f"your {parent_level or 'parent unit'}"
    return f"{plural(level)} in {where}"


def top_quartile(values: np.ndarray) -> float:
    """The 75th percentile (linear interpolation) of peer units' values: the "best 25%" line."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), 75.0))


@dataclass(frozen=True)
class OrgTree:
    """Every unit of the company (the warehouse's mirror): parent, level, and the company at the top.

    Used only to know who belongs to which group; ids of units outside the viewer's scope never leave the
    functions of this module.
    """

    parent: Mapping[str, str | None]
    level: Mapping[str, str]
    company: str | None

    @classmethod
    def from_frame(cls, units: pd.DataFrame) -> OrgTree:
        """From a frame with ``unit_id``, ``parent_id`` and ``level`` columns."""
        parent = {
            str(u): (None if p is None or (isinstance(p, float) and np.isnan(p)) or pd.isna(p) else str(p))
            for u, p in zip(units.unit_id, units.parent_id, strict=True)
        }
        level = {str(u): str(lv) for u, lv in zip(units.unit_id, units.level, strict=True)}
        roots = [u for u, p in parent.items() if p is None]
        return cls(parent=parent, level=level, company=roots[0] if len(roots) == 1 else None)

    def ancestors(self, unit_id: str) -> list[str]:
        """From the parent up to the top."""
        out: list[str] = []
        up = self.parent.get(unit_id)
        while up is not None and up not in out:
            out.append(up)
            up = self.parent.get(up)
        return out

    def children(self, unit_id: str) -> list[str]:
        return sorted(u for u, p in self.parent.items() if p == unit_id)

    def at_level(self, level: str) -> list[str]:
        return sorted(u for u, lv in self.level.items() if lv == level)

    def label(self, unit_id: str) -> str:
        """The level label of a group above the viewer."""
        return group_label(self.level.get(unit_id), company=unit_id == self.company)


def read_units(con: BaseBackend) -> pd.DataFrame:
    """Every unit of the warehouse's mirror of the hierarchy (``unit_id``, ``parent_id``, ``name``, ``level``,
    ``depth``), read once per data version."""

    def read() -> pd.DataFrame:
        columns = ("unit_id", "parent_id", "name", "level", "depth")
        if con.name == "duckdb":
            # The same frame without Ibis building and compiling the expression each time (most of the
            # read's time; every write starts a new data version, so the first read after it pays this).
            sql = 'SELECT "unit_id", "parent_id", "name", "level", "depth" FROM "units"'
            return con.con.execute(sql).to_arrow_table().to_pandas()
        return con.table("units").select(*columns).to_pandas()

    return cached("warehouse.units", con, None, read)


def org_tree(con: BaseBackend) -> OrgTree:
    """The whole company as :class:`OrgTree`."""
    return OrgTree.from_frame(read_units(con))


def contributors(tree: OrgTree, viewer_unit: str, group: str) -> list[tuple[str, tuple[str, ...]]]:
    """The disjoint parts of ``group - viewer_unit``: ``(unit, minus)`` whose responses are ``unit``'s subtree
    less the subtrees of ``minus`` (a whole sibling subtree has ``minus == ()``; the responses filed on an
    ancestor itself are the ancestor less its children)."""
    path = [viewer_unit, *tree.ancestors(viewer_unit)]
    if group not in path[1:]:
        raise ValueError(f"{group!r} is not above {viewer_unit!r}")
    parts: list[tuple[str, tuple[str, ...]]] = []
    for i in range(1, path.index(group) + 1):
        above, below = path[i], path[i - 1]
        others = tuple(c for c in tree.children(above) if c != below)
        parts.append((above, (below, *others)))
        parts.extend((other, ()) for other in others)
    return parts


def group_is_safe(
    tree: OrgTree, viewer_unit: str, group: str, n_of: Callable[[str], float], min_n: int
) -> bool:
    """Whether ``group``'s aggregate may be shown to a viewer of ``viewer_unit``'s subtree: it has ``min_n``
    responses and ``group - viewer_unit`` has at least two contributors with ``min_n`` each (``n_of``: a
    unit's responses over its whole subtree)."""
    if n_of(group) < min_n:
        return False
    published = sum(
        1
        for unit, minus in contributors(tree, viewer_unit, group)
        if n_of(unit) - sum(map(n_of, minus)) >= min_n
    )
    return published >= MIN_CONTRIBUTORS


def _slice_codes(frame: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    if not keys:
        return pd.Series(np.zeros(len(frame), dtype=np.int64), index=frame.index)
    normal = frame[list(keys)].copy()
    if "period" in normal:
        normal["period"] = pd.to_datetime(normal["period"])
    return pd.Series(pd.MultiIndex.from_frame(normal).map(hash), index=frame.index)


def group_cells(
    tree: OrgTree,
    viewer_unit: str,
    groups: Sequence[str],
    cube_for: Callable[[frozenset[str]], pd.DataFrame],
    *,
    keys: Sequence[str],
    metrics: Sequence[str],
    min_n: int,
) -> pd.DataFrame:
    """Cells of groups above the viewer's unit (ancestors outside their scope), with the policy's flags.

    Parameters
    ----------
    tree : OrgTree
        The whole company.
    viewer_unit : str
        The top of the viewer's scope (``V``).
    groups : sequence of str
        Ancestors of ``viewer_unit`` whose aggregates are wanted.
    cube_for : callable
        The metrics cube (``unit`` and ``keys`` columns, the statistics) of a set of units, each cell over
        the unit's whole subtree, with the caller's filters.
    keys, metrics, min_n
        Slice columns, metrics, anonymity threshold.

    Returns
    -------
    pandas.DataFrame
        The cube rows of ``groups``, plus per metric ``<m>_suppressed`` (not to be published) and
        ``<m>_withheld`` (why, in words naming the group by its level; ``None`` where published).
    """
    path = [viewer_unit, *tree.ancestors(viewer_unit)]
    groups = [g for g in groups if g in path[1:]]
    if not groups:
        return pd.DataFrame()
    top = max(path.index(g) for g in groups)
    needed = set(path[1 : top + 1])
    for above in path[1 : top + 1]:
        needed.update(tree.children(above))
    cube = cube_for(frozenset(needed))
    if cube.empty:
        return cube
    cube = cube.reset_index(drop=True)
    codes = _slice_codes(cube, keys)
    out = cube[cube.unit.isin(groups)].copy()
    out_codes = codes[out.index]
    for metric in metrics:
        counts = (
            pd.DataFrame({"unit": cube.unit, "slice": codes, "n": cube[f"{metric}_n"].astype(float)})
            .pivot_table(index="slice", columns="unit", values="n", aggfunc="sum")
            .fillna(0.0)
        )

        def n_of(unit: str, counts: pd.DataFrame = counts) -> pd.Series:
            return counts[unit] if unit in counts.columns else pd.Series(0.0, index=counts.index)

        verdict: dict[str, tuple[pd.Series, pd.Series]] = {}
        for group in groups:
            published = pd.Series(0, index=counts.index)
            for unit, minus in contributors(tree, viewer_unit, group):
                part = n_of(unit) - sum((n_of(m) for m in minus), pd.Series(0.0, counts.index))
                published = published + (part >= min_n).astype(int)
            verdict[group] = (n_of(group), published)
        suppressed = np.ones(len(out), dtype=bool)
        withheld = np.full(len(out), None, dtype=object)
        for j, (unit, code) in enumerate(zip(out.unit, out_codes, strict=True)):
            n_group, parts = verdict[unit]
            label = tree.label(unit)
            if n_group.get(code, 0.0) < min_n:
                withheld[j] = f"{label}: suppressed (fewer than {min_n} responses)"
            elif parts.get(code, 0) < MIN_CONTRIBUTORS:
                withheld[j] = (
                    f"withheld: the rest of {label} is a single unit, which subtracting your own numbers "
                    "would reveal"
                )
            else:
                suppressed[j] = False
        out[f"{metric}_suppressed"] = suppressed
        out[f"{metric}_withheld"] = withheld
    return out.reset_index(drop=True)


def _stats(frame: pd.DataFrame, metric: str) -> dict[str, np.ndarray]:
    return {c: frame[c].to_numpy(dtype=np.float64) for c in STATISTICS[metric]}


def peer_comparison(
    tree: OrgTree,
    peer_cube: pd.DataFrame,
    rows: pd.DataFrame,
    *,
    keys: Sequence[str],
    metric: str,
    estimate: np.ndarray,
    se: np.ndarray,
    n: np.ndarray,
    hidden: np.ndarray,
    min_n: int,
    min_peers: int,
    confidence: float,
    within: Literal["company", "parent"] = "company",
) -> dict[str, Any]:
    """Each output row (``unit`` and ``keys`` of ``rows``) against the units at its level.

    ``peer_cube`` holds the cells of every unit at the levels of ``rows`` (whole subtrees, the caller's
    filters). Only peers with at least ``min_n`` responses count; with fewer than ``min_peers`` of them
    (the row's own unit included) nothing is published. ``reference`` is the peer median, tested like a
    target (a one-sample test of the unit's estimate against it); ``rank`` is 1 + the peers with a higher
    estimate, with the interval of :func:`~cxloop.services.understand.comparisons.league_ranks`.
    """
    size = len(rows)
    out: dict[str, Any] = {
        "reference": np.full(size, np.nan),
        "difference": np.full(size, np.nan),
        "difference_se": np.full(size, np.nan),
        "p_value": np.full(size, np.nan),
        "note": np.full(size, None, dtype=object),
        **{f: np.full(size, np.nan) for f in PEER_FIELDS},
    }
    row_units = rows.unit.astype(str).to_numpy()
    labels = np.array(
        [
            peers_label(
                tree.level.get(u, "unit"),
                within,
                tree.level.get(tree.parent.get(u) or "", ""),
            )
            for u in row_units
        ],
        dtype=object,
    )
    if peer_cube.empty:
        out["note"][:] = [f"no {label} to compare with" for label in labels]
        out["note"][hidden] = "suppressed"
        return out
    peers = peer_cube.reset_index(drop=True)
    peer_units = peers.unit.astype(str)
    group = peer_units.map(lambda u: (tree.level.get(u), tree.parent.get(u) if within == "parent" else ""))
    league_key = pd.Series(list(zip(group, _slice_codes(peers, keys), strict=True)), index=peers.index)
    est = cmp.estimate(metric, _stats(peers, metric), confidence).estimate
    ok = (peers[f"{metric}_n"].to_numpy(dtype=np.float64) >= min_n) & ~np.isnan(est)
    members = np.flatnonzero(ok)
    league_codes, league_index = pd.factorize(league_key[members])
    counts = np.bincount(league_codes, minlength=len(league_index))
    ranks = cmp.league_ranks(
        metric, {c: v[members] for c, v in _stats(peers, metric).items()}, confidence, league_codes
    )
    medians = {league_index[k]: float(np.median(est[members][league_codes == k])) for k in range(len(counts))}
    quartiles = {league_index[k]: top_quartile(est[members][league_codes == k]) for k in range(len(counts))}
    sizes = {league_index[k]: int(counts[k]) for k in range(len(counts))}
    position = {(peer_units[m], league_key[m]): p for p, m in enumerate(members)}

    row_group = [(tree.level.get(u), tree.parent.get(u) if within == "parent" else "") for u in row_units]
    row_keys = list(zip(row_group, _slice_codes(rows.reset_index(drop=True), keys), strict=True))
    median = np.full(size, np.nan)
    for i, key in enumerate(row_keys):
        if hidden[i]:
            continue
        count = sizes.get(key, 0)
        if count < min_peers:
            out["note"][i] = f"withheld: fewer than {min_peers} {labels[i]} with at least {min_n} responses"
            continue
        at = position.get((row_units[i], key))
        if at is None:
            out["note"][i] = "suppressed"
            continue
        median[i] = medians[key]
        out["median"][i] = medians[key]
        out["top_quartile"][i] = quartiles[key]
        out["league_size"][i] = count
        out["rank"][i] = ranks.rank[at]
        out["rank_low"][i] = ranks.rank_low[at]
        out["rank_high"][i] = ranks.rank_high[at]
    own = cmp.Estimates(estimate, se, np.full(size, np.nan), np.full(size, np.nan))
    test = cmp.target_test(metric, own, n, median)
    usable = ~np.isnan(median)
    out["reference"] = np.where(usable, median, np.nan)
    out["difference"] = np.where(usable, test.difference, np.nan)
    out["difference_se"] = np.where(usable, test.se, np.nan)
    out["p_value"] = np.where(usable, test.p_value, np.nan)
    out["note"][hidden] = "suppressed"
    out["label"] = labels
    return out
