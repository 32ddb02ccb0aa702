"""Small helpers shared by the benchmark modules: timing, machine description, markdown tables."""

from __future__ import annotations

import gc
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT / "benchmarks" / ".data"  # generated inputs, git-ignored


def best_of(fn: Callable[[], Any], repeat: int = 3, warmup: int = 0) -> tuple[float, Any]:
    """The fastest of ``repeat`` wall-clock runs of ``fn`` (seconds) and its last result."""
    for _ in range(warmup):
        fn()
    times, result = [], None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def median_of(fn: Callable[[], Any], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def machine() -> str:
    """One line naming the machine: CPU model, cores, memory, OS and Python."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kib / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    system = f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    return f"{cpu}, {os.cpu_count()} cores{mem}, {system}"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.0f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(name: str, title: str, body: str) -> Path:
    """Store one benchmark's section (with the machine and date) for the runner to assemble."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.md"
    stamp = time.strftime("%Y-%m-%d")
    path.write_text(f"## {title}\n\nMeasured {stamp} on: {machine()}.\n\n{body.strip()}\n", encoding="utf-8")
    return path


def assemble() -> Path:
    """Rebuild docs/benchmarks.md from every stored section."""
    sections = sorted(RESULTS.glob("*.md"))
    head = (
        "# Benchmarks\n\n"
        "Measured with `make bench` (or `python -m benchmarks NAME`), each beside the alternative a user "
        "would otherwise pick. Times are the best of several runs, wall clock. Each section names the "
        "machine it ran on.\n\n"
    )
    out = ROOT / "docs" / "benchmarks.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        head + "\n\n".join(p.read_text(encoding="utf-8").strip() for p in sections) + "\n", encoding="utf-8"
    )
    return out
