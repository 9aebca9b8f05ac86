"""The QQ sender in production: the IP whitelist (code 11298), parking for a replay, relay egress."""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

import boto3
import pytest
from qqbus.senders.qq import QqSend
from qqbus_dev.fake_apis import FakeQQApi
from qqbus_dev.lambda_context import LocalContext

from tests.conftest import BusTap
from tests.senders.conftest import Send, action_event, results
from tests.senders.test_qq_sender import GROUP, reply
from tests.support import load_handler


@pytest.fixture
def failure_queue(aws_tables: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    url = str(boto3.client("sqs").create_queue(QueueName="handler-failures")["QueueUrl"])
    monkeypatch.setenv("HANDLER_FAILURE_QUEUE_URL", url)
    return url


def _parked(queue: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in got]


def _send_event(event: dict[str, Any]) -> dict[str, Any]:
    module = load_handler("qq_sender")
    result: dict[str, Any] = module.lambda_handler(
        copy.deepcopy(event), LocalContext(function_name="qq_sender")
    )
    return result


def test_an_address_off_the_whitelist_fails_once_is_logged_and_parked_for_a_replay(
    qq_send: Send, fake_qq: FakeQQApi, event_bus: BusTap, failure_queue: str, caplog: Any
) -> None:
    fake_qq.whitelist = {"203.0.113.7"}  # not us
    action = reply()
    with caplog.at_level(logging.ERROR):
        outcome = qq_send(action)
    assert outcome == {"status": "failed", "reason": "ip_not_whitelisted", "parked": True}
    (result,) = results(event_bus)
    assert (result["outcome"], result["reason"], result["code"]) == ("failed", "ip_not_whitelisted", 11298)
    assert "QqEgress=nat" in result["message"] and "QqSandbox=true" in result["message"]
    # A 401 about the address never refreshes the token: one token, one refused message.
    assert fake_qq.token_requests == 1
    assert [r.status for r in fake_qq.received if r.path.endswith("/messages")] == [401]
    errors = [
        r for r in caplog.records if r.levelno >= logging.ERROR and "ip_not_whitelisted" in r.getMessage()
    ]
    assert len(errors) == 1 and "QqEgressIp" in errors[0].getMessage()

    (record,) = _parked(failure_queue)
    assert record["requestContext"]["condition"] == "ip_not_whitelisted"
    replay = record["requestPayload"]
    assert (replay["source"], replay["detail-type"]) == ("qqbus.action", "qq.group_message")
    assert replay["detail"]["action_id"] == action.action_id and replay["detail"]["resend"] == 1

    # The original delivered again is still a duplicate; the parked copy, replayed once the
    # whitelist is fixed, is sent, in the same reply slot.
    assert qq_send(action)["status"] == "duplicate"
    fake_qq.whitelist = None
    assert _send_event(replay)["status"] == "sent"
    (sent,) = fake_qq.messages()
    assert sent.body["msg_seq"] == 1 and sent.body["msg_id"] == action.reply_to.message_id  # type: ignore[union-attr]
    assert [r["outcome"] for r in results(event_bus)] == ["sent"]
    assert _send_event(replay)["status"] == "duplicate"  # the replay, delivered twice, is sent once


def test_the_hint_names_the_nat_address_to_whitelist(
    qq_send: Send, fake_qq: FakeQQApi, event_bus: BusTap, failure_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QQ_EGRESS", "nat")
    monkeypatch.setenv("QQ_EGRESS_IP", "198.51.100.23")
    fake_qq.fail_next(401, {"message": "接口访问源IP不在白名单", "code": 11298, "err_code": 40023002})
    assert qq_send(reply())["reason"] == "ip_not_whitelisted"
    (result,) = results(event_bus)
    assert "Add 198.51.100.23" in result["message"]


def test_without_a_failure_queue_the_result_is_still_reported(
    qq_send: Send, fake_qq: FakeQQApi, event_bus: BusTap
) -> None:
    fake_qq.whitelist = set()
    assert qq_send(reply()) == {"status": "failed", "reason": "ip_not_whitelisted", "parked": False}
    assert [r["reason"] for r in results(event_bus)] == ["ip_not_whitelisted"]


def test_a_401_about_the_token_still_refreshes_it_once(
    qq_send: Send, fake_qq: FakeQQApi, event_bus: BusTap
) -> None:
    assert qq_send(reply("one", index=0))["status"] == "sent"
    fake_qq.expire_tokens()
    assert qq_send(reply("two", index=1))["status"] == "sent"
    assert fake_qq.token_requests == 2


def test_relay_egress_hands_the_prepared_send_to_the_queue_without_the_secret(
    aws_tables: dict[str, str], event_bus: BusTap, fake_qq: FakeQQApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = boto3.client("sqs").create_queue(QueueName="qq-relay-actions")["QueueUrl"]
    monkeypatch.setenv("QQ_RELAY_QUEUE_URL", queue)
    monkeypatch.delenv("QQ_BOT_SECRET")  # only the relay holds it
    action = reply()
    assert _send_event(action_event(action)) == {"status": "relayed"}
    assert fake_qq.received == [] and results(event_bus) == []
    (message,) = boto3.client("sqs").receive_message(QueueUrl=queue).get("Messages", [])
    send = QqSend.model_validate_json(message["Body"])
    assert send.action.action_id == action.action_id
    assert send.path == f"/v2/groups/{GROUP}/messages" and send.mode == "passive"
    assert send.body == {"content": "pong", "msg_type": 0, "msg_id": action.reply_to.message_id, "msg_seq": 1}  # type: ignore[union-attr]


def test_relay_egress_still_gates_first(
    aws_tables: dict[str, str], event_bus: BusTap, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = boto3.client("sqs").create_queue(QueueName="qq-relay-actions")["QueueUrl"]
    monkeypatch.setenv("QQ_RELAY_QUEUE_URL", queue)
    late = reply(age=400)
    assert _send_event(action_event(late))["status"] == "refused"
    assert boto3.client("sqs").receive_message(QueueUrl=queue).get("Messages") is None
    assert [r["reason"] for r in results(event_bus)] == ["reply_window_closed"]
