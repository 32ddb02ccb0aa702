"""How a routine's work grows with its input: linear or worse, without a wall-clock limit.

:func:`work_growth` measures the CPU time of ``routine(make(8 * n))`` over that of ``routine(make(n))``, each
less the routine's fixed cost (its time on a one-character text) and each the least of a few runs (noise only
adds time). Work linear in the input gives about 8, quadratic about 64. ``n`` grows from small until the
input-dependent part of the time is well above the fixed cost and the clock's noise, so a constant set-up
cannot hide a quadratic part (a routine still under that floor at millions of characters is reported flat).
CPU time of the process (``time.process_time``), not wall time: another process on the machine does not count.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["LINEAR_ENOUGH", "Growth", "work_growth"]

LINEAR_ENOUGH = 16.0
"""The most an 8-fold input may multiply the work by (linear: ~8; n log n: ~9-10; quadratic: ~64)."""

_FLOOR = 0.003  # seconds of input-dependent work the small input must cost before growth is measured
_LARGEST = 4_000_000


@dataclass(frozen=True)
class Growth:
    n: int
    small: float
    large: float

    @property
    def ratio(self) -> float:
        return self.large / self.small

    def __str__(self) -> str:
        small, large = self.small * 1e3, self.large * 1e3
        return f"{small:.2f} ms at {self.n:,} characters, {large:.2f} ms at {8 * self.n:,}"


def _least(routine: Callable[[Any], object], argument: Any, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        routine(argument)
        best = min(best, time.process_time() - started)
    return best


def work_growth(
    routine: Callable[[Any], object],
    make: Callable[[int], Any],
    *,
    start: int = 1_000,
    repeats: int = 3,
) -> Growth:
    """The work on ``make(8 * n)`` against ``make(n)`` (see the module's docstring)."""
    fixed = _least(routine, make(1), repeats)
    n = start
    while True:
        small = _least(routine, make(n), repeats) - fixed
        if small >= max(_FLOOR, fixed / 2) or 8 * n >= _LARGEST:
            break
        # Grow towards the floor as if linear (a 2- to 16-fold step): few sizes to try, none far past it.
        n = min(n * int(min(16, max(2, 1.5 * max(_FLOOR, fixed / 2) / max(small, 1e-5)))), _LARGEST // 8)
    if small < _FLOOR:
        # Under the floor on the largest input: too little work to time, and far from quadratic (that
        # would cost minutes at this length). Reported as flat.
        return Growth(n, _FLOOR, _FLOOR)
    large_input = make(8 * n)
    large = _least(routine, large_input, 1) - fixed
    tries = 1
    # Only a slow answer is worth measuring again: on a loaded machine (the whole suite on two workers) a
    # 4M-character input's CPU time can double from cache and allocator contention; a quadratic routine
    # stays slow however often it is measured.
    while large > LINEAR_ENOUGH * small and tries < 3 * repeats:
        large = min(large, _least(routine, large_input, 1) - fixed)
        tries += 1
    return Growth(n, small, large)
