"""Events answer for themselves: protocol, chat, whether the bot is addressed, what it was told."""

from __future__ import annotations

import time
from typing import Any

import pytest
from qqbus.events.chat import Chat, ChatEvent, MessageLikeEvent
from qqbus.events.onebot import parse_onebot
from qqbus.events.qq import parse_qq

from tests.support import SAMPLES, load_json

SELF = 10001


def _onebot(message: Any, message_type: str = "group", **extra: Any) -> Any:
    payload = {
        "time": int(time.time()),
        "self_id": SELF,
        "post_type": "message",
        "message_type": message_type,
        "sub_type": "normal",
        "message_id": 77,
        "user_id": 42,
        "message": message,
        **extra,
    }
    if message_type == "group":
        payload.setdefault("group_id", 900)
    return parse_onebot(payload)


def test_qq_events_name_their_chat_and_what_to_cite() -> None:
    added = parse_qq(load_json(SAMPLES / "qq" / "official_group_add_robot.json"))
    assert added.protocol == "qq" and isinstance(added, ChatEvent)
    assert added.chat() == Chat(
        "qq", added.d.group_openid, None, None, event_id=added.id, time=added.d.timestamp
    )
    message = parse_qq(load_json(SAMPLES / "qq" / "official_group_at_message_create.json"))
    chat = message.chat()
    assert (
        chat is not None
        and chat.message_id == message.d.id
        and chat.user_id == message.d.author.member_openid
    )
    assert chat.key == f"group:{message.d.group_openid}"
    c2c = parse_qq(load_json(SAMPLES / "qq" / "official_c2c_message_create.json"))
    chat = c2c.chat()
    assert chat is not None and chat.group_id is None and chat.user_id == c2c.d.author.user_openid
    assert chat.key == f"user:{c2c.d.author.user_openid}"
    assert isinstance(c2c, MessageLikeEvent) and c2c.to_me and c2c.sender_role is None
    # A type without a model (its d stays a dict) has no chat rather than a guess.
    unknown = parse_qq({"op": 0, "t": "SOMETHING_NEW", "id": "x", "d": {"group_openid": "g"}})
    assert unknown.chat() is None and not isinstance(unknown, MessageLikeEvent)


def test_qq_addressed_text_drops_only_the_bots_mention() -> None:
    raw = load_json(SAMPLES / "qq" / "official_group_at_message_create.json")
    raw["d"]["content"] = " /whois <@!abc123> now"
    message = parse_qq(raw)
    assert message.addressed_text == "/whois <@!abc123> now"
    assert message.addressed_pieces() == [("/whois ", False), ("abc123", True), (" now", False)]


@pytest.mark.parametrize(
    "message, to_me, text",
    [
        (
            [{"type": "at", "data": {"qq": str(SELF)}}, {"type": "text", "data": {"text": " /ping"}}],
            True,
            "/ping",
        ),
        ([{"type": "at", "data": {"qq": "all"}}, {"type": "text", "data": {"text": " hi"}}], False, "hi"),
        ("/ping", False, "/ping"),
        ("[CQ:reply,id=5][CQ:at,qq=10001] /roll 2d6", True, "/roll 2d6"),
        (
            [{"type": "text", "data": {"text": "see "}}, {"type": "at", "data": {"qq": str(SELF)}}],
            True,
            "see",
        ),
    ],
)
def test_onebot_group_messages_know_when_they_are_to_the_bot(message: Any, to_me: bool, text: str) -> None:
    event = _onebot(message)
    assert event.protocol == "onebot" and event.to_me is to_me and event.addressed_text == text
    assert event.chat() == Chat("onebot", "900", "42", "77", time=event.time)


def test_onebot_private_messages_are_always_to_the_bot_and_have_no_group() -> None:
    event = _onebot("hello", "private", group_id=123)  # a stray group_id on a private message
    assert event.to_me and event.chat() == Chat("onebot", None, "42", "77", time=event.time)


def test_the_sender_role_is_the_members_unless_anonymous() -> None:
    assert _onebot("x", sender={"role": "ADMIN"}).sender_role == "admin"
    assert _onebot("x", sender={"role": "owner"}, anonymous={"id": 1, "name": "a"}).sender_role is None
    assert _onebot("x", "private").sender_role is None


def test_notices_name_their_group_and_meta_events_none() -> None:
    now = int(time.time())
    ban = parse_onebot(
        {
            "time": now,
            "self_id": SELF,
            "post_type": "notice",
            "notice_type": "group_ban",
            "sub_type": "ban",
            "group_id": 5,
            "operator_id": 6,
            "user_id": 7,
            "duration": 60,
        }
    )
    assert ban.chat() == Chat("onebot", "5", "7", time=now)
    poke = parse_onebot(  # notify.poke: group_id is optional (absent for a private poke)
        {
            "time": now,
            "self_id": SELF,
            "post_type": "notice",
            "notice_type": "notify",
            "sub_type": "poke",
            "group_id": 8,
            "user_id": 9,
            "target_id": SELF,
        }
    )
    assert poke.chat() == Chat("onebot", "8", "9", time=now)
    beat = parse_onebot(
        {"time": now, "self_id": SELF, "post_type": "meta_event", "meta_event_type": "heartbeat"}
    )
    assert beat.chat() is None
