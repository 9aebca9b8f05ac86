"""The commands every message handler ships with: copy this module to start your own.

``/ping`` answers ``pong``; ``/help`` lists the commands. They behave the same on QQ (group
@-messages and C2C) and OneBot (group and private messages).
"""

from __future__ import annotations

from qqbus.commands import CommandCall, Commands

commands = Commands()


@commands.command("ping", help="check that the bot answers")
def ping(call: CommandCall) -> None:
    call.reply("pong")


@commands.command("help", help="list the commands")
def help_(call: CommandCall) -> None:
    call.reply(commands.help_text())
