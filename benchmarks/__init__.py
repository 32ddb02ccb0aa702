"""cxloop benchmarks: each ``bench_*.py`` times one capability beside the alternative a user would pick.

Run ``make bench`` (all) or ``python -m benchmarks import cube`` (some). Each module writes its section to
``benchmarks/results/<name>.md``; the runner then rebuilds ``docs/benchmarks.md`` from every section with
the machine they ran on.
"""
