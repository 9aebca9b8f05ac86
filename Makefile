# qqbus: `make test` on a fresh machine creates .venv, installs everything, runs the suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: venv test test-slow fuzz-long lint fmt invoke dev build validate bench clean

# Three projects, installed editable together: the runtime (.), the relay and the dev tools.
$(STAMP): pyproject.toml relay/pyproject.toml devtools/pyproject.toml layers/qqbus/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e . -e ./relay -e "./devtools[test]"
	touch $(STAMP)

venv: $(STAMP)

# Tests run on every core (pytest-xdist); JOBS=0 runs them in this process. One worker takes a
# whole file (--dist loadfile): a module's fixtures (a dev stack, the built layers) are made once
# and its tests keep their order. (Not loadgroup: pytest 9.2 silently ignores its marks, xdist#1386.)
JOBS ?= auto

test: venv
	$(BIN)/python -m pytest -m "not slow" -n $(JOBS) --dist loadfile $(PYTEST_ARGS)

test-slow: venv
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

# The fuzz suites with their long profile (many more cases than `make test` runs).
fuzz-long: venv
	QQBUS_FUZZ=long $(BIN)/python -m pytest tests/ingress/test_fuzz.py tests/relay/test_fuzz_frames.py $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers/qqbus/qqbus relay/qqbus_relay devtools/qqbus_dev

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

# sam build needs the SAM CLI and a python3.13 for the functions (the layers are built from
# python3.13 wheels by layers/qqbus/Makefile, with any python3).
build:
	@command -v sam >/dev/null || { echo "make build needs the AWS SAM CLI: pipx install aws-sam-cli"; exit 2; }
	@python3.13 -c '' 2>/dev/null || { echo "make build needs python3.13 on PATH for the functions:" \
	  "pyenv install 3.13 && pyenv shell system 3.13, or uv python install 3.13," \
	  "or build in Docker: make build SAM_ARGS=--use-container"; exit 2; }
	sam build $(SAM_ARGS)

# The peer of bench_parse_peer.py (nonebot2 + its OneBot adapter) lives in its own venv, never
# in the Lambda layer or the project's .venv.
BENCH_VENV := bench/.venv
$(BENCH_VENV)/.installed-stamp: pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet nonebot2 nonebot-adapter-onebot -e .
	touch $@

bench: venv $(BENCH_VENV)/.installed-stamp
	$(BIN)/python bench/bench_parsing.py
	$(BIN)/python bench/bench_relay_publisher.py
	$(BIN)/python bench/bench_relay_gateway.py
	$(BIN)/python bench/bench_reply.py
	$(BIN)/python bench/bench_calls.py --write
	$(BIN)/python bench/bench_cold_start.py
	$(BIN)/python bench/bench_local_pipeline.py
	$(BENCH_VENV)/bin/python bench/bench_parse_peer.py

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
