"""/ping end to end on `make dev`: ingress -> bus -> handler -> action -> sender -> the fake API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from qqbus_dev.send import event_id_of, prepare

from tests.local.stacks import Stack, running_stack
from tests.support import EVENTS, event_file


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("replies")) as running:
        yield running


def _ping(
    stack: Stack, name: str, message_id: int | str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Send events/<name>.json (time set to now; another message and event id, when given);
    its settled trace and the payload sent."""
    raw = (EVENTS / f"{name}.json").read_bytes()
    if message_id is not None:
        event = json.loads(raw)
        payload = event["detail"]["payload"]
        if "post_type" in payload:  # OneBot: the event id is a hash of the body
            payload["message_id"] = message_id
        else:  # QQ: the envelope id is the event id, d.id the message's
            payload["id"] = f"{payload['t']}:{message_id}"
            payload["d"]["id"] = f"msg-{message_id}"
        raw = json.dumps(event).encode()
    prepared = prepare(raw, fresh_time=True)
    status, _ = stack.send(prepared.body)  # prepare again: signs the same bytes
    assert status in (200, 204)
    event_id = event_id_of(prepared.path, prepared.body)
    assert event_id
    return stack.trace(event_id), json.loads(prepared.body)


def _new(stack: Stack, api: str, before: int) -> list[dict[str, Any]]:
    return [r for r in stack.fake(api)[before:] if not r["path"].startswith("/app/")]


@pytest.mark.parametrize(
    "name, path, reply_field",
    [
        ("qq_group_at_message_create", "/v2/groups/C9F778FE6ADF9D1D1DBE395BF744A33A/messages", "msg_id"),
        ("qq_c2c_message_create", "/v2/users/E4F4AEA33253A2797FB897C50B81D7ED/messages", "msg_id"),
    ],
)
def test_qq_ping_gets_pong_passively(stack: Stack, name: str, path: str, reply_field: str) -> None:
    before = len(stack.fake("qq"))
    trace, payload = _ping(stack, name)
    (request,) = _new(stack, "qq", before)
    assert request["path"] == path
    assert request["headers"]["authorization"].startswith("QQBot ")
    assert request["headers"]["x-union-appid"] == event_file(name)["detail"]["bot_id"]
    expected = {"content": "pong", "msg_type": 0, reply_field: payload["d"]["id"], "msg_seq": 1}
    assert request["body"] == expected
    (action,) = trace["actions"].values()
    assert action["result"]["outcome"] == "sent" and action["result"]["mode"] == "passive"
    assert trace["lines"][-1].strip() == "=> pong (passive, msg_seq 1)"


@pytest.mark.parametrize(
    "name, action, params",
    [
        ("onebot_group_message", "send_group_msg", {"group_id": 987654321}),
        ("onebot_private_message", "send_private_msg", {"user_id": 12345678}),
    ],
)
def test_onebot_ping_gets_pong(stack: Stack, name: str, action: str, params: dict[str, Any]) -> None:
    before = len(stack.fake("onebot"))
    trace, _ = _ping(stack, name)
    (request,) = _new(stack, "onebot", before)
    assert request["path"] == f"/{action}"
    assert request["body"] == {**params, "message": [{"type": "text", "data": {"text": "pong"}}]}
    (asked,) = trace["actions"].values()
    assert asked["result"]["outcome"] == "sent"
    kinds = [line.split()[0] for line in trace["lines"]]
    assert kinds == ["<-", "->", "asks", "->", "=>"]  # ingress, handler, action, sender, result


def test_help_lists_the_commands(stack: Stack) -> None:
    raw = event_file("onebot_private_message")["detail"]["payload"]
    raw["message"] = raw["raw_message"] = "/help"
    before = len(stack.fake("onebot"))
    prepared = prepare(json.dumps(raw).encode(), fresh_time=True)
    assert stack.send(prepared.body)[0] == 204
    stack.trace(event_id_of(prepared.path, prepared.body) or "")
    (request,) = _new(stack, "onebot", before)
    text = request["body"]["message"][0]["data"]["text"]
    assert "/ping" in text and "/help" in text


