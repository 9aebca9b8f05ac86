"""Conversations: a command or handler waits for the same user's next message in the same chat.

A step is a function of one ``Turn``, registered by name with its limits::

    conversations = Conversations()

    @conversations.step("guess", timeout=300, max_turns=20, cancelled="game over")
    def guess_turn(turn: Turn) -> None:
        if not turn.text.isdigit():
            turn.ignore()                       # not a turn: nothing stored, the wait goes on
            return
        turn.state["tries"] += 1                # the state is kept between messages (JSON)
        turn.reply("higher")                    # turn.end("correct") ends it

    # in a command or a handler: the user's next message goes to the step
    conversations.start(ev, "guess", {"secret": 42, "tries": 0})

and the message handlers hand every message to ``Commands.handle`` (which asks
``conversations.handle(ev)`` first: ``Commands(conversations=...)``). A waiting user's next
message that is not a ``/command`` goes to the step; ``/cancel`` ends the wait; other commands
still run, and other users are not affected. The wait ends when the step says so, after
``max_turns`` turns, at the cancel word, or when no turn came for ``timeout`` seconds (of
event time). Nothing runs in between: the wait is a row in DynamoDB, not a suspended coroutine.

Storage: one row per (bot, chat, user) in the bot data table (``qqbus.bot_data``, sort key
``conv#<chat>#<user>``, chat ``group:<id>`` or ``user:<id>``): the step, its state, the turns
taken, the event ids applied, the last turn's replies, the idle deadline, a ``version``, and
``expires_at`` (the table's TTL) so that forgotten waits delete themselves.

Retries, duplicates and order (EventBridge delivers at least once, in any order):

- Events are ordered by (event time, ingress ``received_at``): the message typed later wins,
  also within one second. An event older than the last one applied is ignored.
- Each applied event id is kept (at most ``max_turns`` + 1 of them): the same event again never
  advances the conversation twice. When it is the last one applied, its stored replies are asked
  for again (the same action ids, which the senders run once), so a run that failed after the
  write still gets its answer out.
- Every write is conditional on the ``version`` that was read: two turns racing for one row
  cannot both apply; the loser reads again and is then either later (applied on the new state)
  or older (ignored). A step may therefore run more than once for one message; what it says goes
  out only for the run that was stored.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qqbus.bot_data import BOT_DATA_TABLE_ENV, TTL_ATTRIBUTE, BotData, row_key
from qqbus.events.chat import MessageLikeEvent
from qqbus.observability import logger, note

if TYPE_CHECKING:
    from qqbus.actions import MessageLike

__all__ = ["CANCEL_WORDS", "Conversations", "Step", "Turn", "Waiting"]

#: What ends a wait (``／`` is the full-width slash Chinese input methods type).
CANCEL_WORDS = frozenset({"/cancel", "／cancel"})

_ATTEMPTS = 5


@dataclass
class Step:
    """A registered step: its function and the limits of a conversation that waits on it."""

    name: str
    run: Callable[[Turn], None]
    timeout: int = 300
    max_turns: int = 20
    cancelled: str = "cancelled"


@dataclass
class Turn:
    """One message of a waiting user, as the step sees it; the step answers through it."""

    ev: Any
    text: str  # the message after the bot's own @-mention, stripped
    state: dict[str, Any]
    number: int  # 1 for the first message after the start
    step: Step
    replies: list[Any] = field(default_factory=list)  # each a list of segment dicts
    ended: bool = False
    ignored: bool = False

    @property
    def is_last(self) -> bool:
        """No further turn will come (``max_turns``): say the final word now."""
        return self.number >= self.step.max_turns

    @property
    def to_me(self) -> bool:
        """The message addresses the bot (private, or an @-mention in a group)."""
        return bool(getattr(self.ev.payload, "to_me", True))

    def reply(self, message: MessageLike) -> None:
        """Answer in the chat (sent once the turn is stored)."""
        from qqbus.actions import to_message

        self.replies.append([s.model_dump(mode="json") for s in to_message(message)])

    def end(self, message: MessageLike | None = None) -> None:
        """This is the last turn: the user's next message is theirs again."""
        if message is not None:
            self.reply(message)
        self.ended = True

    def ignore(self, message: MessageLike | None = None) -> None:
        """Not a turn: nothing is stored and the wait goes on (``message``, e.g. a hint, is sent)."""
        if message is not None:
            self.reply(message)
        self.ignored = True


