"""Anonymity: which cells of an output must be suppressed, in one place for every output.

**Primary suppression.** A cell with fewer than ``min_n`` responses (``CXLOOP_MIN_N``, default 5) is
suppressed: no n, no estimate, no interval, no comparison, only the flag.

**Complementary suppression.** Unit cells nest: a parent's sufficient statistics are the sum of its
children's plus the responses filed on the parent itself, so a reader can subtract. The rule enforced
here is the one that makes subtraction harmless:

    every group of responses that can be computed from the published cells by adding and subtracting
    them has either no responses or at least ``min_n``.

Why this is enough, and how it is checked: each published cell is the sum over the responses of its
subtree. For a published cell ``p``, call its *remainder* the responses under ``p`` that are not under any
published cell below it (``n_p`` minus the n of its highest published descendants). Remainders of
different published cells are disjoint, and every published cell is its remainder plus the published
cells just below it, so what can be derived from the published cells is exactly the sums of whole
remainders. If every remainder has 0 or at least ``min_n`` responses, no derivable group is smaller than
``min_n`` — in particular no suppressed cell can be recovered (it has fewer than ``min_n`` responses, or,
for a complementary suppression, its remainder shares a derived sum with responses outside it).

The algorithm walks the tree bottom-up. Where a published cell's remainder has between 1 and
``min_n - 1`` responses, it suppresses the smallest published cell just below it whose own remainder is
non-empty (its responses then join the parent's remainder, which reaches ``min_n``); if there is none,
it suppresses the parent itself (its remainder joins its own parent's, which is checked next). Units with
no responses in a cell count as known zeros, the cautious assumption.

The pattern is computed per slice (period x touchpoint x ... x metric) over the viewer's whole visible
subtree, before the units asked for are picked out: publishing any subset of a safe pattern is safe (it
only merges remainders), so different views of the same query never combine into a leak.

What this does not cover: cells of *different* queries — a month against the days within it, a filtered
cube against an unfiltered one — are not checked against each other. Date ranges are widened to whole
periods so that a range cannot cut a period into a small difference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

__all__ = ["Hierarchy", "primary_mask", "suppressed_cells", "suppressed_columns", "suppression_mask"]

_NONE = np.iinfo(np.int64).max


@dataclass(frozen=True)
class Hierarchy:
    """A forest of units as arrays: ``parent[i]`` is the index of unit ``i``'s parent, -1 for a root.

    Build it with :meth:`from_parents`; units whose parent is not among the units are roots (the top of
    a viewer's subtree, for example).
    """

    unit_ids: tuple[str, ...]
    parent: NDArray[np.int64]

    @classmethod
    def from_parents(cls, parents: Mapping[str, str | None]) -> Hierarchy:
        """A hierarchy from ``{unit_id: parent_id}``; raises ``ValueError`` on a cycle."""
        unit_ids = tuple(sorted(parents))
        index = {unit_id: i for i, unit_id in enumerate(unit_ids)}
        parent = np.array([-1 if (up := parents[u]) is None else index.get(up, -1) for u in unit_ids])
        hierarchy = cls(unit_ids=unit_ids, parent=parent.astype(np.int64))
        hierarchy.depth  # noqa: B018 - validates: raises on a cycle
        return hierarchy

    def __len__(self) -> int:
        return len(self.unit_ids)

    @property
    def depth(self) -> NDArray[np.int64]:
        """Distance of every unit from its root."""
        size = len(self.unit_ids)
        depth = np.full(size, -1, dtype=np.int64)
        for start in range(size):
            chain = []
            unit = start
            while unit != -1 and depth[unit] == -1:
                chain.append(unit)
                if len(chain) > size:
                    raise ValueError(f"the hierarchy has a cycle through {self.unit_ids[start]!r}")
                unit = int(self.parent[unit])
            base = -1 if unit == -1 else int(depth[unit])
            for offset, member in enumerate(reversed(chain), start=1):
                depth[member] = base + offset
        return depth

    def index(self, unit_ids: Sequence[str] | pd.Series) -> NDArray[np.int64]:
        """Positions of ``unit_ids``; raises ``KeyError`` for a unit not in the hierarchy."""
        found = pd.Index(self.unit_ids).get_indexer(pd.Index(unit_ids, dtype=object))
        if (found < 0).any():
            raise KeyError(pd.Index(unit_ids, dtype=object)[found < 0][0])
        return found.astype(np.int64)


def primary_mask(n: ArrayLike, min_n: int) -> NDArray[np.bool_]:
    """True where a cell has fewer than ``min_n`` responses (cells that do not nest need nothing more)."""
    _check_min_n(min_n)
    return np.asarray(n) < min_n


def _check_min_n(min_n: int) -> None:
    if int(min_n) < 1:
        raise ValueError(f"min_n must be at least 1, got {min_n!r}")


def suppression_mask(n: ArrayLike, hierarchy: Hierarchy, min_n: int) -> NDArray[np.bool_]:
    """Primary and complementary suppression of unit cells.

    Parameters
    ----------
    n : array_like of int, shape (units, slices)
        Responses of each unit's cell (its whole subtree) in each slice; row ``i`` is
        ``hierarchy.unit_ids[i]``. Units with no responses in a slice have 0.
    hierarchy : Hierarchy
        The units and their parents.
    min_n : int
        Anonymity threshold.

    Returns
    -------
    numpy.ndarray of bool, shape (units, slices)
        True where the cell must not be published. Every published cell has at least ``min_n``
        responses and every group derivable from the published cells has 0 or at least ``min_n``.
    """
    _check_min_n(min_n)
    counts = np.asarray(n, dtype=np.int64)
    if counts.ndim == 1:
        return suppression_mask(counts[:, None], hierarchy, min_n)[:, 0]
    size, slices = counts.shape
    if size != len(hierarchy):
        raise ValueError(f"n has {size} rows but the hierarchy has {len(hierarchy)} units")
    published = counts >= min_n
    # Per unit and slice, accumulated from its children (bottom-up):
    covered = np.zeros((size, slices), dtype=np.int64)  # n under the highest published cells below it
    best_n = np.full((size, slices), _NONE)  # smallest candidate below: its n...
    best_unit = np.full((size, slices), -1, dtype=np.int64)  # ...and which unit it is
    parent = hierarchy.parent
    depth = hierarchy.depth
    # One depth at a time, deepest first, every unit of a depth and every slice at once. Exactly the
    # unit-by-unit walk: a unit reads only what its children left (all deeper), and writes its own flags,
    # those of units below it, and its parent's running totals (a sum, and the smallest (n, unit) pair,
    # which do not depend on the order its children come in).
    for level in range(int(depth.max(initial=-1)), -1, -1):
        units = np.flatnonzero(depth == level)
        count = counts[units]
        remainder = count - covered[units]
        candidate = best_unit[units]
        short = published[units] & (remainder > 0) & (remainder < min_n)
        has_candidate = short & (candidate >= 0)
        rows, fix = np.nonzero(has_candidate)
        published[candidate[rows, fix], fix] = False  # units below this depth: not read again here
        own = published[units] & ~(short & ~has_candidate)
        published[units] = own

        # A published cell with a non-empty remainder is the candidate its ancestors may suppress; one with
        # an empty remainder is the sum of cells below it, so suppressing it would hide nothing.
        is_candidate = own & ((remainder > 0) | has_candidate)
        unit_cover = np.where(own, count, covered[units])
        unit_best_n = np.where(own, np.where(is_candidate, count, _NONE), best_n[units])
        unit_best = np.where(own, np.where(is_candidate, units[:, None], -1), candidate)
        up = parent[units]
        has_parent = up >= 0
        if not has_parent.any():
            continue
        up, unit_cover = up[has_parent], unit_cover[has_parent]
        unit_best_n, unit_best = unit_best_n[has_parent], unit_best[has_parent]
        np.add.at(covered, up, unit_cover)
        # The parents' best pair so far is (none, -1): all their children are at this depth.
        np.minimum.at(best_n, up, unit_best_n)
        tied = (unit_best >= 0) & (unit_best_n == best_n[up])
        smallest = np.full((size, slices), size, dtype=np.int64)
        np.minimum.at(smallest, up, np.where(tied, unit_best, size))
        parents = np.unique(up)
        best_unit[parents] = np.where(smallest[parents] < size, smallest[parents], -1)
    return ~published


def suppressed_cells(
    cells: pd.DataFrame,
    hierarchy: Hierarchy,
    min_n: int,
    *,
    n_column: str,
    slice_columns: Sequence[str] = (),
    unit_column: str = "unit",
) -> pd.Series:
    """Suppression flags for a long table of unit cells.

    Parameters
    ----------
    cells : pandas.DataFrame
        One row per (unit, slice); units of the hierarchy missing from a slice count as 0 responses.
    hierarchy : Hierarchy
        Every unit the pattern is computed over (e.g. the viewer's whole visible subtree).
    min_n : int
        Anonymity threshold.
    n_column : str
        Column with each cell's responses.
    slice_columns : sequence of str
        Columns that name a slice (period, touchpoint, metric ...); cells in different slices do not
        nest. Empty: one slice.
    unit_column : str
        Column with the unit id.

    Returns
    -------
    pandas.Series of bool
        Aligned with ``cells.index``: True where the cell must be suppressed.
    """
    flags = suppressed_columns(
        cells,
        hierarchy,
        min_n,
        n_columns=(n_column,),
        slice_columns=slice_columns,
        unit_column=unit_column,
    )
    return flags[n_column].rename("suppressed")


def suppressed_columns(
    cells: pd.DataFrame,
    hierarchy: Hierarchy,
    min_n: int,
    *,
    n_columns: Sequence[str],
    slice_columns: Sequence[str] = (),
    unit_column: str = "unit",
) -> pd.DataFrame:
    """:func:`suppressed_cells` for several counts of the same cells at once (one per metric).

    Each column of ``n_columns`` is suppressed on its own, exactly as :func:`suppressed_cells` would;
    the units and slices are worked out once, and the patterns are computed together as one matrix.

    Returns
    -------
    pandas.DataFrame of bool
        One column per ``n_columns``, aligned with ``cells.index``.
    """
    n_columns = list(n_columns)
    if cells.empty:
        return pd.DataFrame({c: np.zeros(0, dtype=bool) for c in n_columns}, index=cells.index)
    rows = hierarchy.index(cells[unit_column])
    if slice_columns:
        slice_codes = cells.groupby(list(slice_columns), dropna=False, sort=False).ngroup().to_numpy()
    else:
        slice_codes = np.zeros(len(cells), dtype=np.int64)
    n_slices = int(slice_codes.max()) + 1
    # The slices of every column side by side: column k's slice s is column k * n_slices + s.
    matrix = np.zeros((len(hierarchy), n_slices * len(n_columns)), dtype=np.int64)
    for k, column in enumerate(n_columns):
        np.add.at(matrix, (rows, k * n_slices + slice_codes), cells[column].to_numpy(dtype=np.int64))
    mask = suppression_mask(matrix, hierarchy, min_n)
    return pd.DataFrame(
        {column: mask[rows, k * n_slices + slice_codes] for k, column in enumerate(n_columns)},
        index=cells.index,
    )
