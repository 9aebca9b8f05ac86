"""handlers/onebot_http: X-Self-ID, HMAC over the raw body, 204, heartbeats, the bus."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import pytest

from tests.ingress.conftest import ONEBOT_SECRET, Bus, Call, post
from tests.support import SAMPLES

BAN = {
    "time": 1718000035,
    "self_id": 123456789,
    "post_type": "notice",
    "notice_type": "group_ban",
    "sub_type": "ban",
    "group_id": 987654321,
    "operator_id": 1,
    "user_id": 123456789,
    "duration": 60,
}


def test_event_goes_on_the_bus_with_a_stable_id(onebot_http: Call, bus: Bus) -> None:
    body = json.dumps(BAN).encode()
    resp = onebot_http(post(None, raw=body))
    assert resp["statusCode"] == 204 and resp["body"] == ""
    (event,) = bus.published()
    assert (event["source"], event["detail-type"]) == ("onebot.v11", "notice.group_ban")
    assert event["detail"]["bot_id"] == "123456789" and event["detail"]["transport"] == "http_post"
    assert event["detail"]["event_id"] == hashlib.sha256(body).hexdigest()
    assert event["detail"]["payload"] == BAN


def test_samples_go_on_the_bus(onebot_http: Call, bus: Bus) -> None:
    paths = sorted(SAMPLES.glob("onebot/*.json"))
    for path in paths:
        payload = json.loads(path.read_text(encoding="utf-8"))
        assert (
            onebot_http(post(None, raw=path.read_bytes(), self_id=str(payload["self_id"])))["statusCode"]
            == 204
        )
    assert len(bus.published()) == len(paths)


def test_signed_requests(onebot_http: Call, bus: Bus, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONEBOT_SECRET", ONEBOT_SECRET)
    ban = {**BAN, "time": int(time.time())}
    assert onebot_http(post(ban, secret=ONEBOT_SECRET))["statusCode"] == 204
    assert onebot_http(post(ban))["statusCode"] == 401
    assert onebot_http(post(ban, secret="wrong"))["statusCode"] == 403
    assert onebot_http(post(ban, **{"X-Signature": "sha1=zz"}))["statusCode"] == 403
    pretty = json.dumps(ban, indent=2).encode()
    assert onebot_http(post(None, raw=pretty, secret=ONEBOT_SECRET))["statusCode"] == 204
    assert len(bus.published()) == 2


@pytest.mark.parametrize(
    "event, status",
    [
        (lambda: post(BAN, self_id=None), 400),
        (lambda: post(BAN, self_id="abc"), 400),
        (lambda: post(BAN, self_id="42"), 400),
        (lambda: post(None, raw=b"{not json"), 400),
        (lambda: post(None, raw=b"\xc3\x28"), 400),
        (lambda: post([1, 2]), 400),
        (lambda: post({"op": 0, "t": "X"}), 400),
        (lambda: post({**BAN, "post_type": 5}), 400),
        (lambda: post({**BAN, "time": "yesterday"}), 400),
        (lambda: post({k: v for k, v in BAN.items() if k != "self_id"}), 400),
        (lambda: post({**BAN, "pad": "x" * 300_000}), 413),
    ],
)
def test_refusals(onebot_http: Call, bus: Bus, event: Any, status: int) -> None:
    resp = onebot_http(event())
    assert resp["statusCode"] == status
    assert "error" in json.loads(resp["body"])
    assert bus.published() == []


def test_heartbeats_are_counted_not_published_unless_configured(
    onebot_http: Call, bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    beat = {
        "time": 1,
        "self_id": 123456789,
        "post_type": "meta_event",
        "meta_event_type": "heartbeat",
        "status": {"online": True},
        "interval": 5000,
    }
    assert onebot_http(post(beat))["statusCode"] == 204
    assert bus.published() == []
    monkeypatch.setenv("QQBUS_PUBLISH_HEARTBEATS", "true")
    assert onebot_http(post(beat))["statusCode"] == 204
    assert [e["detail-type"] for e in bus.published()] == ["meta_event.heartbeat"]


def test_lifecycle_and_requests_are_published(onebot_http: Call, bus: Bus) -> None:
    life = {
        "time": 1,
        "self_id": 123456789,
        "post_type": "meta_event",
        "meta_event_type": "lifecycle",
        "sub_type": "connect",
    }
    req = {
        "time": 1,
        "self_id": 123456789,
        "post_type": "request",
        "request_type": "friend",
        "user_id": 5,
        "comment": "hi",
        "flag": "f1",
    }
    assert onebot_http(post(life))["statusCode"] == 204
    assert onebot_http(post(req))["statusCode"] == 204
    assert [e["detail-type"] for e in bus.published()] == ["meta_event.lifecycle", "request.friend"]


def test_a_known_type_missing_a_field_is_still_published(onebot_http: Call, bus: Bus) -> None:
    # Real implementations leave fields out; the handler reports it, ingress loses nothing.
    payload = {k: v for k, v in BAN.items() if k != "operator_id"}
    assert onebot_http(post(payload))["statusCode"] == 204
    assert bus.published()[0]["detail"]["payload"] == payload


def test_bus_refusal_is_503(onebot_http: Call, bus: Bus, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENT_BUS_NAME", "no-such-bus")
    assert onebot_http(post(BAN))["statusCode"] == 503
