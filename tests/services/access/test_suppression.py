"""Primary and complementary suppression: worked examples and hypothesis properties.

The properties check the published pattern with plain linear algebra, independently of the algorithm's
bookkeeping: a suppressed cell is recoverable by adding and subtracting published cells exactly when its
indicator vector (over the units that hold responses) lies in the span of the published cells' vectors.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxloop.services.access.suppression import (
    Hierarchy,
    primary_mask,
    suppressed_cells,
    suppressed_columns,
    suppression_mask,
)


def tree(parents: dict[str, str | None]) -> Hierarchy:
    return Hierarchy.from_parents(parents)


def cell_counts(hierarchy: Hierarchy, own: np.ndarray) -> np.ndarray:
    """Each unit's cell (its whole subtree) from the responses filed on each unit itself."""
    counts = own.astype(np.int64).copy()
    for unit in np.argsort(-hierarchy.depth, kind="stable"):
        if hierarchy.parent[unit] >= 0:
            counts[hierarchy.parent[unit]] += counts[unit]
    return counts


def subtree_matrix(hierarchy: Hierarchy) -> np.ndarray:
    """``m[u, a]`` is 1 when unit ``a`` lies in the subtree of unit ``u``."""
    size = len(hierarchy)
    m = np.eye(size)
    for unit in range(size):
        up = hierarchy.parent[unit]
        while up >= 0:
            m[up, unit] = 1.0
            up = hierarchy.parent[up]
    return m


# --- worked examples ------------------------------------------------------------------------------------


def test_primary_only_when_nothing_can_be_subtracted():
    h = tree({"co": None, "a": "co", "b": "co"})  # sorted: a, b, co
    mask = suppression_mask(np.array([3, 0, 3]), h, min_n=5)
    assert mask.tolist() == [True, True, True]
    mask = suppression_mask(np.array([6, 7, 13]), h, min_n=5)
    assert mask.tolist() == [False, False, False]


def test_last_small_child_gets_a_partner_the_smallest_sibling():
    # company 20 = a 10 + b 7 + c 3: c is primary; company - a - b would give c, so b (smaller than a) goes.
    h = tree({"co": None, "a": "co", "b": "co", "c": "co"})
    mask = suppression_mask(np.array([10, 7, 3, 20]), h, min_n=5)
    assert dict(zip(h.unit_ids, mask.tolist(), strict=True)) == {
        "a": False,
        "b": True,
        "c": True,
        "co": False,
    }


def test_two_small_children_are_not_enough_when_together_they_are_small():
    # company 24 = a 20 + b 2 + c 2: b + c = 4 < 5 would still be derivable as a group, so a goes too.
    h = tree({"co": None, "a": "co", "b": "co", "c": "co"})
    mask = suppression_mask(np.array([20, 2, 2, 24]), h, min_n=5)
    assert dict(zip(h.unit_ids, mask.tolist(), strict=True)) == {"a": True, "b": True, "c": True, "co": False}


def test_responses_filed_on_the_parent_itself_are_protected():
    # region 12 = branch 10 + 2 responses filed on the region: region - branch reveals those 2.
    h = tree({"r": None, "b": "r"})
    mask = suppression_mask(np.array([10, 12]), h, min_n=5)
    # the only child has an n >= 5 remainder, so it is the partner that hides the 2
    assert dict(zip(h.unit_ids, mask.tolist(), strict=True)) == {"b": True, "r": False}


def test_parent_goes_when_no_child_can_hide_the_difference():
    # co 30 = r 30 (r has no own responses) and r = b1 27 + b2 3. b2 primary -> b1 suppressed with it.
    # Then co = r, nothing left to fix at the top.
    h = tree({"co": None, "r": "co", "b1": "r", "b2": "r"})
    counts = np.array([27, 3, 30, 30])  # b1, b2, co, r
    mask = dict(zip(h.unit_ids, suppression_mask(counts, h, 5).tolist(), strict=True))
    assert mask == {"b1": True, "b2": True, "co": False, "r": False}


