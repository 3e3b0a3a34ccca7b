# dq-review: `make run` builds the embedded default, `make test` runs the test suite.
# Both create .venv on first use and install the project into it (seconds when already installed).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2
SNAKEMAKE_ARGS ?=
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run tiny test lint format clean-results install

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "dq-review needs Python >= 3.11 (found " + sys.version.split()[0] + ")")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test]'
	@rm -f $(VENV)/.installed-*
	@touch $@

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) $(SNAKEMAKE_ARGS) all

tiny: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) --configfile configs/tiny.yaml $(SNAKEMAKE_ARGS) all

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests workflow benchmarks
	$(BIN)/ruff format --check src tests workflow benchmarks
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint -n

format: $(STAMP)
	$(BIN)/ruff format src tests workflow benchmarks
	$(BIN)/ruff check --fix src tests workflow benchmarks
	$(BIN)/snakefmt Snakefile rules

clean-results:
	rm -rf results .snakemake
