"""What the platform is told when the bus does not take an event: retry (503) only if that can help."""

from __future__ import annotations

import json
import time

import pytest
from qqbus.detail import MAX_DETAIL_TYPE_CHARS
from qqbus.ingress.bus import refused
from qqbus.ingress.function_url import DEFAULT_MAX_BODY_BYTES
from qqbus.publish import Failed

from tests.ingress.conftest import Bus, Call, post, signed

# 1e15 is written back as 1000000000000000.0: a body under the size limit grows past the bus's.
GROWING = b"[" + b",".join([b"1e15"] * 40_000) + b"]"


def test_an_entry_too_large_for_the_bus_is_413_not_503(qq_webhook: Call, onebot_http: Call, bus: Bus) -> None:
    qq = b'{"op":0,"t":"GROUP_AT_MESSAGE_CREATE","id":"AT:1","d":{"numbers":' + GROWING + b"}}"
    onebot = (
        f'{{"time":{int(time.time())},"self_id":123456789,"post_type":"notice","notice_type":"x","n":'.encode()
        + GROWING
        + b"}"
    )
    for resp, body in ((qq_webhook(signed(qq)), qq), (onebot_http(post(None, raw=onebot)), onebot)):
        assert len(body) <= DEFAULT_MAX_BODY_BYTES
        assert resp["statusCode"] == 413
        assert "too large for the bus" in json.loads(resp["body"])["error"]
    assert bus.published() == []


def test_a_type_too_long_for_a_detail_type_is_400(qq_webhook: Call, bus: Bus) -> None:
    t = "T" * (MAX_DETAIL_TYPE_CHARS + 1)
    resp = qq_webhook(signed(json.dumps({"op": 0, "t": t, "id": "x:1", "d": {}}).encode()))
    assert resp["statusCode"] == 400
    ok = "T" * MAX_DETAIL_TYPE_CHARS
    body = json.dumps({"op": 0, "t": ok, "id": "x:2", "d": {}}).encode()
    assert qq_webhook(signed(body))["statusCode"] == 200
    assert [e["detail-type"] for e in bus.published()] == [ok]


@pytest.mark.parametrize(
    "code, status",
    [
        ("InternalFailure", 503),
        ("ThrottlingException", 503),
        ("ResourceNotFoundException", 503),  # no such bus: fix the deployment, the retry succeeds
        ("AccessDeniedException", 503),
        ("EntryTooLarge", 413),
        ("MalformedDetail", 400),
        ("InvalidArgument", 400),
        ("ValidationException", 400),
    ],
)
def test_failures_map_to_retry_or_refusal(code: str, status: int) -> None:
    assert refused(Failed({}, code, "why")).status == status


def test_a_missing_bus_is_503(qq_webhook: Call, bus: Bus, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENT_BUS_NAME", "no-such-bus")
    body = json.dumps({"op": 0, "t": "GROUP_DEL_ROBOT", "id": "d:1", "d": {}}).encode()
    assert qq_webhook(signed(body))["statusCode"] == 503
