"""Outbound actions: what a handler asks a platform to do, as events on the bus.

A handler never calls a platform API. ``ev.reply("pong")`` (or ``Outbox.send_group``, ``.call``)
puts an *action* on the bus: source ``qqbus.action``, detail-type ``<protocol>.<action>``
(``qq.group_message``, ``onebot.send_group_msg``, ...). The sender function of the protocol gates
it on the latest group state, performs it at most once and puts its *result* on the bus: source
``qqbus.action.result``, detail-type ``sent`` | ``refused`` | ``failed``. So replies are retried,
dead-lettered, archived and replayable like every event, and secrets live in the senders only.

``action_id`` is deterministic: the same function run on the same event asking for its n-th
action gets the same id, so a retried handler asks again with the same id and the sender, which
remembers ids, delivers once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from qqbus.detail import build_entry, now_ms
from qqbus.events.chat import ChatEvent
from qqbus.events.message import Message, Segment, plain_text
from qqbus.outbox_scope import collecting_lazily, scoped_outbox
from qqbus.publish import entry_size

__all__ = [
    "ACTION_SOURCE",
    "RESULT_SOURCE",
    "Action",
    "ActionsNotPublished",
    "Continuation",
    "MessageLike",
    "Outbox",
    "ReplyTo",
    "Result",
    "Segment",
    "Target",
    "collecting",
    "current_outbox",
    "to_message",
]

ACTION_SOURCE = "qqbus.action"
RESULT_SOURCE = "qqbus.action.result"
Outcome = Literal["sent", "refused", "failed"]

#: What a message may be given as: text, one segment, or a sequence of both.
MessageLike = str | Segment | Iterable[str | Segment]


class ActionsNotPublished(RuntimeError):
    """The bus did not take the actions a handler asked for (the invocation is retried)."""


class Target(BaseModel):
    """Where an action goes: a group, a user, or both (a group member)."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    group_id: str | None = Field(default=None, description="QQ group_openid or OneBot group number")
    user_id: str | None = Field(default=None, description="QQ user openid or OneBot QQ number")


class ReplyTo(BaseModel):
    """The event an action answers: its id and, for a message, the platform's message id and time."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    event_id: str = Field(description="The bus event_id of the event answered")
    detail_type: str = Field(examples=["GROUP_AT_MESSAGE_CREATE", "message.group"])
    message_id: str | None = Field(
        default=None, description="Platform message id (QQ d.id, OneBot message_id)"
    )
    time: int | None = Field(default=None, description="When the event or message happened (Unix seconds)")
    quote_id: str | None = Field(
        default=None,
        description="QQ: what a quote of the message cites (its msg_idx, from message_scene.ext)",
        examples=["REFIDX_CJ8ICBAYASDq"],
    )


class Continuation(BaseModel):
    """What the result of an action goes to: a named step (``qqbus.steps``), with the chat the
    asking event came from (so the step can answer there) and a little state of its own."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    step: str = Field(description="A registered step name", examples=["whois.answer"])
    state: dict[str, Any] = Field(default_factory=dict, description="JSON the step gets back")
    protocol: Literal["qq", "onebot"] | None = None
    group_id: str | None = None
    user_id: str | None = None
    reply_to: ReplyTo | None = Field(default=None, description="The event a reply from the step answers")
    asked_at: int = Field(default_factory=now_ms, description="Unix milliseconds")
    timeout: int = Field(default=60, ge=1, description="Seconds after which an answer counts as late")

    def conversation(self) -> Conversation | None:
        """Where a reply goes (None: the asker was not in a chat)."""
        if self.protocol is None or (self.group_id is None and self.user_id is None):
            return None
        reply_to = self.reply_to or ReplyTo(event_id="", detail_type="")
        return Conversation(self.protocol, self.group_id, self.user_id, reply_to)


class Origin(BaseModel):
    """Who asked: the event being handled, the function, and the action's place in that run."""

    event_id: str
    detail_type: str
    function: str
    index: int


