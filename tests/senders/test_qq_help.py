"""``/help`` on QQ with ``QqMarkdown=true``: markdown with a button per command, sent as QQ takes
it; with it off (and on OneBot), the text it always was."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from qqbus.actions import Action
from qqbus.example_commands import commands
from qqbus_dev.fake_apis import FakeQQApi
from qqbus_dev.lambda_context import LocalContext

from tests.conftest import BusTap
from tests.senders.conftest import Send
from tests.support import event_file, load_handler


def ask_help(event_bus: BusTap, handler: str = "qq_group_at_message_create", text: str = " /help") -> Action:
    event = copy.deepcopy(event_file(handler))
    payload = event["detail"]["payload"]
    if "d" in payload:
        payload["d"]["content"] = text
        payload["d"]["timestamp"] = int(time.time()) - 2
    else:
        payload["message"] = [{"type": "text", "data": {"text": text.strip()}}]
        payload["raw_message"] = text.strip()
        payload["time"] = int(time.time()) - 2
    load_handler(handler).lambda_handler(event, LocalContext(function_name=handler))
    (action,) = [Action.model_validate(e["detail"]) for e in event_bus.published("qqbus.action")]
    return action


def test_markdown_help_lists_the_commands_with_a_button_each(
    qq_send: Send, fake_qq: FakeQQApi, event_bus: BusTap, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QQBUS_QQ_MARKDOWN", "true")
    assert qq_send(ask_help(event_bus))["status"] == "sent"
    (request,) = fake_qq.messages()
    body: dict[str, Any] = request.body
    assert body["msg_type"] == 2 and "content" not in body
    content = body["markdown"]["content"]
    assert content.startswith("**Commands**") and "- `/ping` check that the bot answers" in content
    buttons = {b["id"]: b for row in body["keyboard"]["content"]["rows"] for b in row["buttons"]}
    assert {"ping", "help", "roll"} <= set(buttons)
    # no argument needed: a callback (the click runs /ping); arguments needed: typed in first
    assert (buttons["ping"]["action"]["type"], buttons["ping"]["action"]["data"]) == (1, "/ping")
    assert (buttons["roll"]["action"]["type"], buttons["roll"]["action"]["data"]) == (2, "/roll ")
    assert all(len(row["buttons"]) <= 5 for row in body["keyboard"]["content"]["rows"])
    assert "disable" not in buttons  # /help shows only what the caller may run (admins only)


@pytest.mark.parametrize("setting", ["false", ""])
def test_without_markdown_help_is_the_same_text_as_before(
    qq_send: Send, fake_qq: FakeQQApi, event_bus: BusTap, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    monkeypatch.setenv("QQBUS_QQ_MARKDOWN", setting)
    qq_send(ask_help(event_bus))
    (request,) = fake_qq.messages()
    assert request.body["msg_type"] == 0
    lines = request.body["content"].split("\n")
    assert lines[0] == commands.commands["ping"].line("/") and len(lines) >= 4


def test_onebot_help_stays_text_even_with_qq_markdown_on(
    event_bus: BusTap, aws_tables: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QQBUS_QQ_MARKDOWN", "true")
    action = ask_help(event_bus, "onebot_group_message", "/help")
    assert action.protocol == "onebot" and [s.type for s in action.message or []] == ["text"]


def test_help_for_one_command_stays_text(
    event_bus: BusTap, aws_tables: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QQBUS_QQ_MARKDOWN", "true")
    action = ask_help(event_bus, text=" /help roll")
    assert action.text == commands.commands["roll"].line("/")
