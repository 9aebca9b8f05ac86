"""The sandbox's payloads are the platforms' own: they parse into the event models, and the text a
user types is exactly the text a command sees, whatever it holds."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from qqbus.commands import message_text
from qqbus.events.message import parse_cq
from qqbus.events.parse import parse_event
from qqbus.state import MUTED_UNTIL_LIFTED
from qqbus_dev.console import payloads
from qqbus_dev.console.payloads import NOTICES

NOW = 1_718_000_000.0
# What a person can type: any text, CQ look-alikes and escapes included, not only blank.
TYPED = st.text(min_size=1, max_size=200).filter(lambda t: t.strip())


def parsed(payload: dict) -> Any:
    """The payload through the wire (JSON) and the same parser the ingress uses."""
    event = parse_event(json.loads(json.dumps(payload, ensure_ascii=False)))
    assert event.problem is None, event.problem
    return event.model


@given(text=TYPED.filter(lambda t: not t.lstrip().startswith("<@")))  # that is how QQ writes a mention
def test_qq_group_at_message_text_is_what_was_typed(text: str) -> None:
    payload = payloads.qq_group_at_message(group_id="G" * 32, user_id="U" * 32, text=text, now=NOW)
    event = parsed(payload)
    assert type(event).__name__ == "GroupAtMessageCreate"
    assert message_text(event) == text.strip()
    assert event.d.timestamp == int(NOW)  # RFC 3339 in UTC+8, read back as the same second


@given(text=TYPED)
def test_qq_c2c_message_text_is_what_was_typed(text: str) -> None:
    event = parsed(payloads.qq_c2c_message(user_id="U" * 32, text=text, now=NOW))
    assert type(event).__name__ == "C2CMessageCreate"
    assert message_text(event) == text.strip()


@given(text=TYPED, mention=st.booleans())
def test_onebot_group_message_text_survives_segments_and_cq_codes(text: str, mention: bool) -> None:
    payload = payloads.onebot_group_message(
        self_id=123, group_id=456, user_id=789, nickname="n", text=text, mention=mention, now=NOW
    )
    event = parsed(payload)
    assert type(event).__name__ == "GroupMessage"
    assert message_text(event) == text.strip()
    assert (event.message[0].type == "at") is mention
    assert parse_cq(payload["raw_message"]) == event.message  # raw_message is the same message, escaped


@given(text=TYPED)
def test_onebot_private_message_text_is_what_was_typed(text: str) -> None:
    event = parsed(
        payloads.onebot_private_message(self_id=123, user_id=789, nickname="n", text=text, now=NOW)
    )
    assert type(event).__name__ == "PrivateMessage"
    assert message_text(event) == text.strip()


def test_two_identical_messages_are_two_events() -> None:
    """OneBot event ids hash the body: the same words twice must not be a duplicate."""
    args = {"self_id": 1, "group_id": 2, "user_id": 3, "nickname": "n", "text": "/ping", "mention": True}
    first = payloads.onebot_group_message(**args, now=NOW)
    second = payloads.onebot_group_message(**args, now=NOW)
    assert first != second and first["message_id"] != second["message_id"]
    qq = [payloads.qq_c2c_message(user_id="U", text="/ping", now=NOW) for _ in range(2)]
    assert qq[0]["id"] != qq[1]["id"] and qq[0]["d"]["id"] != qq[1]["d"]["id"]


@pytest.mark.parametrize("notice", [n for n in NOTICES if n.protocol == "qq"], ids=lambda n: n.kind)
def test_qq_notices_parse_as_their_events(notice: payloads.NoticeSpec) -> None:
    payload = payloads.qq_group_notice(notice.kind, group_id="G", operator_id="U", now=NOW)
    event = parsed(payload)
    assert payload["t"] == payload["id"].split(":")[0]
    assert event.d.group_openid == "G" and event.d.op_member_openid == "U" and event.d.timestamp == int(NOW)


EXPECTED_ONEBOT = {
    "join": ("GroupIncrease", {"sub_type": "invite", "user_id": 123}),
    "leave": ("GroupDecrease", {"sub_type": "leave", "user_id": 123, "operator_id": 123}),
    "kick": ("GroupDecrease", {"sub_type": "kick_me", "user_id": 123, "operator_id": 9}),
    "mute_bot": ("GroupBan", {"sub_type": "ban", "user_id": 123, "duration": 600}),
    "unmute_bot": ("GroupBan", {"sub_type": "lift_ban", "user_id": 123}),
    "mute_group": ("GroupBan", {"sub_type": "ban", "user_id": 0, "duration": 0}),
    "unmute_group": ("GroupBan", {"sub_type": "lift_ban", "user_id": 0}),
    "admin": ("GroupAdmin", {"sub_type": "set", "user_id": 123}),
    "unadmin": ("GroupAdmin", {"sub_type": "unset", "user_id": 123}),
}


@pytest.mark.parametrize("notice", [n for n in NOTICES if n.protocol == "onebot"], ids=lambda n: n.kind)
def test_onebot_notices_parse_as_their_events(notice: payloads.NoticeSpec) -> None:
    model, fields = EXPECTED_ONEBOT[notice.kind]
    payload = payloads.onebot_group_notice(notice.kind, self_id=123, group_id=456, operator_id=9, now=NOW)
    event = parsed(payload)
    assert type(event).__name__ == model
    assert {k: getattr(event, k) for k in fields} == fields


def test_a_whole_group_mute_is_stored_until_lifted(aws_tables: dict[str, str], context: object) -> None:
    """The group_ban handler reads the sandbox's whole-group mute as a mute with no end."""
    from qqbus.state import DynamoGroupStore

    from tests.support import bus_event, load_handler

    handler = load_handler("onebot_group_ban").lambda_handler
    payload = payloads.onebot_group_notice(
        "mute_group", self_id=123, group_id=456, operator_id=9, now=time.time()
    )
    detail = {
        "bot_id": "123",
        "event_id": "e-1",
        "transport": "http_post",
        "received_at": 1,
        "payload": payload,
    }
    handler(bus_event("onebot.v11", "notice.group_ban", detail), context)
    state = DynamoGroupStore(aws_tables["GroupsTable"]).get("123", "456")
    assert state is not None and state.group_muted_until == MUTED_UNTIL_LIFTED and state.muted_until is None


