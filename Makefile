# cxloop: the verbs. `make demo` and `make test` are all a fresh machine needs.
VENV    ?= .venv
PYTHON  ?= python3
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp
# Caches that tools would otherwise write under $HOME.
export DUCKDB_HOME := $(CURDIR)/.cache/duckdb
export MPLCONFIGDIR := $(CURDIR)/.cache/matplotlib
export SPARK_LOCAL_IP := 127.0.0.1

.PHONY: install demo test test-fast lint format bench serve clean

install: $(STAMP) ## create .venv and install cxloop with its dev extras

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: install ## generate the demo company (once), print its logins and serve the dashboard on :8000
	$(BIN)/cxloop demo generate
	$(BIN)/cxloop demo overview
	$(BIN)/cxloop serve

test: install ## run every test (PostgreSQL and Spark tests are required when CI=true)
	$(BIN)/python -m pytest

test-fast: install ## the inner loop: every test but the Spark, browser and slow ones, on two workers
	$(BIN)/python -m pytest -m "not spark and not browser and not slow"

lint: install ## ruff lint and format check, mypy on src/
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src

format: install
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

bench: install ## run the benchmarks and write docs/benchmarks.md
	$(BIN)/python -m benchmarks

serve: install ## serve the dashboard on http://127.0.0.1:8000
	$(BIN)/cxloop serve

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache cxloop-data
