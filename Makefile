# medbook: `make book` renders the book, `make test` runs the test suite.
# Both set up everything they need on a fresh Debian machine with Python 3.11.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: book test test-slow test-browser lint bench bench-render bench-memo bench-dask bench-sensitivity memo clean setup system-deps

setup: $(STAMP) system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

system-deps:
	@command -v dot >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq graphviz >/dev/null; }
	@{ fc-list 2>/dev/null | grep -q "Noto Sans CJK" && fc-list | grep -q "Noto Color Emoji"; } || \
		{ apt-get update -qq && apt-get install -y -qq fonts-noto-cjk fonts-noto-color-emoji >/dev/null; }

browser-deps:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

book: setup
	$(VENV)/bin/medbook render --to all

memo: setup
	$(VENV)/bin/medbook memo examples/onboarding/study.yml --out out/onboarding-memo

test: setup browser-deps
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -n 2 --dist loadfile
	$(PY) -m pytest -q --doctest-modules src/medbook --ignore=src/medbook/publish/_kernel_setup.py

test-slow: setup browser-deps
	$(PY) -m pytest -q -n 2 --dist loadfile -m slow

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) bench/bench_engine.py

bench-render: setup
	$(PY) bench/bench_render.py

bench-memo: setup
	$(PY) bench/bench_memo.py

bench-dask: setup
	$(PY) bench/bench_dask.py

bench-sensitivity: setup
	$(PY) bench/bench_sensitivity.py

clean:
	rm -rf _book _freeze .medbook-cache out
