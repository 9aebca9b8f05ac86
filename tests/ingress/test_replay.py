"""Replays: a signed request is accepted only while the handlers would deduplicate it."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from qqbus.ingress.replay import MAX_AGE_SECONDS, MAX_SKEW_SECONDS, outside_window
from qqbus.pipeline import IDEMPOTENCY_SECONDS
from qqbus_dev.lambda_context import LocalContext
from qqbus_dev.provision import create_tables
from qqbus_dev.template import Template

from tests.ingress.conftest import ONEBOT_SECRET, QQ_APPID, Bus, Call, post, signed
from tests.support import SAMPLES, load_handler, load_json

ADD_ROBOT = load_json(SAMPLES / "qq/official_group_add_robot.json")
BAN = {
    "self_id": 123456789,
    "post_type": "notice",
    "notice_type": "group_ban",
    "sub_type": "ban",
    "group_id": 987654321,
    "operator_id": 1,
    "user_id": 123456789,
    "duration": 60,
}


def test_the_window_ends_before_the_idempotency_records_do() -> None:
    # A request stamped MAX_SKEW_SECONDS ahead may be handled that much before its stamp.
    assert MAX_AGE_SECONDS + MAX_SKEW_SECONDS == IDEMPOTENCY_SECONDS
    assert 60 <= MAX_SKEW_SECONDS <= 600


def test_window_bounds_are_inclusive() -> None:
    now = 2_000_000_000
    assert outside_window(now - MAX_AGE_SECONDS, now) is None
    assert outside_window(now + MAX_SKEW_SECONDS, now) is None
    assert "old" in (outside_window(now - MAX_AGE_SECONDS - 1, now) or "")
    assert "future" in (outside_window(now + MAX_SKEW_SECONDS + 1, now) or "")


@pytest.mark.parametrize(
    "offset, status",
    [
        (-(10**9), 401),  # the year 2000 or so
        (-MAX_AGE_SECONDS - 60, 401),
        (-MAX_AGE_SECONDS + 60, 200),
        (MAX_SKEW_SECONDS - 60, 200),
        (MAX_SKEW_SECONDS + 60, 401),
    ],
)
def test_qq_timestamp_window(qq_webhook: Call, bus: Bus, offset: int, status: int) -> None:
    body = json.dumps(ADD_ROBOT).encode()
    resp = qq_webhook(signed(body, ts=str(int(time.time()) + offset)))
    assert resp["statusCode"] == status, resp["body"]
    assert len(bus.published()) == (status == 200)


@pytest.mark.parametrize("ts", ["abc", "1.5e9", "-5", "١٧٣٠٠٠٠٠٠٠", "0x6a", "9" * 21])
def test_qq_non_numeric_timestamp_is_401(qq_webhook: Call, bus: Bus, ts: str) -> None:
    resp = qq_webhook(signed(json.dumps(ADD_ROBOT).encode(), ts=ts))  # validly signed over it
    assert resp["statusCode"] == 401
    assert "digits only" in json.loads(resp["body"])["error"]
    assert bus.published() == []


def test_a_qq_replay_that_gets_through_is_handled_once(
    qq_webhook: Call, bus: Bus, template: Template, refs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = create_tables(template, boto3.client("dynamodb"), refs)
    monkeypatch.setenv("GROUPS_TABLE_NAME", tables["GroupsTable"])
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", tables["IdempotencyTable"])
    # Stamped as far ahead as allowed: its id must still be remembered at the last moment
    # a replay of it is accepted (stamp + MAX_AGE_SECONDS).
    ts = int(time.time()) + MAX_SKEW_SECONDS - 5
    request = signed(json.dumps(ADD_ROBOT).encode(), ts=str(ts))
    assert qq_webhook(request)["statusCode"] == 200
    assert qq_webhook(request)["statusCode"] == 200  # the replay
    original, replay = bus.published()
    key = lambda e: (e["detail"]["bot_id"], e["detail"]["event_id"])  # noqa: E731
    assert key(original) == key(replay) == (QQ_APPID, ADD_ROBOT["id"])

    handler = load_handler("qq_group_add_robot").lambda_handler
    dynamodb = boto3.client("dynamodb")
    handler(original, LocalContext(function_name="qq_group_add_robot"))
    groups = dynamodb.scan(TableName=tables["GroupsTable"])["Items"]
    handler(replay, LocalContext(function_name="qq_group_add_robot"))
    assert dynamodb.scan(TableName=tables["GroupsTable"])["Items"] == groups  # no second write
    # A state handler keeps no lock record: its conditional writes refuse the replay for good
    # (no expiry), so a replay accepted at the last moment (stamp + MAX_AGE_SECONDS) is harmless.
    assert dynamodb.scan(TableName=tables["IdempotencyTable"])["Items"] == []
    later = {**original, "detail": {**original["detail"]}}
    handler(later, LocalContext(function_name="qq_group_add_robot"))
    assert dynamodb.scan(TableName=tables["GroupsTable"])["Items"] == groups
    # Actions are performed once per id for IDEMPOTENCY_SECONDS: past the last accepted replay.
    assert ts + MAX_AGE_SECONDS <= int(time.time()) + IDEMPOTENCY_SECONDS


def test_onebot_resend_after_5_seconds_is_accepted_with_the_same_id(
    onebot_http: Call, bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONEBOT_SECRET", ONEBOT_SECRET)
    request = post({**BAN, "time": int(time.time()) - 5}, secret=ONEBOT_SECRET)
    assert onebot_http(request)["statusCode"] == 204
    assert onebot_http(request)["statusCode"] == 204  # go-cqhttp posts again when slow
    first, again = bus.published()
    assert first["detail"]["event_id"] == again["detail"]["event_id"]


@pytest.mark.parametrize(
    "when, why",
    [
        (946684800, "old"),
        (lambda: int(time.time()) - MAX_AGE_SECONDS - 60, "old"),
        (lambda: int(time.time()) + MAX_SKEW_SECONDS + 60, "future"),
        (None, "time: Field required"),
        ("1718000035", "old"),  # read as its model reads it
        (1.5, "envelope: time"),
    ],
)
def test_signed_onebot_event_outside_the_window_is_400(
    onebot_http: Call, bus: Bus, monkeypatch: pytest.MonkeyPatch, when: Any, why: str
) -> None:
    monkeypatch.setenv("ONEBOT_SECRET", ONEBOT_SECRET)
    payload = dict(BAN) if when is None else {**BAN, "time": when() if callable(when) else when}
    resp = onebot_http(post(payload, secret=ONEBOT_SECRET))
    assert resp["statusCode"] == 400
    assert why in json.loads(resp["body"])["error"]
    assert bus.published() == []


def test_unsigned_onebot_events_are_not_dated(onebot_http: Call, bus: Bus) -> None:
    # Without a secret nothing is authenticated: refusing old events would protect nothing.
    assert onebot_http(post({**BAN, "time": 946684800}))["statusCode"] == 204
    assert len(bus.published()) == 1


def test_allow_replays_turns_the_window_off(
    qq_webhook: Call, onebot_http: Call, bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QQBUS_ALLOW_REPLAYS", "true")
    monkeypatch.setenv("ONEBOT_SECRET", ONEBOT_SECRET)
    assert qq_webhook(signed(json.dumps(ADD_ROBOT).encode(), ts="946684800"))["statusCode"] == 200
    assert onebot_http(post({**BAN, "time": 946684800}, secret=ONEBOT_SECRET))["statusCode"] == 204
    assert qq_webhook(signed(json.dumps(ADD_ROBOT).encode(), ts="abc"))["statusCode"] == 401  # still digits
    assert len(bus.published()) == 2