def test_slices_are_independent():
    h = tree({"co": None, "a": "co", "b": "co", "c": "co"})
    counts = np.array([[10, 10], [7, 7], [3, 8], [20, 25]])
    mask = suppression_mask(counts, h, 5)
    assert mask[:, 0].tolist() == [False, True, True, False]
    assert mask[:, 1].tolist() == [False, False, False, False]


def test_primary_mask():
    assert primary_mask([0, 4, 5, 9], 5).tolist() == [True, True, False, False]
    with pytest.raises(ValueError, match="min_n"):
        primary_mask([1], 0)


def test_cycle_is_refused():
    with pytest.raises(ValueError, match="cycle"):
        Hierarchy.from_parents({"a": "b", "b": "a"})


def test_frame_interface_fills_missing_units_with_zero_and_keeps_slices_apart():
    h = tree({"co": None, "a": "co", "b": "co", "c": "co"})
    cells = pd.DataFrame(
        {
            "unit": ["co", "a", "b", "c", "co", "a", "b"],
            "period": ["m1", "m1", "m1", "m1", "m2", "m2", "m2"],
            "n": [20, 10, 7, 3, 16, 10, 6],
        },
        index=[10, 11, 12, 13, 14, 15, 16],
    )
    flags = suppressed_cells(cells, h, 5, n_column="n", slice_columns=["period"])
    assert flags.index.tolist() == cells.index.tolist()
    # m2: c has no row (0 responses), so co = a + b and nothing is small: all shown.
    assert flags.tolist() == [False, False, True, True, False, False, False]


def test_several_counts_at_once_equal_each_on_its_own():
    h = tree({"co": None, "a": "co", "b": "co", "c": "a"})
    cells = pd.DataFrame(
        {
            "unit": ["co", "a", "b", "c", "co", "a", "b", "c"],
            "period": ["m1"] * 4 + ["m2"] * 4,
            "nps_n": [20, 10, 10, 3, 16, 10, 6, 6],
            "ces_n": [9, 4, 5, 4, 30, 20, 10, 1],
        }
    )
    together = suppressed_columns(cells, h, 5, n_columns=["nps_n", "ces_n"], slice_columns=["period"])
    for column in ("nps_n", "ces_n"):
        alone = suppressed_cells(cells, h, 5, n_column=column, slice_columns=["period"])
        assert together[column].tolist() == alone.tolist()
    assert together.any().all()


# --- properties -----------------------------------------------------------------------------------------


@st.composite
def forests(draw):
    size = draw(st.integers(1, 18))
    parents: dict[str, str | None] = {"u00": None}
    for i in range(1, size):
        # mostly one tree; sometimes a second root (a viewer's subtree can be cut anywhere)
        parent = draw(st.one_of(st.integers(0, i - 1), st.just(-1)) if i > 3 else st.integers(0, i - 1))
        parents[f"u{i:02d}"] = None if parent == -1 else f"u{parent:02d}"
    slices = draw(st.integers(1, 3))
    small = st.sampled_from([0, 0, 0, 1, 2, 3, 4, 5, 6, 9, 15, 40])
    own = draw(st.lists(st.lists(small, min_size=slices, max_size=slices), min_size=size, max_size=size))
    min_n = draw(st.integers(1, 8))
    h = Hierarchy.from_parents(parents)
    own_by_unit = {unit_id: row for unit_id, row in zip(sorted(parents), own, strict=True)}
    own_matrix = np.array([own_by_unit[u] for u in h.unit_ids], dtype=np.int64)
    return h, own_matrix, min_n


def _in_span(rows: np.ndarray, vector: np.ndarray) -> bool:
    if rows.shape[0] == 0:
        return not vector.any()
    return np.linalg.matrix_rank(np.vstack([rows, vector])) == np.linalg.matrix_rank(rows)


