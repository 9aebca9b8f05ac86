"""What survives a restart of ``qqbus dev``: the tables, the queues' messages, the schedules, the
console's sandbox.

moto keeps everything in memory, so the stack saves it as JSON beside its state file
(``.qqbus/dev-data.json`` by default) and loads it into the freshly provisioned AWS at start,
through the same public calls any client makes (Scan / BatchWriteItem, ReceiveMessage /
SendMessageBatch):

- ``tables``: table name -> every item, in DynamoDB's JSON (as Scan returns it);
- ``queues``: queue name -> every message not yet handled (body and message attributes); a
  message is read with a visibility timeout and made visible again at once, so reading does
  not consume;
- ``schedules``: every EventBridge Scheduler schedule (a pending ``/remind``, the template's
  recurring ones) with when the local clock fires it next, so a reminder set before a restart
  still fires and a recurring schedule keeps its time instead of starting over;
- ``sandbox``: the console's users, groups and added bots (``Sandbox.entities()``).

Only what the current template still has is loaded: a table or queue it no longer names is
skipped (and said so), as is an item its key schema refuses.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = 1
#: Messages read from one queue at most (SQS answers 10 at a time).
MAX_MESSAGES = 10_000


@dataclass
class Saved:
    """What one save holds."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    queues: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    sandbox: dict[str, Any] = field(default_factory=dict)
    saved_at: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "saved_at": self.saved_at,
            "tables": self.tables,
            "queues": self.queues,
            "schedules": self.schedules,
            "sandbox": self.sandbox,
        }

    def counts(self) -> str:
        """``3 items in 2 tables, 1 queued message, 2 schedules, 2 users, 1 group``: for the start line."""
        items = sum(len(v) for v in self.tables.values())
        messages = sum(len(v) for v in self.queues.values())
        people = len(self.sandbox.get("people") or [])
        groups = len(self.sandbox.get("groups") or [])
        return (
            f"{_n(items, 'item')} in {_n(len(self.tables), 'table')}, {_n(messages, 'queued message')},"
            f" {_n(len(self.schedules), 'schedule')}, {_n(people, 'console user')},"
            f" {_n(groups, 'console group')}"
        )


def _n(count: int, what: str) -> str:
    return f"{count} {what}{'' if count == 1 else 's'}"


def read(path: Path) -> Saved | None:
    """The last save at ``path``; None when there is none.

    Raises
    ------
    ValueError
        The file is there but is not a save this version reads (it is left alone).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a qqbus dev save (format {FORMAT})")
    return Saved(
        tables=dict(data.get("tables") or {}),
        queues=dict(data.get("queues") or {}),
        schedules=list(data.get("schedules") or []),  # saves made before schedules were kept: none
        sandbox=dict(data.get("sandbox") or {}),
        saved_at=float(data.get("saved_at") or 0),
    )


def write(path: Path, saved: Saved) -> None:
    """Write ``saved`` to ``path`` whole or not at all (a crash mid-write leaves the last save)."""
    saved.saved_at = time.time()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(saved.as_json(), ensure_ascii=False), encoding="utf-8")
    partial.replace(path)


# --- tables -------------------------------------------------------------------------------------


def dump_tables(dynamodb: Any, names: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Every item of each table in ``names``."""
    dumped: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        items: list[dict[str, Any]] = []
        for page in dynamodb.get_paginator("scan").paginate(TableName=name):
            items += page.get("Items", [])
        dumped[name] = items
    return dumped


def load_tables(dynamodb: Any, tables: dict[str, list[dict[str, Any]]], existing: list[str]) -> list[str]:
    """Put the saved items back into the tables that exist; what could not be loaded, for people."""
    problems = []
    for name, items in tables.items():
        if name not in existing:
            problems.append(f"table {name} is not in the template any more ({len(items)} items left out)")
            continue
        for start in range(0, len(items), 25):
            batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            try:
                _write_batch(dynamodb, name, batch)
            except Exception as exc:  # a key schema that changed, most often
                problems.append(f"table {name}: {len(batch)} items not loaded ({type(exc).__name__}: {exc})")
    return problems


def _write_batch(dynamodb: Any, name: str, batch: list[dict[str, Any]]) -> None:
    request = {name: batch}
    for _ in range(10):
        request = dynamodb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
        if not request:
            return
    raise RuntimeError("unprocessed items after 10 tries")


# --- schedules ----------------------------------------------------------------------------------

#: What CreateSchedule takes back of what GetSchedule answers.
_SCHEDULE_FIELDS = (
    "Name",
    "GroupName",
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "FlexibleTimeWindow",
    "Target",
    "State",
    "ActionAfterCompletion",
    "Description",
    "StartDate",
    "EndDate",
)


