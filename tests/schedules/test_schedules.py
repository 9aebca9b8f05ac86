"""Schedules on moto: /remind creates a one-time at() schedule, the clock fires it onto the bus,
the schedule function posts the text once (a proactive send); the template's recurring one fires
on the clock too; bad durations get the usage line."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import boto3
import pytest
from qqbus.actions import Outbox, collecting
from qqbus.example_commands import commands
from qqbus.handler import Delivered
from qqbus_dev.lambda_context import LocalContext
from qqbus_dev.scheduler_clock import SchedulerClock, pending, provision
from qqbus_dev.template import Template

from tests.conftest import BusTap
from tests.queries.conftest import group_message
from tests.support import load_handler


@pytest.fixture
def scheduling(
    event_bus: BusTap, refs: dict[str, Any], template: Template, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """The template's schedule group and recurring schedules on moto, the env that names them."""
    scheduler = boto3.client("scheduler")
    provision(template, scheduler, refs)
    events, sqs = boto3.client("events"), boto3.client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=event_bus.queue_url, AttributeNames=["QueueArn"])["Attributes"]
    pattern = json.dumps({"source": ["qqbus.schedule"]})
    events.put_rule(Name="tap-schedules", EventBusName=event_bus.name, EventPattern=pattern)
    events.put_targets(
        Rule="tap-schedules", EventBusName=event_bus.name, Targets=[{"Id": "q", "Arn": arn["QueueArn"]}]
    )
    monkeypatch.setenv("SCHEDULE_GROUP", "ScheduleGroup")
    monkeypatch.setenv("SCHEDULER_ROLE_ARN", "arn:aws:iam::123456789012:role/SchedulerRole")
    monkeypatch.setenv("SCHEDULE_TARGET_ARN", refs["EventBus.Arn"])
    monkeypatch.setenv("SCHEDULE_FAILURE_QUEUE_ARN", refs["ScheduleFailureQueue.Arn"])
    return scheduler


def _say(text: str) -> dict[str, Any]:
    return group_message([{"type": "text", "data": {"text": text}}])


def _replies(texts: list[str]) -> list[str]:
    out = []
    for text in texts:
        event = _say(text)
        from qqbus.events.onebot import GroupMessage

        ev = Delivered[GroupMessage].model_validate(event["detail"])
        box = Outbox(bot_id=ev.bot_id, event_id=ev.event_id, detail_type="message.group", function="t")
        with collecting(box):
            commands.handle(ev)
        out.extend(a.text for a in box.actions)
    return out


@pytest.mark.parametrize(
    "text, problem",
    [
        ("/remind 10 tea", "expected a duration like 10s, 5m, 2h or 1d"),
        ("/remind 31d tea", "a reminder is 1 second to 30 days away"),
        ("/remind 0s tea", "a reminder is 1 second to 30 days away"),
        ("/remind 5x tea", "expected a duration"),
        ("/remind 5m", "is missing"),
        ("/remind", "is missing"),
    ],
)
def test_bad_input_gets_the_usage_line(scheduling: Any, text: str, problem: str) -> None:
    (reply,) = _replies([text])
    assert problem in reply
    assert reply.endswith("usage: /remind <n>s|m|h|d <text>")
    assert pending(scheduling) == [p for p in pending(scheduling) if p["step"] != "remind.fire"]


