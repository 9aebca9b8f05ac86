"""What the senders remember between invocations, in the actions table.

- Reply slots: the ``msg_seq`` each action holds for a message (``msg:<id>``) or a cited event
  (``event:<id>``). An action that asks again (a retry, a duplicate delivery) gets its own slot
  back, so QQ sees the same ``msg_seq`` and answers "duplicate" (40054005) instead of posting
  twice; two different actions never share one; at most ``limit`` actions get a slot.
- Done marks: beside its slot, what each delivery of an action came to (``done:<delivery id>``),
  written once it is known. This is what makes a QQ send happen once without lock records: a
  repeated delivery finds the mark when it reads the slot (a read it makes anyway) and stops;
  a crash between the send and the mark leaves the slot held, so the retry repeats the same
  ``msg_seq`` and QQ's 40054005 says it was delivered.
- Attempts: how many invocations tried to send an action, so that only the last one reports
  ``failed`` (the others are retried by Lambda).

Table ``ACTIONS_TABLE_NAME``: partition key ``bot_id`` (S), sort key ``ref`` (S); items expire
(TTL ``expires_at``) after ``LEDGER_TTL_S``, well past any passive reply window.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Any

from qqbus.aws import cached, client, require_env

ACTIONS_TABLE_ENV = "ACTIONS_TABLE_NAME"
LEDGER_TTL_S = 2 * 24 * 3600
#: Conditional-write races a slot allocation retries before giving up (then it raises).
_SLOT_RACES = 8


class AlreadyDone(Exception):
    """The delivery asking for a slot has a done mark there: it was performed (``outcome``)."""

    def __init__(self, outcome: str) -> None:
        super().__init__(f"already performed: {outcome}")
        self.outcome = outcome


def done_attribute(delivery_id: str) -> str:
    return f"done:{delivery_id}"


class Ledger(ABC):
    @abstractmethod
    def take_slot(
        self, bot_id: str, ref: str, action_id: str, limit: int | None, *, delivery_id: str | None = None
    ) -> int | None:
        """The 1-based slot ``action_id`` holds for ``ref``; None when ``limit`` are taken.

        Raises ``AlreadyDone`` when ``delivery_id`` has a done mark beside the slot."""

    @abstractmethod
    def mark_done(self, bot_id: str, ref: str, delivery_id: str, outcome: str) -> None:
        """Record what ``delivery_id`` (holding a slot for ``ref``) came to: one write."""

    @abstractmethod
    def done(self, bot_id: str, ref: str, delivery_id: str) -> str | None:
        """The done mark of ``delivery_id`` beside ``ref``'s slots, if any: one read."""

    @abstractmethod
    def count_attempt(self, bot_id: str, action_id: str) -> int:
        """Record one more attempt at ``action_id``; the attempt's number (1 for the first)."""


class InMemoryLedger(Ledger):
    def __init__(self) -> None:
        self.slots: dict[tuple[str, str], list[str]] = {}
        self.marks: dict[tuple[str, str, str], str] = {}
        self.attempts: dict[tuple[str, str], int] = {}

    def take_slot(
        self, bot_id: str, ref: str, action_id: str, limit: int | None, *, delivery_id: str | None = None
    ) -> int | None:
        if delivery_id is not None and (outcome := self.done(bot_id, ref, delivery_id)):
            raise AlreadyDone(outcome)
        taken = self.slots.setdefault((bot_id, ref), [])
        if action_id in taken:
            return taken.index(action_id) + 1
        if limit is not None and len(taken) >= limit:
            return None
        taken.append(action_id)
        return len(taken)

    def mark_done(self, bot_id: str, ref: str, delivery_id: str, outcome: str) -> None:
        self.marks[(bot_id, ref, delivery_id)] = outcome

    def done(self, bot_id: str, ref: str, delivery_id: str) -> str | None:
        return self.marks.get((bot_id, ref, delivery_id))

    def count_attempt(self, bot_id: str, action_id: str) -> int:
        key = (bot_id, action_id)
        self.attempts[key] = self.attempts.get(key, 0) + 1
        return self.attempts[key]


class DynamoLedger(Ledger):
    def __init__(self, table_name: str, dynamodb: Any = None) -> None:
        self.table_name = table_name
        self._client = dynamodb or client("dynamodb")

    def _key(self, bot_id: str, ref: str) -> dict[str, Any]:
        return {"bot_id": {"S": bot_id}, "ref": {"S": ref}}

    def take_slot(
        self, bot_id: str, ref: str, action_id: str, limit: int | None, *, delivery_id: str | None = None
    ) -> int | None:
        errors = self._client.exceptions
        for _ in range(_SLOT_RACES):
            item = self._client.get_item(
                TableName=self.table_name, Key=self._key(bot_id, ref), ConsistentRead=True
            ).get("Item", {})
            if delivery_id is not None and (mark := item.get(done_attribute(delivery_id))):
                raise AlreadyDone(mark["S"])
            taken = [v["S"] for v in item.get("actions", {}).get("L", [])]
            if action_id in taken:
                return taken.index(action_id) + 1
            if limit is not None and len(taken) >= limit:
                return None
            # Append only if nobody appended since we read: the list's length is our version.
            condition = "attribute_not_exists(actions)" if not taken else "size(actions) = :n"
            values: dict[str, Any] = {
                ":new": {"L": [{"S": action_id}]},
                ":empty": {"L": []},
                ":exp": {"N": str(int(time.time()) + LEDGER_TTL_S)},
            }
            if taken:
                values[":n"] = {"N": str(len(taken))}
            try:
                self._client.update_item(
                    TableName=self.table_name,
                    Key=self._key(bot_id, ref),
                    UpdateExpression="SET actions = list_append(if_not_exists(actions, :empty), :new),"
                    " expires_at = :exp",
                    ConditionExpression=condition,
                    ExpressionAttributeValues=values,
                )
            except errors.ConditionalCheckFailedException:
                continue  # someone else took a slot meanwhile: read again
            return len(taken) + 1
        raise RuntimeError(f"could not take a reply slot for {ref} after {_SLOT_RACES} races")

    def mark_done(self, bot_id: str, ref: str, delivery_id: str, outcome: str) -> None:
        self._client.update_item(
            TableName=self.table_name,
            Key=self._key(bot_id, ref),
            UpdateExpression="SET #done = :outcome, expires_at = :exp",
            ExpressionAttributeNames={"#done": done_attribute(delivery_id)},
            ExpressionAttributeValues={
                ":outcome": {"S": outcome},
                ":exp": {"N": str(int(time.time()) + LEDGER_TTL_S)},
            },
        )

    def done(self, bot_id: str, ref: str, delivery_id: str) -> str | None:
        item = self._client.get_item(
            TableName=self.table_name,
            Key=self._key(bot_id, ref),
            ConsistentRead=True,
            ProjectionExpression="#done",
            ExpressionAttributeNames={"#done": done_attribute(delivery_id)},
        ).get("Item", {})
        mark = item.get(done_attribute(delivery_id))
        return mark["S"] if mark else None

    def count_attempt(self, bot_id: str, action_id: str) -> int:
        response = self._client.update_item(
            TableName=self.table_name,
            Key=self._key(bot_id, f"attempts:{action_id}"),
            UpdateExpression="ADD attempts :one SET expires_at = :exp",
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":exp": {"N": str(int(time.time()) + LEDGER_TTL_S)},
            },
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["attempts"]["N"])


@cached
def ledger() -> Ledger:
    """The ledger of this function: the table named by ``ACTIONS_TABLE_NAME``."""
    return DynamoLedger(require_env(ACTIONS_TABLE_ENV))
