# vidtr-bench: `make setup` (idempotent), `make test`, `make demo`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test demo clean

setup: $(STAMP)

# Re-installs only when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

test: setup
	$(BIN)/python -m pytest -q

# The main job on its built-in default: the mini benchmark on real clips, CPU, minutes.
demo: setup
	$(BIN)/vidtr-bench demo --out results/demo

clean:
	rm -rf $(VENV) .pytest_cache