def test_remind_is_acknowledged_then_posts_the_text_once(
    scheduling: Any, event_bus: BusTap, context: LocalContext
) -> None:
    handler = load_handler("onebot_group_message")
    event = _say("/remind 10s stand up and stretch")
    handler.lambda_handler(copy.deepcopy(event), context)
    (ack,) = event_bus.published("qqbus.action")
    assert ack["detail"]["message"][0]["data"]["text"] == "ok, in 10s: stand up and stretch"
    handler.lambda_handler(copy.deepcopy(event), context)  # a redelivered message: still one schedule
    (waiting,) = [p for p in pending(scheduling) if p["step"] == "remind.fire"]
    assert waiting["data"] == {"text": "stand up and stretch"} and waiting["chat"] == "987654321"
    schedule = scheduling.get_schedule(GroupName="ScheduleGroup", Name=waiting["name"])
    assert schedule["ScheduleExpression"].startswith("at(") and schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["Target"]["EventBridgeParameters"] == {"Source": "qqbus.schedule", "DetailType": "fired"}
    # A fire the bus does not take is retried, then kept in the failure queue (alarmed on).
    assert schedule["Target"]["RetryPolicy"] == {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 3600}
    assert schedule["Target"]["DeadLetterConfig"]["Arn"].endswith("-schedule-failures")
    said: list[str] = []
    clock = SchedulerClock(scheduling, boto3.client("events"), say=said.append)
    assert clock.tick(time.time()) == 1 and said == ["~~ schedule HeartbeatSchedule fired (heartbeat)"]
    event_bus.published()  # the template's hourly heartbeat, which fires at once
    assert clock.tick(time.time() + 5) == 0, said  # not due yet
    assert clock.tick(time.time() + 11) == 1
    assert not [p for p in pending(scheduling) if p["step"] == "remind.fire"]  # deleted after firing
    (fired,) = event_bus.published("qqbus.schedule")
    assert fired["detail-type"] == "fired" and fired["detail"]["scheduled_time"].endswith("Z")

    run = load_handler("schedule").lambda_handler
    assert run(copy.deepcopy(fired), context) == {"status": "ok"}
    (post,) = event_bus.published("qqbus.action")
    assert post["detail-type"] == "onebot.send_group_msg"
    assert post["detail"]["params"] == {
        "group_id": 987654321,
        "message": [{"type": "text", "data": {"text": "stand up and stretch"}}],
    }
    assert "reply_to" not in post["detail"]  # a proactive send: the sender gates it as one
    assert run(copy.deepcopy(fired), context)["status"] == "duplicate"  # Scheduler delivers at least once
    assert event_bus.published("qqbus.action") == []


def test_the_recurring_schedule_of_the_template_fires_every_period(
    scheduling: Any, event_bus: BusTap, context: LocalContext
) -> None:
    (heartbeat,) = [p for p in pending(scheduling) if p["name"] == "HeartbeatSchedule"]
    assert (heartbeat["expression"], heartbeat["step"]) == ("rate(1 hour)", "heartbeat")
    clock = SchedulerClock(scheduling, boto3.client("events"), say=lambda _: None)
    now = time.time()
    assert clock.tick(now) == 1  # no StartDate: at once, as Scheduler does
    assert clock.tick(now + 60) == 0
    assert clock.tick(now + 3601) == 1
    assert clock.tick(now + 3602) == 0  # once per period
    assert clock.tick(now + 7202) == 1
    at_once, first, second = event_bus.published("qqbus.schedule")
    assert len({e["detail"]["scheduled_time"] for e in (at_once, first, second)}) == 3
    run = load_handler("schedule").lambda_handler
    assert run(first, context) == {"status": "ok"} and run(second, context) == {"status": "ok"}
    assert run(first, context)["status"] == "duplicate"
    assert json.loads(json.dumps(pending(scheduling)))  # the recurring one stays


