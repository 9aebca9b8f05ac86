"""``make dev`` keeps its schedules over a restart: a pending reminder still fires once, a fired
one-time schedule does not fire again, and a recurring one keeps its time instead of starting
over (qqbus_dev.persistence, as the stack saves and loads them; moto is fresh on each side)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws
from qqbus_dev import persistence
from qqbus_dev.scheduler_clock import SchedulerClock

BUS = "arn:aws:events:us-east-1:123456789012:event-bus/qqbus-local"
ROLE = "arn:aws:iam::123456789012:role/SchedulerRole"


def _target(name: str) -> dict[str, Any]:
    return {
        "Arn": BUS,
        "RoleArn": ROLE,
        "Input": json.dumps({"schedule_id": name, "scheduled_time": "<aws.scheduler.scheduled-time>"}),
        "EventBridgeParameters": {"Source": "qqbus.schedule", "DetailType": "fired"},
    }


def _fired(events: Any, queue_url: str, sqs: Any) -> list[str]:
    got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
        "Messages", []
    )
    return sorted(json.loads(m["Body"])["detail"]["schedule_id"] for m in got)


def _aws() -> tuple[Any, Any, Any, str]:
    """A bus whose schedule events land in a queue, and the Scheduler group."""
    events, sqs, scheduler = boto3.client("events"), boto3.client("sqs"), boto3.client("scheduler")
    events.create_event_bus(Name="qqbus-local")
    url = sqs.create_queue(QueueName="fired")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="tap", EventBusName="qqbus-local", EventPattern='{"source": ["qqbus.schedule"]}')
    events.put_targets(Rule="tap", EventBusName="qqbus-local", Targets=[{"Id": "q", "Arn": arn}])
    scheduler.create_schedule_group(Name="ScheduleGroup")
    return events, sqs, scheduler, url


def test_schedules_and_their_clock_survive_a_restart(tmp_path: Path) -> None:
    now = time.time()
    with mock_aws():
        events, sqs, scheduler, url = _aws()
        at = datetime.fromtimestamp(now + 600, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        scheduler.create_schedule(
            Name="remind-later",
            GroupName="ScheduleGroup",
            ScheduleExpression=f"at({at})",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target=_target("remind-later"),
            ActionAfterCompletion="DELETE",
        )
        scheduler.create_schedule(  # fired before the restart, kept (no DELETE): never again
            Name="once-done",
            GroupName="ScheduleGroup",
            ScheduleExpression=f"at({datetime.fromtimestamp(now - 60, UTC).strftime('%Y-%m-%dT%H:%M:%S')})",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target=_target("once-done"),
        )
        scheduler.create_schedule(
            Name="hourly",
            GroupName="ScheduleGroup",
            ScheduleExpression="rate(1 hour)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target=_target("hourly"),
        )
        clock = SchedulerClock(scheduler, events, say=lambda _: None)
        assert clock.tick(now + 2) == 2  # the past one-time schedule, and the new rate one at once
        assert _fired(events, url, sqs) == ["hourly", "once-done"]
        saved = persistence.Saved(schedules=persistence.dump_schedules(scheduler, clock.next_due()))
        persistence.write(tmp_path / "dev-data.json", saved)

    loaded = persistence.read(tmp_path / "dev-data.json")
    assert loaded is not None and "3 schedules" in loaded.counts()
    with mock_aws():  # a fresh moto: the restarted stack
        events, sqs, scheduler, url = _aws()
        next_due, problems = persistence.load_schedules(scheduler, loaded.schedules)
        assert problems == []
        names = {s["Name"] for s in scheduler.list_schedules()["Schedules"]}
        assert names == {"remind-later", "once-done", "hourly"}
        clock = SchedulerClock(scheduler, events, say=lambda _: None)
        clock.resume(next_due)
        assert clock.tick(now + 5) == 0  # nothing fires again at start: the clock kept its place
        assert clock.tick(now + 601) == 1 and _fired(events, url, sqs) == ["remind-later"]
        assert clock.tick(now + 3601) == 1 and _fired(events, url, sqs) == ["hourly"]  # its hour
        assert {s["Name"] for s in scheduler.list_schedules()["Schedules"]} == {"once-done", "hourly"}


def test_a_schedule_that_cannot_be_loaded_is_said_and_the_others_load() -> None:
    with mock_aws():
        _, _, scheduler, _ = _aws()
        saved = [
            {
                "Name": "lost-group",
                "GroupName": "GoneGroup",
                "ScheduleExpression": "rate(5 minutes)",
                "FlexibleTimeWindow": {"Mode": "OFF"},
                "Target": _target("lost-group"),
                "next": time.time() + 60,
            },
            {
                "Name": "fine",
                "GroupName": "ScheduleGroup",
                "ScheduleExpression": "rate(5 minutes)",
                "FlexibleTimeWindow": {"Mode": "OFF"},
                "Target": _target("fine"),
                "next": None,
            },
        ]
        next_due, problems = persistence.load_schedules(scheduler, saved)
        assert len(problems) == 1 and "GoneGroup/lost-group not loaded" in problems[0]
        assert [s["Name"] for s in scheduler.list_schedules()["Schedules"]] == ["fine"]
        assert next_due == {}  # "fine" had not been looked at: it starts as a new one would
