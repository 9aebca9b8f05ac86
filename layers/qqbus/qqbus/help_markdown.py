"""``/help`` as QQ markdown with a button per command, for bots allowed to send markdown.

QQ grants native markdown and keyboards per bot (q.qq.com); the template parameter
``QqMarkdown`` says whether this bot has them (env ``QQBUS_QQ_MARKDOWN``). Without it, and on
OneBot, ``/help`` stays the text it always was.

The buttons: a command that needs no argument is a callback button (a click is an
INTERACTION_CREATE whose data, ``/<name>``, runs as the clicker's command:
``handlers/qq_interaction_create``); one that needs arguments is a command button, which puts
``/<name> `` into the clicker's input box to complete.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from qqbus.events.message import Segment, button

if TYPE_CHECKING:
    from qqbus.commands import Command, CommandCall, Commands

MARKDOWN_ENV = "QQBUS_QQ_MARKDOWN"
#: QQ keyboards: at most 5 rows; 4 buttons a row keeps labels readable on a phone.
ROWS, PER_ROW = 5, 4


def qq_markdown() -> bool:
    """The bot may send QQ markdown and keyboards (``QQBUS_QQ_MARKDOWN`` is ``true``)."""
    return os.environ.get(MARKDOWN_ENV, "").strip().lower() == "true"


def _button(cmd: Command, prefix: str) -> dict[str, object]:
    name = f"{prefix}{cmd.name}"
    if any(not p.optional for p in cmd.params):
        return button(name, f"{name} ", action=2, enter=False, id=cmd.name)
    return button(name, name, action=1, id=cmd.name)


def help_markdown(commands: Commands, call: CommandCall) -> list[Segment]:
    """The markdown and keyboard ``/help`` answers with on QQ (the commands the caller may run)."""
    listed = [c for c in commands._listed() if commands.usable(call, c)]
    lines = [f"- `{c.usage(commands.prefix)}` {c.help}" for c in listed]
    content = "**Commands**\n\n" + "\n".join(lines)
    buttons = [_button(c, commands.prefix) for c in listed][: ROWS * PER_ROW]
    rows = [buttons[i : i + PER_ROW] for i in range(0, len(buttons), PER_ROW)]
    segments = [Segment.markdown(content)]
    if rows:
        segments.append(Segment.keyboard(rows=rows))
    return segments
