# dq-review: `make run` builds the embedded default, `make test` runs the test suite.
# Both create .venv on first use and install the project into it (seconds when already installed).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2
SNAKEMAKE_ARGS ?=
# requirements.lock holds the exact version of every package (runtime and the test extra); pyproject.toml
# holds the ranges the library accepts. The stamp is keyed on both: a change to either reinstalls.
LOCK := requirements.lock
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | cksum | cut -d' ' -f1)
UV_VERSION ?= 0.13.8
LOCK_ARGS ?=

.PHONY: run tiny test lint format clean-results install tex lock

install: $(STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "dq-review needs Python >= 3.11 (found " + sys.version.split()[0] + ")")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

# the lock's exact versions first, then the project itself without resolving anything again
$(STAMP): pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/python -m pip install -r $(LOCK)
	$(BIN)/python -m pip install --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

# Regenerate requirements.lock from pyproject.toml (uv pip compile, with this machine's pip indexes) and pin
# envs/*.yaml to it. Keeps the locked versions that still satisfy pyproject; LOCK_ARGS=--upgrade takes the newest.
lock: | $(BIN)/python
	@test -x $(VENV)/uv/bin/uv || $(BIN)/python -m pip install --quiet --target $(VENV)/uv uv==$(UV_VERSION)
	$(BIN)/python envs/lock.py --uv $(VENV)/uv/bin/uv -- $(LOCK_ARGS)

# TeX for the paper (config `paper: auto` builds results/paper/main.pdf when latexmk is found). Installed
# where it may be: apt-get as root or with passwordless sudo; otherwise one line says what is missing.
TEX_PACKAGES := latexmk texlive-latex-base texlive-latex-recommended
APT := DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(TEX_PACKAGES)
tex:
	@if command -v latexmk >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		$(APT) || (apt-get update && $(APT)); \
	elif command -v apt-get >/dev/null && sudo -n true 2>/dev/null; then \
		sudo $(APT) || (sudo apt-get update && sudo $(APT)); \
	else \
		echo "note: latexmk not found and TeX cannot be installed here (needs root or sudo and apt-get);" \
		     "the paper is left out. To build it: apt-get install $(TEX_PACKAGES)"; \
	fi

run: $(STAMP) tex
	$(BIN)/snakemake all --cores $(CORES) $(SNAKEMAKE_ARGS)

tiny: $(STAMP)
	$(BIN)/snakemake all --cores $(CORES) --configfile configs/tiny.yaml $(SNAKEMAKE_ARGS)

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests workflow benchmarks envs
	$(BIN)/ruff format --check src tests workflow benchmarks envs
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint -n

format: $(STAMP)
	$(BIN)/ruff format src tests workflow benchmarks envs
	$(BIN)/ruff check --fix src tests workflow benchmarks envs
	$(BIN)/snakefmt Snakefile rules

clean-results:
	rm -rf results .snakemake