def test_every_notice_has_a_button_label_and_a_chat_line() -> None:
    assert len({(n.protocol, n.kind) for n in NOTICES}) == len(NOTICES)
    assert all(n.label and n.done for n in NOTICES)
    with pytest.raises(ValueError, match="no OneBot notice 'reject'"):
        payloads.onebot_group_notice("reject", self_id=1, group_id=2, operator_id=3, now=NOW)


@pytest.mark.parametrize("group_id", ["G" * 32, None])
def test_a_click_is_the_interaction_create_qq_pushes(group_id: str | None) -> None:
    payload = payloads.qq_interaction(
        appid="102000001", group_id=group_id, user_id="U" * 32, button_id="ping", button_data="/ping", now=NOW
    )
    event = parsed(payload)
    assert type(event).__name__ == "InteractionCreate"
    assert event.d.button_data == "/ping" and event.addressed_text == "/ping"
    chat = event.chat()
    assert chat is not None and chat.group_id == group_id and chat.user_id == "U" * 32
    assert event.d.id != payload["id"]  # what is acknowledged is d.id, not the envelope's id


def test_the_message_id_a_quote_or_a_recall_names() -> None:
    qq = payloads.qq_c2c_message(user_id="U" * 32, text="hi", now=NOW)
    ob = payloads.onebot_private_message(
        self_id=1, user_id=2, nickname="n", text="hi", now=NOW, message_id=-5
    )
    assert payloads.message_id_of(qq) == qq["d"]["id"]
    assert payloads.message_id_of(ob) == "-5"
    assert (
        payloads.message_id_of(payloads.qq_group_notice("join", group_id="G", operator_id="U", now=NOW))
        is None
    )
