"""EventBridge Scheduler for ``make dev``: moto stores schedules, this clock fires them.

moto's ``scheduler`` keeps what ``CreateSchedule`` is given and never runs it. ``SchedulerClock``
polls the schedules (every ``interval`` s, on its own thread), and fires each one that is due as
EventBridge Scheduler would for a bus target: ``PutEvents`` with the target's
``EventBridgeParameters`` and its ``Input`` as the detail, Scheduler's context attributes
(``<aws.scheduler.scheduled-time>``, ...) filled in. ``at()`` schedules fire once and, with
``ActionAfterCompletion: DELETE``, are deleted; ``rate()`` schedules fire at once (or at their
``StartDate``) and then every period, as Scheduler's guide says ("If you do not provide a
StartDate for a rate-based schedule, your schedule starts invoking the target immediately");
``cron()`` ones at each time their expression names from their ``StartDate`` on, in their time
zone (``qqbus_dev.cron``; one it cannot run is said once). Neither fires after its ``EndDate``;
one-time schedules ignore both dates, as Scheduler does. ``provision`` creates the template's schedule
groups and recurring schedules, and ``pending`` is what ``qqbus schedules`` lists.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from qqbus_dev.cron import next_fire, zone
from qqbus_dev.template import Template, resolve

_AT = re.compile(r"at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)")
_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_UNIT = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


def provision(template: Template, scheduler: Any, refs: dict[str, Any]) -> list[str]:
    """The template's schedule groups and schedules on moto; the schedules' names."""
    refs = dict(refs)
    for logical_id in template.of_type("AWS::IAM::Role"):  # what GetAtt X.Arn names
        refs.setdefault(f"{logical_id}.Arn", f"arn:aws:iam::{refs['AWS::AccountId']}:role/{logical_id}")
    for logical_id in template.of_type("AWS::Scheduler::ScheduleGroup"):
        scheduler.create_schedule_group(Name=resolve({"Ref": logical_id}, refs))
    made = []
    for logical_id, res in template.of_type("AWS::Scheduler::Schedule").items():
        props = resolve(res["Properties"], refs)
        scheduler.create_schedule(
            Name=props.get("Name", logical_id),
            GroupName=props.get("GroupName", "default"),
            ScheduleExpression=props["ScheduleExpression"],
            FlexibleTimeWindow=props.get("FlexibleTimeWindow", {"Mode": "OFF"}),
            Target=props["Target"],
            State=props.get("State", "ENABLED"),
            **({"Description": props["Description"]} if "Description" in props else {}),
        )
        made.append(props.get("Name", logical_id))
    return made


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def due_at(schedule: dict[str, Any]) -> float | None:
    """When an ``at()`` schedule is due (Unix seconds), else None.

    Raises
    ------
    CronError
        Its ``ScheduleExpressionTimezone`` is no time zone.
    """
    found = _AT.fullmatch(schedule.get("ScheduleExpression", ""))
    if not found:
        return None
    tz = schedule.get("ScheduleExpressionTimezone")
    return datetime.fromisoformat(found[1]).replace(tzinfo=zone(tz)).timestamp()


def period(schedule: dict[str, Any]) -> int | None:
    """A ``rate()`` schedule's period in seconds, else None."""
    found = _RATE.fullmatch(schedule.get("ScheduleExpression", ""))
    return int(found[1]) * _UNIT[found[2]] if found else None


def next_cron(schedule: dict[str, Any], after: float) -> float | None:
    """When a ``cron()`` schedule next fires after ``after`` (in its time zone), else None.

    Raises
    ------
    CronError
        An expression the local clock cannot run (it says which part).
    """
    expression = schedule.get("ScheduleExpression", "")
    if not expression.startswith("cron("):
        return None
    return next_fire(expression, schedule.get("ScheduleExpressionTimezone") or "UTC", after)


def _seconds(value: Any) -> float | None:
    """A schedule's date (boto3 gives a datetime; moto may keep a number) as Unix seconds."""
    if value is None or value == "":
        return None
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _created(schedule: dict[str, Any]) -> float:
    created = _seconds(schedule.get("CreationDate"))
    return time.time() if created is None else created


