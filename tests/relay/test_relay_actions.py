"""OneBot actions through the relay: queue -> the bot's reverse WebSocket -> its echo answer -> a result."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import boto3
from qqbus.actions import Action, Outbox
from qqbus_relay.runner import Relay
from websockets.asyncio.client import connect

from tests.relay.conftest import BusTap
from tests.relay.test_onebot_ws import SELF, TOKEN, run_relay, wait_for


def _setup(tap: BusTap) -> str:
    """The action queue, and the results routed to the tap too."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=tap.queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="results", EventBusName=tap.name, EventPattern=json.dumps({"source": ["qqbus.action.result"]})
    )
    events.put_targets(Rule="results", EventBusName=tap.name, Targets=[{"Id": "q", "Arn": arn}])
    return str(sqs.create_queue(QueueName="relay-actions")["QueueUrl"])


def _enqueue(queue: str, action: Action) -> None:
    boto3.client("sqs").send_message(QueueUrl=queue, MessageBody=action.model_dump_json(exclude_none=True))


def _action(n: int = 0, bot: str = SELF) -> Action:
    box = Outbox(bot_id=bot, event_id=f"e{n}", detail_type="message.group", function="t")
    return box.send_group("onebot", 42, f"pong {n}")


def _results(tap: BusTap) -> list[dict[str, Any]]:
    return [e["detail"] for e in tap.drain() if e["source"] == "qqbus.action.result"]


def _opts(queue: str, **kw: Any) -> dict[str, Any]:
    return {"actions_queue_url": queue, "sqs_client": boto3.client("sqs"), "actions_poll_seconds": 1, **kw}


async def _bot(relay: Relay, answer: Any, frames: list[dict[str, Any]], stop: asyncio.Event) -> None:
    """A OneBot implementation on the reverse WebSocket that answers each action with ``answer``."""
    assert relay.onebot_server is not None
    headers = {"X-Self-ID": SELF, "X-Client-Role": "Universal", "Authorization": f"Bearer {TOKEN}"}
    async with connect(relay.onebot_server.url, additional_headers=headers) as ws:
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), 0.1)
            except TimeoutError:
                continue
            frame = json.loads(raw)
            frames.append(frame)
            reply = answer(frame)
            if reply is not None:
                await ws.send(json.dumps(reply))


def test_an_action_reaches_the_bot_and_its_echo_answer_is_sent(tap: BusTap, tmp_path: Path) -> None:
    queue = _setup(tap)
    frames: list[dict[str, Any]] = []
    action = _action()

    async def body(relay: Relay) -> None:
        stop = asyncio.Event()
        ok = lambda f: {"status": "ok", "retcode": 0, "data": {"message_id": 99}, "echo": f["echo"]}  # noqa: E731
        bot = asyncio.create_task(_bot(relay, ok, frames, stop))
        await wait_for(lambda: relay.onebot_server is not None and bool(relay.onebot_server.connections))
        _enqueue(queue, action)
        _enqueue(queue, action)  # SQS delivers at least once: the bot sees it once
        assert relay.actions is not None
        await wait_for(lambda: relay.actions is not None and relay.actions.stats.sent == 1, timeout=20)
        await wait_for(lambda: relay.actions is not None and relay.actions.stats.duplicates == 1, timeout=20)
        stop.set()
        await bot

    run_relay(tmp_path, body, **_opts(queue))
    assert frames == [
        {
            "action": "send_group_msg",
            "params": {"group_id": 42, "message": [{"type": "text", "data": {"text": "pong 0"}}]},
            "echo": action.action_id,
        }
    ]
    (result,) = _results(tap)
    assert (result["outcome"], result["mode"], result["platform_message_id"]) == ("sent", "relay", "99")
    assert result["action_id"] == action.action_id