class Action(BaseModel):
    """The detail of a ``qqbus.action`` event."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    bot_id: str
    action_id: str = Field(description="Deterministic: same function, event and index -> same id")
    protocol: Literal["qq", "onebot"]
    action: str = Field(examples=["group_message", "c2c_message", "send_group_msg", "set_group_ban"])
    target: Target = Field(default_factory=Target)
    message: Message | None = Field(default=None, description="Segments (text, at, image, ...)")
    params: dict[str, Any] = Field(default_factory=dict, description="OneBot: the action's parameters")
    reply_to: ReplyTo | None = None
    origin: Origin | None = None
    then: Continuation | None = Field(default=None, description="The step its result goes to")
    requested_at: int = Field(default_factory=now_ms, description="Unix milliseconds")
    resend: int = Field(
        default=0,
        ge=0,
        description="Times the action was parked (a failure a person fixes, such as the IP whitelist)"
        " and put back on the bus: a replay is a new delivery, a duplicate of one is not",
    )

    @property
    def detail_type(self) -> str:
        return f"{self.protocol}.{self.action}"

    @property
    def delivery_id(self) -> str:
        """The action id of this delivery: a parked and replayed action is delivered again."""
        return self.action_id if not self.resend else f"{self.action_id}~{self.resend}"

    @property
    def text(self) -> str:
        """The message's text segments joined (for logs and the console)."""
        return plain_text(self.message or [])