@dataclass(frozen=True)
class Waiting:
    """A conversation row as read: who waits for what, and where it stands."""

    step: str
    state: dict[str, Any]
    turns: int
    deadline: int  # event time after which the wait is over
    active: bool  # False: it ended (kept until it expires, so that older events stay ignored)
    last_event: str
    last_order: tuple[int, int]
    seen: tuple[str, ...]
    replies: list[Any]
    version: int

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Waiting:
        return cls(
            step=str(row.get("step", "")),
            state=json.loads(row.get("state") or "{}"),
            turns=int(row.get("turns", 0)),
            deadline=int(row.get("deadline", 0)),
            active=row.get("status") == "waiting",
            last_event=str(row.get("last_event", "")),
            last_order=(int(row.get("last_at", 0)), int(row.get("last_rx", 0))),
            seen=tuple(row.get("seen") or ()),
            replies=json.loads(row.get("replies") or "[]"),
            version=int(row.get("version", 0)),
        )

    def waits_at(self, at: int) -> bool:
        return self.active and at <= self.deadline


def _order(ev: Any) -> tuple[int, int]:
    """(event time in seconds, ingress received_at in ms): the order of a user's messages."""
    chat = ev.payload.chat()
    received = int(getattr(ev, "received_at", 0) or 0)
    at = chat.time if chat is not None and chat.time is not None else received // 1000
    return int(at), received


def _where(ev: Any) -> tuple[str, str] | None:
    """(chat key, user id) of a message event, or None when it has no sender."""
    payload = getattr(ev, "payload", None)
    chat = payload.chat() if isinstance(payload, MessageLikeEvent) else None
    if chat is None or chat.user_id is None:
        return None
    return chat.key, chat.user_id


def _send(ev: Any, replies: list[Any]) -> None:
    from qqbus.events.message import Segment

    for message in replies:
        ev.reply([Segment.model_validate(s) for s in message])


