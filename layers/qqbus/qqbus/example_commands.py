"""The commands every message handler ships with: copy this module to start your own.

``/ping`` answers ``pong``; ``/help`` lists the commands; ``/echo <text>`` says the text back;
``/roll NdM`` rolls dice; ``/id [@user]`` tells a user's id (for ``QQBUS_COMMAND_ADMINS``).
``/disable`` and ``/enable`` come with ``Commands()``. They behave the same on QQ (group
@-messages and C2C) and OneBot (group and private messages).

A command is a function of typed arguments: its signature is parsed, checked, and shown as the
usage line (see ``qqbus.commands``).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import ClassVar

from qqbus.commands import CommandCall, Commands, Rest, User

# From os.urandom on each call: environments resumed from one SnapStart snapshot would
# otherwise share the random module's state and draw the same numbers.
_dice = random.SystemRandom()

commands = Commands()


@commands.command("ping", help="check that the bot answers")
def ping(call: CommandCall) -> None:
    call.reply("pong")


@commands.command("help", help="list the commands, or show one: /help roll")
def help_(call: CommandCall, command: str | None = None) -> None:
    call.reply(commands.help_text(call, command))


@commands.command("echo", help="say the text back")
def echo(call: CommandCall, text: Rest) -> None:
    call.reply(text)


@dataclass(frozen=True)
class Dice:
    """``NdM``: N dice (1 to 100; ``d6`` is one) of M sides (2 to 1000). An argument type:
    the router calls ``parse`` with the word typed and shows ``metavar`` in the usage line."""

    count: int
    sides: int
    metavar: ClassVar[str] = "NdM"

    @classmethod
    def parse(cls, text: str) -> Dice:
        found = re.fullmatch(r"([0-9]{0,3})[dD]([0-9]{1,4})", text)
        if not found:
            raise ValueError("expected dice like 2d6")
        dice = cls(int(found[1] or 1), int(found[2]))
        if not (1 <= dice.count <= 100 and 2 <= dice.sides <= 1000):
            raise ValueError("1 to 100 dice of 2 to 1000 sides")
        return dice


@commands.command("roll", help="roll dice, e.g. /roll 2d6", aliases=("r",))
def roll(call: CommandCall, dice: Dice) -> None:
    rolls = [_dice.randint(1, dice.sides) for _ in range(dice.count)]
    shown = " + ".join(map(str, rolls)) + " = " if 1 < len(rolls) <= 20 else ""
    call.reply(f"{dice.count}d{dice.sides}: {shown}{sum(rolls)}")


@commands.command("id", help="your id, or a mentioned user's")
def id_(call: CommandCall, user: User | None = None) -> None:
    call.reply(f"id: {user.id}" if user else f"your id: {call.user_id}")