def test_two_copies_of_an_action_in_one_batch_are_sent_once(tap: BusTap, tmp_path: Path) -> None:
    """SQS hands both copies out in one receive (they wait in the queue together while the bot is
    away); the batch is handled concurrently, and the bot still sees the action once."""
    queue = _setup(tap)
    frames: list[dict[str, Any]] = []
    action = _action(7)

    async def body(relay: Relay) -> None:
        assert relay.actions is not None
        relay.actions.retry_after = 1  # a bot that is not connected yet: both copies back in 1 s
        _enqueue(queue, action)
        _enqueue(queue, action)
        await wait_for(lambda: relay.actions is not None and relay.actions.stats.received >= 1, timeout=20)
        stop = asyncio.Event()
        ok = lambda f: {"status": "ok", "retcode": 0, "data": {"message_id": 7}, "echo": f["echo"]}  # noqa: E731
        bot = asyncio.create_task(_bot(relay, ok, frames, stop))
        await wait_for(lambda: relay.actions is not None and relay.actions.stats.sent == 1, timeout=20)
        await asyncio.sleep(1.5)  # a second send, had there been one, would be answered by now
        stop.set()
        await bot
        assert relay.actions.stats.duplicates == 1 and relay.actions.stats.failed == 0

    run_relay(tmp_path, body, **_opts(queue))
    assert [f["echo"] for f in frames] == [action.action_id]
    assert [r["outcome"] for r in _results(tap)] == ["sent"]


def test_a_failed_answer_and_a_missing_answer_are_failed_results(tap: BusTap, tmp_path: Path) -> None:
    queue = _setup(tap)
    frames: list[dict[str, Any]] = []

    def answer(frame: dict[str, Any]) -> dict[str, Any] | None:
        if "pong 1" in json.dumps(frame, ensure_ascii=False):
            return None  # never answers this one
        return {"status": "failed", "retcode": 100, "wording": "not in group", "echo": frame["echo"]}

    async def body(relay: Relay) -> None:
        assert relay.actions is not None
        relay.actions.answer_timeout = 1.0
        stop = asyncio.Event()
        bot = asyncio.create_task(_bot(relay, answer, frames, stop))
        await wait_for(lambda: relay.onebot_server is not None and bool(relay.onebot_server.connections))
        _enqueue(queue, _action(0))
        _enqueue(queue, _action(1))
        await wait_for(lambda: relay.actions is not None and relay.actions.stats.failed == 2, timeout=20)
        stop.set()
        await bot

    run_relay(tmp_path, body, **_opts(queue))
    reasons = sorted((r["reason"], r.get("code")) for r in _results(tap))
    assert reasons == [("onebot_100", 100), ("timeout", None)]
    assert len(frames) == 2  # the unanswered one was not sent again


def test_a_bot_that_is_not_connected_is_retried_then_reported(tap: BusTap, tmp_path: Path) -> None:
    queue = _setup(tap)

    async def body(relay: Relay) -> None:
        assert relay.actions is not None
        relay.actions.retry_after = 0
        relay.actions.max_receives = 3
        _enqueue(queue, _action(bot="555"))
        await wait_for(lambda: relay.actions is not None and relay.actions.stats.failed == 1, timeout=30)
        assert relay.actions.stats.not_connected == 2

    run_relay(tmp_path, body, **_opts(queue))
    (result,) = _results(tap)
    assert (result["outcome"], result["reason"]) == ("failed", "not_connected")
    assert boto3.client("sqs").receive_message(QueueUrl=queue).get("Messages") is None


def test_a_message_that_is_not_an_action_is_dropped_with_a_log(
    tap: BusTap, tmp_path: Path, caplog: Any
) -> None:
    queue = _setup(tap)

    async def body(relay: Relay) -> None:
        boto3.client("sqs").send_message(QueueUrl=queue, MessageBody='{"nope": 1}')
        await wait_for(lambda: relay.actions is not None and relay.actions.stats.invalid == 1, timeout=20)

    run_relay(tmp_path, body, **_opts(queue))
    assert "not an action" in caplog.text
    assert _results(tap) == []
