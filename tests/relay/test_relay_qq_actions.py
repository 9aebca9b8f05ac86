"""QQ actions performed by the relay (QqEgress=relay): queue -> the fake QQ OpenAPI on 127.0.0.1 -> a result.

The sends on the queue are made by the real QQ sender (``qqbus.senders.qq.prepare``) from real
actions, so the relay delivers exactly what the Lambda would have.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from qqbus.actions import Outbox
from qqbus.events.qq import GroupAtMessageCreate
from qqbus.senders.json_http import Retrying
from qqbus.senders.ledger import InMemoryLedger
from qqbus.senders.outcome import SendContext
from qqbus.senders.qq import QqSend, prepare
from qqbus.state import InMemoryGroupStore, InMemoryUserStore
from qqbus_dev.fake_apis import FakeQQApi
from qqbus_relay.qq_actions import QqCredentials
from qqbus_relay.runner import Relay

from tests.relay.conftest import BusTap
from tests.relay.test_onebot_ws import run_relay, wait_for
from tests.relay.test_relay_actions import _results
from tests.relay.test_relay_actions import _setup as _setup_queue
from tests.support import SAMPLES, load_json

APPID = "102000001"
SECRET = "relay-qq-secret"
GROUP = "C9F778FE6ADF9D1D1DBE395BF744A33A"


@pytest.fixture
def fake_qq() -> Iterator[FakeQQApi]:
    api = FakeQQApi(secrets=lambda app_id: SECRET if app_id == APPID else None).start()
    yield api
    api.stop()


def _setup(tap: BusTap) -> str:
    """The queue, with messages visible again after 1 s: a stopped relay's last long poll may
    have taken one (its answer is dropped), as a crashed relay's would."""
    queue = _setup_queue(tap)
    boto3.client("sqs").set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "1"})
    return queue


def _message(n: int) -> GroupAtMessageCreate:
    raw = load_json(SAMPLES / "qq" / "official_group_at_message_create.json")
    raw["d"]["id"] = f"msg-{n}"
    raw["d"]["timestamp"] = int(time.time()) - 5
    return GroupAtMessageCreate.model_validate(raw)


def _send(n: int = 0, text: str = "pong", bot: str = APPID) -> QqSend:
    """What the QQ sender puts on the relay queue for a reply to message ``n``."""
    box = Outbox(bot_id=bot, event_id=f"e{n}", detail_type="GROUP_AT_MESSAGE_CREATE", function="t")
    action = box.reply(_message(n), text)
    ctx = SendContext(groups=InMemoryGroupStore, users=InMemoryUserStore, ledger=InMemoryLedger)
    prepared = prepare(action, ctx)
    assert isinstance(prepared, QqSend)
    return prepared


def _enqueue(queue: str, send: QqSend) -> None:
    boto3.client("sqs").send_message(QueueUrl=queue, MessageBody=send.model_dump_json(exclude_none=True))


def _opts(queue: str, fake: FakeQQApi, **kw: Any) -> dict[str, Any]:
    return {
        "onebot_listen": None,
        "qq_actions_queue_url": queue,
        "qq_credentials": QqCredentials(APPID, SECRET, fake.url, fake.token_url),
        "sqs_client": boto3.client("sqs"),
        "actions_poll_seconds": 1,
        **kw,
    }


def _no_waits(relay: Relay) -> None:
    assert relay.qq_actions is not None
    relay.qq_actions.retrying = Retrying(attempts=2, sleep=lambda _: None)


def test_a_prepared_send_is_delivered_from_the_relay_exactly_as_the_lambda_would(
    tap: BusTap, tmp_path: Path, fake_qq: FakeQQApi
) -> None:
    queue = _setup(tap)
    send = _send()

    async def body(relay: Relay) -> None:
        _enqueue(queue, send)
        _enqueue(queue, send)  # SQS delivers at least once: QQ sees it once
        await wait_for(lambda: relay.qq_actions is not None and relay.qq_actions.stats.sent == 1, timeout=20)
        await wait_for(
            lambda: relay.qq_actions is not None and relay.qq_actions.stats.duplicates == 1, timeout=20
        )

    run_relay(tmp_path, body, **_opts(queue, fake_qq))
    (request,) = fake_qq.received[-1:]
    assert [r.path for r in fake_qq.received] == ["/app/getAppAccessToken", f"/v2/groups/{GROUP}/messages"]
    assert request.headers["authorization"].startswith("QQBot fake-token-")
    assert request.headers["x-union-appid"] == APPID
    assert request.body == {"content": "pong", "msg_type": 0, "msg_id": "msg-0", "msg_seq": 1}
    (result,) = _results(tap)
    assert (result["outcome"], result["mode"], result["msg_seq"]) == ("sent", "passive", 1)
    assert result["action_id"] == send.action.action_id and result["platform_message_id"].startswith(
        "ROBOT1.0_"
    )


def test_a_restarted_relay_does_not_send_again(tap: BusTap, tmp_path: Path, fake_qq: FakeQQApi) -> None:
    """The delete was lost (a crash): the same send comes back to a new relay on the same spool."""
    queue = _setup(tap)
    send = _send(1)

    async def first(relay: Relay) -> None:
        _enqueue(queue, send)
        await wait_for(lambda: relay.qq_actions is not None and relay.qq_actions.stats.sent == 1, timeout=20)

    async def second(relay: Relay) -> None:
        _enqueue(queue, send)
        await wait_for(
            lambda: relay.qq_actions is not None and relay.qq_actions.stats.duplicates == 1, timeout=20
        )

    run_relay(tmp_path, first, **_opts(queue, fake_qq))
    run_relay(tmp_path, second, **_opts(queue, fake_qq))
    assert len([r for r in fake_qq.received if r.path.endswith("/messages")]) == 1
    assert [r["outcome"] for r in _results(tap)] == ["sent"]
    assert boto3.client("sqs").receive_message(QueueUrl=queue).get("Messages") is None


