"""The reply API: what handlers ask for, with ids that survive retries."""

from __future__ import annotations

import copy
import time
from typing import Any

import boto3
import pytest
from qqbus.actions import Action, Outbox, Segment, make_action_id, to_message
from qqbus.events.onebot import GroupBan, GroupMessage, PrivateMessage
from qqbus.events.qq import C2CMessageCreate, GroupAddRobot, GroupAtMessageCreate
from qqbus_dev.lambda_context import LocalContext

from tests.conftest import BusTap
from tests.support import SAMPLES, event_file, load_handler, load_json


def test_action_ids_are_deterministic_per_function_event_and_index() -> None:
    ids = {make_action_id("b", "e", "f", i) for i in range(3)}
    assert len(ids) == 3
    assert make_action_id("b", "e", "f", 0) == make_action_id("b", "e", "f", 0)
    assert (
        len(
            {
                make_action_id("b", "e", "g", 0),
                make_action_id("b", "e2", "f", 0),
                make_action_id("c", "e", "f", 0),
            }
        )
        == 3
    )


def _box(detail_type: str, event_id: str = "e1", bot_id: str = "1") -> Outbox:
    return Outbox(bot_id=bot_id, event_id=event_id, detail_type=detail_type, function="f")


def test_replies_know_their_platform_target_and_what_they_answer() -> None:
    at = GroupAtMessageCreate.model_validate(
        load_json(SAMPLES / "qq" / "official_group_at_message_create.json")
    )
    c2c = C2CMessageCreate.model_validate(load_json(SAMPLES / "qq" / "official_c2c_message_create.json"))
    added = GroupAddRobot.model_validate(load_json(SAMPLES / "qq" / "official_group_add_robot.json"))
    group = GroupMessage.model_validate(event_file("onebot_group_message")["detail"]["payload"])
    private = PrivateMessage.model_validate(event_file("onebot_private_message")["detail"]["payload"])
    ban = GroupBan.model_validate(event_file("onebot_group_ban")["detail"]["payload"])
    cases: list[tuple[Any, str, dict[str, str], dict[str, Any]]] = [
        (
            at,
            "qq.group_message",
            {"group_id": at.d.group_openid},
            {"event_id": at.id, "message_id": at.d.id, "time": at.d.timestamp},
        ),
        (
            c2c,
            "qq.c2c_message",
            {"user_id": c2c.d.author.user_openid},
            {"event_id": c2c.id, "message_id": c2c.d.id, "time": c2c.d.timestamp},
        ),
        (
            added,
            "qq.group_message",
            {"group_id": added.d.group_openid},
            {"event_id": added.id, "message_id": None, "time": added.d.timestamp},
        ),
        (
            group,
            "onebot.send_group_msg",
            {"group_id": "987654321"},
            {"event_id": "e1", "message_id": "2002", "time": group.time},
        ),
        (
            private,
            "onebot.send_private_msg",
            {"user_id": "12345678"},
            {"event_id": "e1", "message_id": "12", "time": private.time},
        ),
        (
            ban,
            "onebot.send_group_msg",
            {"group_id": str(ban.group_id)},
            {"event_id": "e1", "message_id": None, "time": ban.time},
        ),
    ]
    for payload, detail_type, target, reply_to in cases:
        action = _box(type(payload).__name__).reply(payload, "pong")
        assert action.detail_type == detail_type, payload
        assert action.target.model_dump(exclude_none=True) == target
        assert {k: getattr(action.reply_to, k) for k in reply_to} == reply_to
        assert action.text == "pong"


def test_messages_are_text_segments_or_both() -> None:
    assert to_message("a [CQ:face,id=1]") == [Segment.text("a [CQ:face,id=1]")]  # text is never parsed
    assert to_message(["hi ", Segment.at(5)]) == [Segment.text("hi "), Segment.at(5)]
    with pytest.raises(TypeError):
        to_message([1, 2])  # type: ignore[list-item]
    box = _box("message.group")
    action = box.call("set_group_card", group_id=5, user_id=6, card="x")
    assert (action.detail_type, action.params, action.target.group_id) == (
        "onebot.set_group_card",
        {"group_id": 5, "user_id": 6, "card": "x"},
        "5",
    )
    sent = box.send_private("onebot", 7, [Segment.image("https://x/y.png")])
    assert sent.params == {"user_id": 7, "message": [{"type": "image", "data": {"file": "https://x/y.png"}}]}


def test_reply_outside_a_handler_says_how_to_use_it() -> None:
    from qqbus.handler import Delivered

    ev = Delivered[dict](bot_id="1", event_id="e", transport="webhook", received_at=0, payload={})
    with pytest.raises(RuntimeError, match="inside a @handler"):
        ev.reply("x")


def _ping_event() -> dict[str, Any]:
    event = copy.deepcopy(event_file("qq_group_at_message_create"))
    event["detail"]["payload"]["d"]["timestamp"] = int(time.time())
    return event


def test_a_handler_puts_its_actions_on_the_bus_once(aws_tables: dict[str, str], event_bus: BusTap) -> None:
    module = load_handler("qq_group_at_message_create")
    event = _ping_event()
    module.lambda_handler(event, LocalContext(function_name="at"))
    (asked,) = event_bus.published("qqbus.action")
    action = Action.model_validate(asked["detail"])
    assert (asked["detail-type"], action.text) == ("qq.group_message", "pong")
    assert action.origin is not None and action.origin.event_id == event["detail"]["event_id"]
    # A duplicate delivery runs the handler again (it keeps no lock record) and it asks for the
    # same action: the same id, which the sender performs once.
    module.lambda_handler(event, LocalContext(function_name="at"))
    (again,) = event_bus.published("qqbus.action")
    assert again["detail"]["action_id"] == asked["detail"]["action_id"]
    assert boto3.client("dynamodb").scan(TableName=aws_tables["IdempotencyTable"])["Items"] == []


def test_a_handler_that_cannot_publish_is_retried_and_asks_with_the_same_ids(
    aws_tables: dict[str, str], event_bus: BusTap, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qqbus import aws
    from qqbus.actions import ActionsNotPublished

    module = load_handler("qq_group_at_message_create")
    event = _ping_event()
    monkeypatch.setenv("EVENT_BUS_NAME", "no-such-bus")
    with pytest.raises(ActionsNotPublished):
        module.lambda_handler(event, LocalContext(function_name="at"))
    monkeypatch.setenv("EVENT_BUS_NAME", event_bus.name)
    aws.reset()
    module.lambda_handler(event, LocalContext(function_name="at"))  # Lambda's retry
    first = event_bus.published("qqbus.action")
    # A second, independent run of the same function on the same event (another container):
    aws.reset()
    load_handler("qq_group_at_message_create").lambda_handler(event, LocalContext(function_name="at"))
    second = event_bus.published("qqbus.action")
    assert [e["detail"]["action_id"] for e in first] == [e["detail"]["action_id"] for e in second]
    assert len(first) == 1
