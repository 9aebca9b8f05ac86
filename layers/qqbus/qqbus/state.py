"""Each group's state for each bot: member or not, proactive messages, mutes, admin.

Platforms push changes as events and never say "the current state", and EventBridge delivers
them at least once and in any order. So every attribute group carries the event time that set
it (``member_at``, ``proactive_at``, ...), and a write is conditional: the stored value stays
unless the new event comes later in a total order of events, so the final state depends on the
events only, never on their delivery order. Replays, duplicates and late arrivals are harmless.

The order: event time first. Two events of the same second cannot be ordered by time, so the
value that *undoes or restricts* wins (leaving over joining, REJECT over RECEIVE, a lifted mute
over a mute, unset over set; see ``_tie``), and then the greater event id (``tiebreak``). The
same event again is equal, not later: a duplicate changes nothing. Each clock's tie key is
kept beside it (``member_tie`` beside ``member_at``, ...).

Each user's state for each bot works the same way (``UserStore``: friend or not, whether the
user accepts the bot's C2C messages, the event id to cite when messaging them). Two adapters
share each store's domain methods: DynamoDB (the groups and users tables of template.yaml) and
in-memory (for unit tests and experiments); both run the same write rule (``_Rows``).
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, NamedTuple, TypeVar

from qqbus.aws import cached, client, require_env
from qqbus.observability import note

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

Protocol = Literal["qq", "onebot"]

#: ``muted_until`` for a mute with no end (a whole-group mute lasts until it is lifted).
MUTED_UNTIL_LIFTED = 253402300799  # 9999-12-31T23:59:59Z

#: Rows written before the self/group split said which mute ``muted_until`` was in this attribute.
LEGACY_MUTE_SCOPE = "mute_scope"

#: A command a group switched off: ``disabled(<name>)`` (true), with its own clock
#: ``disabled(<name>)_at``. One clock per command, so a late /enable of one command never undoes
#: a /disable of another. Parentheses cannot occur in a command name, so no two names collide.
_SWITCH = re.compile(r"disabled\((?P<name>[^()]+)\)")

GROUPS_TABLE_ENV = "GROUPS_TABLE_NAME"
USERS_TABLE_ENV = "USERS_TABLE_NAME"


@dataclass
class GroupState:
    """One row of the groups table."""

    bot_id: str
    group_id: str
    protocol: str
    member: bool | None = None
    member_at: int | None = None
    member_by: str | None = None
    proactive: bool | None = None
    proactive_at: int | None = None
    proactive_by: str | None = None
    reply_event_id: str | None = None
    reply_event_at: int | None = None
    muted_until: int | None = None  # the bot's own mute
    muted_at: int | None = None
    group_muted_until: int | None = None  # a whole-group mute: its own slot and clock
    group_muted_at: int | None = None
    bot_admin: bool | None = None
    admin_at: int | None = None
    disabled_commands: tuple[str, ...] | None = None  # sorted; each has its own clock (``_SWITCH``)
    updated_at: int | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> GroupState:
        known = {f.name for f in fields(cls)} - {"disabled_commands"}
        values: dict[str, Any] = {k: (int(v) if _is_number(v) else v) for k, v in item.items() if k in known}
        disabled = sorted(m["name"] for k, v in item.items() if v is True and (m := _SWITCH.fullmatch(k)))
        if disabled:
            values["disabled_commands"] = tuple(disabled)
        if item.get(LEGACY_MUTE_SCOPE) == "group":
            # Written before the two slots: muted_until/muted_at held a whole-group mute.
            until, at = values.pop("muted_until", None), values.pop("muted_at", None)
            if "group_muted_at" not in values:
                values.update(group_muted_until=until, group_muted_at=at)
        return cls(**values)

    def is_self_muted(self, now: int | None = None) -> bool:
        """The bot itself is muted in the group at ``now`` (default: the current time)."""
        return _until_after(self.muted_until, now)

    def is_group_muted(self, now: int | None = None) -> bool:
        """The whole group is muted at ``now``."""
        return _until_after(self.group_muted_until, now)

    def is_muted(self, now: int | None = None) -> bool:
        """The bot cannot speak: its own mute, or a whole-group mute unless the bot is an admin."""
        return self.is_self_muted(now) or (self.is_group_muted(now) and not self.bot_admin)

    def is_command_enabled(self, command: str) -> bool:
        """``command`` (its canonical name) was not switched off in this group."""
        return command not in (self.disabled_commands or ())


@dataclass
class UserState:
    """One row of the users table."""

    bot_id: str
    user_id: str
    protocol: str
    friend: bool | None = None
    friend_at: int | None = None
    proactive: bool | None = None  # QQ: C2C_MSG_RECEIVE / C2C_MSG_REJECT
    proactive_at: int | None = None
    reply_event_id: str | None = None  # QQ: a FRIEND_ADD / C2C_MSG_RECEIVE id to cite
    reply_event_at: int | None = None
    updated_at: int | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> UserState:
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {k: (int(v) if _is_number(v) else v) for k, v in item.items() if k in known}
        return cls(**values)


def _until_after(until: int | None, now: int | None) -> bool:
    return until is not None and until > (int(time.time()) if now is None else now)


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and hasattr(value, "as_integer_ratio")


def _tie(wins: bool, tiebreak: str) -> str:
    """The key that orders two events of the same second: the winning value, then the event id.

    Strings compare alike in Python and DynamoDB (UTF-8 byte order is code point order).
    """
    return f"{1 if wins else 0}:{tiebreak}"


def tie_attribute(clock: str) -> str:
    """The attribute that keeps ``clock``'s tie key: ``member_at`` -> ``member_tie``."""
    return clock.removesuffix("_at") + "_tie"


