"""Command tests: real message models from events/, an outbox to collect the replies, a store."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from qqbus.actions import Action, Outbox, collecting
from qqbus.commands import Commands
from qqbus.events.onebot import GroupMessage, PrivateMessage
from qqbus.events.qq import C2CMessageCreate, GroupAtMessageCreate
from qqbus.handler import Delivered
from qqbus.state import GroupStore, InMemoryGroupStore

from tests.support import event_file

#: Conversation kind -> its events/ file and the model its handler parses it into.
KINDS: dict[str, tuple[str, type[Any]]] = {
    "qq_group": ("qq_group_at_message_create", GroupAtMessageCreate),
    "qq_c2c": ("qq_c2c_message_create", C2CMessageCreate),
    "onebot_group": ("onebot_group_message", GroupMessage),
    "onebot_private": ("onebot_private_message", PrivateMessage),
}
QQ_GROUP = "C9F778FE6ADF9D1D1DBE395BF744A33A"
QQ_MEMBER = "E4F4AEA33253A2797FB897C50B81D7ED"
ONEBOT_SELF = 123456789
ONEBOT_GROUP = 987654321

_ids = itertools.count(1)


def delivered(
    kind: str,
    message: str | list[dict[str, Any]],
    *,
    user: str | int | None = None,
    role: str | None = "member",
    group: str | int | None = None,
    at: int | None = None,
    extra: dict[str, Any] | None = None,
) -> Delivered[Any]:
    """A message event of ``kind`` saying ``message`` (QQ: the content; OneBot: a CQ string or
    segments), from ``user`` (default: the file's) with OneBot group ``role``, at time ``at``;
    ``extra`` fields are added to the payload."""
    n = next(_ids)
    name, model = KINDS[kind]
    detail = copy.deepcopy(event_file(name)["detail"])
    payload = detail["payload"]
    detail["event_id"] = f"E{n:06d}"
    if kind.startswith("qq"):
        payload["id"] = detail["event_id"]
        d = payload["d"]
        d["content"], d["id"] = message, f"MSG{n}"
        if at is not None:
            d["timestamp"] = at
        if user is not None:
            d["author"] = {"member_openid" if kind == "qq_group" else "user_openid": str(user)}
        if group is not None:
            d["group_openid"] = str(group)
    else:
        payload["message"], payload["message_id"] = message, n
        if at is not None:
            payload["time"] = at
        if user is not None:
            payload["user_id"] = int(user)
        if group is not None:
            payload["group_id"] = int(group)
        if kind == "onebot_group":
            payload["sender"] = {"user_id": payload["user_id"], **({"role": role} if role else {})}
    payload.update(extra or {})
    return Delivered[model].model_validate(detail)  # type: ignore[valid-type]


@dataclass
class Run:
    """What one message did: whether it held a command, and the actions it asked for."""

    handled: bool
    actions: list[Action]

    @property
    def texts(self) -> list[str]:
        return [a.text for a in self.actions]

    @property
    def text(self) -> str:
        (only,) = self.texts
        return only


Say = Callable[..., Run]


def run(commands: Commands, ev: Delivered[Any]) -> Run:
    outbox = Outbox(bot_id=ev.bot_id, event_id=ev.event_id, detail_type="test", function="test")
    with collecting(outbox):
        handled = commands.handle(ev)
    return Run(handled, outbox.actions)


@pytest.fixture
def store() -> InMemoryGroupStore:
    return InMemoryGroupStore()


@pytest.fixture
def make_say(monkeypatch: pytest.MonkeyPatch) -> Callable[[Commands], Say]:
    """``say(kind, message, **delivered_args)`` runs ``commands`` on one message."""
    monkeypatch.delenv("QQBUS_COMMAND_ADMINS", raising=False)

    def bind(commands: Commands) -> Say:
        return lambda kind, message, **kw: run(commands, delivered(kind, message, **kw))

    return bind


@pytest.fixture
def examples(store: GroupStore, monkeypatch: pytest.MonkeyPatch) -> Commands:
    """The shipped example commands, switched through ``store``."""
    from qqbus.example_commands import commands

    monkeypatch.setattr(commands, "store", lambda: store)
    return commands


@pytest.fixture
def say(make_say: Callable[[Commands], Say], examples: Commands) -> Say:
    return make_say(examples)