@settings(max_examples=300, deadline=None)
@given(forests())
def test_no_suppressed_cell_can_be_recovered_by_subtraction(case):
    h, own, min_n = case
    counts = cell_counts(h, own)
    mask = suppression_mask(counts, h, min_n)
    members = subtree_matrix(h)
    for s in range(own.shape[1]):
        assert (counts[mask[:, s] == False, s] >= min_n).all()  # noqa: E712 - elementwise
        assert mask[counts[:, s] < min_n, s].all()
        unknown = own[:, s] > 0  # units with no responses of their own are known zeros
        published = members[~mask[:, s]][:, unknown]
        for cell in np.flatnonzero(mask[:, s] & (counts[:, s] > 0)):
            assert not _in_span(published, members[cell, unknown]), (
                f"suppressed {h.unit_ids[cell]} (n={counts[cell, s]}) is derivable in slice {s}"
            )


@settings(max_examples=300, deadline=None)
@given(forests())
def test_every_derivable_group_has_zero_or_at_least_min_n_responses(case):
    h, own, min_n = case
    counts = cell_counts(h, own)
    mask = suppression_mask(counts, h, min_n)
    members = subtree_matrix(h)
    for s in range(own.shape[1]):
        published = members[~mask[:, s]]
        # Units (with responses) that every published cell holds together or not at all are what can be
        # isolated by adding and subtracting; any derivable group is a union of such classes.
        signatures: dict[tuple[float, ...], int] = {}
        for unit in np.flatnonzero(own[:, s] > 0):
            signature = tuple(published[:, unit])
            if any(signature):
                signatures[signature] = signatures.get(signature, 0) + int(own[unit, s])
        assert all(total >= min_n for total in signatures.values()), signatures


@settings(max_examples=200, deadline=None)
@given(forests())
def test_publishing_a_subset_stays_safe(case):
    h, own, min_n = case
    counts = cell_counts(h, own)
    mask = suppression_mask(counts, h, min_n)[:, 0]
    members = subtree_matrix(h)
    unknown = own[:, 0] > 0
    rng = np.random.default_rng(len(h))
    shown = ~mask & (rng.random(len(h)) < 0.6)
    published = members[shown][:, unknown]
    for cell in np.flatnonzero(mask & (counts[:, 0] > 0)):
        assert not _in_span(published, members[cell, unknown])


def _walk_unit_by_unit(counts: np.ndarray, hierarchy: Hierarchy, min_n: int) -> np.ndarray:
    """The algorithm as first written: one unit at a time, deepest first (the implementation now takes
    every unit of a depth at once, and must give exactly this)."""
    size, slices = counts.shape
    none = np.iinfo(np.int64).max
    published = counts >= min_n
    covered = np.zeros((size, slices), dtype=np.int64)
    best_n = np.full((size, slices), none)
    best_unit = np.full((size, slices), -1, dtype=np.int64)
    columns = np.arange(slices)
    for unit in np.argsort(-hierarchy.depth, kind="stable"):
        remainder = counts[unit] - covered[unit]
        short = published[unit] & (remainder > 0) & (remainder < min_n)
        has_candidate = short & (best_unit[unit] >= 0)
        fix = columns[has_candidate]
        published[best_unit[unit, fix], fix] = False
        published[unit, short & ~has_candidate] = False
        own = published[unit]
        is_candidate = own & ((remainder > 0) | has_candidate)
        unit_cover = np.where(own, counts[unit], covered[unit])
        unit_best_n = np.where(own, np.where(is_candidate, counts[unit], none), best_n[unit])
        unit_best = np.where(own, np.where(is_candidate, unit, -1), best_unit[unit])
        up = hierarchy.parent[unit]
        if up >= 0:
            covered[up] += unit_cover
            better = (unit_best >= 0) & (
                (unit_best_n < best_n[up]) | ((unit_best_n == best_n[up]) & (unit_best < best_unit[up]))
            )
            best_n[up] = np.where(better, unit_best_n, best_n[up])
            best_unit[up] = np.where(better, unit_best, best_unit[up])
    return ~published


@settings(max_examples=300, deadline=None)
@given(forests(), st.booleans())
def test_depth_by_depth_equals_the_unit_by_unit_walk(case, nested):
    h, own, min_n = case
    # Nested cells (the service's case) and arbitrary counts, where ties between candidates are common.
    counts = cell_counts(h, own) if nested else own
    np.testing.assert_array_equal(suppression_mask(counts, h, min_n), _walk_unit_by_unit(counts, h, min_n))
