"""``cooldown=`` on a command: per user, kept in the bot data table (moto), "wait Ns" once."""

from __future__ import annotations

import time

import pytest
from qqbus.commands import CommandCall, Commands

from tests.commands.conftest import delivered
from tests.conversations.conftest import run

T0 = 1_750_000_000


def _commands() -> Commands:
    commands = Commands(switches=False)

    @commands.command("daily", help="claim your daily points", cooldown=30)
    def daily(call: CommandCall) -> None:
        call.reply("claimed")

    @commands.command("free", help="no cooldown")
    def free(call: CommandCall) -> None:
        call.reply("free")

    return commands


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [float(T0)]
    monkeypatch.setattr(time, "time", lambda: now[0])
    return now


def test_a_second_call_within_the_cooldown_gets_wait_once_then_silence(
    bot_table: str, clock: list[float]
) -> None:
    commands = _commands()

    def say(text: str, user: int = 1) -> list[str]:
        return run(commands, delivered("onebot_group", text, user=user, at=int(clock[0]))).texts

    assert say("/daily") == ["claimed"]
    clock[0] += 10
    assert say("/daily") == ["wait 20s before /daily again"]
    assert say("/daily") == []  # told once: no spam, no error
    assert say("/daily", user=2) == ["claimed"]  # per user
    assert say("/free") == ["free"]  # other commands have none
    clock[0] += 21
    assert say("/daily") == ["claimed"]
    assert say("/daily") == ["wait 30s before /daily again"]


def test_a_retried_run_of_the_call_that_started_it_runs_again(bot_table: str, clock: list[float]) -> None:
    commands = _commands()
    ev = delivered("qq_c2c", "/daily", at=T0)
    first, retried = run(commands, ev), run(commands, ev)
    assert first.texts == retried.texts == ["claimed"]
    assert first.actions[0].action_id == retried.actions[0].action_id  # the sender sends it once


def test_a_wrong_call_does_not_start_the_cooldown(bot_table: str, clock: list[float]) -> None:
    commands = Commands(switches=False)

    @commands.command("pay", help="pay someone", cooldown=60)
    def pay(call: CommandCall, amount: int) -> None:
        call.reply(f"paid {amount}")

    assert run(commands, delivered("onebot_private", "/pay lots", at=T0)).text.startswith("'lots'")
    assert run(commands, delivered("onebot_private", "/pay 5", at=T0)).text == "paid 5"


def test_without_a_table_there_is_no_cooldown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOT_DATA_TABLE_NAME", raising=False)
    commands = _commands()
    texts = [run(commands, delivered("onebot_private", "/daily", at=T0)).text for _ in range(2)]
    assert texts == ["claimed", "claimed"]
