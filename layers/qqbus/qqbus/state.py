"""Each group's state for each bot: member or not, proactive messages, mute, admin.

Platforms push changes as events and never say "the current state", and EventBridge delivers
them at least once and in any order. So every attribute group carries the event time that set
it (``member_at``, ``proactive_at``, ...), and a write is conditional: an event older than (or
as old as) the stored one changes nothing. Replays, duplicates and late arrivals are harmless.

Two adapters share the domain methods of ``GroupStore``: ``DynamoGroupStore`` (the groups
table of template.yaml) and ``InMemoryGroupStore`` (for unit tests and experiments).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal

from qqbus.aws import cached, client, require_env

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

Protocol = Literal["qq", "onebot"]

#: ``muted_until`` for a mute with no end (a whole-group mute lasts until it is lifted).
MUTED_UNTIL_LIFTED = 253402300799  # 9999-12-31T23:59:59Z

GROUPS_TABLE_ENV = "GROUPS_TABLE_NAME"


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
    muted_until: int | None = None
    mute_scope: str | None = None
    muted_at: int | None = None
    bot_admin: bool | None = None
    admin_at: int | None = None
    updated_at: int | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> GroupState:
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {k: (int(v) if _is_number(v) else v) for k, v in item.items() if k in known}
        return cls(**values)

    def is_muted(self, now: int | None = None) -> bool:
        now = int(time.time()) if now is None else now
        return self.muted_until is not None and self.muted_until > now


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and hasattr(value, "as_integer_ratio")


class GroupStore(ABC):
    """The domain operations on group state; adapters implement ``_apply``, ``get``, ``scan``."""

    def mark_member(
        self, bot_id: str, group_id: str, *, protocol: Protocol, member: bool, at: int, by: str | None = None
    ) -> bool:
        """The bot joined (``member=True``) or left a group at ``at``. False if stale."""
        return self._apply(bot_id, group_id, protocol, "member_at", at, {"member": member, "member_by": by})

    def set_proactive(
        self, bot_id: str, group_id: str, *, accepts: bool, at: int, by: str | None = None
    ) -> bool:
        """A QQ group accepted (GROUP_MSG_RECEIVE) or refused (GROUP_MSG_REJECT) proactive messages."""
        return self._apply(
            bot_id, group_id, "qq", "proactive_at", at, {"proactive": accepts, "proactive_by": by}
        )

    def set_reply_event(self, bot_id: str, group_id: str, *, event_id: str | None, at: int) -> bool:
        """The QQ event id to cite when posting unprompted into the group (None clears it)."""
        return self._apply(bot_id, group_id, "qq", "reply_event_at", at, {"reply_event_id": event_id})

    def set_muted(
        self,
        bot_id: str,
        group_id: str,
        *,
        protocol: Protocol,
        until: int | None,
        at: int,
        scope: Literal["self", "group"] | None = None,
    ) -> bool:
        """The bot is muted in the group until ``until`` (Unix seconds); None lifts the mute."""
        values = {"muted_until": until, "mute_scope": scope if until is not None else None}
        return self._apply(bot_id, group_id, protocol, "muted_at", at, values)

    def set_admin(self, bot_id: str, group_id: str, *, protocol: Protocol, admin: bool, at: int) -> bool:
        """The bot became or stopped being an admin of the group."""
        return self._apply(bot_id, group_id, protocol, "admin_at", at, {"bot_admin": admin})

    @abstractmethod
    def _apply(
        self,
        bot_id: str,
        group_id: str,
        protocol: Protocol,
        clock: str,
        at: int,
        values: dict[str, Any],
    ) -> bool:
        """Set ``values`` (None removes) and ``clock = at`` unless ``clock`` >= ``at`` already."""

    @abstractmethod
    def get(self, bot_id: str, group_id: str) -> GroupState | None: ...

    @abstractmethod
    def scan(self, bot_id: str | None = None) -> list[GroupState]: ...


class InMemoryGroupStore(GroupStore):
    """The same semantics in a dict: for domain tests and experiments."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def _apply(
        self, bot_id: str, group_id: str, protocol: Protocol, clock: str, at: int, values: dict[str, Any]
    ) -> bool:
        item = self.items.setdefault(
            (bot_id, group_id), {"bot_id": bot_id, "group_id": group_id, "protocol": protocol}
        )
        if clock in item and item[clock] >= at:
            return False
        item[clock] = at
        item["updated_at"] = int(time.time())
        for name, value in values.items():
            if value is None:
                item.pop(name, None)
            else:
                item[name] = value
        return True

    def get(self, bot_id: str, group_id: str) -> GroupState | None:
        item = self.items.get((bot_id, group_id))
        return GroupState.from_item(item) if item else None

    def scan(self, bot_id: str | None = None) -> list[GroupState]:
        return [
            GroupState.from_item(item)
            for (b, _), item in sorted(self.items.items())
            if bot_id is None or b == bot_id
        ]


class DynamoGroupStore(GroupStore):
    """The groups table: partition key ``bot_id`` (S), sort key ``group_id`` (S)."""

    def __init__(self, table_name: str, dynamodb: DynamoDBClient | None = None) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.table_name = table_name
        self._client = dynamodb or client("dynamodb")
        self._ser = TypeSerializer()
        self._de = TypeDeserializer()

    def _apply(
        self, bot_id: str, group_id: str, protocol: Protocol, clock: str, at: int, values: dict[str, Any]
    ) -> bool:
        names = {"#clock": clock, "#protocol": "protocol", "#updated": "updated_at"}
        attr_values: dict[str, Any] = {
            ":at": {"N": str(at)},
            ":protocol": {"S": protocol},
            ":now": {"N": str(int(time.time()))},
        }
        sets = ["#protocol = if_not_exists(#protocol, :protocol)", "#clock = :at", "#updated = :now"]
        removes = []
        for i, (name, value) in enumerate(values.items()):
            names[f"#a{i}"] = name
            if value is None:
                removes.append(f"#a{i}")
            else:
                attr_values[f":v{i}"] = self._ser.serialize(value)
                sets.append(f"#a{i} = :v{i}")
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key={"bot_id": {"S": bot_id}, "group_id": {"S": group_id}},
                UpdateExpression=expression,
                ConditionExpression="attribute_not_exists(#clock) OR #clock < :at",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=attr_values,
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def get(self, bot_id: str, group_id: str) -> GroupState | None:
        item = self._client.get_item(
            TableName=self.table_name,
            Key={"bot_id": {"S": bot_id}, "group_id": {"S": group_id}},
            ConsistentRead=True,
        ).get("Item")
        return self._state(item) if item else None

    def scan(self, bot_id: str | None = None) -> list[GroupState]:
        if bot_id is None:
            pages = self._client.get_paginator("scan").paginate(TableName=self.table_name)
        else:
            pages = self._client.get_paginator("query").paginate(
                TableName=self.table_name,
                KeyConditionExpression="bot_id = :b",
                ExpressionAttributeValues={":b": {"S": bot_id}},
            )
        states = [self._state(item) for page in pages for item in page.get("Items", [])]
        return sorted(states, key=lambda s: (s.bot_id, s.group_id))

    def _state(self, item: dict[str, Any]) -> GroupState:
        return GroupState.from_item({k: self._de.deserialize(v) for k, v in item.items()})


@cached
def groups() -> GroupStore:
    """The groups store of this function: the table named by ``GROUPS_TABLE_NAME``."""
    return DynamoGroupStore(require_env(GROUPS_TABLE_ENV))
