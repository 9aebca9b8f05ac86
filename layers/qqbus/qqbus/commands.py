"""Commands: ``/name args`` in a message, answered through the reply API.

A ``Commands`` router holds commands declared once, with the help line ``/help`` prints::

    commands = Commands()

    @commands.command("ping", help="check that the bot answers")
    def ping(call: CommandCall) -> None:
        call.reply("pong")

and a message handler hands it every message: ``commands.handle(ev)``. The text a command sees is
the message's text after the bot's own @-mention, the same on QQ (group @-messages and C2C) and
OneBot (group and private messages).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Command", "CommandCall", "Commands", "message_text"]


def message_text(payload: Any) -> str:
    """A message's text after the bot's own leading @-mention, stripped.

    QQ: ``d.text`` (the model strips the mention). OneBot: the text segments after a leading
    ``at`` of the bot itself.
    """
    d = getattr(payload, "d", None)
    if d is not None and hasattr(d, "text"):
        return str(d.text)
    segments = list(getattr(payload, "message", None) or [])
    self_id = str(getattr(payload, "self_id", ""))
    while segments and (
        (segments[0].type == "at" and str(segments[0].data.get("qq")) == self_id)
        or (segments[0].type == "text" and not str(segments[0].data.get("text", "")).strip())
    ):
        segments.pop(0)
    return "".join(str(s.data.get("text", "")) for s in segments if s.type == "text").strip()


@dataclass
class CommandCall:
    """One use of a command: the event, the command's name as typed, and its argument text."""

    ev: Any
    name: str
    args: str

    def reply(self, message: Any) -> Any:
        return self.ev.reply(message)


@dataclass
class Command:
    name: str
    run: Callable[[CommandCall], None]
    help: str
    usage: str = ""
    aliases: tuple[str, ...] = ()

    def line(self, prefix: str) -> str:
        usage = f" {self.usage}" if self.usage else ""
        return f"{prefix}{self.name}{usage} - {self.help}"


@dataclass
class Commands:
    """A set of commands and how to recognise them (``prefix``, ``/`` by default)."""

    prefix: str = "/"
    commands: dict[str, Command] = field(default_factory=dict)
    _by_name: dict[str, Command] = field(default_factory=dict, repr=False)

    def command(
        self, name: str, *, help: str, usage: str = "", aliases: tuple[str, ...] = ()
    ) -> Callable[[Callable[[CommandCall], None]], Callable[[CommandCall], None]]:
        """Declare a command (a decorator; returns the function unchanged)."""

        def register(fn: Callable[[CommandCall], None]) -> Callable[[CommandCall], None]:
            cmd = Command(name, fn, help, usage, aliases)
            for key in (name, *aliases):
                if key in self._by_name:
                    raise ValueError(f"command {key!r} is declared twice")
                self._by_name[key] = cmd
            self.commands[name] = cmd
            return fn

        return register

    def help_text(self) -> str:
        return "\n".join(cmd.line(self.prefix) for cmd in self.commands.values())

    def handle(self, ev: Any) -> bool:
        """Run the command in ``ev``'s message, if it holds one; False when it holds none.

        An unknown command is answered with a short hint, not silence.
        """
        text = message_text(ev.payload)
        if not text.startswith(self.prefix) or len(text) == len(self.prefix):
            return False
        name, _, args = text[len(self.prefix) :].partition(" ")
        cmd = self._by_name.get(name.lower())
        if cmd is None:
            ev.reply(f"unknown command {self.prefix}{name}; {self.prefix}help lists the commands")
            return True
        cmd.run(CommandCall(ev, name, args.strip()))
        return True
