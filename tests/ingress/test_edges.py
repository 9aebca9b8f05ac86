"""The edges of what ingress takes: the exact body limit, a secret store that is down, control
characters in a type, and Lambda events no Function URL sends."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from qqbus.ingress.function_url import DEFAULT_MAX_BODY_BYTES, function_url_event

from tests.ingress.conftest import ONEBOT_SECRET, Bus, Call, LogTap, post, signed

SELF = 123456789


QQ_HEAD, QQ_TAIL = b'{"op":0,"t":"GROUP_AT_MESSAGE_CREATE","id":"AT:1","d":{"content":"', b'"}}'


def qq_body(size: int) -> bytes:
    """A QQ dispatch of exactly ``size`` bytes."""
    return QQ_HEAD + b"x" * (size - len(QQ_HEAD) - len(QQ_TAIL)) + QQ_TAIL


def onebot_body(size: int) -> bytes:
    """A OneBot notice of exactly ``size`` bytes."""
    head = f'{{"time":{int(time.time())},"self_id":{SELF},"post_type":"notice","notice_type":"x","pad":"'
    return head.encode() + b"x" * (size - len(head) - 2) + b'"}'


# --- the body limit: `>`, not `>=` -------------------------------------------------------------


@pytest.mark.parametrize("limit", [None, 1000], ids=["default", "QQBUS_MAX_BODY_BYTES"])
def test_a_body_of_exactly_the_limit_is_taken_and_one_byte_more_is_413(
    qq_webhook: Call, onebot_http: Call, bus: Bus, monkeypatch: pytest.MonkeyPatch, limit: int | None
) -> None:
    if limit is not None:
        monkeypatch.setenv("QQBUS_MAX_BODY_BYTES", str(limit))
    size = limit or DEFAULT_MAX_BODY_BYTES
    assert len(qq_body(size)) == len(onebot_body(size)) == size
    assert qq_webhook(signed(qq_body(size)))["statusCode"] == 200
    assert onebot_http(post(None, raw=onebot_body(size)))["statusCode"] == 204
    published = bus.published()
    assert [e["detail-type"] for e in published] == ["GROUP_AT_MESSAGE_CREATE", "notice.x"]
    assert published[0]["detail"]["payload"] == json.loads(qq_body(size))  # all of it, as sent

    for resp in (qq_webhook(signed(qq_body(size + 1))), onebot_http(post(None, raw=onebot_body(size + 1)))):
        assert resp["statusCode"] == 413
        assert json.loads(resp["body"])["error"] == f"body of {size + 1} bytes is over the {size} limit"
    assert bus.published() == []


# --- secrets ---------------------------------------------------------------------------------


def test_an_unreadable_onebot_secret_is_503_and_nothing_is_taken_unverified(
    onebot_http: Call, bus: Bus, monkeypatch: pytest.MonkeyPatch, strict_logging: LogTap
) -> None:
    """A secret store that is down is not "no secret": the event is neither refused for good
    (the implementation would drop it) nor taken without its signature checked."""
    monkeypatch.setenv("ONEBOT_SECRET_PARAMETER", "/qqbus/test/missing")
    body = onebot_body(300)
    for event in (post(None, raw=body), post(None, raw=body, secret=ONEBOT_SECRET)):
        resp = onebot_http(event)
        assert resp["statusCode"] == 503, resp["body"]
        assert json.loads(resp["body"]) == {"error": "secret unavailable; retry later"}
    assert bus.published() == []
    assert any("cannot read secret '/qqbus/test/missing'" in line for line in strict_logging.lines())


def test_a_readable_onebot_secret_parameter_is_used(
    onebot_http: Call, bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    boto3.client("ssm").put_parameter(Name="/qqbus/test/onebot", Value=ONEBOT_SECRET, Type="SecureString")
    monkeypatch.setenv("ONEBOT_SECRET_PARAMETER", "/qqbus/test/onebot")
    body = onebot_body(300)
    assert onebot_http(post(None, raw=body))["statusCode"] == 401  # a secret is set: unsigned is refused
    assert onebot_http(post(None, raw=body, secret=ONEBOT_SECRET))["statusCode"] == 204
    assert len(bus.published()) == 1


# --- control characters in a type --------------------------------------------------------------

CONTROLS = ["\x00", "\t", "\n", "\r", "\x1f", "\x7f", "\x85", "\x9f"]


@pytest.mark.parametrize("control", CONTROLS, ids=[f"U+{ord(c):04X}" for c in CONTROLS])
def test_a_control_character_in_a_type_is_400_not_503(
    qq_webhook: Call, onebot_http: Call, bus: Bus, control: str
) -> None:
    """The bus would fail the entry (503: the platform resends it for ever); it is the event's fault."""
    qq = json.dumps({"op": 0, "t": f"GROUP{control}AT", "id": "AT:1", "d": {}}).encode()
    answers = [qq_webhook(signed(qq))]
    for field in ("post_type", "notice_type"):
        payload: dict[str, Any] = {"time": 1, "self_id": SELF, "post_type": "notice", "notice_type": "x"}
        payload[field] = f"no{control}tice"
        answers.append(onebot_http(post(payload)))
    for resp in answers:
        assert resp["statusCode"] == 400, resp["body"]
        assert "has a control character" in json.loads(resp["body"])["error"]
    assert bus.published() == []


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", " "])
def test_other_separators_in_a_type_are_routed(qq_webhook: Call, bus: Bus, separator: str) -> None:
    """Only control characters are refused: a type is otherwise taken as the platform sent it."""
    qq = json.dumps({"op": 0, "t": f"GROUP{separator}AT", "id": "AT:1", "d": {}}).encode()
    assert qq_webhook(signed(qq))["statusCode"] == 200
    assert [e["detail-type"] for e in bus.published()] == [f"GROUP{separator}AT"]