S = TypeVar("S")


def allows(item: dict[str, Any], change: Change) -> bool:
    """The write rule: whether the row ``item`` takes ``change``, i.e. its (at, tie) is later than
    the stored (clock, tie): no clock yet, an older clock, or the same clock and a smaller tie."""
    clock, at, tie, _ = change
    if clock not in item:
        return True
    stored = item[clock]
    return bool(stored < at or (stored == at and str(item.get(tie_attribute(clock), "")) < tie))


def _disjoint(changes: tuple[Change, ...]) -> bool:
    """No attribute is written by two changes (one UpdateItem cannot name a path twice)."""
    written = [n for c in changes for n in (c.clock, tie_attribute(c.clock), *c.values)]
    return len(written) == len(set(written))


class Written(tuple[bool, ...]):
    """What ``write`` did: whether each change wrote, in order. ``changed`` is False when the row
    took none of them (a duplicate or a late event): a state handler returns it, and the handler
    pipeline reports such a run as ``unchanged`` without keeping a lock record of its own."""

    @property
    def changed(self) -> bool:
        return any(self)


class Change(NamedTuple):
    """One attribute group's write: set ``values`` (None removes) if (``at``, ``tie``) is later
    than the stored (``clock``, its tie). Made by the stores' change methods (``member``, ...)."""

    clock: str
    at: int
    tie: str
    values: dict[str, Any]


class _Rows(ABC, Generic[S]):
    """Rows keyed (``bot_id``, ``SORT_KEY``) whose attribute groups each carry a clock.

    ``_apply`` is the one write rule of this module; ``get`` and ``scan`` read rows as ``STATE``.
    """

    SORT_KEY: ClassVar[str]
    STATE: ClassVar[Any]  # the row dataclass, with ``from_item``

    def write(self, bot_id: str, key: str, protocol: Protocol, *changes: Change) -> Written:
        """Apply ``changes`` to one row, each under its own clock: the same outcome as applying
        them one by one, in one write when every clock allows (whether each wrote, in order).
        What changed goes in the invocation's log line."""
        written = Written(self._apply(bot_id, key, protocol, changes))
        if written.changed:
            names = [c.clock.removesuffix("_at") for c, w in zip(changes, written, strict=True) if w]
            row: dict[str, Any] = {self.SORT_KEY: key}  # group_id or user_id
            note(f"written: {', '.join(names)}", **row)
        return written

    @abstractmethod
    def _apply(
        self, bot_id: str, key: str, protocol: Protocol, changes: tuple[Change, ...]
    ) -> tuple[bool, ...]:
        """Each change if its (at, tie) is later than its stored (clock, tie): no clock yet, an
        older clock, or the same clock and no tie or a smaller one. Returns whether each wrote.
        """

    @abstractmethod
    def get(self, bot_id: str, key: str) -> S | None: ...

    @abstractmethod
    def scan(self, bot_id: str | None = None) -> list[S]: ...


