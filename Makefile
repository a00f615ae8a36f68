# Two commands for a fresh machine: `make demo` (set up, make one video) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: setup demo chat test quick lint typecheck bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned: the CPU build this platform provides, before anything asks for torch
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)
	# the embedding model, converted once to ONNX: the bot and the workers run it without torch
	$(BIN)/python -m pipeline.memory.onnx_export

demo: setup
	$(BIN)/novacast make "30s on why octopuses have three hearts, playful"

chat: setup
	$(BIN)/novacast chat

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff format --check . || true

typecheck: setup
	$(BIN)/mypy

test: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/pytest -q --durations=15

quick: setup
	$(BIN)/pytest -q tests/unit

bench: setup
	$(BIN)/python bench/render_bench.py
	$(BIN)/python bench/shots_bench.py
	$(BIN)/python bench/render_to_preview.py
	$(BIN)/python bench/schedule_latency.py
	# the bot's and a worker's memory, and the first burst of 200 conversations per platform
	# (each exits 1 when a target of issue 11 is missed; make goes on)
	-$(BIN)/python bench/process_memory.py
	-$(BIN)/python bench/load_bench.py
	# a worker SIGKILLed mid-render: time to the video from a new worker, stalest progress
	-$(BIN)/python bench/crash_recovery.py
	# previews first and fair: 4 simultaneous renders on 2 workers, one workspace flooding another;
	# then the same 4 pressed after 8 s of reading the drafts (their narrations spoken ahead)
	-$(BIN)/python bench/queue_fairness.py --workers 2 --renders 4 --flood 10
	-$(BIN)/python bench/queue_fairness.py --workers 2 --renders 4 --flood 0 --read 8
	# hostile payloads: 5,000 Hypothesis cases per HTTP route (no 5xx, no traceback, memory)
	-$(BIN)/python bench/fuzz_routes.py --cases 5000
	# the web studio: 200 WebSocket chats' /make against Slack's path in the same run, the bot's
	# memory; the API's project pages with 10,000 projects against /healthz (issue 12)
	-$(BIN)/python bench/web_chat.py
	-$(BIN)/python bench/api_projects.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
