"""handlers/qq_webhook: op 13, signed dispatches onto the bus, and every refusal."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from qqbus.ingress.function_url import function_url_event

from tests.ingress.conftest import QQ_APPID, QQ_SECRET, Bus, Call, signed
from tests.support import SAMPLES, load_json


def test_op13_public_vector_is_answered_byte_exact(qq_webhook: Call, bus: Bus) -> None:
    body = (SAMPLES / "qq/official_webhook_validation_op13.json").read_bytes()
    resp = qq_webhook(function_url_event(body, {"X-Bot-Appid": QQ_APPID}))
    assert resp["statusCode"] == 200
    assert json.loads(resp["body"]) == {
        "plain_token": "Arq0D5A61EgUu4OxUvOp",
        "signature": "87befc99c42c651b3aac0278e71ada338433ae26fcb24307bdc5ad38c1adc2d0"
        "1bcfcadc0842edac85e85205028a1132afe09280305f13aa6909ffc2d652c706",
    }
    assert bus.published() == []


@pytest.mark.parametrize(
    "d",
    [
        {"plain_token": "has space", "event_ts": "1"},
        {"plain_token": "a", "event_ts": "1;x"},
        {"plain_token": 5, "event_ts": "1"},
        {"event_ts": "1"},
    ],
)
def test_op13_refuses_to_sign_anything_else(qq_webhook: Call, bus: Bus, d: dict[str, Any]) -> None:
    body = json.dumps({"op": 13, "d": d}).encode()
    assert qq_webhook(function_url_event(body, {"X-Bot-Appid": QQ_APPID}))["statusCode"] == 400


@pytest.mark.parametrize("indent", [None, 4])
def test_signed_dispatch_goes_on_the_bus(qq_webhook: Call, bus: Bus, indent: int | None) -> None:
    payload = load_json(SAMPLES / "qq/official_group_add_robot.json")
    payload.pop("s")
    body = json.dumps(payload, indent=indent, ensure_ascii=False).encode()
    resp = qq_webhook(signed(body))
    assert resp["statusCode"] == 200 and json.loads(resp["body"]) == {"op": 12, "d": 0}
    (event,) = bus.published()
    assert (event["source"], event["detail-type"]) == ("qq.official", "GROUP_ADD_ROBOT")
    detail = event["detail"]
    assert detail["bot_id"] == QQ_APPID and detail["event_id"] == payload["id"]
    assert detail["transport"] == "webhook" and isinstance(detail["received_at"], int)
    assert detail["payload"] == payload


def test_base64_body_is_verified_over_the_decoded_bytes(qq_webhook: Call, bus: Bus) -> None:
    body = json.dumps(
        {"op": 0, "t": "C2C_MESSAGE_CREATE", "id": "C2C:1", "d": {"content": "你好"}}, ensure_ascii=False
    ).encode()
    assert qq_webhook(signed(body, base64_body=True))["statusCode"] == 200
    assert bus.published()[0]["detail"]["payload"]["d"]["content"] == "你好"


def test_several_bots_by_appid(qq_webhook: Call, bus: Bus, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QQ_BOT_SECRET", json.dumps({"111": "secret-one", "222": "secret-two"}))
    body = json.dumps({"op": 0, "t": "GROUP_AT_MESSAGE_CREATE", "id": "x:1", "d": {}}).encode()
    assert qq_webhook(signed(body, secret="secret-two", appid="222"))["statusCode"] == 200
    assert qq_webhook(signed(body, secret="secret-one", appid="222"))["statusCode"] == 401
    assert qq_webhook(signed(body, secret="secret-one", appid="333"))["statusCode"] == 401
    assert [e["detail"]["bot_id"] for e in bus.published()] == ["222"]


def test_secret_from_ssm(qq_webhook: Call, bus: Bus, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QQ_BOT_SECRET")
    monkeypatch.setenv("QQ_BOT_SECRET_PARAMETER", "/qqbus/test/qq")
    boto3.client("ssm").put_parameter(Name="/qqbus/test/qq", Value="from-ssm", Type="SecureString")
    body = b'{"op":0,"t":"GROUP_DEL_ROBOT","id":"d:1","d":{}}'
    assert qq_webhook(signed(body, secret="from-ssm"))["statusCode"] == 200
    assert qq_webhook(signed(body, secret=QQ_SECRET))["statusCode"] == 401


def test_unreadable_secret_store_is_503_not_401(
    qq_webhook: Call, bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QQ_BOT_SECRET")
    monkeypatch.setenv("QQ_BOT_SECRET_PARAMETER", "/qqbus/test/missing")
    assert qq_webhook(signed(b'{"op":0,"t":"X","id":"1","d":{}}'))["statusCode"] == 503
    assert bus.published() == []


BODY = json.dumps(
    {
        "op": 0,
        "t": "GROUP_MSG_REJECT",
        "id": "r:1",
        "d": {"group_openid": "G", "op_member_openid": "M", "timestamp": 1},
    }
).encode()


def _without(event: dict[str, Any], header: str) -> dict[str, Any]:
    event["headers"].pop(header)
    return event


def _with(event: dict[str, Any], header: str, value: str) -> dict[str, Any]:
    event["headers"][header] = value
    return event


@pytest.mark.parametrize(
    "make, status",
    [
        (lambda: _without(signed(BODY), "x-signature-ed25519"), 401),
        (lambda: _without(signed(BODY), "x-signature-timestamp"), 401),
        (lambda: _without(_without(signed(BODY), "x-signature-timestamp"), "x-signature-ed25519"), 401),
        (lambda: _with(signed(BODY), "x-signature-ed25519", "not-hex"), 401),
        (lambda: _with(signed(BODY), "x-signature-ed25519", "ab" * 10), 401),
        (lambda: _with(signed(BODY, ts="1725442341"), "x-signature-timestamp", "1725442342"), 401),
        (lambda: signed(BODY, secret="wrong-secret"), 401),
        (lambda: _without(signed(BODY), "x-bot-appid"), 401),
        (
            lambda: _with(
                signed(BODY + b" "), "x-signature-ed25519", signed(BODY)["headers"]["x-signature-ed25519"]
            ),
            401,
        ),
        (lambda: signed(b"[1,2,3]"), 400),
        (lambda: signed(b'{"op":0,"t":"X"'), 400),
        (lambda: signed(b'"string"'), 400),
        (lambda: signed(b"\xff\xfe{}"), 400),
        (lambda: signed(b'{"op":0,"d":{}}'), 400),
        (lambda: signed(b'{"op":7}'), 400),
        (lambda: signed(b'{"op":0,"t":"X","pad":"' + b"x" * 300_000 + b'"}'), 413),
        (lambda: _with(signed(BODY), "x-signature-ed25519", ""), 401),
        (lambda: {**signed(BODY), "requestContext": {"http": {"method": "GET"}}}, 405),
        (lambda: {**signed(BODY), "isBase64Encoded": True, "body": "%%%"}, 400),
    ],
)
def test_refusals_put_nothing_on_the_bus(qq_webhook: Call, bus: Bus, make: Any, status: int) -> None:
    resp = qq_webhook(make())
    assert resp["statusCode"] == status, resp["body"]
    assert "error" in json.loads(resp["body"]) and "Traceback" not in resp["body"]
    assert bus.published() == []


def test_bus_refusal_is_503_never_2xx(qq_webhook: Call, bus: Bus, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENT_BUS_NAME", "no-such-bus")
    resp = qq_webhook(signed(BODY))
    assert resp["statusCode"] == 503
    assert bus.published() == []


def test_body_limit_is_configurable(qq_webhook: Call, bus: Bus, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QQBUS_MAX_BODY_BYTES", "50")
    assert qq_webhook(signed(BODY))["statusCode"] == 413
