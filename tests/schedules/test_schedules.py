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
    event_bus.published()

    said: list[str] = []
    clock = SchedulerClock(scheduling, boto3.client("events"), say=said.append)
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
    assert clock.tick(now + 60) == 0
    assert clock.tick(now + 3601) == 1
    assert clock.tick(now + 3602) == 0  # once per period
    assert clock.tick(now + 7202) == 1
    first, second = event_bus.published("qqbus.schedule")
    assert first["detail"]["scheduled_time"] != second["detail"]["scheduled_time"]
    run = load_handler("schedule").lambda_handler
    assert run(first, context) == {"status": "ok"} and run(second, context) == {"status": "ok"}
    assert run(first, context)["status"] == "duplicate"
    assert json.loads(json.dumps(pending(scheduling)))  # the recurring one stays
