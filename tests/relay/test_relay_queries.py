"""A query over the relay's reverse WebSocket: the answer's ``data`` and the continuation ride on
the result, and the step answers in the chat; a bot that never answers ends in an answer too."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import boto3
from qqbus.actions import Action, Outbox
from qqbus.events.onebot import GroupMessage
from qqbus_dev.lambda_context import LocalContext
from qqbus_relay.runner import Relay

from tests.relay.conftest import BusTap
from tests.relay.test_onebot_ws import SELF, run_relay, wait_for
from tests.relay.test_relay_actions import _bot, _enqueue, _opts, _setup
from tests.support import event_file, load_handler

GROUP, ALICE = 987654321, 12345678


def _query(user: int) -> Action:
    """/whois's query, asked while handling the events/ file's group message."""
    payload = event_file("onebot_group_message")["detail"]["payload"]
    message = GroupMessage.model_validate(payload)
    box = Outbox(bot_id=SELF, event_id=f"whois-{user}", detail_type="message.group", function="t")
    then = box.continuation("whois.answer", message, {"user_id": str(user)})
    return box.call("get_group_member_info", group_id=GROUP, user_id=user, then=then)


def _member(frame: dict[str, Any]) -> dict[str, Any] | None:
    """A OneBot implementation's answer: Alice is a member, nobody else; 0 never gets one."""
    user = frame["params"]["user_id"]
    if user == 0:
        return None
    if user == ALICE:
        data = {"group_id": GROUP, "user_id": ALICE, "nickname": "Alice", "card": "", "role": "owner"}
        return {"status": "ok", "retcode": 0, "data": data, "echo": frame["echo"]}
    return {"status": "failed", "retcode": 100, "wording": "群员不存在", "echo": frame["echo"]}


def _tap_actions(tap: BusTap) -> None:
    events, sqs = boto3.client("events"), boto3.client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=tap.queue_url, AttributeNames=["QueueArn"])["Attributes"]
    events.put_rule(
        Name="actions", EventBusName=tap.name, EventPattern=json.dumps({"source": ["qqbus.action"]})
    )
    events.put_targets(Rule="actions", EventBusName=tap.name, Targets=[{"Id": "q", "Arn": arn["QueueArn"]}])


def _ask(tap: BusTap, tmp_path: Path, queries: list[Action], timeout: float = 10.0) -> list[dict[str, Any]]:
    """Send ``queries`` through the relay to a bot answering with ``_member``; the result events."""
    queue = _setup(tap)
    frames: list[dict[str, Any]] = []

    async def body(relay: Relay) -> None:
        assert relay.actions is not None
        relay.actions.answer_timeout = timeout
        stop = asyncio.Event()
        bot = asyncio.create_task(_bot(relay, _member, frames, stop))
        await wait_for(lambda: relay.onebot_server is not None and bool(relay.onebot_server.connections))
        for query in queries:
            _enqueue(queue, query)
        await wait_for(
            lambda: (
                relay.actions is not None
                and relay.actions.stats.sent + relay.actions.stats.failed == len(queries)
            ),
            timeout=20,
        )
        stop.set()
        await bot

    run_relay(tmp_path, body, **_opts(queue))
    assert [f["action"] for f in frames] == ["get_group_member_info"] * len(queries)
    return [e for e in tap.drain() if e["source"] == "qqbus.action.result"]


def _resume(tap: BusTap, result: dict[str, Any]) -> list[str]:
    """Run the continuation function on ``result``; the texts of the replies it asked for."""
    _tap_actions(tap)
    load_handler("action_result").lambda_handler(result, LocalContext(function_name="action_result"))
    replies = [e for e in tap.drain() if e["source"] == "qqbus.action"]
    return ["".join(s["data"]["text"] for s in r["detail"]["message"]) for r in replies]


def test_a_query_over_the_relay_answers_with_the_data(tap: BusTap, tmp_path: Path) -> None:
    query = _query(ALICE)
    (result,) = _ask(tap, tmp_path, [query])
    detail = result["detail"]
    assert (result["detail-type"], detail["mode"], detail["action_id"]) == ("sent", "relay", query.action_id)
    assert detail["data"]["role"] == "owner"
    assert detail["then"]["step"] == "whois.answer"
    assert _resume(tap, result) == [f"{ALICE}: Alice, role: owner"]


def test_over_the_relay_a_failed_and_an_unanswered_query_each_get_an_answer(
    tap: BusTap, tmp_path: Path
) -> None:
    results = _ask(tap, tmp_path, [_query(555), _query(0)], timeout=1.0)
    by_reason = {r["detail"]["reason"]: r for r in results}
    assert set(by_reason) == {"onebot_100", "timeout"}
    assert _resume(tap, by_reason["onebot_100"]) == ["cannot look up 555: 群员不存在"]
    assert _resume(tap, by_reason["timeout"]) == ["cannot look up 0: no answer in time"]
