"""What one event did, and the assertions a bot author writes about it.

``bot.receive(event)`` returns a ``Received``: the functions the template's rules sent the event
to, what each returned, the actions they asked for (each with what the sender's gate would do
with it: sent, refused or failed, and why), the rows written, the log lines and the metrics.
Its ``should_*`` methods fail with an ``AssertionError`` that lists what was asked for instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from qqbus.actions import Action, MessageLike, to_message
from qqbus.events.message import Segment, plain_text

from qqbus_dev.testing.events import Event

__all__ = ["Call", "Outcome", "Received", "Reply", "Write"]

#: Table aliases a test may use instead of the template's logical ids.
TABLE_ALIASES = {"groups": "GroupsTable", "users": "UsersTable"}


@dataclass(frozen=True)
class Outcome:
    """What the sender would do with an action now: ``sent``, or ``refused``/``failed`` and why."""

    outcome: str
    reason: str | None = None
    message: str | None = None

    def __str__(self) -> str:
        return self.outcome if self.reason is None else f"{self.outcome}: {self.reason}"


@dataclass(frozen=True)
class Reply:
    """A message the handler asked to send: a reply, or an unprompted post."""

    action: Action
    outcome: Outcome

    @property
    def text(self) -> str:
        """The text segments joined."""
        return plain_text(self.action.message or [])

    @property
    def segments(self) -> list[dict[str, Any]]:
        """The message as ``{"type", "data"}`` segments."""
        return [s.model_dump() for s in self.action.message or []]

    @property
    def group_id(self) -> str | None:
        return self.action.target.group_id

    @property
    def user_id(self) -> str | None:
        return self.action.target.user_id

    @property
    def quoted(self) -> str | None:
        """The message id a leading ``reply`` segment quotes, if any."""
        message = self.action.message or []
        first = message[0] if message else None
        return str(first.data.get("id")) if isinstance(first, Segment) and first.type == "reply" else None

    @property
    def passive(self) -> bool:
        """It answers a message or an event (it cites one), rather than being unprompted."""
        return self.action.reply_to is not None


@dataclass(frozen=True)
class Call:
    """An action by name with its parameters (OneBot: the API call; QQ: the message action)."""

    action: Action
    outcome: Outcome

    @property
    def name(self) -> str:
        return self.action.action

    @property
    def params(self) -> dict[str, Any]:
        return self.action.params


@dataclass(frozen=True)
class Write:
    """A row of a state table that the event changed: its item before and after (None: absent)."""

    table: str
    key: tuple[Any, ...]
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def describe(action: Action, outcome: Outcome | None = None) -> str:
    """One line for an action: ``onebot.send_group_msg to group 1: "pong" (sent)``."""
    where = ", ".join(
        f"{kind} {value}"
        for kind, value in (("group", action.target.group_id), ("user", action.target.user_id))
        if value is not None
    )
    if action.message is not None:
        parts = [
            repr(str(s.data.get("text", ""))) if s.type == "text" else f"[{s.type} {_short(s.data)}]"
            for s in action.message
        ]
        what = " + ".join(parts) or "(empty message)"
    else:
        what = _short(action.params)
    line = f"{action.detail_type}" + (f" to {where}" if where else "") + f": {what}"
    return line + (f" ({outcome})" if outcome is not None else "")


def _short(data: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in data.items())


def _same(got: Any, want: Any) -> bool:
    """Equal, with ids compared as text (a group id is 123 in params and "123" in a row)."""
    if got == want:
        return True
    if isinstance(got, bool) or isinstance(want, bool):
        return False
    if isinstance(got, int | str) and isinstance(want, int | str):
        return str(got) == str(want)
    return False


def _matches(message: MessageLike | re.Pattern[str] | None, reply: Reply) -> bool:
    if message is None:
        return True
    if isinstance(message, re.Pattern):
        return message.search(reply.text) is not None
    if isinstance(message, str):
        return reply.text == message
    return reply.segments == [s.model_dump() for s in to_message(message)]


def _want(message: Any) -> str:
    if message is None:
        return "a reply"
    if isinstance(message, re.Pattern):
        return f"a reply matching /{message.pattern}/"
    if isinstance(message, str):
        return f"the reply {message!r}"
    return f"the reply {[s.model_dump() for s in to_message(message)]}"


@dataclass
class Received:
    """What the handlers did with one event (see the module's docstring)."""

    event: Event
    functions: list[str]
    values: dict[str, Any]
    actions: list[Action]
    outcomes: list[Outcome]
    writes: list[Write]
    logs: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)

    # --- reading ----------------------------------------------------------------------------

    @property
    def value(self) -> Any:
        """What the handler returned (the one function the event reached)."""
        if len(self.values) != 1:
            raise AssertionError(f"{self.event} reached {len(self.values)} functions: {sorted(self.values)}")
        return next(iter(self.values.values()))

    @property
    def status(self) -> str:
        """``handled``; or ``invalid`` (the model refused the payload) or ``duplicate`` (the event
        id was handled before), as the handler's pipeline reports them."""
        for value in self.values.values():
            if isinstance(value, dict) and value.get("status") in ("invalid", "duplicate"):
                return str(value["status"])
        return "handled"

    @property
    def error(self) -> str | None:
        """Why the payload was refused (status ``invalid``)."""
        for value in self.values.values():
            if isinstance(value, dict) and value.get("status") == "invalid":
                return str(value.get("error"))
        return None

    @property
    def replies(self) -> list[Reply]:
        """The messages asked for, in order (replies and unprompted posts)."""
        return [
            Reply(a, o) for a, o in zip(self.actions, self.outcomes, strict=True) if a.message is not None
        ]

    @property
    def texts(self) -> list[str]:
        """The text of each message asked for, in order."""
        return [r.text for r in self.replies]

    @property
    def calls(self) -> list[Call]:
        """Every action asked for, by name with its parameters, in order."""
        return [Call(a, o) for a, o in zip(self.actions, self.outcomes, strict=True)]

    @property
    def refused(self) -> list[tuple[Action, Outcome]]:
        """The actions the sender would not send, with why."""
        return [(a, o) for a, o in zip(self.actions, self.outcomes, strict=True) if o.outcome != "sent"]

    def rows(self, table: str = "groups") -> list[Write]:
        """The writes to ``table`` (``groups``, ``users`` or a logical id)."""
        logical_id = TABLE_ALIASES.get(table, table)
        return [w for w in self.writes if w.table == logical_id]

    def summary(self) -> str:
        """What happened, in lines: the status, each action and its outcome, each row written."""
        lines = [f"{self.event} -> {', '.join(self.functions) or 'no function'}: {self.status}"]
        if self.error:
            lines.append(f"  refused by the model: {self.error}")
        if self.actions:
            lines += [
                f"  asked {n}. {describe(a, o)}" for n, (a, o) in enumerate(self.calls_with_outcomes(), 1)
            ]
        else:
            lines.append("  asked for nothing")
        lines += [f"  wrote {w.table} {w.key}: {_changed(w)}" for w in self.writes]
        return "\n".join(lines)

    def calls_with_outcomes(self) -> Iterable[tuple[Action, Outcome]]:
        return zip(self.actions, self.outcomes, strict=True)

    def __str__(self) -> str:
        return self.summary()

    # --- asserting --------------------------------------------------------------------------

    def _fail(self, expected: str) -> None:
        __tracebackhide__ = True
        raise AssertionError(f"expected {expected}; instead:\n{self.summary()}")

    def should_reply(
        self,
        message: MessageLike | re.Pattern[str] | None = None,
        *,
        group_id: str | int | None = None,
        user_id: str | int | None = None,
        quote: bool | None = None,
    ) -> Reply:
        """A message was asked for: with this text (``str``: all its text segments, exactly),
        matching this pattern (``re.compile``), or with these segments (a ``Segment`` or a list);
        to ``group_id`` / ``user_id`` when given; quoting the message when ``quote``. Returns it."""
        __tracebackhide__ = True
        for reply in self.replies:
            if (
                _matches(message, reply)
                and (group_id is None or _same(reply.group_id, group_id))
                and (user_id is None or _same(reply.user_id, user_id))
                and (quote is None or (reply.quoted is not None) == quote)
            ):
                return reply
        where = (
            "".join(f" {k} {v}" for k, v in (("to group", group_id), ("to user", user_id)) if v is not None)
            + ({True: " quoting the message", False: " not quoting", None: ""}[quote])
        )
        self._fail(_want(message) + where)
        raise AssertionError  # unreachable: _fail raised

    def should_not_reply(self) -> None:
        """No message was asked for."""
        __tracebackhide__ = True
        if self.replies:
            self._fail("no reply")

    def should_call(self, action: str, /, **params: Any) -> Call:
        """An action named ``action`` (``set_group_ban`` or ``onebot.set_group_ban``) was asked
        for with at least these parameters (ids compare as text). Returns it."""
        __tracebackhide__ = True
        name = action.split(".", 1)[1] if "." in action else action
        protocol = action.split(".", 1)[0] if "." in action else None
        for call in self.calls:
            if call.name != name or (protocol and call.action.protocol != protocol):
                continue
            if all(k in call.params and _same(call.params[k], v) for k, v in params.items()):
                return call
        self._fail(f"a call {action}({_short(params)})")
        raise AssertionError

    def should_not_call(self, action: str | None = None) -> None:
        """No action named ``action`` (None: no action at all) was asked for."""
        __tracebackhide__ = True
        name = action.split(".", 1)[-1] if action else None
        if any(name is None or c.name == name for c in self.calls):
            self._fail(f"no call {action}" if action else "no action at all")

    def should_write(self, table: str = "groups", /, **attributes: Any) -> Write:
        """A row of ``table`` (``groups``, ``users`` or a logical id) was written and now holds
        these attributes (keys included: ``group_id="123"``; ids compare as text; ``None``: the
        attribute is absent). Returns the write."""
        __tracebackhide__ = True
        for write in self.rows(table):
            after = write.after or {}
            if all(
                (after.get(k) is None) if v is None else _same(after.get(k), v) for k, v in attributes.items()
            ):
                return write
        self._fail(f"a {table} row with {_short(attributes)}")
        raise AssertionError

    def should_not_write(self, table: str | None = None) -> None:
        """No state row was changed (of ``table``, when given)."""
        __tracebackhide__ = True
        if self.rows(table) if table else self.writes:
            self._fail(f"no write to {table or 'any table'}")

    def should_be_refused(self, reason: str | None = None) -> tuple[Action, Outcome]:
        """An action asked for would be refused (or fail) at the sender, for ``reason``
        (``muted``, ``not_member``, ``proactive_off``, ``reply_window_closed``, ``reply_limit``...)."""
        __tracebackhide__ = True
        for action, outcome in self.refused:
            if reason is None or outcome.reason == reason:
                return action, outcome
        self._fail(f"an action refused{f' ({reason})' if reason else ''}")
        raise AssertionError

    def should_be_sent(self) -> None:
        """Something was asked for, and the sender would send all of it."""
        __tracebackhide__ = True
        if not self.actions or self.refused:
            self._fail("actions that the sender sends")

    def should_be_invalid(self, match: str | None = None) -> None:
        """The handler's model refused the payload (reported, not retried); ``match`` is a
        substring of the reason (``"user_id"``)."""
        __tracebackhide__ = True
        if self.status != "invalid" or (match is not None and match not in (self.error or "")):
            self._fail(f"the payload refused as invalid{f' ({match})' if match else ''}")

    def should_be_duplicate(self) -> None:
        """The event id had been handled before: the handler did not run again."""
        __tracebackhide__ = True
        if self.status != "duplicate":
            self._fail("a duplicate (handled before)")


def _changed(write: Write) -> str:
    before, after = write.before or {}, write.after or {}
    if write.after is None:
        return "deleted"
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    removed = [k for k in before if k not in after]
    text = _short(changed)
    return text + (f"; removed {', '.join(removed)}" if removed else "")
