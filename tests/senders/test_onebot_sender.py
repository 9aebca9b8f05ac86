"""The OneBot sender on moto: over HTTP to a fake OneBot API, or handed to the relay's queue."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from qqbus.actions import Action
from qqbus.events.onebot import GroupMessage, PrivateMessage
from qqbus.state import DynamoGroupStore
from qqbus_dev.fake_apis import FakeOneBotApi

from tests.conftest import BusTap
from tests.senders.conftest import Send, outbox, results
from tests.support import event_file

BOT = "123456789"


def group_message() -> GroupMessage:
    payload = event_file("onebot_group_message")["detail"]["payload"]
    payload["time"] = int(time.time())
    return GroupMessage.model_validate(payload)


def ob_outbox(function: str = "h") -> object:
    return outbox(event_id="e1", detail_type="message.group", function=function, bot_id=BOT)


def test_a_group_reply_is_send_group_msg_with_segments(
    onebot_send: Send, fake_onebot: FakeOneBotApi, event_bus: BusTap
) -> None:
    action = outbox(event_id="e1", detail_type="message.group", bot_id=BOT).reply(group_message(), "pong")
    assert onebot_send(action)["status"] == "sent"
    (call,) = fake_onebot.calls()
    assert call.path == "/send_group_msg"
    assert call.headers["authorization"] == "Bearer ob-token"
    assert call.body == {"group_id": 987654321, "message": [{"type": "text", "data": {"text": "pong"}}]}
    (result,) = results(event_bus)
    assert (result["outcome"], result["mode"], result["platform_message_id"]) == ("sent", "http", "1001")


def test_a_private_reply_and_any_action_by_name(onebot_send: Send, fake_onebot: FakeOneBotApi) -> None:
    payload = event_file("onebot_private_message")["detail"]["payload"]
    box = outbox(event_id="e2", detail_type="message.private", bot_id=BOT)
    onebot_send(box.reply(PrivateMessage.model_validate(payload), "pong", quote=True))
    onebot_send(box.call("set_group_ban", group_id=5, user_id=6, duration=60))
    private, ban = fake_onebot.calls()
    assert private.path == "/send_private_msg"
    assert private.body == {
        "user_id": 12345678,
        "message": [{"type": "reply", "data": {"id": "12"}}, {"type": "text", "data": {"text": "pong"}}],
    }
    assert (ban.path, ban.body) == ("/set_group_ban", {"group_id": 5, "user_id": 6, "duration": 60})


def test_refused_when_muted_or_not_a_member(
    onebot_send: Send, fake_onebot: FakeOneBotApi, group_store: DynamoGroupStore, event_bus: BusTap
) -> None:
    now = int(time.time())
    group_store.write(BOT, "987654321", "onebot", group_store.muted(now + 600, at=now - 5, scope="self"))
    box = outbox(event_id="e3", detail_type="message.group", bot_id=BOT)
    assert onebot_send(box.send_group("onebot", 987654321, "hi"))["status"] == "refused"
    group_store.write(BOT, "987654321", "onebot", group_store.member(False, at=now - 1))
    assert onebot_send(box.send_group("onebot", 987654321, "hi again"))["status"] == "refused"
    assert [r["reason"] for r in results(event_bus)] == ["muted", "not_member"]
    assert fake_onebot.calls() == []


@pytest.mark.parametrize(
    "answer, outcome, reason",
    [
        ({"status": "ok", "retcode": 0, "data": {"message_id": 7}}, "sent", None),
        ({"status": "async", "retcode": 1, "data": None}, "sent", None),
        ({"status": "failed", "retcode": 100, "wording": "群不存在"}, "failed", "onebot_100"),
    ],
)
def test_answers_map_to_results(
    onebot_send: Send, fake_onebot: FakeOneBotApi, event_bus: BusTap, answer: dict, outcome: str, reason: str
) -> None:
    fake_onebot.fail_next(200, answer)
    assert (
        onebot_send(outbox(bot_id=BOT).call("send_group_msg", group_id=1, message="x"))["status"] == outcome
    )
    (result,) = results(event_bus)
    assert result.get("reason") == reason


def test_http_errors_are_clear(
    onebot_send: Send, fake_onebot: FakeOneBotApi, event_bus: BusTap, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONEBOT_ACCESS_TOKEN", "wrong")
    onebot_send(outbox(bot_id=BOT, function="a").call("send_private_msg", user_id=1, message="x"))
    monkeypatch.setenv("ONEBOT_ACCESS_TOKEN", "ob-token")
    fake_onebot.fail_next(404, {"status": "failed"})
    onebot_send(outbox(bot_id=BOT, function="b").call("no_such_action"))
    assert [(r["outcome"], r["reason"]) for r in results(event_bus)] == [
        ("failed", "unauthorized"),
        ("failed", "unsupported_action"),
    ]


def test_429_then_success(onebot_send: Send, fake_onebot: FakeOneBotApi, event_bus: BusTap) -> None:
    fake_onebot.fail_next(429, {}, {"Retry-After": "1"})
    fake_onebot.fail_next(502, {})
    assert (
        onebot_send(outbox(bot_id=BOT).call("send_private_msg", user_id=1, message="x"))["status"] == "sent"
    )
    assert [r.status for r in fake_onebot.received] == [429, 502, 200]


def test_per_bot_routes_and_the_relay_queue(
    onebot_send: Send,
    fake_onebot: FakeOneBotApi,
    event_bus: BusTap,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="relay-actions")["QueueUrl"]
    monkeypatch.setenv("RELAY_ACTIONS_QUEUE_URL", queue)
    monkeypatch.setenv("ONEBOT_API_URL", json.dumps({BOT: fake_onebot.url, "*": "relay"}))
    assert (
        onebot_send(outbox(bot_id=BOT).call("send_private_msg", user_id=1, message="http"))["status"]
        == "sent"
    )
    relayed: Action = outbox(bot_id="42").call("send_private_msg", user_id=1, message="via relay")
    assert onebot_send(relayed) == {"status": "relayed"}
    (message,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert Action.model_validate_json(message["Body"]) == relayed
    assert len(fake_onebot.calls()) == 1
    assert [r["outcome"] for r in results(event_bus)] == ["sent"]  # the relay reports the other


def test_no_route_is_a_clear_failure(
    onebot_send: Send, event_bus: BusTap, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONEBOT_API_URL", "relay")
    monkeypatch.delenv("RELAY_ACTIONS_QUEUE_URL", raising=False)
    onebot_send(outbox(bot_id=BOT).call("send_private_msg", user_id=1, message="x"))
    monkeypatch.setenv("ONEBOT_API_URL", "{not json")
    onebot_send(outbox(bot_id=BOT, function="g").call("send_private_msg", user_id=1, message="x"))
    assert [r["reason"] for r in results(event_bus)] == ["no_route", "no_route"]
