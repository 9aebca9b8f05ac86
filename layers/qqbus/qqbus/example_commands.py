"""The commands every message handler ships with: copy this module to start your own.

``/ping`` answers ``pong``; ``/help`` lists the commands; ``/echo <text>`` says the text back;
``/roll NdM`` rolls dice; ``/id [@user]`` tells a user's id (for ``QQBUS_COMMAND_ADMINS``);
``/whois [@user]`` (OneBot groups) asks the OneBot API and answers with what it said (a query
and its step, ``qqbus.queries``); ``/remind <n>s|m|h|d <text>`` posts the text after the delay
(a one-time schedule, ``qqbus.schedules``).
``/guess`` plays a number game over several messages (a conversation, ``qqbus.conversations``;
``/cancel`` ends it). ``/disable`` and ``/enable`` come with ``Commands()``. They behave the same on QQ (group
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
from qqbus.conversations import Conversations, Turn
from qqbus.help_markdown import help_markdown, qq_markdown
from qqbus.observability import logger, note
from qqbus.queries import Answer, GroupMemberInfo
from qqbus.schedules import MAX_DELAY_S, Fired, SchedulesNotSetUp, later
from qqbus.steps import step

# From os.urandom on each call: environments resumed from one SnapStart snapshot would
# otherwise share the random module's state and draw the same numbers.
_dice = random.SystemRandom()

conversations = Conversations()
commands = Commands(conversations=conversations)


@commands.command("ping", help="check that the bot answers")
def ping(call: CommandCall) -> None:
    call.reply("pong")


@commands.command("help", help="list the commands, or show one: /help roll")
def help_(call: CommandCall, command: str | None = None) -> None:
    if command is None and call.protocol == "qq" and qq_markdown():  # QqMarkdown=true
        call.reply(help_markdown(commands, call))  # markdown, a button per command
        return
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


# --- /whois: a query with an answer (qqbus.queries) -------------------------------------------


@commands.command("whois", help="a member's nickname (or card) and role (OneBot groups)", groups_only=True)
def whois(call: CommandCall, user: User | None = None) -> None:
    if call.protocol != "onebot" or call.group_id is None:
        call.reply("/whois works in OneBot groups")
        return
    who = user.id if user else str(call.user_id)
    call.ev.call(
        "get_group_member_info",
        group_id=int(call.group_id),
        user_id=int(who),
        no_cache=True,
        then="whois.answer",
        state={"user_id": who},
    )


@step("whois.answer")
def whois_answer(answer: Answer) -> None:
    """The answer to /whois: nickname (and card) and role, or why there is none."""
    who = str(answer.state.get("user_id", "?"))
    member = answer.data
    if not answer.ok:
        answer.reply(f"cannot look up {who}: {answer.why}")
    elif not isinstance(member, GroupMemberInfo) or member.user_id is None:
        answer.reply(f"cannot look up {who}: the OneBot API answered without member data")
    else:
        card = f" (card: {member.card})" if member.card else ""
        answer.reply(
            f"{who}: {member.nickname or member.display_name}{card}, role: {member.role or 'member'}"
        )


# --- /guess: a conversation over several messages (qqbus.conversations) -------------------------

GUESS_LOW, GUESS_HIGH = 1, 100


@commands.command("guess", help=f"guess my number ({GUESS_LOW} to {GUESS_HIGH}); /cancel stops")
def guess(call: CommandCall) -> None:
    try:
        conversations.start(call.ev, "guess", {"secret": _dice.randint(GUESS_LOW, GUESS_HIGH)})
    except RuntimeError:  # this function has no bot data table
        call.reply("/guess is not set up here (no bot data table)")
        return
    call.reply(f"I picked a number from {GUESS_LOW} to {GUESS_HIGH}. Guess it!")


@conversations.step("guess", timeout=300, max_turns=20, cancelled="/guess cancelled")
def guess_turn(turn: Turn) -> None:
    """Each number the player sends: ``higher``, ``lower`` or ``correct`` (which ends the game)."""
    word = turn.text.strip()
    if not re.fullmatch(r"[0-9]{1,4}", word):
        # Chatter in a group is left alone; a message to the bot gets a hint. Neither is a turn.
        turn.ignore(f"send a number from {GUESS_LOW} to {GUESS_HIGH}, or /cancel" if turn.to_me else None)
        return
    number, secret = int(word), int(turn.state["secret"])
    if number == secret:
        turn.end("correct")
    elif turn.is_last:
        turn.end(f"{'higher' if secret > number else 'lower'} - that was the last guess; it was {secret}")
    else:
        turn.reply("higher" if secret > number else "lower")


# --- /remind: a one-time schedule (qqbus.schedules) -------------------------------------------


@dataclass(frozen=True)
class Duration:
    """``<n>s|m|h|d``: a delay of 1 second to 30 days."""

    seconds: int
    metavar: ClassVar[str] = "<n>s|m|h|d"

    @classmethod
    def parse(cls, text: str) -> Duration:
        found = re.fullmatch(r"([0-9]{1,7})([smhd])", text.strip().lower())
        if not found:
            raise ValueError("expected a duration like 10s, 5m, 2h or 1d")
        seconds = int(found[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[found[2]]
        if not 1 <= seconds <= MAX_DELAY_S:
            raise ValueError("a reminder is 1 second to 30 days away")
        return cls(seconds)


@commands.command(
    "remind", help="post the text here after the delay, e.g. /remind 10m tea", usage="<n>s|m|h|d <text>"
)
def remind(call: CommandCall, after: Duration, text: Rest) -> None:
    if len(str(text)) > 1000:
        call.reply("a reminder is at most 1000 characters")
        return
    try:
        later(call.ev, after.seconds, "remind.fire", {"text": str(text)})
    except SchedulesNotSetUp:
        logger.warning("/remind: this function has no schedule group (SCHEDULE_GROUP)")
        call.reply("reminders are not set up here")
        return
    call.reply(f"ok, in {_spoken(after.seconds)}: {text}")


def _spoken(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@step("remind.fire")
def remind_fire(fired: Fired) -> None:
    """The reminder's text, posted into the chat it was asked in (a proactive message)."""
    text = str(fired.state.get("text") or "").strip()
    if text:
        fired.send(text)


@step("heartbeat")
def heartbeat(fired: Fired) -> None:
    """The recurring example (template.yaml's HeartbeatSchedule): proves schedules fire."""
    note("recurring job heartbeat ran", schedule_id=fired.schedule_id)