def dump_schedules(scheduler: Any, next_due: dict[str, float]) -> list[dict[str, Any]]:
    """Every schedule as CreateSchedule takes it (dates as Unix seconds), with ``next``: when the
    local clock fires it next (``next_due``, by ARN; None when it has not looked yet)."""
    from qqbus_dev.scheduler_clock import SchedulerClock

    dumped = []
    for schedule in SchedulerClock(scheduler, events=None).schedules():
        kept: dict[str, Any] = {k: schedule[k] for k in _SCHEDULE_FIELDS if schedule.get(k) not in (None, "")}
        for key in ("StartDate", "EndDate"):
            if key in kept and hasattr(kept[key], "timestamp"):
                kept[key] = kept[key].timestamp()
        due = next_due.get(schedule["Arn"])
        kept["next"] = due if due is not None and due != float("inf") else None
        if due == float("inf"):  # fired for good (an at() one kept after it ran): not again
            kept["done"] = True
        dumped.append(kept)
    return dumped


def load_schedules(scheduler: Any, schedules: list[dict[str, Any]]) -> tuple[dict[str, float], list[str]]:
    """Create the saved schedules the stack has not (the template's are provisioned already, under
    the same names); when the clock fires each next, by ARN, and what could not be loaded."""
    from datetime import UTC, datetime

    existing = {
        (s["GroupName"], s["Name"]): s["Arn"]
        for page in scheduler.get_paginator("list_schedules").paginate()
        for s in page.get("Schedules", [])
    }
    next_due: dict[str, float] = {}
    problems = []
    for saved in schedules:
        params = {k: v for k, v in saved.items() if k in _SCHEDULE_FIELDS}
        if float(params.get("StartDate", 0)) < time.time():  # begun: its saved next fire keeps its time
            params.pop("StartDate", None)  # (and Scheduler refuses a StartDate long past)
        for key in ("StartDate", "EndDate"):
            if key in params:
                params[key] = datetime.fromtimestamp(float(params[key]), UTC)
        where = (params.get("GroupName", "default"), params.get("Name", ""))
        try:
            arn = existing.get(where) or scheduler.create_schedule(**params)["ScheduleArn"]
        except Exception as exc:  # a group the template no longer has, most often
            problems.append(f"schedule {where[0]}/{where[1]} not loaded ({type(exc).__name__}: {exc})")
            continue
        if saved.get("done"):
            next_due[arn] = float("inf")
        elif saved.get("next") is not None:
            next_due[arn] = float(saved["next"])
    return next_due, problems


# --- queues -------------------------------------------------------------------------------------


def peek(sqs: Any, url: str, *, visibility: int = 30) -> list[dict[str, Any]]:
    """Every message of the queue at ``url``, left in it and visible again.

    Only where nothing else reads the queue at the same time: a message a reader holds is not
    seen, and one this holds is not seen by a reader until it is let go.
    """
    seen: dict[str, dict[str, Any]] = {}
    while len(seen) < MAX_MESSAGES:
        got = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=visibility,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not got or all(m["MessageId"] in seen for m in got):
            break
        seen.update((m["MessageId"], m) for m in got)
    held = list(seen.values())
    for start in range(0, len(held), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(held[start : start + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)
    return held


def dump_queues(sqs: Any, urls: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Queue name -> its messages (body and message attributes), for the queues in ``urls``
    (name -> URL); empty queues are left out."""
    dumped = {}
    for name, url in urls.items():
        messages = [_kept(m) for m in peek(sqs, url)]
        if messages:
            dumped[name] = messages
    return dumped


def _kept(message: dict[str, Any]) -> dict[str, Any]:
    """What sending the message again needs: its body and its string and number attributes."""
    attributes = {
        name: {"DataType": value["DataType"], "StringValue": value["StringValue"]}
        for name, value in (message.get("MessageAttributes") or {}).items()
        if "StringValue" in value
    }
    return {"Body": message["Body"], **({"MessageAttributes": attributes} if attributes else {})}


def load_queues(sqs: Any, queues: dict[str, list[dict[str, Any]]], urls: dict[str, str]) -> list[str]:
    """Send the saved messages again to the queues that exist (name -> URL); what was left out."""
    problems = []
    for name, messages in queues.items():
        url = urls.get(name)
        if url is None:
            problems.append(
                f"queue {name} is not in the template any more ({len(messages)} messages left out)"
            )
            continue
        for start in range(0, len(messages), 10):
            entries = [
                {
                    "Id": str(i),
                    "MessageBody": m["Body"],
                    **{k: v for k, v in m.items() if k == "MessageAttributes"},
                }
                for i, m in enumerate(messages[start : start + 10])
            ]
            failed = sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed") or []
            if failed:
                problems.append(
                    f"queue {name}: {len(failed)} messages not loaded ({failed[0].get('Message')})"
                )
    return problems
