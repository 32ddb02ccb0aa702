"""Sums of products of a few columns in aggregates narrow enough for every engine.

A linear key-driver analysis needs ``n``, the sum of every variable and the sum of every product of two
(:mod:`cxloop.warehouse.queries.driver_stats`, :mod:`cxloop.warehouse.derived.driver_moments_monthly`):
``1 + q + q(q+1)/2`` sums for ``q`` variables, which one ``SELECT`` computes in one pass. That pass must
stay narrow: DuckDB 1.5 keeps the states of one group's aggregates in one row of its hash table, and when
that row passes its 256 KiB block (about 16,400 ``SUM``s, reached at 179 driver items) it divides by zero
and the process dies with SIGFPE (exit -8; ``cxloop import`` exit 136), with nothing logged. So the sums
are split into statements of at most :data:`MAX_SUMS` aggregates each (one statement up to 43 variables:
every analysis of a usual survey), and an item ceiling is a policy (``CXLOOP_MAX_ITEMS``), not what keeps
the engine alive.

Variables are numbered as in the augmented moment matrix ``M = sum z z'`` with ``z = (1, v_1 ... v_q)``:
``(0, 0)`` is ``n``, ``(0, k)`` the sum of variable ``k``, ``(i, j)`` the sum of ``v_i * v_j``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

__all__ = ["MAX_SUMS", "Pair", "chunked", "pair_sql", "pairs"]

MAX_SUMS = 1024
"""Most aggregates one statement computes (16 KiB of states per group on DuckDB, far below its limit)."""

Pair = tuple[int, int]


def pairs(q: int) -> list[Pair]:
    """Every ``(i, j)`` with ``0 <= i <= j <= q``: the upper triangle of the augmented moment matrix of
    ``q`` variables (``1 + q + q(q+1)/2`` sums)."""
    return [(i, j) for i in range(q + 1) for j in range(i, q + 1)]


def chunked(items: Sequence[Pair], size: int | None = None) -> Iterator[Sequence[Pair]]:
    """``items`` in consecutive runs of at most ``size`` (default :data:`MAX_SUMS`)."""
    size = MAX_SUMS if size is None else size
    if size < 1:
        raise ValueError(f"size must be at least 1, not {size}")
    for start in range(0, len(items), size):
        yield items[start : start + size]


def pair_sql(pair: Pair, variables: Sequence[str]) -> str:
    """The aggregate of ``pair`` over the columns ``variables`` (variable ``k`` is ``variables[k - 1]``):
    ``COUNT(*)``, ``SUM(v)`` or ``SUM(a * b)``. Only generated column names go in."""
    i, j = pair
    if i == 0 and j == 0:
        return "COUNT(*)"
    if i == 0:
        return f"SUM({variables[j - 1]})"
    return f"SUM({variables[i - 1]} * {variables[j - 1]})"