# --- Lambda events no Function URL sends ------------------------------------------------------


def _events() -> dict[str, Any]:
    good = function_url_event(b'{"op":0}', {"X-Self-ID": str(SELF)})
    return {
        "requestContext null": good | {"requestContext": None},
        "requestContext a list": good | {"requestContext": []},
        "http a string": good | {"requestContext": {"http": "POST"}},
        "body a list": good | {"body": [1, 2]},
        "body an object": good | {"body": {"op": 0}},
        "body a number": good | {"body": 5, "isBase64Encoded": True},
        "headers a list": good | {"headers": [["x-self-id", "1"]]},
        "query a string": good | {"queryStringParameters": "a=1"},
        "a list": [good],
        "a string": "POST /",
        "null": None,
    }


EVENTS = _events()


@pytest.mark.parametrize("name", list(EVENTS))
def test_a_malformed_lambda_event_is_400_not_500(
    qq_webhook: Call, onebot_http: Call, bus: Bus, strict_logging: LogTap, name: str
) -> None:
    for handler in (qq_webhook, onebot_http):
        resp = handler(EVENTS[name])
        assert resp["statusCode"] == 400, resp["body"]
        assert json.loads(resp["body"])["error"].startswith("the event")
    lines = strict_logging.lines()
    assert not any("Traceback" in line or "unexpected error" in line for line in lines)
    assert bus.published() == []


def test_absent_fields_are_still_a_request(onebot_http: Call, bus: Bus) -> None:
    """Null headers and query, no requestContext: read as empty, so the checks answer (not a 500)."""
    event = {"body": onebot_body(200).decode(), "headers": None, "queryStringParameters": None}
    resp = onebot_http(event)
    assert resp["statusCode"] == 400
    assert json.loads(resp["body"])["error"] == "X-Self-ID is required"


def test_a_request_without_a_body_is_answered_by_the_checks(onebot_http: Call, bus: Bus) -> None:
    """A null body is an empty one (a GET probe, a POST with nothing): 405 or 400, never 500."""
    probe = function_url_event(b"", {"X-Self-ID": str(SELF)}, method="GET") | {"body": None}
    assert onebot_http(probe)["statusCode"] == 405
    empty = function_url_event(b"", {"X-Self-ID": str(SELF)}) | {"body": None}
    resp = onebot_http(empty)
    assert resp["statusCode"] == 400 and json.loads(resp["body"])["error"].startswith("body is not JSON")


@pytest.mark.parametrize(
    "field, value, why",
    [
        ("body", [1], "the event's body is a JSON array, not a string"),
        ("body", {"a": 1}, "the event's body is a JSON object, not a string"),
        ("requestContext", None, "the event's requestContext is a JSON null, not an object"),
        ("headers", "x", "the event's headers is a JSON string, not an object"),
    ],
)
def test_the_refusal_of_a_malformed_event_names_the_field(
    onebot_http: Call, bus: Bus, field: str, value: Any, why: str
) -> None:
    event = function_url_event(b"{}", {"X-Self-ID": str(SELF)}) | {field: value}
    assert json.loads(onebot_http(event)["body"]) == {"error": why}


# --- what a refusal and a failure leave behind: a log line, a metric -------------------------


def _metrics(out: str) -> dict[str, float]:
    """The counts in the EMF blobs printed (in an invocation's line, or alone): a metric's value
    is a number or a list of them, as EMF allows."""
    counts: dict[str, float] = {}
    for line in out.splitlines():
        blob = json.loads(line) if line.startswith("{") else {}
        if "_aws" in blob:
            for metric in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                value = blob[metric["Name"]]
                counts[metric["Name"]] = counts.get(metric["Name"], 0) + (
                    sum(value) if isinstance(value, list) else value
                )
    return counts


def test_a_refusal_is_logged_with_its_status_and_counted(
    qq_webhook: Call, bus: Bus, strict_logging: LogTap, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert qq_webhook(signed(qq_body(1000), appid="999"))["statusCode"] == 401
    (line,) = [json.loads(line) for line in strict_logging.lines() if '"level":"WARNING"' in line]
    assert (line["status"], line["reason"]) == (401, "no secret is configured for this AppID")
    assert line["message"] == "no secret for AppID '999'"  # the log says more than the answer
    assert _metrics(capsys.readouterr().out) == {"Rejected401": 1}


def test_an_unexpected_error_is_500_without_its_details_logged_and_counted(
    onebot_http: Call,
    bus: Bus,
    strict_logging: LogTap,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from qqbus.ingress import onebot_http as module

    def broken(payload: Any) -> Any:
        raise RuntimeError("internal detail 7f3a")

    monkeypatch.setattr(module, "parse_event", broken)
    capsys.readouterr()
    resp = onebot_http(post(None, raw=onebot_body(300)))
    assert (resp["statusCode"], json.loads(resp["body"])) == (500, {"error": "internal error"})
    assert "7f3a" not in resp["body"]
    logged = [json.loads(line) for line in strict_logging.lines()]
    (error,) = [line for line in logged if line["level"] == "ERROR"]
    assert error["message"] == "unexpected error handling the request" and "7f3a" in error["exception"]
    assert _metrics(capsys.readouterr().out) == {"Errors": 1}
    assert bus.published() == []