def test_platform_5xx_exhausted_reports_failed_and_parks_the_action(stack: Stack) -> None:
    stack.fail_next("onebot", 503, {"status": "failed"}, times=12)  # 3 invocations x 4 tries: none left over
    trace, _ = _ping(stack, "onebot_group_message", message_id=777)
    (asked,) = trace["actions"].values()
    assert asked["result"]["outcome"] == "failed" and asked["result"]["reason"] == "unavailable"
    sqs = stack.client("sqs")
    url = sqs.get_queue_url(QueueName="qqbus-local-handler-failures")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2)["Messages"]
    parked = [json.loads(m["Body"]) for m in messages]
    assert [p["requestPayload"]["detail"]["action_id"] for p in parked] == [asked["action_id"]]
    assert parked[0]["requestContext"]["approximateInvokeCount"] == 3


@pytest.mark.parametrize(
    "path, body, status",
    [
        ("/_fakes/qq/fail", b"{not json", 400),
        ("/_fakes/qq/fail", b'{"times": 1}', 400),  # no status
        ("/_fakes/onebot/fail", b'{"status": "x"}', 400),
        ("/_fakes/nope/fail", b'{"status": 503}', 400),
        ("/_fakes/qq/fail", b'{"fault": "no_such_fault"}', 400),
        ("/_fakes/qq/whitelist", b'{"allow": "1.2.3.4"}', 400),  # a list, or null
        ("/_fakes/qq/whitelist", b"{}", 400),
    ],
)
def test_bad_fault_requests_are_refused_and_change_nothing(
    stack: Stack, path: str, body: bytes, status: int
) -> None:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(stack.http + path, data=body, method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == status
    assert b"Traceback" not in refused.value.read()
    trace, _ = _ping(stack, "onebot_private_message", message_id=4242)  # no fault was queued
    (asked,) = trace["actions"].values()
    assert asked["result"]["outcome"] == "sent"


def test_an_unknown_trace_is_404(stack: Stack) -> None:
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as missing:
        stack.get("/_trace/no-such-event")
    assert missing.value.code == 404


def _post(stack: Stack, path: str, body: dict[str, Any]) -> None:
    import urllib.request

    request = urllib.request.Request(stack.http + path, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=5) as resp:
        assert resp.status == 204


def test_the_fake_qq_whitelist_fails_a_reply_and_parks_it(stack: Stack) -> None:
    """make dev plays the production story: QQ refuses the sender's address (11298)."""
    sqs = stack.client("sqs")
    failures = sqs.get_queue_url(QueueName="qqbus-local-handler-failures")["QueueUrl"]
    sqs.purge_queue(QueueUrl=failures)
    _post(stack, "/_fakes/qq/whitelist", {"allow": ["203.0.113.7"]})
    try:
        trace, _ = _ping(stack, "qq_group_at_message_create", message_id="whitelist-1")
    finally:
        _post(stack, "/_fakes/qq/whitelist", {"allow": None})
    (action,) = trace["actions"].values()
    result = action["result"]
    assert (result["outcome"], result["reason"], result["code"]) == ("failed", "ip_not_whitelisted", 11298)
    assert any("parked in the failure queue" in line for line in trace["lines"])
    messages = sqs.receive_message(QueueUrl=failures, MaxNumberOfMessages=10, WaitTimeSeconds=2)["Messages"]
    (record,) = [json.loads(m["Body"]) for m in messages]
    event = record["requestPayload"]
    assert event["detail"]["action_id"] == action["action_id"] and event["detail"]["resend"] == 1

    # A named fault does the same for one request; the next reply goes through.
    before = len(stack.fake("qq"))
    _post(stack, "/_fakes/qq/fail", {"fault": "ip_not_whitelisted", "times": 1})
    trace, _ = _ping(stack, "qq_c2c_message_create", message_id="whitelist-2")
    (action,) = trace["actions"].values()
    assert action["result"]["reason"] == "ip_not_whitelisted"
    refused = _new(stack, "qq", before)
    assert [r["status"] for r in refused] == [401] and refused[0]["answer"]["code"] == 11298
