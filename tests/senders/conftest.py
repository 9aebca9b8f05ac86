"""Sender tests: moto for the tables and the bus, fake platform APIs on real sockets."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from qqbus.actions import Action, Outbox
from qqbus.senders import outcome
from qqbus.senders.json_http import Retrying
from qqbus_dev.fake_apis import FakeOneBotApi, FakeQQApi
from qqbus_dev.lambda_context import LocalContext

from tests.conftest import BusTap
from tests.support import bus_event, load_handler

APPID = "102000001"
SECRET = "sender-test-secret"


@dataclass
class Waits:
    """The retry policy with its sleeps recorded instead of slept."""

    slept: list[float] = field(default_factory=list)

    def policy(self) -> Retrying:
        return Retrying(sleep=self.slept.append)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> Waits:
    recorded = Waits()
    monkeypatch.setattr(outcome, "retry_policy", recorded.policy)
    return recorded


@pytest.fixture
def fake_qq(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeQQApi]:
    api = FakeQQApi(secrets=lambda app_id: SECRET if app_id == APPID else None).start()
    monkeypatch.setenv("QQ_API_BASE", api.url)
    monkeypatch.setenv("QQ_TOKEN_URL", api.token_url)
    monkeypatch.setenv("QQ_BOT_APPID", APPID)
    monkeypatch.setenv("QQ_BOT_SECRET", SECRET)
    yield api
    api.stop()


@pytest.fixture
def fake_onebot(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOneBotApi]:
    api = FakeOneBotApi(access_token="ob-token").start()
    monkeypatch.setenv("ONEBOT_API_URL", api.url)
    monkeypatch.setenv("ONEBOT_ACCESS_TOKEN", "ob-token")
    yield api
    api.stop()


Send = Callable[[Action], dict[str, Any]]


def action_event(action: Action) -> dict[str, Any]:
    return bus_event("qqbus.action", action.detail_type, action.model_dump(mode="json", exclude_none=True))


def _sender(name: str) -> Send:
    module = load_handler(name)

    def send(action: Action) -> dict[str, Any]:
        result: dict[str, Any] = module.lambda_handler(
            copy.deepcopy(action_event(action)), LocalContext(function_name=name)
        )
        return result

    return send


@pytest.fixture
def qq_send(aws_tables: dict[str, str], event_bus: BusTap, fake_qq: FakeQQApi, waits: Waits) -> Send:
    return _sender("qq_sender")


@pytest.fixture
def onebot_send(
    aws_tables: dict[str, str], event_bus: BusTap, fake_onebot: FakeOneBotApi, waits: Waits
) -> Send:
    return _sender("onebot_sender")


def outbox(
    event_id: str = "GROUP_AT_MESSAGE_CREATE:1",
    function: str = "test.handler",
    detail_type: str = "GROUP_AT_MESSAGE_CREATE",
    bot_id: str = APPID,
) -> Outbox:
    """The outbox a handler of ``detail_type`` would have while handling ``event_id``."""
    return Outbox(bot_id=bot_id, event_id=event_id, detail_type=detail_type, function=function)


def results(bus: BusTap) -> list[dict[str, Any]]:
    """The results on the bus since the last look: detail with its detail-type as ``outcome``."""
    return [e["detail"] for e in bus.published("qqbus.action.result")]