def _start(schedule: dict[str, Any]) -> float:
    """When a recurring schedule may first fire: its ``StartDate``, else its creation."""
    start = _seconds(schedule.get("StartDate"))
    return _created(schedule) if start is None else start


def _ended(schedule: dict[str, Any], when: float) -> bool:
    """Whether ``when`` is past a recurring schedule's ``EndDate``."""
    end = _seconds(schedule.get("EndDate"))
    return end is not None and when > end


def next_rate(schedule: dict[str, Any], after: float) -> float | None:
    """The first fire of a ``rate()`` schedule at or after ``after``, else None (not a rate one,
    or past its ``EndDate``)."""
    every = period(schedule)
    if every is None:
        return None
    start = _start(schedule)
    when = start if after <= start else start + every * -(-(after - start) // every)
    return None if _ended(schedule, when) else when


@dataclass
class SchedulerClock:
    """Fires due schedules onto the bus; ``tick(now)`` once, or ``start()`` a thread that ticks."""

    scheduler: Any
    events: Any
    say: Callable[[str], None] = print
    interval: float = 0.5
    clock: Callable[[], float] = time.time
    fired: int = 0
    _next: dict[str, float] = field(default_factory=dict)  # rate schedules: arn -> next due
    _warned: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def next_due(self) -> dict[str, float]:
        """When each schedule the clock has seen fires next, by ARN (what a restart resumes)."""
        return dict(self._next)

    def resume(self, next_due: dict[str, float]) -> None:
        """Fire these schedules next at these times (a restart's saved clock), not from creation."""
        self._next.update(next_due)

    def schedules(self) -> list[dict[str, Any]]:
        found = []
        for page in self.scheduler.get_paginator("list_schedules").paginate():
            for item in page.get("Schedules", []):
                found.append(self.scheduler.get_schedule(GroupName=item["GroupName"], Name=item["Name"]))
        return found

    def tick(self, now: float | None = None) -> int:
        """Fire what is due at ``now`` (default: the clock); how many fired."""
        now = self.clock() if now is None else now
        count = 0
        for schedule in self.schedules():
            if schedule.get("State", "ENABLED") != "ENABLED":
                continue
            try:
                when = self._due(schedule, now)
            except ValueError as exc:  # CronError, a bad at() date: said once per schedule
                if schedule["Arn"] not in self._warned:
                    self._warned.add(schedule["Arn"])
                    self.say(f"!  schedule {schedule['Name']}: {exc}")
                continue
            if when is None:
                continue
            self._fire(schedule, when)
            count += 1
            if due_at(schedule) is not None and schedule.get("ActionAfterCompletion") == "DELETE":
                self.scheduler.delete_schedule(GroupName=schedule["GroupName"], Name=schedule["Name"])
                self._next.pop(schedule["Arn"], None)
        self.fired += count
        return count

    def _due(self, schedule: dict[str, Any], now: float) -> float | None:
        """The scheduled time of the fire due at ``now``, None if none; the next one is remembered.

        Raises
        ------
        ValueError
            An expression the local clock does not run (``CronError`` names the part).
        """
        arn, expression = schedule["Arn"], schedule.get("ScheduleExpression", "")
        if (due := due_at(schedule)) is not None:
            if due > now or arn in self._next:
                return None
            self._next[arn] = float("inf")  # done (forgotten when deleted)
            return due
        if (every := period(schedule)) is not None:
            nxt = self._next.setdefault(arn, _start(schedule))  # the first fire: at once, or StartDate
            if nxt > now or _ended(schedule, nxt):
                return None
            self._next[arn] = nxt + every * (int((now - nxt) // every) + 1)  # missed ones: once
            return nxt
        if expression.startswith("cron("):
            if arn not in self._next:  # from StartDate on (a fire at StartDate itself counts)
                start = _seconds(schedule.get("StartDate"))
                first = _created(schedule) if start is None else max(start - 1, _created(schedule))
                self._next[arn] = next_cron(schedule, first) or float("inf")
            nxt = self._next[arn]
            if nxt > now or _ended(schedule, nxt):
                return None
            self._next[arn] = next_cron(schedule, now) or float("inf")  # missed ones: once
            return nxt
        raise ValueError(f"{expression} is not run locally")

    def _fire(self, schedule: dict[str, Any], when: float) -> None:
        target = schedule["Target"]
        arn = str(target.get("Arn", ""))
        if ":event-bus/" not in arn:
            self.say(f"!  schedule {schedule['Name']}: target {arn} is not a bus; not run locally")
            return
        text = str(target.get("Input", "{}"))
        for key, value in (
            ("scheduled-time", _iso(when)),
            ("schedule-arn", schedule["Arn"]),
            ("execution-id", str(uuid.uuid4())),
            ("attempt-number", "1"),
        ):
            text = text.replace(f"<aws.scheduler.{key}>", value)
        params = target.get("EventBridgeParameters", {})
        self.events.put_events(
            Entries=[
                {
                    "Source": params.get("Source", "qqbus.schedule"),
                    "DetailType": params.get("DetailType", "fired"),
                    "Detail": text,
                    "Resources": [schedule["Arn"]],
                    "EventBusName": arn.rsplit("event-bus/", 1)[1],
                }
            ]
        )
        try:
            step = json.loads(text).get("then", {}).get("step")
        except (ValueError, AttributeError):
            step = None
        self.say(f"~~ schedule {schedule['Name']} fired" + (f" ({step})" if step else ""))

    def start(self) -> SchedulerClock:
        def run() -> None:
            while not self._stop.wait(self.interval):
                try:
                    self.tick()
                except Exception as exc:  # the stack is stopping, or a passing error
                    if not self._stop.is_set():
                        self.say(f"!  the scheduler clock: {exc}")

        self._thread = threading.Thread(target=run, daemon=True, name="qqbus-scheduler-clock")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def pending(scheduler: Any) -> list[dict[str, Any]]:
    """The schedules waiting to fire, for people: name, group, expression, when (a recurring one:
    its next fire), step, chat, state."""
    rows = []
    for schedule in SchedulerClock(scheduler, events=None).schedules():
        try:
            detail = json.loads(schedule["Target"].get("Input") or "{}")
        except ValueError:
            detail = {}
        then = detail.get("then") or {}
        try:
            now = time.time()
            due = due_at(schedule)
            if due is None:
                due = next_rate(schedule, now)
            if due is None and (due := next_cron(schedule, max(now, _start(schedule) - 1))) is not None:
                due = None if _ended(schedule, due) else due
        except ValueError:  # not run locally: the clock says why
            due = None
        rows.append(
            {
                "name": schedule["Name"],
                "group": schedule["GroupName"],
                "expression": schedule.get("ScheduleExpression"),
                "state": schedule.get("State"),
                "due": _iso(due) if due is not None else None,
                "step": then.get("step"),
                "bot_id": detail.get("bot_id"),
                "chat": then.get("group_id") or then.get("user_id"),
                "data": then.get("state") or {},
            }
        )
    return sorted(rows, key=lambda r: (r["due"] or "~", r["name"]))


def render(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no pending schedules"
    lines = []
    for r in rows:
        when = r["due"] or r["expression"]
        if r["due"] and not str(r["expression"]).startswith("at("):  # recurring: next, and how
            when = f"{r['due']} {r['expression']}"
        chat = f" in {r['chat']}" if r["chat"] else ""
        data = f" {json.dumps(r['data'], ensure_ascii=False)}" if r["data"] else ""
        lines.append(f"{when}  {r['step'] or '-'}{chat}{data}  [{r['group']}/{r['name']}, {r['state']}]")
    return "\n".join(lines)


def run(endpoint: str | None, region: str | None, *, as_json: bool = False) -> int:
    """``qqbus schedules``: print the pending schedules of the running stack (or ``endpoint``)."""
    import os

    import boto3

    if endpoint:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    try:
        client = boto3.client("scheduler", endpoint_url=endpoint, region_name=region)
        rows = pending(client)
    except Exception as exc:
        print(f"cannot list schedules: {exc}")
        return 1
    print(json.dumps(rows, ensure_ascii=False, indent=2) if as_json else render(rows))
    return 0