def test_a_relay_that_lost_its_memory_repeats_the_msg_seq_and_qq_dedupes(
    tap: BusTap, tmp_path: Path, fake_qq: FakeQQApi
) -> None:
    queue = _setup(tap)
    send = _send(2)

    async def once(relay: Relay) -> None:
        _enqueue(queue, send)
        await wait_for(lambda: relay.qq_actions is not None and relay.qq_actions.stats.sent == 1, timeout=20)

    run_relay(tmp_path / "a", once, **_opts(queue, fake_qq))
    run_relay(tmp_path / "b", once, **_opts(queue, fake_qq))  # another spool: no memory of the first
    first, second = [r for r in fake_qq.received if r.path.endswith("/messages")]
    assert first.body["msg_seq"] == second.body["msg_seq"] == 1
    assert (first.status, second.status, second.answer["code"]) == (200, 400, 40054005)
    assert len(fake_qq.messages()) == 1
    outcomes = [(r["outcome"], r.get("message")) for r in _results(tap)]
    assert outcomes == [("sent", None), ("sent", "already delivered (QQ: duplicate msg_seq)")]


def test_a_host_off_the_whitelist_fails_once_and_parks_the_action(
    tap: BusTap, tmp_path: Path, fake_qq: FakeQQApi, caplog: Any
) -> None:
    queue = _setup(tap)
    failures = boto3.client("sqs").create_queue(QueueName="handler-failures")["QueueUrl"]
    fake_qq.whitelist = {"203.0.113.9"}
    send = _send(3)

    async def body(relay: Relay) -> None:
        _enqueue(queue, send)
        await wait_for(
            lambda: relay.qq_actions is not None and relay.qq_actions.stats.parked == 1, timeout=20
        )

    with caplog.at_level(logging.ERROR, logger="qqbus_relay"):
        run_relay(tmp_path, body, **_opts(queue, fake_qq, failure_queue_url=failures))
    (result,) = _results(tap)
    assert (result["outcome"], result["reason"], result["code"]) == ("failed", "ip_not_whitelisted", 11298)
    assert "relay host's public IP" in result["message"]
    assert fake_qq.token_requests == 1  # no refresh for a 401 about the address
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "IP" in errors[0]
    (parked,) = boto3.client("sqs").receive_message(QueueUrl=failures).get("Messages", [])
    record = json.loads(parked["Body"])
    assert record["requestPayload"]["detail"]["action_id"] == send.action.action_id
    assert record["requestPayload"]["detail"]["resend"] == 1
    assert boto3.client("sqs").receive_message(QueueUrl=queue).get("Messages") is None


def test_an_unreachable_api_is_tried_on_later_receives_then_reported(
    tap: BusTap, tmp_path: Path, fake_qq: FakeQQApi
) -> None:
    queue = _setup(tap)
    fake_qq.fail_next(503, {"message": "busy"}, times=100)

    async def body(relay: Relay) -> None:
        _no_waits(relay)
        assert relay.qq_actions is not None
        relay.qq_actions.retry_after = 0
        relay.qq_actions.max_receives = 3
        _enqueue(queue, _send(4))
        await wait_for(
            lambda: relay.qq_actions is not None and relay.qq_actions.stats.failed == 1, timeout=30
        )
        assert relay.qq_actions.stats.unavailable == 2

    run_relay(tmp_path, body, **_opts(queue, fake_qq))
    (result,) = _results(tap)
    assert (result["outcome"], result["reason"]) == ("failed", "unavailable")
    assert len([r for r in fake_qq.received if r.path.endswith("/messages")]) == 6  # 3 receives x 2 tries


def test_a_send_for_another_bot_fails_without_a_request(
    tap: BusTap, tmp_path: Path, fake_qq: FakeQQApi
) -> None:
    queue = _setup(tap)

    async def body(relay: Relay) -> None:
        _enqueue(queue, _send(5, bot="999"))
        await wait_for(
            lambda: relay.qq_actions is not None and relay.qq_actions.stats.failed == 1, timeout=20
        )

    run_relay(tmp_path, body, **_opts(queue, fake_qq))
    assert fake_qq.received == []
    assert [(r["outcome"], r["reason"]) for r in _results(tap)] == [("failed", "no_secret")]


def test_health_reports_the_qq_action_queue(tap: BusTap, tmp_path: Path, fake_qq: FakeQQApi) -> None:
    queue = _setup(tap)

    async def body(relay: Relay) -> None:
        await asyncio.sleep(0)
        state = relay.state()
        assert state["qq_actions"]["queue"] == queue and state["qq_actions"]["sent"] == 0

    run_relay(tmp_path, body, **_opts(queue, fake_qq))


def test_the_gateway_says_which_whitelist_refused_it(fake_qq: FakeQQApi) -> None:
    """/gateway/bot is an OpenAPI call too: from a host off the whitelist the relay stops and says why."""
    from qqbus_relay.qq_gateway import GatewayConfig, GatewayStopped, HttpRetry

    fake_qq.whitelist = set()
    http = HttpRetry(GatewayConfig(APPID, SECRET, "bus", api_base=fake_qq.url))
    with pytest.raises(GatewayStopped, match=r"11298.*not on the bot's IP whitelist"):
        asyncio.run(http.fetch("gateway", "POST", fake_qq.url + "/gateway/bot", {}))
    assert http.failures == 0  # refused for good at once, not retried
