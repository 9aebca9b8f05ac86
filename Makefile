# qqbus: `make test` on a fresh machine creates .venv, installs everything, runs the suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# sam build needs a local Python of the template's runtime (python3.13).
SAM_PYENV ?= 3.11.7:3.13.0

.PHONY: venv test test-slow lint fmt invoke dev build validate bench clean

$(STAMP): pyproject.toml layers/qqbus/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

test: venv
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: venv
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers/qqbus/qqbus

fmt: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# make invoke FN=qq_group_add_robot EVENT=events/qq_group_add_robot.json
invoke: venv
	@test -n "$(FN)" || (echo "usage: make invoke FN=<handler folder> EVENT=<events/file.json>"; exit 2)
	$(BIN)/qqbus invoke $(FN) $(or $(EVENT),events/$(FN).json)

# The whole pipeline on 127.0.0.1 (HTTP :3000, embedded AWS :4566); Ctrl-C stops.
dev: venv
	$(BIN)/qqbus dev $(DEV_ARGS)

validate: venv
	$(BIN)/cfn-lint template.yaml

build:
	PYENV_VERSION=$(SAM_PYENV) sam build

bench: venv
	$(BIN)/python bench/bench_parsing.py
	$(BIN)/python bench/bench_relay_publisher.py
	$(BIN)/python bench/bench_reply.py

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
