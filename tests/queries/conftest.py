"""Query tests: the message handler asks, the OneBot sender performs, the continuation answers."""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Iterator
from typing import Any

import pytest
from qqbus.senders import outcome
from qqbus.senders.json_http import Retrying
from qqbus_dev.fake_apis import FakeOneBotApi
from qqbus_dev.lambda_context import LocalContext

from tests.conftest import BusTap
from tests.support import bus_event, event_file, load_handler

BOT = "123456789"
GROUP = 987654321
ALICE = 12345678
_n = itertools.count(1)


@pytest.fixture
def fake_onebot(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOneBotApi]:
    """A OneBot HTTP API on a real socket that knows one member of the group: Alice."""
    api = FakeOneBotApi().start()
    api.members = {(GROUP, ALICE): {"nickname": "Alice", "card": "小爱", "role": "admin", "level": 7}}
    monkeypatch.setenv("ONEBOT_API_URL", api.url)
    monkeypatch.setenv("ONEBOT_ACCESS_TOKEN", "")
    yield api
    api.stop()


@pytest.fixture
def no_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(outcome, "retry_policy", lambda: Retrying(sleep=slept.append))
    return slept


def group_message(segments: list[dict[str, Any]]) -> dict[str, Any]:
    """A fresh OneBot group message event (its own event id and message id, time now)."""
    n = next(_n)
    event = copy.deepcopy(event_file("onebot_group_message"))
    detail = event["detail"]
    detail["event_id"] = f"query-test-{n}-{time.time_ns()}"
    payload = detail["payload"]
    payload.update(message=segments, message_id=5000 + n, time=int(time.time()))
    return event


def whois(user: int | None = None) -> dict[str, Any]:
    segments: list[dict[str, Any]] = [{"type": "text", "data": {"text": "/whois "}}]
    if user is not None:
        segments.append({"type": "at", "data": {"qq": str(user)}})
    return group_message(segments)


class Pipeline:
    """The three functions of a query, each invoked as Lambda would, with the bus in between."""

    def __init__(self, bus: BusTap) -> None:
        self.bus = bus
        self.handler = load_handler("onebot_group_message")
        self.sender = load_handler("onebot_sender")
        self.continuation = load_handler("action_result")

    def ask(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Run the message handler; the actions it put on the bus."""
        self.handler.lambda_handler(event, LocalContext(function_name="onebot_group_message"))
        return self.bus.published("qqbus.action")

    def send(self, action: dict[str, Any]) -> list[dict[str, Any]]:
        """Run the OneBot sender on one action event; the results it put on the bus."""
        self.sender.lambda_handler(copy.deepcopy(action), LocalContext(function_name="onebot_sender"))
        return self.bus.published("qqbus.action.result")

    def resume(self, result: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
        """Run the continuation function on one result event; what it returned and asked for."""
        got = self.continuation.lambda_handler(
            copy.deepcopy(result), LocalContext(function_name="action_result")
        )
        return got, self.bus.published("qqbus.action")


@pytest.fixture
def pipeline(event_bus: BusTap) -> Pipeline:
    return Pipeline(event_bus)


def text_of(action_event: dict[str, Any]) -> str:
    return "".join(s["data"].get("text", "") for s in action_event["detail"].get("message", []))


def result_event(detail: dict[str, Any]) -> dict[str, Any]:
    return bus_event("qqbus.action.result", detail["outcome"], detail)
