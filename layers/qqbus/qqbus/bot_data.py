"""The bot's own data: a small typed key-value store for handlers, per bot, per group or per user.

Points, settings, counters, cooldowns: what a bot keeps for itself, in DynamoDB::

    from qqbus.bot_data import Key, bot_data

    POINTS = Key("points", int, default=0)

    data = bot_data()                         # the table named by BOT_DATA_TABLE_NAME
    me = data.user(ev.bot_id, user_id)        # or data.group(bot_id, group_id), data.bot(bot_id)
    me.get(POINTS)                            # 0 until set; an int, checked
    me.incr("points", 5)                      # atomic ADD: returns the new value (5)
    me.set("nickname", "Ann", ttl=86400)      # gone after a day (TTL)
    me.set("daily", True, ttl=86400, if_absent=True)  # False when already set: once a day
    me.set("streak", 3, if_equals=2)          # compare-and-set: False when someone changed it

One table for the bot's data and its conversations (``qqbus.conversations``): partition key
``bot_id``, sort key ``key``. Data rows are ``data#<scope>#<name>`` (scope ``bot``,
``group:<id>`` or ``user:<id>``), conversation rows ``conv#<chat>#<user>``. Why one table: both
are small per-bot items that expire (``expires_at``, the table's TTL attribute), the message
functions need both, and one table is one environment variable, one policy statement and one
``qqbus data`` listing instead of two; the key prefixes keep them apart.

Values are JSON-like: ``str``, ``int``, ``float``, ``bool``, ``None``, lists and dicts of them.
Numbers come back as ``int`` when whole (DynamoDB keeps one number type). An expired item reads
as absent at once (DynamoDB's TTL deletes it later, within days), and ``incr`` on it starts again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

from qqbus.aws import cached, client, require_env

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

__all__ = ["BOT_DATA_TABLE_ENV", "BotData", "DataItem", "Key", "Scope", "bot_data", "row_key"]

#: The table of the bot's data and conversations (template.yaml ``BotDataTable``).
BOT_DATA_TABLE_ENV = "BOT_DATA_TABLE_NAME"
#: The table's TTL attribute (Unix seconds).
TTL_ATTRIBUTE = "expires_at"

T = TypeVar("T")
ScopeKind = Literal["bot", "group", "user"]
_MISSING: Any = object()


def _escape(part: str) -> str:
    """A key part that cannot forge a separator: ``%`` and ``#`` are percent-escaped."""
    return part.replace("%", "%25").replace("#", "%23")


def row_key(prefix: str, *parts: str) -> str:
    """``prefix#part#part``: the sort key of a row of the bot data table."""
    return "#".join([prefix, *(_escape(p) for p in parts)])


@dataclass(frozen=True)
class Key(Generic[T]):
    """A named, typed value: ``scope.get(Key("points", int, default=0))`` is an ``int``."""

    name: str
    type: type[T]
    default: T

    def check(self, value: Any) -> T:
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)  # type: ignore[return-value]
        if not isinstance(value, self.type) or (self.type is int and isinstance(value, bool)):
            raise TypeError(f"{self.name}: stored {type(value).__name__}, expected {self.type.__name__}")
        return value


@dataclass
class DataItem:
    """One stored value, as ``qqbus data`` shows it."""

    bot_id: str
    scope: str  # "bot", "group:<id>" or "user:<id>"
    name: str
    value: Any
    updated_at: int | None = None
    expires_at: int | None = None


def to_dynamo(value: Any) -> Any:
    """A JSON-like value with floats as Decimal, as DynamoDB's serializer wants it."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {str(k): to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_dynamo(v) for v in value]
    return value


def from_dynamo(value: Any) -> Any:
    """The JSON-like value of a deserialized DynamoDB value (Decimal -> int or float)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [from_dynamo(v) for v in value]
    return value


