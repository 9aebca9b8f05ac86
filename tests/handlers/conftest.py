from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from qqbus.observability import logger
from qqbus_dev.lambda_context import LocalContext

from tests.support import event_file, load_handler

Invoke = Callable[[str, dict[str, Any]], Any]


@pytest.fixture
def invoke(aws_tables: dict[str, str], event_bus: Any) -> Invoke:
    """Call ``handlers/<name>/app.py``'s ``lambda_handler`` as Lambda would (moto tables ready)."""
    modules: dict[str, Any] = {}

    def call(name: str, event: dict[str, Any]) -> Any:
        module = modules.setdefault(name, load_handler(name))
        return module.lambda_handler(copy.deepcopy(event), LocalContext(function_name=name))

    return call


@pytest.fixture
def sample() -> Callable[[str], dict[str, Any]]:
    """A fresh copy of ``events/<name>.json``."""
    return lambda name: copy.deepcopy(event_file(name))


class _CurrentStdout:
    """Writes to whatever ``sys.stdout`` is now (pytest swaps it between setup and call)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def output(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The JSON lines (Powertools logs and EMF metrics) written during the test so far."""
    # Powertools' handler kept the stdout of its import time; make it follow the captured one.
    handler = logger.registered_handler
    previous = handler.setStream(_CurrentStdout())  # type: ignore[attr-defined]

    def read() -> list[dict[str, Any]]:
        return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]

    yield read
    handler.setStream(previous)  # type: ignore[attr-defined]