def test_a_cron_schedule_fires_at_the_times_it_names_in_its_time_zone(
    scheduling: Any, event_bus: BusTap, refs: dict[str, Any]
) -> None:
    """make dev runs cron() too: 09:00 every Monday in Shanghai is 01:00 UTC on Monday."""
    from datetime import datetime

    scheduling.create_schedule(
        Name="daily-news",
        GroupName="ScheduleGroup",
        ScheduleExpression="cron(0 9 ? * MON *)",
        ScheduleExpressionTimezone="Asia/Shanghai",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": refs["EventBus.Arn"],
            "RoleArn": "arn:aws:iam::123456789012:role/SchedulerRole",
            "Input": '{"schedule_id": "daily-news", "then": {"step": "heartbeat"}}',
            "EventBridgeParameters": {"Source": "qqbus.schedule", "DetailType": "fired"},
        },
    )
    (row,) = [p for p in pending(scheduling) if p["name"] == "daily-news"]
    due = datetime.fromisoformat(row["due"].replace("Z", "+00:00"))
    assert (due.weekday(), due.hour, due.minute) == (0, 1, 0)  # Monday 01:00 UTC
    clock = SchedulerClock(scheduling, boto3.client("events"), say=lambda _: None)
    start = due.timestamp()

    def news_fired(at: float) -> list[dict[str, Any]]:
        clock.tick(at)  # the template's hourly heartbeat may fire too: only ours is counted
        return [
            e for e in event_bus.published("qqbus.schedule") if e["detail"]["schedule_id"] == "daily-news"
        ]

    assert news_fired(start - 60) == []  # a minute early
    (fired,) = news_fired(start + 1)
    assert fired["detail"]["then"]["step"] == "heartbeat"
    assert news_fired(start + 120) == []  # once
    assert len(news_fired(start + 7 * 86400 + 1)) == 1  # the next Monday


def test_a_schedule_the_clock_cannot_run_is_said_once_and_the_others_still_fire(
    scheduling: Any, event_bus: BusTap, refs: dict[str, Any]
) -> None:
    for name, expression, tz in [
        ("mars-time", "cron(0 9 * * ? *)", "Mars/Olympus"),
        ("two-hashes", "cron(0 9 ? * 3#1,6#3 *)", "UTC"),
    ]:
        scheduling.create_schedule(
            Name=name,
            GroupName="ScheduleGroup",
            ScheduleExpression=expression,
            ScheduleExpressionTimezone=tz,
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": refs["EventBus.Arn"], "RoleArn": "arn:aws:iam::123456789012:role/SchedulerRole"},
        )
    said: list[str] = []
    clock = SchedulerClock(scheduling, boto3.client("events"), say=said.append)
    now = time.time()
    assert clock.tick(now + 3601) == 1 and clock.tick(now + 7202) == 1  # the hourly heartbeat
    assert sorted(s for s in said if s.startswith("!")) == [
        "!  schedule mars-time: time zone 'Mars/Olympus' does not exist",
        "!  schedule two-hashes: day-of-week: '3#1,6#3' ('#' takes one day, alone in the field)",
    ]
    rows = {p["name"]: p for p in pending(scheduling)}  # qqbus schedules still lists them, undated
    assert rows["mars-time"]["due"] is None and rows["two-hashes"]["due"] is None
    assert rows["HeartbeatSchedule"]["expression"] == "rate(1 hour)"
    assert rows["HeartbeatSchedule"]["due"] is not None  # a rate one's next fire is known


def test_every_schedule_has_a_failure_queue_its_role_may_send_to(template: Template) -> None:
    """Recurring schedules (the template) and one-time ones (the functions that make them) dead-
    letter into ScheduleFailureQueue; the Scheduler role may send there and nowhere else in SQS."""
    dlq = {"Fn::GetAtt": ["ScheduleFailureQueue", "Arn"]}
    for logical_id, schedule in template.of_type("AWS::Scheduler::Schedule").items():
        assert schedule["Properties"]["Target"]["DeadLetterConfig"] == {"Arn": dlq}, logical_id
    makers = [f for f in template.functions() if "SCHEDULE_GROUP" in f.environment]
    assert makers and all(f.environment.get("SCHEDULE_FAILURE_QUEUE_ARN") == dlq for f in makers)
    role = template.resources["SchedulerRole"]["Properties"]["Policies"]
    sqs = [s for p in role for s in p["PolicyDocument"]["Statement"] if "sqs" in str(s["Action"])]
    assert sqs == [
        {
            "Sid": "UndeliverableFiresToTheFailureQueue",
            "Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": dlq,
        }
    ]
    alarm = template.resources["ScheduleFailureAlarm"]["Properties"]
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["ScheduleFailureQueue", "QueueName"]}


