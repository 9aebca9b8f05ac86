"""The message handlers (extension points) and the log-and-count notice handlers, through the
test kit (the bot fixture: the template's rules pick the function, AWS is moto)."""

from __future__ import annotations

from typing import Any

import pytest
from qqbus_dev.testing import Bot, Received

LOG_ONLY = ["onebot_group_upload", "onebot_friend_add", "onebot_group_recall", "onebot_friend_recall"]


def deliver(bot: Bot, handler: str, event: dict[str, Any]) -> Received:
    """``event`` through the bus: it must reach ``handler`` (its rule), and no other."""
    result = bot.receive(event)
    assert [bot.function(name).spec.folder for name in result.functions] == [handler]
    return result


def test_group_message_normalises_segments(bot: Bot, sample: Any) -> None:
    result = deliver(bot, "onebot_group_message", sample("onebot_group_message"))
    assert result.value["segments"] == [
        {"type": "at", "data": {"qq": 123456789}},
        {"type": "text", "data": {"text": " /ping"}},
    ]
    assert result.value["mentions_bot"] is True
    log = next(line for line in result.logs if line.get("message") == "group message; command /ping")
    assert log["group_id"] == 987654321
    assert log["correlation_id"] == sample("onebot_group_message")["detail"]["event_id"]
    assert log["detail_type"] == "message.group" and log["bot_id"] == "123456789"
    assert result.metrics["EventsHandled"] == 1
    result.should_reply("pong", group_id=987654321)  # the example command it ships with


def test_group_message_from_a_few_fields(bot: Bot) -> None:
    result = bot.receive(bot.onebot.group_message("/ping", at_bot=True, group_id=5, user_id=6))
    assert result.value == {
        "segments": [
            {"type": "at", "data": {"qq": "123456789"}},
            {"type": "text", "data": {"text": "/ping"}},
        ],
        "mentions_bot": True,
    }
    reply = result.should_reply("pong", group_id=5)
    assert reply.action.action == "send_group_msg" and reply.action.params["group_id"] == 5
    assert reply.outcome.outcome == "sent" and result.texts == ["pong"]


def test_private_message_from_cq_string(bot: Bot, sample: Any) -> None:
    event = sample("onebot_private_message")
    event["detail"]["payload"]["message"] = "hi &#91;1&#93;[CQ:face,id=178]"
    result = deliver(bot, "onebot_private_message", event)
    assert result.value["segments"] == [
        {"type": "text", "data": {"text": "hi [1]"}},
        {"type": "face", "data": {"id": "178"}},
    ]
    result.should_not_reply()  # not a command


def test_private_ping_is_answered_privately(bot: Bot) -> None:
    result = bot.receive(bot.onebot.private_message("/ping", user_id=42))
    result.should_reply("pong", user_id=42)
    result.should_call("send_private_msg", user_id=42)


@pytest.mark.parametrize("name", LOG_ONLY)
def test_log_only_handlers_log_and_count(bot: Bot, sample: Any, name: str) -> None:
    event = sample(name)
    event["detail"]["payload"]["added_by_a_newer_implementation"] = {"x": 1}
    result = deliver(bot, name, event)
    info = [line for line in result.logs if line.get("level") == "INFO" and "correlation_id" in line]
    assert info and info[0]["correlation_id"] == event["detail"]["event_id"]
    assert result.metrics["EventsHandled"] == 1
    result.should_not_call()
    if name == "onebot_friend_add":  # the users table remembers friends
        result.should_write("users", user_id=str(event["detail"]["payload"]["user_id"]), friend=True)
    else:
        result.should_not_write()


@pytest.mark.parametrize("name", [*LOG_ONLY, "onebot_group_ban", "onebot_group_message"])
def test_a_payload_missing_a_required_field_is_reported_not_crashed(bot: Bot, sample: Any, name: str) -> None:
    event = sample(name)
    del event["detail"]["payload"]["user_id"]
    result = deliver(bot, name, event)
    assert result.status == "invalid" and "user_id" in (result.error or "")
    result.should_be_invalid("user_id")
    error = next(line for line in result.logs if line.get("level") == "ERROR")
    assert "user_id" in error["message"] and error["detail_type"] == event["detail-type"]
    assert result.metrics["InvalidEvents"] == 1
    result.should_not_call()


def test_something_that_is_not_an_eventbridge_event_fails_loudly(bot: Bot) -> None:
    with pytest.raises(ValueError, match="not an EventBridge event"):
        bot.function("onebot_friend_add").invoke({"body": "{}"})
