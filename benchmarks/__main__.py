"""``python -m benchmarks [NAME ...] [--quick]``: run benchmark modules and rebuild docs/benchmarks.md.

Each ``benchmarks/bench_<name>.py`` defines ``TITLE`` and ``run(quick: bool) -> str`` (a markdown body).
``--quick`` runs small sizes only, to check that the benchmark works.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil

from benchmarks import _harness


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all), e.g. import cube")
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    args = parser.parse_args()
    import benchmarks

    available = sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules(benchmarks.__path__)
        if m.name.startswith("bench_")
    )
    chosen = args.names or available
    unknown = set(chosen) - set(available)
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; available: {available}")
    for name in chosen:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        print(f"== {name}: {module.TITLE}", flush=True)
        body = module.run(quick=args.quick)
        path = _harness.write_section(name, module.TITLE, body)
        print(f"   -> {path}", flush=True)
    print(f"wrote {_harness.assemble()}")


if __name__ == "__main__":
    main()
