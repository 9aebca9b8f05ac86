"""QQ group @-messages and C2C messages: text without the bot's mention, attachments, extra fields."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from qqbus.commands import message_text
from qqbus.events.parse import parse_event
from qqbus.events.qq import C2CMessageCreate, GroupAtMessageCreate

from tests.support import SAMPLES, load_json


def at_message(**d: Any) -> dict[str, Any]:
    raw = copy.deepcopy(load_json(SAMPLES / "qq" / "official_group_at_message_create.json"))
    raw["d"].update(d)
    return raw


@pytest.mark.parametrize(
    "content, mentions, text",
    [
        (" 123", [], "123"),  # the platform removed the mention and left its space
        (" /ping", [], "/ping"),
        ("<@!BOTID> /ping", [{"member_openid": "BOTID", "is_you": True}], "/ping"),
        ("<@BOTID>/ping", [], "/ping"),  # an unmarked leading mention is the bot's (it was @-ed)
        ("<@OTHER> /ping", [{"member_openid": "BOTID", "is_you": True}], "<@OTHER> /ping"),
        ("/echo <@OTHER>", [], "/echo <@OTHER>"),  # mentions later in the text stay
        ("", [], ""),
    ],
)
def test_text_is_content_without_the_bots_own_mention(content: str, mentions: list[Any], text: str) -> None:
    message = GroupAtMessageCreate.model_validate(at_message(content=content, mentions=mentions))
    assert message.d.text == text
    assert message_text(message) == text


def test_attachments_and_unknown_fields_are_kept() -> None:
    raw = at_message(
        attachments=[
            {
                "content_type": "image/jpeg",
                "filename": "a.jpg",
                "url": "https://x/a.jpg",
                "size": 12,
                "width": 3,
            },
            {"content_type": "file", "url": "https://x/b.bin", "added_later": True},
            {},
        ],
        message_scene={"source": "default"},
        author={"member_openid": "M", "union_openid": "U", "member_role": "owner"},
    )
    message = GroupAtMessageCreate.model_validate(raw)
    first, second, third = message.d.attachments
    assert (first.content_type, first.url, first.size, first.width, first.height) == (
        "image/jpeg",
        "https://x/a.jpg",
        12,
        3,
        None,
    )
    assert second.model_extra == {"added_later": True} and third.url is None
    assert message.d.model_extra == {"message_scene": {"source": "default"}}
    assert message.d.author.model_extra == {"member_role": "owner"}


def test_message_times_are_rfc3339_and_c2c_text_is_stripped() -> None:
    raw = load_json(SAMPLES / "qq" / "official_c2c_message_create.json")
    raw["d"]["content"] = "  /ping \n"
    message = C2CMessageCreate.model_validate(raw)
    assert message.d.timestamp == 1699249038  # 2023-11-06T13:37:18+08:00
    assert message.d.text == "/ping"


def test_a_message_missing_its_required_fields_parses_to_the_envelope_with_the_problem() -> None:
    raw = at_message()
    del raw["d"]["group_openid"]
    parsed = parse_event(raw)
    assert parsed.detail_type == "GROUP_AT_MESSAGE_CREATE"
    assert parsed.problem and "group_openid" in parsed.problem