class GroupStore(_Rows[GroupState]):
    """The domain operations on group state: each method makes a ``Change`` that ``write`` applies.

    Every change takes the event time ``at`` and ``tiebreak``, the event's id: pass it, or two
    different events of the same second and kind are applied first-come. Several changes of one
    event go in one ``write`` (one conditional UpdateItem when every clock allows).
    """

    SORT_KEY = "group_id"
    STATE = GroupState

    @staticmethod
    def member(member: bool, *, at: int, by: str | None = None, tiebreak: str = "") -> Change:
        """The bot joined (``member=True``) or left the group. In one second, leaving wins: a
        join can precede a kick within a second, not follow a leave."""
        return Change("member_at", at, _tie(not member, tiebreak), {"member": member, "member_by": by})

    @staticmethod
    def proactive(accepts: bool, *, at: int, by: str | None = None, tiebreak: str = "") -> Change:
        """The group accepted (GROUP_MSG_RECEIVE) or refused (GROUP_MSG_REJECT) proactive
        messages. In one second, refusing wins: when unsure, do not post into a group that said no."""
        return Change(
            "proactive_at", at, _tie(not accepts, tiebreak), {"proactive": accepts, "proactive_by": by}
        )

    @staticmethod
    def reply_event(event_id: str | None, *, at: int, tiebreak: str = "") -> Change:
        """The QQ event id to cite when posting unprompted (None clears it). In one second,
        clearing wins, as REJECT wins over RECEIVE."""
        return Change("reply_event_at", at, _tie(event_id is None, tiebreak), {"reply_event_id": event_id})

    @staticmethod
    def muted(until: int | None, *, scope: Literal["self", "group"], at: int, tiebreak: str = "") -> Change:
        """The bot (``scope="self"``) or the whole group is muted until ``until``; None lifts it.

        The two mutes have separate slots and clocks: lifting one leaves the other. In one
        second, lifting wins: a lift follows the ban it lifts.
        """
        tie = _tie(until is None, tiebreak)
        if scope == "group":
            return Change("group_muted_at", at, tie, {"group_muted_until": until})
        # a self write also drops the legacy scope marker: muted_until reads as the bot's own again
        return Change("muted_at", at, tie, {"muted_until": until, LEGACY_MUTE_SCOPE: None})

    @staticmethod
    def admin(admin: bool, *, at: int, tiebreak: str = "") -> Change:
        """The bot became or stopped being an admin of the group. In one second, unset wins."""
        return Change("admin_at", at, _tie(not admin, tiebreak), {"bot_admin": admin})

    @staticmethod
    def command_enabled(command: str, enabled: bool, *, at: int, tiebreak: str = "") -> Change:
        """A group admin switched ``command`` on (/enable) or off (/disable) in the group at ``at``.

        Each command has its own clock; in one second, off wins (when unsure, stay quiet).
        """
        if not command or "(" in command or ")" in command:
            raise ValueError(f"not a command name: {command!r}")
        name = f"disabled({command})"
        return Change(f"{name}_at", at, _tie(not enabled, tiebreak), {name: None if enabled else True})


