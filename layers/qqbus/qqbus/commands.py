"""Commands: ``/name args`` in a message, parsed from the command's signature, answered by reply.

A command is a function of typed arguments, declared once::

    commands = Commands()

    @commands.command("roll", help="roll dice, e.g. /roll 2d6", aliases=("r",))
    def roll(call: CommandCall, dice: Dice) -> None:
        call.reply(...)

and a message handler hands it every message: ``commands.handle(ev)``. The signature drives the
parsing, the checks, the usage line and ``/help``: ``str`` (one word or a "quoted string"),
``int``, ``float``, ``Rest`` (the rest of the message as typed), ``User`` (an @-mention, or a
bare id), any class with a ``parse(text)`` classmethod (e.g. ``Dice`` for ``NdM``), defaults
and ``X | None`` for optional arguments. A wrong call is answered with what was wrong and the
usage line; an unknown command with a hint, not silence.

The text a command sees is the message after the bot's own @-mention, the same on QQ (group
@-messages and C2C) and OneBot (group and private messages).

Who may run a command (``allowed``): ``"everyone"``, ``"admins"`` (OneBot group admins and the
owner, from ``sender.role``) or ``"owners"`` (the group owner). The ids in ``QQBUS_COMMAND_ADMINS``
(comma-separated: QQ openids, OneBot QQ numbers) pass every check, everywhere; QQ messages carry
no role, so on QQ only they count. A denied call gets one short line.

Per-group switches: ``/disable <command>`` and ``/enable <command>`` (admins, in groups) store
the command's state in the groups table (``GroupStore.command_enabled``, event-time ordered
like every other attribute). A disabled command answers one short line, so members know it is
off rather than broken; ``/help`` lists only what the caller may run there.

Conversations (``Commands(conversations=...)``, see ``qqbus.conversations``): a user's next
message goes to the conversation they wait in before any command runs, and ``/cancel`` ends it.
Cooldowns (``cooldown=`` seconds on a command): a user calling it again sooner gets one short
"wait Ns" line, then silence until it is over; kept per user in the bot data table
(``qqbus.bot_data``), so they hold across Lambda instances.
"""

from __future__ import annotations

import difflib
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from qqbus.actions import conversation_of
from qqbus.command_args import ArgumentError, Param, Reader, Rest, User, params_of, parse_args
from qqbus.events.chat import MessageLikeEvent
from qqbus.observability import logger, note

if TYPE_CHECKING:
    from qqbus.bot_data import BotData
    from qqbus.conversations import Conversations
    from qqbus.state import GroupStore

__all__ = [
    "ADMINS_ENV",
    "ArgumentError",
    "Command",
    "CommandCall",
    "Commands",
    "Rest",
    "User",
    "command_admins",
    "message_text",
]

#: Comma-separated user ids allowed every command (QQ openids, OneBot QQ numbers).
ADMINS_ENV = "QQBUS_COMMAND_ADMINS"

Allowed = Literal["everyone", "admins", "owners"]
#: The OneBot ``sender.role`` values each level accepts (QQ has no roles).
_ROLES: dict[str, frozenset[str]] = {
    "everyone": frozenset(),
    "admins": frozenset({"admin", "owner"}),
    "owners": frozenset({"owner"}),
}
_WHO = {"admins": "group admins", "owners": "the group owner"}

#: A command name: a word (any script), hyphens allowed after the first character.
_NAME = re.compile(r"\w[\w-]*")


def command_admins() -> frozenset[str]:
    """The ids in ``QQBUS_COMMAND_ADMINS`` (read at each call, so a changed variable counts)."""
    return frozenset(i.strip() for i in os.environ.get(ADMINS_ENV, "").split(",") if i.strip())


# --- the message, after the bot's own mention ------------------------------------------------


def message_text(payload: Any) -> str:
    """A message's text after the bot's own leading @-mention, stripped ("" for a non-message).

    QQ: ``d.text`` (other mentions stay as ``<@openid>``). OneBot: the text segments.
    """
    return payload.addressed_text if isinstance(payload, MessageLikeEvent) else ""


# --- commands ---------------------------------------------------------------------------------


@dataclass
class Command:
    """A declared command: its function, help line, aliases, argument signature and who may run it."""

    name: str
    run: Callable[..., None]
    help: str
    usage_text: str = ""  # overrides the usage derived from the signature
    aliases: tuple[str, ...] = ()
    allowed: Allowed = "everyone"
    groups_only: bool = False
    switchable: bool = True  # /disable may turn it off
    builtin: bool = False  # /disable and /enable: listed after the others
    params: list[Param] = field(default_factory=list)
    cooldown: int = 0  # seconds a user waits between two calls (0: none)

    def usage(self, prefix: str) -> str:
        args = self.usage_text or " ".join(p.usage() for p in self.params)
        return f"{prefix}{self.name}" + (f" {args}" if args else "")

    def line(self, prefix: str) -> str:
        also = f" (also {', '.join(prefix + a for a in self.aliases)})" if self.aliases else ""
        return f"{self.usage(prefix)} - {self.help}{also}"


