# vidtr-bench: `make setup` (idempotent), `make test`, `make demo`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup test demo gpu-wheels clean

setup: $(STAMP)

# Re-installs only when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

# The main job on its built-in default: the mini benchmark on real clips, CPU, minutes.
demo: setup
	$(BIN)/vidtr-bench demo --out results/demo

# Pure-Python wheels the lent GPU machines lack (they have torch, numpy, pandas, timm):
# carry .whl/ with benchmark/measure/gpu_suite.sh, which installs them there. Versions = our pins.
GPU_WHEELS := mmengine==0.10.7 mmaction2==1.2.0 mmcv-lite==2.1.0 fvcore==0.1.5.post20221221 iopath==0.1.10 \
	yacs==0.1.8 termcolor==3.3.0 addict==2.4.0 yapf==0.43.0 platformdirs==4.14.7 setuptools==81.0.0
gpu-wheels: setup
	rm -rf .whl  # one version of each: two stop the install there
	$(BIN)/python -m pip wheel --quiet --no-deps -w .whl $(GPU_WHEELS)

clean:
	rm -rf $(VENV) .pytest_cache