class _InMemoryRows(_Rows[S]):
    """The write rule in a dict: for domain tests and experiments."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def _apply(
        self, bot_id: str, key: str, protocol: Protocol, changes: tuple[Change, ...]
    ) -> tuple[bool, ...]:
        new = {"bot_id": bot_id, self.SORT_KEY: key, "protocol": protocol}
        item = self.items.setdefault((bot_id, key), new)
        return tuple(self._apply_one(item, change) for change in changes)

    @staticmethod
    def _apply_one(item: dict[str, Any], change: Change) -> bool:
        if not allows(item, change):
            return False
        clock, at, tie, values = change
        tie_name = tie_attribute(clock)
        item[clock] = at
        item[tie_name] = tie
        item["updated_at"] = int(time.time())
        for name, value in values.items():
            if value is None:
                item.pop(name, None)
            else:
                item[name] = value
        return True

    def get(self, bot_id: str, key: str) -> S | None:
        item = self.items.get((bot_id, key))
        return self.STATE.from_item(item) if item else None  # type: ignore[no-any-return]

    def scan(self, bot_id: str | None = None) -> list[S]:
        return [
            self.STATE.from_item(item)
            for (b, _), item in sorted(self.items.items())
            if bot_id is None or b == bot_id
        ]


class _DynamoRows(_Rows[S]):
    """The write rule as one conditional UpdateItem: partition key ``bot_id``, sort key ``SORT_KEY``."""

    def __init__(self, table_name: str, dynamodb: DynamoDBClient | None = None) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.table_name = table_name
        self._client = dynamodb or client("dynamodb")
        self._ser = TypeSerializer()
        self._de = TypeDeserializer()

    def _key(self, bot_id: str, key: str) -> dict[str, Any]:
        return {"bot_id": {"S": bot_id}, self.SORT_KEY: {"S": key}}

    def _apply(
        self, bot_id: str, key: str, protocol: Protocol, changes: tuple[Change, ...]
    ) -> tuple[bool, ...]:
        # One conditional UpdateItem for every change the row may take. A refusal returns the row
        # as the condition saw it (ReturnValuesOnConditionCheckFailure), so the changes it still
        # takes are known without a read: none (a duplicate, a late event) costs that one
        # refused write; some (a partly newer event) one more write. The set shrinks on every
        # refusal (the returned row refuses at least one change), so this ends.
        if not _disjoint(changes):  # one UpdateItem cannot name a path twice: one at a time
            return tuple(self._apply(bot_id, key, protocol, (change,))[0] for change in changes)
        pending = list(range(len(changes)))
        wrote = [False] * len(changes)
        while pending:
            row = self._update(bot_id, key, protocol, tuple(changes[i] for i in pending))
            if row is None:
                for i in pending:
                    wrote[i] = True
                break
            still = [i for i in pending if allows(row, changes[i])]
            if still == pending:  # no row came back to say which (it always does): one at a time
                for i in pending:
                    wrote[i] = self._update(bot_id, key, protocol, (changes[i],)) is None
                break
            pending = still
        return tuple(wrote)

    def _update(
        self, bot_id: str, key: str, protocol: Protocol, changes: tuple[Change, ...]
    ) -> dict[str, Any] | None:
        """One conditional UpdateItem setting every change if every change's clock allows it:
        None when it wrote, else the stored row that refused it (empty if there is none)."""
        names = {"#protocol": "protocol", "#updated": "updated_at"}
        attr_values: dict[str, Any] = {":protocol": {"S": protocol}, ":now": {"N": str(int(time.time()))}}
        sets = ["#protocol = if_not_exists(#protocol, :protocol)", "#updated = :now"]
        removes, conditions = [], []
        for c, (clock, at, tie, values) in enumerate(changes):
            names |= {f"#c{c}": clock, f"#t{c}": tie_attribute(clock)}
            attr_values |= {f":at{c}": {"N": str(at)}, f":tie{c}": {"S": tie}}
            sets += [f"#c{c} = :at{c}", f"#t{c} = :tie{c}"]
            conditions.append(
                f"(attribute_not_exists(#c{c}) OR #c{c} < :at{c}"
                f" OR (#c{c} = :at{c} AND (attribute_not_exists(#t{c}) OR #t{c} < :tie{c})))"
            )
            for i, (name, value) in enumerate(values.items()):
                names[f"#a{c}_{i}"] = name
                if value is None:
                    removes.append(f"#a{c}_{i}")
                else:
                    attr_values[f":v{c}_{i}"] = self._ser.serialize(value)
                    sets.append(f"#a{c}_{i} = :v{c}_{i}")
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=self._key(bot_id, key),
                UpdateExpression=expression,
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attr_values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._client.exceptions.ConditionalCheckFailedException as exc:
            item = exc.response.get("Item") or {}
            return {k: self._de.deserialize(v) for k, v in item.items()}
        return None

    def get(self, bot_id: str, key: str) -> S | None:
        item = self._client.get_item(
            TableName=self.table_name, Key=self._key(bot_id, key), ConsistentRead=True
        ).get("Item")
        return self._state(item) if item else None

    def scan(self, bot_id: str | None = None) -> list[S]:
        if bot_id is None:
            pages = self._client.get_paginator("scan").paginate(TableName=self.table_name)
        else:
            pages = self._client.get_paginator("query").paginate(
                TableName=self.table_name,
                KeyConditionExpression="bot_id = :b",
                ExpressionAttributeValues={":b": {"S": bot_id}},
            )
        states = [self._state(item) for page in pages for item in page.get("Items", [])]
        return sorted(states, key=lambda s: (s.bot_id, getattr(s, self.SORT_KEY)))  # type: ignore[attr-defined]

    def _state(self, item: dict[str, Any]) -> S:
        return self.STATE.from_item({k: self._de.deserialize(v) for k, v in item.items()})  # type: ignore[no-any-return]


class InMemoryGroupStore(_InMemoryRows[GroupState], GroupStore):
    """``GroupStore`` in a dict."""


class DynamoGroupStore(_DynamoRows[GroupState], GroupStore):
    """The groups table: partition key ``bot_id`` (S), sort key ``group_id`` (S)."""


class UserStore(_Rows[UserState]):
    """The domain operations on user state (QQ C2C opt-in, friends; OneBot friends)."""

    SORT_KEY = "user_id"
    STATE = UserState

    @staticmethod
    def friend(friend: bool, *, at: int, tiebreak: str = "") -> Change:
        """The user became (FRIEND_ADD, OneBot friend_add) or stopped being (FRIEND_DEL) a friend."""
        return Change("friend_at", at, _tie(not friend, tiebreak), {"friend": friend})

    @staticmethod
    def proactive(accepts: bool, *, at: int, tiebreak: str = "") -> Change:
        """The user accepts (C2C_MSG_RECEIVE) or refuses (C2C_MSG_REJECT) the bot's C2C messages."""
        return Change("proactive_at", at, _tie(not accepts, tiebreak), {"proactive": accepts})

    @staticmethod
    def reply_event(event_id: str | None, *, at: int, tiebreak: str = "") -> Change:
        """The QQ event id to cite when messaging the user unprompted (None clears it)."""
        return Change("reply_event_at", at, _tie(event_id is None, tiebreak), {"reply_event_id": event_id})


class InMemoryUserStore(_InMemoryRows[UserState], UserStore):
    """``UserStore`` in a dict."""


class DynamoUserStore(_DynamoRows[UserState], UserStore):
    """The users table: partition key ``bot_id`` (S), sort key ``user_id`` (S)."""


@cached
def groups() -> GroupStore:
    """The groups store of this function: the table named by ``GROUPS_TABLE_NAME``."""
    return DynamoGroupStore(require_env(GROUPS_TABLE_ENV))


@cached
def users() -> UserStore:
    """The users store of this function: the table named by ``USERS_TABLE_NAME``."""
    return DynamoUserStore(require_env(USERS_TABLE_ENV))