@dataclass
class CommandCall:
    """One use of a command: the event, who sent it and where, and the command's name as typed."""

    ev: Any
    name: str
    args: str = ""  # the argument text as typed
    protocol: str = "onebot"
    user_id: str | None = None
    group_id: str | None = None  # None: a private (C2C) message
    role: str | None = None  # OneBot group messages: "owner" | "admin" | "member"
    time: int | None = None  # the message's event time (Unix seconds)
    command: Command | None = None
    router: Commands | None = field(default=None, repr=False)

    def reply(self, message: Any) -> Any:
        """Answer in the conversation of the message (see ``Delivered.reply``)."""
        return self.ev.reply(message)

    @cached_property
    def disabled(self) -> frozenset[str]:
        """The commands switched off where this call happened (read once, from the groups table)."""
        return self.router.disabled_in(self) if self.router else frozenset()


def _call_of(ev: Any, name: str) -> CommandCall | None:
    """Who sent ``ev`` and where, read off its model (None: nobody to answer)."""
    payload = ev.payload
    conv = conversation_of(payload, str(ev.event_id), "")
    if conv is None:
        return None
    return CommandCall(
        ev,
        name,
        protocol=conv.protocol,
        user_id=conv.user_id,
        group_id=conv.group_id,
        role=payload.sender_role if isinstance(payload, MessageLikeEvent) else None,
        time=conv.reply_to.time,
    )


def _groups_store() -> GroupStore | None:
    """The groups table, when this function has one (``GROUPS_TABLE_NAME``); imported lazily."""
    from qqbus.state import GROUPS_TABLE_ENV, groups

    return groups() if os.environ.get(GROUPS_TABLE_ENV, "").strip() else None


def _bot_data_store() -> BotData | None:
    """The bot data table, when this function has one (``BOT_DATA_TABLE_NAME``); imported lazily."""
    from qqbus.bot_data import BOT_DATA_TABLE_ENV, bot_data

    return bot_data() if os.environ.get(BOT_DATA_TABLE_ENV, "").strip() else None


