"""The EventBridge contract (``qqbus.detail``): the detail every event carries, its PutEvents
entry, the size EventBridge counts, the event ids, and the reply API handlers call on it."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import pytest
from qqbus.actions import Outbox, collecting
from qqbus.detail import (
    MAX_DETAIL_TYPE_CHARS,
    TRANSPORTS,
    BusEvent,
    build_detail,
    build_entry,
    detail_type_problem,
    event_entry,
    json_text,
    now_ms,
    onebot_event_id,
    utf8_safe,
)
from qqbus.events.onebot import GroupMessage
from qqbus.events.qq import GroupAtMessageCreate
from qqbus.handler import Delivered
from qqbus.publish import entry_size

from tests.support import SAMPLES, event_file, load_json

# --- the detail and its entry ------------------------------------------------------------------


def test_the_detail_has_exactly_the_contracts_fields() -> None:
    number: Any = 102000001  # an int, as a OneBot self_id comes
    detail = build_detail(
        bot_id=number, event_id="E:1", transport="webhook", payload={"a": [1]}, received_at=1700000000123
    )
    assert detail == {
        "bot_id": "102000001",  # a string, whatever the caller passed
        "event_id": "E:1",
        "transport": "webhook",
        "received_at": 1700000000123,
        "payload": {"a": [1]},
    }
    assert list(detail) == ["bot_id", "event_id", "transport", "received_at", "payload"]


def test_received_at_is_now_in_milliseconds_unless_given() -> None:
    before = int(time.time() * 1000)
    stamped = build_detail(bot_id="1", event_id="e", transport="websocket", payload={})["received_at"]
    after = int(time.time() * 1000)
    assert before <= stamped <= after
    assert before <= now_ms() <= int(time.time() * 1000)
    # A given time is kept, zero included (the epoch is a time, not "unset").
    assert (
        build_detail(bot_id="1", event_id="e", transport="websocket", payload={}, received_at=0)[
            "received_at"
        ]
        == 0
    )


def test_the_entry_is_source_type_compact_detail_and_bus() -> None:
    entry = build_entry(
        source="qq.official", detail_type="T", detail={"k": "中文", "n": [1, 2]}, bus_name="b"
    )
    assert entry == {
        "Source": "qq.official",
        "DetailType": "T",
        "Detail": '{"k":"中文","n":[1,2]}',  # compact, non-ASCII kept as it is
        "EventBusName": "b",
    }


def test_event_entry_is_the_detail_inside_the_entry() -> None:
    entry = event_entry(
        source="onebot.v11",
        detail_type="notice.group_ban",
        bot_id="42",
        event_id="h",
        transport="reverse_ws",
        payload={"x": 1},
        bus_name="qqbus",
    )
    detail = json.loads(entry["Detail"])
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == (
        "onebot.v11",
        "notice.group_ban",
        "qqbus",
    )
    assert {k: v for k, v in detail.items() if k != "received_at"} == {
        "bot_id": "42",
        "event_id": "h",
        "transport": "reverse_ws",
        "payload": {"x": 1},
    }
    assert abs(detail["received_at"] - now_ms()) < 60_000


def test_json_text_writes_a_lone_surrogate_as_its_escape_and_nothing_else_differently() -> None:
    assert json_text({"t": "a\ud83db"}) == '{"t":"a\\ud83db"}'
    assert json_text({"t": '😀 中 \\ " \n'}) == '{"t":"😀 中 \\\\ \\" \\n"}'
    assert json_text([1, 2.5, None, True]) == "[1,2.5,null,true]"
    text = json_text({"cut": "\udc00\ud83d"})
    text.encode("utf-8")  # always encodable
    assert json.loads(text) == {"cut": "\udc00\ud83d"}  # the same value comes back


def test_utf8_safe_escapes_only_lone_surrogates() -> None:
    assert utf8_safe("plain 中文 😀") == "plain 中文 😀"
    assert utf8_safe("a\ud83db") == "a\\ud83db"
    assert utf8_safe("\udfff") == "\\udfff"
    assert utf8_safe("") == ""


# --- sizes: what EventBridge counts ------------------------------------------------------------


def test_entry_size_counts_utf8_bytes_of_source_type_and_detail_plus_14() -> None:
    entry = {"Source": "abc", "DetailType": "中", "Detail": "😀", "EventBusName": "a-very-long-bus-name"}
    assert entry_size(entry) == 14 + 3 + 3 + 4  # the bus name is not counted
    assert entry_size({}) == 14
    assert entry_size({"Source": "s"}) == 15
    assert entry_size({"Source": "s", "DetailType": "t", "Detail": "d", "Resources": ["x" * 99]}) == 17


def test_entry_size_never_raises_on_a_lone_surrogate() -> None:
    assert entry_size({"Source": "s", "DetailType": "\ud83d", "Detail": "{}"}) == 14 + 1 + 3 + 2


def test_entry_size_is_the_size_of_a_built_entry() -> None:
    entry = build_entry(source="qq.official", detail_type="GROUP", detail={"t": "中" * 10}, bus_name="b")
    expected = 14 + len(b"qq.official") + len(b"GROUP") + len(entry["Detail"].encode("utf-8"))
    assert entry_size(entry) == expected


# --- event ids ---------------------------------------------------------------------------------


def test_a_onebot_event_id_is_the_sha256_of_the_raw_body() -> None:
    body = b'{"post_type":"notice","time":1}'
    assert onebot_event_id(body) == hashlib.sha256(body).hexdigest()
    assert onebot_event_id(body) == onebot_event_id(bytes(body))  # a resend: the same id
    assert onebot_event_id(body + b" ") != onebot_event_id(body)  # other bytes: another event
    assert len(onebot_event_id(b"")) == 64


# --- detail-types: what the bus can route ------------------------------------------------------


@pytest.mark.parametrize(
    "detail_type, problem",
    [
        ("GROUP_AT_MESSAGE_CREATE", None),
        ("x" * MAX_DETAIL_TYPE_CHARS, None),
        ("A\u2028B", None),
        ("message.群", None),
        ("x" * (MAX_DETAIL_TYPE_CHARS + 1), "is over the bus's 128 characters"),
        ("\ud83d", "is not valid Unicode"),
        ("a\x00", "has a control character"),
        ("a\x1f", "has a control character"),
        ("a\x7f", "has a control character"),
        ("a\x85", "has a control character"),
        ("a\x9f", "has a control character"),
        ("a\xa0", None),  # a no-break space is no control character
    ],
)
def test_detail_type_problem(detail_type: str, problem: str | None) -> None:
    found = detail_type_problem(detail_type)
    assert (found is None) == (problem is None), found
    if problem is not None:
        assert found is not None and problem in found and found.startswith("event type ")


def test_transports_are_the_four_ways_in() -> None:
    assert TRANSPORTS == ("webhook", "websocket", "http_post", "reverse_ws")


# --- the models --------------------------------------------------------------------------------


def test_a_bus_event_reads_the_wire_names() -> None:
    event = BusEvent.model_validate(
        {"detail-type": "T", "source": "s", "detail": {"a": 1}, "replay-name": "r", "other": 5}
    )
    assert (event.detail_type, event.source, event.detail, event.replay_name) == ("T", "s", {"a": 1}, "r")
    assert event.model_extra == {"other": 5}
    plain = BusEvent.model_validate({"detail-type": "T", "source": "s", "detail": {}})
    assert (plain.version, plain.replay_name, plain.resources) == ("0", None, [])
    assert BusEvent(detail_type="T", source="s", detail={}).detail_type == "T"  # by field name too


def test_delivered_keeps_extra_fields_and_types_the_payload() -> None:
    raw = load_json(SAMPLES / "qq" / "official_group_at_message_create.json")
    ev = Delivered[GroupAtMessageCreate].model_validate(
        {"bot_id": "1", "event_id": "e", "transport": "webhook", "received_at": 5, "payload": raw, "x": 1}
    )
    assert isinstance(ev.payload, GroupAtMessageCreate) and ev.model_extra == {"x": 1}


# --- the reply API: one call on the event, an action in the handler's outbox --------------------


def _onebot_group() -> Delivered[GroupMessage]:
    detail = event_file("onebot_group_message")["detail"]
    return Delivered[GroupMessage].model_validate(detail)


def _qq_at() -> Delivered[GroupAtMessageCreate]:
    raw = load_json(SAMPLES / "qq" / "official_group_at_message_create.json")
    return Delivered[GroupAtMessageCreate](
        bot_id="102000001", event_id="AT:1", transport="webhook", received_at=0, payload=raw
    )


def _outbox(ev: Delivered[Any]) -> Outbox:
    return Outbox(bot_id=ev.bot_id, event_id=ev.event_id, detail_type="t", function="f")


def test_each_reply_call_adds_one_action_to_the_handlers_outbox() -> None:
    ev = _onebot_group()
    with collecting(_outbox(ev)) as box:
        replied = ev.reply("pong")
        quoted = ev.reply("again", quote=True)
        group = ev.send_group(5, "to a group")
        private = ev.send_private("6", "to a user")
        called = ev.call("set_group_ban", group_id=7, user_id=8, duration=60)
    assert box.actions == [replied, quoted, group, private, called]
    assert [a.detail_type for a in box.actions] == [
        "onebot.send_group_msg",
        "onebot.send_group_msg",
        "onebot.send_group_msg",
        "onebot.send_private_msg",
        "onebot.set_group_ban",
    ]
    assert replied.target.group_id == str(ev.payload.group_id) and replied.text == "pong"
    assert quoted.params["message"][0] == {"type": "reply", "data": {"id": str(ev.payload.message_id)}}
    assert (group.params["group_id"], private.params["user_id"]) == (5, 6)
    assert called.params == {"group_id": 7, "user_id": 8, "duration": 60}
    assert [a.origin.index for a in box.actions if a.origin] == [0, 1, 2, 3, 4]


def test_a_qq_event_sends_on_qq_and_a_onebot_event_on_onebot() -> None:
    qq, onebot = _qq_at(), _onebot_group()
    with collecting(_outbox(qq)):
        qq_group, qq_user = qq.send_group("G", "x"), qq.send_private("U", "y")
    with collecting(_outbox(onebot)):
        ob_group = onebot.send_group(5, "x")
    assert (qq_group.protocol, qq_group.action, qq_group.target.group_id) == ("qq", "group_message", "G")
    assert (qq_user.protocol, qq_user.action, qq_user.target.user_id) == ("qq", "c2c_message", "U")
    assert (ob_group.protocol, ob_group.action) == ("onebot", "send_group_msg")


def test_a_qq_reply_answers_the_message_it_replies_to() -> None:
    ev = _qq_at()
    with collecting(_outbox(ev)):
        action = ev.reply("pong")
    assert (action.detail_type, action.target.group_id) == ("qq.group_message", ev.payload.d.group_openid)
    assert action.reply_to is not None and action.reply_to.message_id == ev.payload.d.id


@pytest.mark.parametrize("call", ["reply", "send_group", "send_private", "call"])
def test_outside_a_handler_each_call_says_where_it_works(call: str) -> None:
    ev = _onebot_group()
    args: dict[str, tuple[Any, ...]] = {
        "reply": ("x",),
        "send_group": (1, "x"),
        "send_private": (1, "x"),
        "call": ("get_status",),
    }
    with pytest.raises(RuntimeError, match="inside a @handler"):
        getattr(ev, call)(*args[call])
