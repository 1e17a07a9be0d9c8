# The two commands of the README:
#   make book   set up .venv and data, run every notebook at the cpu profile, build the HTML book
#   make test   ruff, unit tests, and nbval on the notebooks' committed smoke outputs
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Debian packages: Fashion-MNIST and the King James Bible (data for the notebooks; the KJV stands in
# for PTB in nr_lstm), g++ (torch.compile's inductor builds C++ in pointwise_speed at the cpu profile),
# Chromium (the book's browser test).
BOOK_DEBS := dataset-fashion-mnist bible-kjv bible-kjv-text g++
TEST_DEBS := dataset-fashion-mnist bible-kjv bible-kjv-text chromium
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg

.PHONY: book test lint bench format clean book-debs test-debs

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,book,bench,dev]"
	touch $(STAMP)

# Installs missing Debian packages when this runs as root with apt-get; otherwise says how.
define apt_install
	@missing=""; for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  echo "apt-get install$$missing"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing >/dev/null; \
	else echo "Please install the Debian packages:$$missing  (sudo apt-get install$$missing)"; exit 1; fi
endef

book-debs:
	$(call apt_install,$(BOOK_DEBS))

test-debs:
	$(call apt_install,$(TEST_DEBS))

book: $(STAMP) book-debs
	$(VENV)/bin/freqlib build --profile cpu

lint: $(STAMP)
	$(VENV)/bin/ruff check freqlib tests benchmarks notebooks
	$(VENV)/bin/ruff format --check freqlib tests benchmarks notebooks

test: lint test-debs
	$(PY) -m pytest -q tests notebooks $(NBVAL)

bench: $(STAMP)
	cd benchmarks && ../$(PY) bench_reconstruction.py && ../$(PY) bench_training_step.py && ../$(PY) bench_pointwise.py

format: $(STAMP)
	$(VENV)/bin/ruff format freqlib tests benchmarks notebooks
	$(VENV)/bin/ruff check --fix freqlib tests benchmarks notebooks

clean:
	rm -rf $(VENV) _build book/executed book/status.md .pytest_cache .ruff_cache
