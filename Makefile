# storystream tasks. `make help` lists them.
# The system's CPython when it is 3.11+ and can make a venv, else the first python3 on PATH.
# Distribution builds (Debian's, like the official Docker images) are profile-guided, link-time
# optimised and linked statically; a default source build, such as pyenv's, is none of these and
# runs our core with 9 % more instructions an article (bench/instructions.py: 21.3 against 19.4
# million). `make install PYTHON=...` picks another.
SYSTEM_PYTHON := $(shell /usr/bin/python3 -c 'import sys, ensurepip; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && echo /usr/bin/python3)
PYTHON ?= $(or $(SYSTEM_PYTHON),python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help install demo test test-unit lint typecheck schemas bench bench-faults bench-instructions broker-start broker-stop clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## Create .venv and install storystream with its dev tools

demo: $(STAMP)  ## Fetch Kafka, start a local broker and a worker, replay the sample feed, print stories
	$(BIN)/storystream demo

test: $(STAMP)  ## Run the whole test suite (starts a real local Kafka broker unless KAFKA_BOOTSTRAP_SERVERS is set)
	$(BIN)/python -m pytest

test-unit: $(STAMP)  ## Only the tests that need no broker
	$(BIN)/python -m pytest -m 'not kafka'

lint: $(STAMP)  ## ruff lint and format check
	$(BIN)/ruff check stream agents tests bench
	$(BIN)/ruff format --check stream agents

typecheck: $(STAMP)  ## mypy --strict on the package
	$(BIN)/mypy

schemas: $(STAMP)  ## Regenerate schemas/ from the pydantic models
	$(BIN)/storystream schemas schemas

bench: $(STAMP)  ## Quality and speed benchmarks of dedup, clustering and summaries (tables on stdout)
	$(BIN)/python bench/dedup_eval.py
	$(BIN)/python bench/cluster_eval.py
	$(BIN)/python bench/summary_eval.py

bench-faults: $(STAMP)  ## Soak (100k articles through a real broker) and recovery time
	$(BIN)/python bench/faults.py soak --articles 100000
	$(BIN)/python bench/faults.py recovery --stories 10000

bench-instructions: $(STAMP)  ## Instructions per article of the core, by stage (valgrind; noise-free)
	$(BIN)/python bench/instructions.py

broker-start: $(STAMP)  ## Start the local Kafka broker on 127.0.0.1:9092
	$(BIN)/storystream broker start

broker-stop: $(STAMP)  ## Stop the local Kafka broker
	$(BIN)/storystream broker stop

clean:  ## Remove local state (broker data, worker state)
	rm -rf .state