def _bus_target(refs: dict[str, Any], name: str) -> dict[str, Any]:
    return {
        "Arn": refs["EventBus.Arn"],
        "RoleArn": "arn:aws:iam::123456789012:role/SchedulerRole",
        "Input": json.dumps(
            {
                "schedule_id": name,
                "scheduled_time": "<aws.scheduler.scheduled-time>",
                "then": {"step": "heartbeat"},
            }
        ),
        "EventBridgeParameters": {"Source": "qqbus.schedule", "DetailType": "fired"},
    }


def _fired(event_bus: BusTap, name: str) -> list[str]:
    return [
        e["detail"]["scheduled_time"]
        for e in event_bus.published("qqbus.schedule")
        if e["detail"].get("schedule_id") == name
    ]


def test_a_rate_schedule_starts_at_its_start_date_and_stops_at_its_end_date(
    scheduling: Any, event_bus: BusTap, refs: dict[str, Any]
) -> None:
    """Scheduler's dates: a rate schedule's first fire is its StartDate (then every period), and
    nothing fires after its EndDate; qqbus schedules shows the next fire, none once it has ended."""
    from datetime import UTC, datetime

    start = (int(time.time()) // 60 + 10) * 60  # ten minutes ahead, on the minute
    scheduling.create_schedule(
        Name="every-5",
        GroupName="ScheduleGroup",
        ScheduleExpression="rate(5 minutes)",
        StartDate=datetime.fromtimestamp(start, UTC),
        EndDate=datetime.fromtimestamp(start + 12 * 60, UTC),
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=_bus_target(refs, "every-5"),
    )
    (row,) = [p for p in pending(scheduling) if p["name"] == "every-5"]
    assert row["due"] == datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    clock = SchedulerClock(scheduling, boto3.client("events"), say=lambda _: None)
    for at in (start - 60, start + 1, start + 60, start + 301, start + 601, start + 901, start + 1801):
        clock.tick(at)
    stamps = [datetime.fromtimestamp(start + k * 300, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for k in range(3)]
    assert _fired(event_bus, "every-5") == stamps  # at 0, 5 and 10 minutes; 15 is past the end


def test_a_cron_schedule_waits_for_its_start_date_and_a_past_end_date_stops_it(
    scheduling: Any, event_bus: BusTap, refs: dict[str, Any]
) -> None:
    from datetime import UTC, datetime

    now = int(time.time())
    start = (now // 3600 + 3) * 3600  # three hours ahead, on the hour
    for name, dates in [
        ("hourly-later", {"StartDate": datetime.fromtimestamp(start, UTC)}),
        ("hourly-ended", {"EndDate": datetime.fromtimestamp(now - 60, UTC)}),
    ]:
        scheduling.create_schedule(
            Name=name,
            GroupName="ScheduleGroup",
            ScheduleExpression="cron(0 * * * ? *)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target=_bus_target(refs, name),
            **dates,
        )
    rows = {p["name"]: p for p in pending(scheduling)}
    assert rows["hourly-later"]["due"] == datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert rows["hourly-ended"]["due"] is None
    clock = SchedulerClock(scheduling, boto3.client("events"), say=lambda _: None)
    for at in (now + 3601, now + 7201, start + 1, start + 3601):
        clock.tick(at)
    fired = event_bus.published("qqbus.schedule")
    later = [e["detail"]["scheduled_time"] for e in fired if e["detail"]["schedule_id"] == "hourly-later"]
    assert later[0] == rows["hourly-later"]["due"] and len(later) == 2  # at its StartDate, then the next hour
    assert not [e for e in fired if e["detail"]["schedule_id"] == "hourly-ended"]