class Conversations:
    """The steps a conversation can wait on, and the routing of a waiting user's messages.

    ``store`` gives the bot data table (default: the function's, when it has
    ``BOT_DATA_TABLE_NAME``; None: no conversations here, every message goes to the commands).
    """

    def __init__(self, store: Callable[[], BotData | None] | None = None) -> None:
        self.steps: dict[str, Step] = {}
        self.store = store or _bot_data_store

    def step(
        self, name: str, *, timeout: int = 300, max_turns: int = 20, cancelled: str = "cancelled"
    ) -> Callable[[Callable[[Turn], None]], Callable[[Turn], None]]:
        """Register ``fn(turn)`` as the step ``name`` (a decorator; returns ``fn``).

        Parameters
        ----------
        timeout:
            Seconds of event time without a turn after which the wait is over (silently).
        max_turns:
            Turns after which the conversation ends even when the step did not end it.
        cancelled:
            The answer to the cancel word.
        """
        if name in self.steps:
            raise ValueError(f"step {name!r} is registered twice")
        if timeout <= 0 or max_turns <= 0:
            raise ValueError("timeout and max_turns must be positive")

        def register(fn: Callable[[Turn], None]) -> Callable[[Turn], None]:
            self.steps[name] = Step(name, fn, timeout, max_turns, cancelled)
            return fn

        return register

    # --- starting -----------------------------------------------------------------------------

    def start(self, ev: Any, step: str, state: dict[str, Any] | None = None) -> bool:
        """Wait for the next message of ``ev``'s sender in ``ev``'s chat, for ``step``.

        Replaces a wait the user had there. Returns False, and changes nothing, when this event
        already started it (a retried run keeps the first run's state) or when a later message of
        the user was already taken.

        Raises
        ------
        RuntimeError
            This function has no bot data table (``BOT_DATA_TABLE_NAME``).
        """
        spec = self.steps[step]
        data = self.store()
        where = _where(ev)
        if data is None:
            raise RuntimeError(f"conversations need a table: set {BOT_DATA_TABLE_ENV} (see template.yaml)")
        if where is None:
            return False
        event_id = str(ev.event_id)
        order = _order(ev)
        for _ in range(_ATTEMPTS):
            row = data.read(str(ev.bot_id), row_key("conv", *where))
            now = Waiting.from_row(row) if row else None
            if now is not None and (event_id in now.seen or now.last_order > order):
                return False
            if self._write(data, ev, where, spec, state or {}, 0, [event_id], [], now, order, True):
                note(f"conversation {step}: waiting", step=step, chat=where[0])
                return True
        return False

    # --- routing ------------------------------------------------------------------------------

    def handle(self, ev: Any) -> bool:
        """Give ``ev`` to the conversation its sender waits in, if any; False: not taken.

        A ``/command`` (other than the cancel word) is never taken: commands run as usual.
        """
        where = _where(ev)
        if where is None:
            return False
        text = ev.payload.addressed_text
        cancel = text.lower() in CANCEL_WORDS
        if text[:1] in ("/", "／") and not cancel:
            return False
        data = self.store()
        if data is None:
            return False
        event_id = str(ev.event_id)
        order = _order(ev)
        for _ in range(_ATTEMPTS):
            row = data.read(str(ev.bot_id), row_key("conv", *where))
            now = Waiting.from_row(row) if row else None
            if now is None:
                return False
            if event_id in now.seen:
                if event_id == now.last_event:  # a redelivery of the last turn: its answer again
                    _send(ev, now.replies)
                note("conversation: event already applied", step=now.step)
                return True
            if not now.active:
                return False  # it ended: the user's messages are theirs again
            if now.last_order > order:
                note("conversation: older than the last turn, ignored", step=now.step)
                return True
            spec = self.steps.get(now.step)
            if not now.waits_at(order[0]) or spec is None:
                return False  # over (timed out, or a step this code does not have)
            if cancel:
                replies = [[{"type": "text", "data": {"text": spec.cancelled}}]]
                seen = [*now.seen, event_id]
                if self._write(data, ev, where, spec, now.state, now.turns, seen, replies, now, order, False):
                    note(f"conversation {spec.name}: cancelled", step=spec.name)
                    _send(ev, replies)
                    return True
                continue
            turn = Turn(ev, text, json.loads(json.dumps(now.state)), now.turns + 1, spec)
            spec.run(turn)
            if turn.ignored:
                _send(ev, turn.replies)
                return True
            going_on = not turn.ended and not turn.is_last
            seen = [*now.seen, event_id][-(spec.max_turns + 1) :]
            if self._write(
                data, ev, where, spec, turn.state, turn.number, seen, turn.replies, now, order, going_on
            ):
                note(
                    f"conversation {spec.name}: turn {turn.number}" + ("" if going_on else ", ended"),
                    step=spec.name,
                    turn=turn.number,
                )
                _send(ev, turn.replies)
                return True
        logger.warning("conversation: the row kept changing; message dropped")
        return True

    def waiting(self, ev: Any) -> Waiting | None:
        """The conversation ``ev``'s sender waits in, in ``ev``'s chat, if any (for tests, tools)."""
        where, data = _where(ev), self.store()
        if where is None or data is None:
            return None
        row = data.read(str(ev.bot_id), row_key("conv", *where))
        return Waiting.from_row(row) if row else None

    @staticmethod
    def _write(
        data: BotData,
        ev: Any,
        where: tuple[str, str],
        spec: Step,
        state: dict[str, Any],
        turns: int,
        seen: list[str],
        replies: list[Any],
        read: Waiting | None,
        order: tuple[int, int],
        waiting: bool,
    ) -> bool:
        """Store the conversation as of ``ev``, if the row is still the version ``read``."""
        at, received = order
        deadline = at + spec.timeout
        # The TTL also counts from now: an event-time clock behind AWS's must not delete a live wait.
        expires = max(deadline, int(time.time()) + spec.timeout)
        item = {
            "bot_id": str(ev.bot_id),
            "key": row_key("conv", *where),
            "chat": where[0],
            "user_id": where[1],
            "protocol": ev.payload.protocol,
            "step": spec.name,
            "state": json.dumps(state, ensure_ascii=False, separators=(",", ":")),
            "turns": turns,
            "status": "waiting" if waiting else "ended",
            "deadline": deadline,
            "last_event": str(ev.event_id),
            "last_at": at,
            "last_rx": received,
            "seen": seen,
            "replies": json.dumps(replies, ensure_ascii=False, separators=(",", ":")),
            "version": (read.version if read else 0) + 1,
            "updated_at": int(time.time()),
            TTL_ATTRIBUTE: expires,
        }
        if read is None:
            condition, values = "attribute_not_exists(#k)", {}
        else:
            condition, values = "#version = :read", {":read": {"N": str(read.version)}}
        names = {"#k": "key"} if read is None else {"#version": "version"}
        try:
            data.client.put_item(
                TableName=data.table_name,
                Item={k: data.serialize(v) for k, v in item.items()},
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                **({"ExpressionAttributeValues": values} if values else {}),
            )
        except data.client.exceptions.ConditionalCheckFailedException:
            return False
        return True


def _bot_data_store() -> BotData | None:
    """The bot data table, when this function has one (``BOT_DATA_TABLE_NAME``)."""
    import os

    from qqbus.bot_data import bot_data

    return bot_data() if os.environ.get(BOT_DATA_TABLE_ENV, "").strip() else None