class Result(BaseModel):
    """The detail of a ``qqbus.action.result`` event (its detail-type is ``outcome``)."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    action_id: str
    bot_id: str
    outcome: Outcome
    protocol: str
    action: str
    target: Target = Field(default_factory=Target)
    reason: str | None = Field(
        default=None,
        description="refused/failed: not_member, proactive_off, reply_window_closed, reply_limit, muted,"
        " or the platform's",
    )
    code: int | str | None = Field(default=None, description="The platform's error code, if it gave one")
    message: str | None = Field(default=None, description="The platform's error message, or ours")
    mode: str | None = Field(default=None, examples=["passive", "event", "http", "relay"])
    msg_seq: int | None = None
    platform_message_id: str | None = None
    origin_event_id: str | None = None
    data: Any = Field(default=None, description="What the platform answered: OneBot `data`, QQ's body")
    data_truncated: bool | None = Field(
        default=None, description="True when `data` was cut (or dropped) to fit one bus entry"
    )
    then: Continuation | None = Field(default=None, description="The action's continuation, copied")
    at: int = Field(default_factory=now_ms, description="Unix milliseconds")

    def entry(self, bus_name: str) -> dict[str, Any]:
        """The PutEvents entry; a ``data`` too large for one entry is cut (a list keeps its first
        items) or dropped, and ``data_truncated`` says so."""
        detail = self.model_dump(mode="json", exclude_none=True)
        entry = build_entry(source=RESULT_SOURCE, detail_type=self.outcome, detail=detail, bus_name=bus_name)
        if self.data is None or entry_size(entry) <= RESULT_ENTRY_BYTES:
            return entry
        data = detail.pop("data")
        detail["data_truncated"] = True
        keep = len(data) if isinstance(data, list) else 0
        while keep:
            keep //= 2
            detail["data"] = data[:keep]
            entry = build_entry(
                source=RESULT_SOURCE, detail_type=self.outcome, detail=detail, bus_name=bus_name
            )
            if entry_size(entry) <= RESULT_ENTRY_BYTES:
                return entry
        detail.pop("data", None)
        return build_entry(source=RESULT_SOURCE, detail_type=self.outcome, detail=detail, bus_name=bus_name)


#: The largest result entry put on the bus (PutEvents takes 256 KiB a call; room for the rest).
RESULT_ENTRY_BYTES = 240 * 1024


def to_message(message: MessageLike) -> list[Segment]:
    """Segments from text (sent as it is, never parsed as CQ codes), a segment, or a mix."""
    if isinstance(message, str):
        return [Segment.text(message)]
    if isinstance(message, Segment):
        return [message]
    segments = [Segment.text(m) if isinstance(m, str) else m for m in message]
    if not all(isinstance(s, Segment) for s in segments):
        raise TypeError("a message is text, a Segment, or a sequence of them")
    return segments


def make_action_id(bot_id: str, event_id: str, function: str, index: int) -> str:
    """The id of the ``index``-th action ``function`` asked for while handling ``event_id``."""
    key = "\x1f".join((bot_id, event_id, function, str(index)))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Conversation:
    """Where a reply to an event goes, and what it answers."""

    protocol: Literal["qq", "onebot"]
    group_id: str | None
    user_id: str | None
    reply_to: ReplyTo


def conversation_of(payload: Any, event_id: str, detail_type: str) -> Conversation | None:
    """The conversation of an event model (its ``chat()``), with what a reply to it cites.

    QQ: a group @-message or C2C message is answered passively (its ``d.id``); any other event
    with a group or user (GROUP_ADD_ROBOT, GROUP_MSG_RECEIVE, ...) by citing the event id.
    """
    chat = payload.chat() if isinstance(payload, ChatEvent) else None
    if chat is None:
        return None
    reply_to = ReplyTo(
        event_id=chat.event_id or event_id,
        detail_type=detail_type,
        message_id=chat.message_id,
        time=chat.time,
        quote_id=_msg_idx(payload) if chat.protocol == "qq" and chat.message_id else None,
    )
    return Conversation(chat.protocol, chat.group_id, chat.user_id, reply_to)


def _msg_idx(payload: Any) -> str | None:
    """A QQ message's index for quoting it: ``msg_idx=REFIDX_...`` in ``d.message_scene.ext``
    (kept as an extra field), which nonebot-adapter-qq cites in ``message_reference``."""
    scene = (getattr(getattr(payload, "d", None), "model_extra", None) or {}).get("message_scene")
    ext = scene.get("ext") if isinstance(scene, dict) else None
    found = (e.removeprefix("msg_idx=") for e in ext or [] if isinstance(e, str) and e.startswith("msg_idx="))
    return next((idx for idx in found if idx), None)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


class Outbox:
    """The actions one handler run asks for; published together when the run ends.

    Made by ``@handler`` for each run (``current_outbox()``); make one yourself to send from
    code that is not a handler, with ``function`` naming the caller so that ids stay stable.
    """

    def __init__(self, *, bot_id: str, event_id: str, detail_type: str, function: str) -> None:
        self.bot_id = bot_id
        self.event_id = event_id
        self.detail_type = detail_type
        self.function = function
        self.actions: list[Action] = []

    # --- asking -------------------------------------------------------------------------

    def ask(
        self,
        protocol: Literal["qq", "onebot"],
        action: str,
        *,
        target: Target | None = None,
        message: MessageLike | None = None,
        params: dict[str, Any] | None = None,
        reply_to: ReplyTo | None = None,
        then: Continuation | None = None,
    ) -> Action:
        """Any action; the other methods are this with the fields filled in."""
        index = len(self.actions)
        asked = Action(
            bot_id=self.bot_id,
            action_id=make_action_id(self.bot_id, self.event_id, self.function, index),
            protocol=protocol,
            action=action,
            target=target or Target(),
            message=None if message is None else to_message(message),
            params=params or {},
            reply_to=reply_to,
            origin=Origin(
                event_id=self.event_id, detail_type=self.detail_type, function=self.function, index=index
            ),
            then=then,
        )
        self.actions.append(asked)
        return asked

    def reply(self, payload: Any, message: MessageLike, *, quote: bool = False) -> Action:
        """Answer the event ``payload`` in its own conversation (group, else private).

        ``quote`` puts a ``reply`` segment citing the message first (OneBot: a reply segment;
        QQ: ``message_reference`` with the message's ``msg_idx`` when it has one, else its id;
        a reply segment given with the message's id cites the ``msg_idx`` too, as
        nonebot-adapter-qq does). An event that is not a message has nothing to quote: ``quote``
        is then ignored.
        """
        conv = conversation_of(payload, self.event_id, self.detail_type)
        if conv is None:
            raise TypeError(f"{type(payload).__name__} has no group or user to reply to")
        return self.reply_in(conv, message, quote=quote)

    def reply_in(self, conv: Conversation, message: MessageLike, *, quote: bool = False) -> Action:
        """Answer in ``conv`` (a conversation kept from an earlier event: a continuation's)."""
        segments = to_message(message)
        quoted = conv.reply_to.message_id
        if quote and quoted is not None and not any(s.type == "reply" for s in segments):
            segments = [Segment.reply(quoted if conv.protocol == "qq" else int(quoted)), *segments]
        if (idx := conv.reply_to.quote_id) and conv.protocol == "qq":
            segments = [
                Segment.reply(idx) if s.type == "reply" and s.data.get("id") == quoted else s
                for s in segments
            ]
        if conv.protocol == "qq":
            action = "group_message" if conv.group_id else "c2c_message"
            target = Target(group_id=conv.group_id) if conv.group_id else Target(user_id=conv.user_id)
            return self.ask("qq", action, target=target, message=segments, reply_to=conv.reply_to)
        if conv.group_id is not None:
            return self._onebot_message("group", conv.group_id, segments, conv.reply_to)
        assert conv.user_id is not None
        return self._onebot_message("private", conv.user_id, segments, conv.reply_to)

    def send_group(
        self, protocol: Literal["qq", "onebot"], group_id: str | int, message: MessageLike
    ) -> Action:
        """Post into a group unprompted (QQ: the sender cites the group's stored event id)."""
        if protocol == "qq":
            target = Target(group_id=str(group_id))
            return self.ask("qq", "group_message", target=target, message=message)
        return self._onebot_message("group", str(group_id), to_message(message), None)

    def send_private(
        self, protocol: Literal["qq", "onebot"], user_id: str | int, message: MessageLike
    ) -> Action:
        """Message a user unprompted (QQ: C2C; OneBot: a private message)."""
        if protocol == "qq":
            return self.ask("qq", "c2c_message", target=Target(user_id=str(user_id)), message=message)
        return self._onebot_message("private", str(user_id), to_message(message), None)

    def continuation(
        self, step: str, payload: Any = None, state: dict[str, Any] | None = None, timeout: int = 60
    ) -> Continuation:
        """A continuation to ``step`` that keeps the chat of ``payload`` (the event being handled)."""
        conv = None if payload is None else conversation_of(payload, self.event_id, self.detail_type)
        return Continuation(
            step=step,
            state=state or {},
            protocol=conv.protocol if conv else None,
            group_id=conv.group_id if conv else None,
            user_id=conv.user_id if conv else None,
            reply_to=conv.reply_to if conv else None,
            timeout=timeout,
        )

    def call(self, action: str, *, then: Continuation | None = None, **params: Any) -> Action:
        """Any OneBot v11 action by name, e.g. ``call("set_group_ban", group_id=1, user_id=2)``;
        ``then`` gets its result (``qqbus.steps``: a query's answer, ``data`` typed by ``qqbus.queries``)."""
        target = Target(
            group_id=_str(params.get("group_id")),
            user_id=_str(params.get("user_id")),
        )
        message = params.get("message")
        if message is not None and not isinstance(message, str | list | Segment):
            raise TypeError("message must be text, a Segment or a list of segments")
        segments = None if message is None else to_message(message)
        if segments is not None:
            params["message"] = [s.model_dump() for s in segments]
        return self.ask("onebot", action, target=target, message=segments, params=params, then=then)

    def _onebot_message(
        self, kind: Literal["group", "private"], to: str, segments: list[Segment], reply_to: ReplyTo | None
    ) -> Action:
        message = [s.model_dump() for s in segments]
        if kind == "group":
            params = {"group_id": int(to), "message": message}
            target = Target(group_id=to)
        else:
            params = {"user_id": int(to), "message": message}
            target = Target(user_id=to)
        return self.ask(
            "onebot", f"send_{kind}_msg", target=target, message=segments, params=params, reply_to=reply_to
        )

    # --- publishing -----------------------------------------------------------------------

    def entries(self, bus_name: str) -> list[dict[str, Any]]:
        return [
            build_entry(
                source=ACTION_SOURCE,
                detail_type=a.detail_type,
                detail=a.model_dump(mode="json", exclude_none=True),
                bus_name=bus_name,
            )
            for a in self.actions
        ]

    def flush(self) -> int:
        """Put every action asked for on the bus (PutEvents, batched); the number put.

        Raises
        ------
        ActionsNotPublished
            When the bus did not take them all; the handler's invocation fails and is retried,
            and the retry asks again with the same action ids.
        """
        if not self.actions:
            return 0
        from qqbus.aws import require_env
        from qqbus.publish import EVENT_BUS_ENV, publisher

        failed = publisher().put(self.entries(require_env(EVENT_BUS_ENV)))
        if failed:
            codes = ", ".join(sorted({f.code for f in failed}))
            raise ActionsNotPublished(
                f"{len(failed)} of {len(self.actions)} actions not on the bus ({codes})"
            )
        for listener in PUBLISHED_LISTENERS:
            listener(self.actions)
        return len(self.actions)


#: Called with the actions of each flush once they are on the bus. Empty in Lambda; the local
#: stack listens, so its trace knows an event's actions before its handler's run ends.
PUBLISHED_LISTENERS: list[Callable[[list[Action]], None]] = []


def current_outbox() -> Outbox:
    """The outbox of the handler run in progress.

    Raises
    ------
    RuntimeError
        Outside a ``@handler`` function.
    """
    outbox: Outbox = scoped_outbox()
    return outbox


@contextmanager
def collecting(outbox: Outbox) -> Iterator[Outbox]:
    """Make ``outbox`` the one ``ev.reply(...)`` and friends add to, for the ``with`` block."""
    with collecting_lazily(lambda: outbox) as scope:
        scope.made = outbox
        yield outbox
