# freqlib: `make test` sets up .venv (if needed) and runs lint + unit tests.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test lint bench format clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,bench,dev]"
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check freqlib tests benchmarks
	$(VENV)/bin/ruff format --check freqlib tests benchmarks

test: lint
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/bench_reconstruction.py
	$(PY) benchmarks/bench_training_step.py

format: $(STAMP)
	$(VENV)/bin/ruff format freqlib tests benchmarks
	$(VENV)/bin/ruff check --fix freqlib tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