class BotData:
    """The bot data table (``BOT_DATA_TABLE_NAME``): scopes to read and write values in."""

    def __init__(self, table_name: str, dynamodb: DynamoDBClient | None = None) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.table_name = table_name
        self.client: Any = dynamodb or client("dynamodb")
        self._ser = TypeSerializer()
        self._de = TypeDeserializer()

    # --- scopes -----------------------------------------------------------------------------

    def bot(self, bot_id: str | int) -> Scope:
        """Values of the whole bot (settings, totals)."""
        return Scope(self, str(bot_id), "bot")

    def group(self, bot_id: str | int, group_id: str | int) -> Scope:
        """Values of one group (QQ group_openid or OneBot group number)."""
        return Scope(self, str(bot_id), f"group:{group_id}")

    def user(self, bot_id: str | int, user_id: str | int) -> Scope:
        """Values of one user (QQ openid or OneBot QQ number), the same in every chat."""
        return Scope(self, str(bot_id), f"user:{user_id}")

    # --- rows (also used by qqbus.conversations) ---------------------------------------------

    def key(self, bot_id: str, sort_key: str) -> dict[str, Any]:
        return {"bot_id": {"S": bot_id}, "key": {"S": sort_key}}

    def serialize(self, value: Any) -> Any:
        return self._ser.serialize(to_dynamo(value))

    def deserialize(self, item: dict[str, Any]) -> dict[str, Any]:
        return {k: from_dynamo(self._de.deserialize(v)) for k, v in item.items()}

    def read(self, bot_id: str, sort_key: str) -> dict[str, Any] | None:
        """One row (consistent read), or None."""
        got = self.client.get_item(
            TableName=self.table_name, Key=self.key(bot_id, sort_key), ConsistentRead=True
        )
        return self.deserialize(got["Item"]) if "Item" in got else None

    def items(self, bot_id: str | None = None) -> list[DataItem]:
        """Every stored value that has not expired (of ``bot_id``, when given), sorted."""
        now = int(time.time())
        if bot_id is None:
            pages = self.client.get_paginator("scan").paginate(TableName=self.table_name)
        else:
            pages = self.client.get_paginator("query").paginate(
                TableName=self.table_name,
                KeyConditionExpression="bot_id = :b AND begins_with(#k, :p)",
                ExpressionAttributeNames={"#k": "key"},
                ExpressionAttributeValues={":b": {"S": bot_id}, ":p": {"S": "data#"}},
            )
        found = []
        for page in pages:
            for raw in page.get("Items", []):
                row = self.deserialize(raw)
                if not str(row.get("key", "")).startswith("data#") or _expired(row, now):
                    continue
                found.append(
                    DataItem(
                        row["bot_id"],
                        row.get("scope", ""),
                        row.get("name", ""),
                        row.get("value"),
                        row.get("updated_at"),
                        row.get(TTL_ATTRIBUTE),
                    )
                )
        return sorted(found, key=lambda i: (i.bot_id, i.scope, i.name))


def _expired(row: dict[str, Any], now: int) -> bool:
    expires = row.get(TTL_ATTRIBUTE)
    return isinstance(expires, int) and expires <= now


