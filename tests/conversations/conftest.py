"""Conversation and bot-data tests: the template's tables on moto, the bot data table named."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from qqbus.actions import Outbox, collecting
from qqbus.bot_data import BOT_DATA_TABLE_ENV, BotData
from qqbus.commands import Commands
from qqbus.handler import Delivered

from tests.commands.conftest import Run, delivered


@pytest.fixture
def bot_table(aws_tables: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    """The template's BotDataTable on moto, named by ``BOT_DATA_TABLE_NAME`` as deployed."""
    monkeypatch.setenv(BOT_DATA_TABLE_ENV, aws_tables["BotDataTable"])
    monkeypatch.delenv("QQBUS_COMMAND_ADMINS", raising=False)
    return aws_tables["BotDataTable"]


@pytest.fixture
def data(bot_table: str) -> BotData:
    return BotData(bot_table)


def run(commands: Commands, ev: Delivered[Any]) -> Run:
    """``commands.handle(ev)`` in a handler run of its own: what it took, what it asked for."""
    outbox = Outbox(bot_id=ev.bot_id, event_id=ev.event_id, detail_type="test", function="test")
    with collecting(outbox):
        handled = commands.handle(ev)
    return Run(handled, outbox.actions)


Say = Callable[..., Run]


@pytest.fixture
def say(bot_table: str) -> Say:
    """``say(kind, message, **delivered_args)``: the shipped commands (and /guess) on one message."""
    from qqbus.example_commands import commands

    return lambda kind, message, **kw: run(commands, delivered(kind, message, **kw))
