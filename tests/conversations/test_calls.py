"""The DynamoDB calls conversations and cooldowns add per message event (README, "What it costs"),
counted on the function's own client (moto): only calls to the bot data table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from qqbus import aws
from qqbus.commands import CommandCall, Commands

from tests.commands.conftest import delivered
from tests.conversations.conftest import Say, run

T0 = 1_750_000_000


@pytest.fixture
def calls(bot_table: str) -> Callable[[], list[str]]:
    """The operations on the bot data table since the last call."""
    seen: list[str] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        if params.get("TableName") == bot_table:
            seen.append(model.name)

    aws.client("dynamodb").meta.events.register("before-parameter-build.dynamodb", record)

    def taken() -> list[str]:
        got = list(seen)
        seen.clear()
        return got

    return taken


def test_conversation_calls_per_message(say: Say, calls: Callable[[], list[str]]) -> None:
    say("onebot_group", "just chatting", user=1, at=T0)
    assert calls() == ["GetItem"]  # is the sender waiting?
    say("onebot_group", "/ping", user=1, at=T0)
    assert calls() == []  # a command: no conversation lookup
    say("onebot_group", "/guess", user=1, at=T0)
    assert calls() == ["GetItem", "PutItem"]
    say("onebot_group", "50", user=1, at=T0 + 1)
    assert calls() == ["GetItem", "PutItem"]  # a turn
    say("onebot_group", "chatter", user=1, at=T0 + 2)
    assert calls() == ["GetItem"]  # not a turn: nothing written
    say("onebot_group", "/cancel", user=1, at=T0 + 3)
    assert calls() == ["GetItem", "PutItem"]


def test_cooldown_calls_per_command(bot_table: str, calls: Callable[[], list[str]]) -> None:
    commands = Commands(switches=False)

    @commands.command("daily", help="daily", cooldown=60)
    def daily(call: CommandCall) -> None:
        call.reply("claimed")

    run(commands, delivered("onebot_private", "/daily", at=T0))
    assert calls() == ["UpdateItem"]
    run(commands, delivered("onebot_private", "/daily", at=T0))
    assert calls() == ["UpdateItem", "GetItem", "UpdateItem"]  # cooling: read, then "told once"