@dataclass
class Commands:
    """A set of commands and how to recognise them (``prefix``, ``/`` by default).

    ``switches`` adds ``/disable`` and ``/enable``; ``store`` gives the groups table they use
    (default: the function's, when it has ``GROUPS_TABLE_NAME``). ``conversations`` routes a
    waiting user's messages to their conversation first and adds ``/cancel``; ``data`` gives the
    bot data table that cooldowns use (default: the function's ``BOT_DATA_TABLE_NAME``).
    """

    prefix: str = "/"
    switches: bool = True
    store: Callable[[], GroupStore | None] = field(default=_groups_store, repr=False)
    conversations: Conversations | None = field(default=None, repr=False)
    data: Callable[[], BotData | None] = field(default=_bot_data_store, repr=False)
    commands: dict[str, Command] = field(default_factory=dict)
    _by_name: dict[str, Command] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.switches:
            for name, enabled in (("disable", False), ("enable", True)):
                self.command(
                    name,
                    help=f"turn a command {'on' if enabled else 'off'} in this group",
                    allowed="admins",
                    groups_only=True,
                    switchable=False,
                    _builtin=True,
                )(_enable if enabled else _disable)
        if self.conversations is not None:
            self.command(
                "cancel", help="stop what the bot waits for (a /guess game)", switchable=False, _builtin=True
            )(_cancel)

    # --- declaring --------------------------------------------------------------------------

    def command(
        self,
        name: str,
        *,
        help: str,
        usage: str = "",
        aliases: tuple[str, ...] = (),
        allowed: Allowed = "everyone",
        groups_only: bool = False,
        switchable: bool = True,
        cooldown: int = 0,
        _builtin: bool = False,
    ) -> Callable[[Callable[..., None]], Callable[..., None]]:
        """Declare a command (a decorator; returns the function unchanged).

        Parameters
        ----------
        help:
            The one line ``/help`` shows.
        usage:
            Overrides the usage line derived from the signature.
        allowed:
            ``"everyone"``, ``"admins"`` or ``"owners"`` (see the module docstring).
        groups_only:
            Answer only in groups (elsewhere: a short line saying so).
        switchable:
            Whether ``/disable`` may turn it off in a group.
        cooldown:
            Seconds each user waits between two calls (kept in the bot data table; without one,
            no cooldown applies). A call too soon gets "wait Ns" once, then nothing.
        """
        if allowed not in _ROLES:
            raise ValueError(f"allowed must be one of {sorted(_ROLES)}, not {allowed!r}")

        def register(fn: Callable[..., None]) -> Callable[..., None]:
            keys = [k.lower() for k in (name, *aliases)]
            for key in keys:
                if not _NAME.fullmatch(key):
                    raise ValueError(f"not a command name: {key!r}")
                if key in self._by_name:
                    raise ValueError(f"command {key!r} is declared twice")
            cmd = Command(
                keys[0], fn, help, usage, tuple(keys[1:]), allowed, groups_only, switchable, _builtin
            )
            cmd.params = params_of(fn)
            cmd.cooldown = int(cooldown)
            for key in keys:
                self._by_name[key] = cmd
            self.commands[cmd.name] = cmd
            return fn

        return register

    def _listed(self) -> Iterator[Command]:
        yield from sorted(self.commands.values(), key=lambda c: c.builtin)  # stable: declared order

    # --- who may run what, where ------------------------------------------------------------

    def may_run(self, call: CommandCall, cmd: Command) -> bool:
        """The caller's role or id allows ``cmd`` (see the module docstring)."""
        if cmd.allowed == "everyone" or (call.user_id is not None and call.user_id in command_admins()):
            return True
        return call.role in _ROLES[cmd.allowed]

    def usable(self, call: CommandCall, cmd: Command) -> bool:
        """``cmd`` would run for this caller here: allowed, and neither off nor out of place."""
        if cmd.groups_only and call.group_id is None:
            return False
        return self.may_run(call, cmd) and cmd.name not in call.disabled

    def disabled_in(self, call: CommandCall) -> frozenset[str]:
        """The commands switched off in the call's group (none outside groups or without a table)."""
        store = self.store() if call.group_id is not None else None
        state = store.get(str(call.ev.bot_id), call.group_id) if store and call.group_id else None
        return frozenset(state.disabled_commands or ()) if state else frozenset()

    def help_text(self, call: CommandCall | None = None, name: str | None = None) -> str:
        """One line per command the caller may run here (every command without ``call``);
        with ``name``, that command's line."""
        if name is not None:
            cmd = self._by_name.get(name.lower().removeprefix(self.prefix))
            return cmd.line(self.prefix) if cmd else self._unknown(name, call)
        cmds = [c for c in self._listed() if call is None or self.usable(call, c)]
        return "\n".join(c.line(self.prefix) for c in cmds)

    def _unknown(self, name: str, call: CommandCall | None) -> str:
        names = [k for k, c in self._by_name.items() if call is None or self.may_run(call, c)]
        close = difflib.get_close_matches(name.lower(), names, n=1)
        if close:
            return f"unknown command {self.prefix}{name} - did you mean {self.prefix}{close[0]}?"
        return f"unknown command {self.prefix}{name}; {self.prefix}help lists the commands"

    # --- running ----------------------------------------------------------------------------

    def handle(self, ev: Any) -> bool:
        """Run the command in ``ev``'s message, if it holds one; False when it holds none.

        Every command message gets an answer: the command's, or one short line when the
        command is unknown, not allowed, switched off, out of place or called wrongly.
        """
        if not isinstance(ev.payload, MessageLikeEvent):
            return False
        if self.conversations is not None and self.conversations.handle(ev):
            return True  # the sender's next message, taken by the conversation they wait in
        pieces = ev.payload.addressed_pieces()
        while pieces and not pieces[0][1] and not pieces[0][0].strip():
            pieces.pop(0)
        if not pieces or pieces[0][1]:
            return False
        first = pieces[0][0].lstrip()
        if self.prefix == "/" and first.startswith("／"):  # full-width, as Chinese input methods type it
            first = "/" + first[1:]
        if not first.startswith(self.prefix):
            return False
        typed = re.split(r"\s", first[len(self.prefix) :], maxsplit=1)[0]
        if not _NAME.fullmatch(typed):
            return False  # "/", "/ x", "/usr/bin": not a command
        call = _call_of(ev, typed)
        if call is None:
            return False
        call.router = self
        after = first[len(self.prefix) + len(typed) :]
        reader = Reader([(after, False), *pieces[1:]])
        call.command = cmd = self._by_name.get(typed.lower())
        if cmd is None:
            self._answer(call, "unknown", self._unknown(typed, call))
        elif cmd.groups_only and call.group_id is None:
            self._answer(call, "groups_only", f"{self.prefix}{cmd.name} works in groups only")
        elif not self.may_run(call, cmd):
            self._answer(call, "denied", f"not allowed: {self.prefix}{cmd.name} is for {_WHO[cmd.allowed]}")
        elif cmd.name in call.disabled:
            self._answer(call, "disabled", f"{self.prefix}{cmd.name} is disabled in this group")
        else:
            call.args = reader.unread()
            try:
                values = parse_args(cmd.params, reader, call.protocol)
            except ArgumentError as exc:
                logger.debug(f"command {self.prefix}{cmd.name}: {exc}")
                self._answer(
                    call, "wrong_arguments", f"{exc}\nusage: {cmd.usage(self.prefix)}", argument=exc.param
                )
                return True
            if cmd.cooldown and not self._off_cooldown(call, cmd):
                return True
            note(f"command {self.prefix}{cmd.name}", command=cmd.name)  # an outcome only when not run
            cmd.run(call, *values)
        return True

    def _off_cooldown(self, call: CommandCall, cmd: Command) -> bool:
        """Start ``cmd``'s cooldown for the caller and say True, or answer "wait Ns" (once) and
        say False. A retried run of the call that started it is that call, not a second one."""
        data = self.data()
        if data is None or call.user_id is None:
            return True
        mine = data.user(call.ev.bot_id, call.user_id)
        event_id, now = str(call.ev.event_id), int(time.time())
        until = now + cmd.cooldown
        if mine.set(
            f"cooldown/{cmd.name}", {"event_id": event_id, "until": until}, ttl=cmd.cooldown, if_absent=True
        ):
            return True
        held = mine.get(f"cooldown/{cmd.name}")
        if not isinstance(held, dict) or held.get("event_id") == event_id:
            return True  # it just expired, or this very event started it (a retry)
        left = max(1, min(cmd.cooldown, int(held.get("until", until)) - now))
        if mine.set(f"cooldown-told/{cmd.name}", True, ttl=left, if_absent=True):
            self._answer(call, "cooldown", f"wait {left}s before {self.prefix}{cmd.name} again")
        else:
            note(
                f"command {self.prefix}{cmd.name}: cooldown",
                command=cmd.name,
                outcome="cooldown_quiet",
            )
        return False

    def _answer(self, call: CommandCall, outcome: str, text: str, **extra: Any) -> None:
        name = call.command.name if call.command else call.name
        note(
            f"command {self.prefix}{name}: {outcome.replace('_', ' ')}",
            command=name,
            outcome=outcome,
            **extra,
        )
        call.reply(text)

    def switch(self, call: CommandCall, command: str, *, enabled: bool) -> None:
        """``/enable`` / ``/disable``: store ``command``'s switch for the call's group, and say so."""
        target = self._by_name.get(command.lower().removeprefix(self.prefix))
        if target is None:
            call.reply(self._unknown(command.removeprefix(self.prefix), call))
            return
        if not target.switchable:
            call.reply(f"{self.prefix}{target.name} cannot be switched off")
            return
        store = self.store()
        if store is None or call.group_id is None:
            logger.warning(f"{self.prefix}{call.name}: this function has no groups table (GROUPS_TABLE_NAME)")
            call.reply("command switches are not set up here (no groups table)")
            return
        bot_id = str(call.ev.bot_id)
        wrote = store.write(
            bot_id,
            call.group_id,
            "qq" if call.protocol == "qq" else "onebot",
            store.command_enabled(
                target.name,
                enabled,
                at=int(time.time()) if call.time is None else call.time,
                tiebreak=str(call.ev.event_id),
            ),
        )[0]
        # Read back: a later switch of the same command, or a /disable of the same second (off
        # wins a tie), may decide instead; then say so, as a new message decides by its own time.
        now = store.get(bot_id, call.group_id)
        is_on = now is None or now.is_command_enabled(target.name)
        state = "enabled" if is_on else "disabled"
        if not wrote and is_on != enabled:
            call.reply(f"{self.prefix}{target.name} stays {state}: a switch of the same second or later won")
            return
        call.reply(f"{self.prefix}{target.name} is {state} in this group")


# --- the built-in switches (``Commands(switches=True)``) ------------------------------------------


def _disable(call: CommandCall, command: str) -> None:
    assert call.router is not None
    call.router.switch(call, command, enabled=False)


def _enable(call: CommandCall, command: str) -> None:
    assert call.router is not None
    call.router.switch(call, command, enabled=True)


def _cancel(call: CommandCall) -> None:
    # A waiting conversation takes /cancel before the commands (Conversations.handle).
    call.reply("nothing to cancel")
