# dq-review: `make run` builds the embedded default, `make test` runs the test suite.
# Both create .venv on first use and install the project into it (seconds when already installed).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2
SNAKEMAKE_ARGS ?=
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run tiny test lint format clean-results install tex

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "dq-review needs Python >= 3.11 (found " + sys.version.split()[0] + ")")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[test]'
	@rm -f $(VENV)/.installed-*
	@touch $@

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