@dataclass
class Scope:
    """The values of one bot, group or user: ``get``, ``set``, ``incr``, ``delete``."""

    data: BotData = field(repr=False)
    bot_id: str
    scope: str

    def _key(self, name: str) -> dict[str, Any]:
        if not name:
            raise ValueError("a value needs a name")
        return self.data.key(self.bot_id, row_key("data", self.scope, name))

    @overload
    def get(self, name: Key[T]) -> T: ...
    @overload
    def get(self, name: str, default: Any = None) -> Any: ...

    def get(self, name: Key[Any] | str, default: Any = None) -> Any:
        """The value of ``name`` (a ``Key`` checks its type), or the default when absent or expired.

        Raises
        ------
        TypeError
            A ``Key``'s stored value has another type.
        """
        typed = name if isinstance(name, Key) else None
        label = typed.name if typed else str(name)
        got = self.data.client.get_item(
            TableName=self.data.table_name, Key=self._key(label), ConsistentRead=True
        )
        row = self.data.deserialize(got["Item"]) if "Item" in got else None
        if row is None or _expired(row, int(time.time())) or "value" not in row:
            return typed.default if typed else default
        return typed.check(row["value"]) if typed else row["value"]

    def set(
        self,
        name: Key[T] | str,
        value: Any,
        *,
        ttl: int | None = None,
        if_absent: bool = False,
        if_equals: Any = _MISSING,
    ) -> bool:
        """Store ``value`` under ``name``; whether it was stored.

        Parameters
        ----------
        ttl:
            Seconds until the value expires (reads see it gone at once; DynamoDB deletes it later).
        if_absent:
            Only when there is no value (or it expired): "once per ttl".
        if_equals:
            Only when the stored value equals this (compare-and-set).
        """
        label = name.name if isinstance(name, Key) else name
        if isinstance(name, Key):
            name.check(value)
        now = int(time.time())
        names = {"#v": "value", "#u": "updated_at", "#e": TTL_ATTRIBUTE, "#s": "scope", "#n": "name"}
        values: dict[str, Any] = {
            ":v": self.data.serialize(value),
            ":now": {"N": str(now)},
            ":s": {"S": self.scope},
            ":n": {"S": label},
        }
        update = "SET #v = :v, #u = :now, #s = :s, #n = :n"
        if ttl is not None:
            values[":e"] = {"N": str(now + int(ttl))}
            update += ", #e = :e"
        else:
            update += " REMOVE #e"
        conditions = []
        if if_absent:
            conditions.append("(attribute_not_exists(#v) OR #e <= :now)")
        if if_equals is not _MISSING:
            values[":old"] = self.data.serialize(if_equals)
            conditions.append("(#v = :old AND (attribute_not_exists(#e) OR #e > :now))")
        return self._update(label, update, names, values, " AND ".join(conditions) or None)

    def incr(self, name: Key[int] | str, by: int = 1, *, ttl: int | None = None) -> int:
        """Add ``by`` to a number atomically (absent or expired counts as 0); the new value.

        ``ttl`` is set when the count starts, so ``incr("sent", ttl=3600)`` counts per hour.
        """
        label = name.name if isinstance(name, Key) else name
        now = int(time.time())
        names = {"#v": "value", "#u": "updated_at", "#e": TTL_ATTRIBUTE, "#s": "scope", "#n": "name"}
        values: dict[str, Any] = {
            ":by": {"N": str(int(by))},
            ":now": {"N": str(now)},
            ":s": {"S": self.scope},
            ":n": {"S": label},
        }
        expiry = ""
        if ttl is not None:
            values[":e"] = {"N": str(now + int(ttl))}
            expiry = ", #e = if_not_exists(#e, :e)"
        for _ in range(5):
            # The usual case, one call: add to a live (or absent) number.
            got = self._update_returning(
                label,
                f"ADD #v :by SET #u = :now, #s = :s, #n = :n{expiry}",
                names,
                values,
                "attribute_not_exists(#e) OR #e > :now",
            )
            if got is not None:
                return int(got)
            # It expired: start again from ``by``, unless someone just did.
            restart = (
                f"SET #v = :by, #u = :now, #s = :s, #n = :n{expiry.replace('if_not_exists(#e, :e)', ':e')}"
            )
            got = self._update_returning(
                label, restart if ttl is not None else restart + " REMOVE #e", names, values, "#e <= :now"
            )
            if got is not None:
                return int(got)
        raise RuntimeError(f"{label}: the counter kept changing under us")

    def delete(self, name: Key[Any] | str) -> None:
        """Forget ``name`` (nothing happens when it is absent)."""
        label = name.name if isinstance(name, Key) else name
        self.data.client.delete_item(TableName=self.data.table_name, Key=self._key(label))

    def _update(
        self, name: str, update: str, names: dict[str, str], values: dict[str, Any], condition: str | None
    ) -> bool:
        return self._update_returning(name, update, names, values, condition) is not None

    def _update_returning(
        self, name: str, update: str, names: dict[str, str], values: dict[str, Any], condition: str | None
    ) -> Any:
        """The new ``value`` after the update (``True`` when it has none), None when the condition failed."""
        used = {k: v for k, v in names.items() if k in update or (condition and k in condition)}
        used_values = {k: v for k, v in values.items() if k in update or (condition and k in condition)}
        extra = {"ConditionExpression": condition} if condition else {}
        try:
            got = self.data.client.update_item(
                TableName=self.data.table_name,
                Key=self._key(name),
                UpdateExpression=update,
                ExpressionAttributeNames=used,
                ExpressionAttributeValues=used_values,
                ReturnValues="UPDATED_NEW",
                **extra,
            )
        except self.data.client.exceptions.ConditionalCheckFailedException:
            return None
        attrs = got.get("Attributes", {})
        return from_dynamo(self.data._de.deserialize(attrs["value"])) if "value" in attrs else True


@cached
def bot_data() -> BotData:
    """The bot data store of this function: the table named by ``BOT_DATA_TABLE_NAME``."""
    return BotData(require_env(BOT_DATA_TABLE_ENV))
