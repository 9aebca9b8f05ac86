"""Schedules: run a step later (once), or on a recurring schedule declared in the template.

One-time: ``later(ev, seconds, "remind.fire", state={...})`` creates an EventBridge Scheduler
schedule ``at(<due>)`` with ``ActionAfterCompletion: DELETE`` in the stack's schedule group
(``SCHEDULE_GROUP``), whose target is the bus (``SCHEDULE_TARGET_ARN``) through the role
``SCHEDULER_ROLE_ARN`` (events:PutEvents on the bus, sqs:SendMessage to the failure queue,
nothing else). When it comes due, the bus gets a ``qqbus.schedule`` event (detail-type
``fired``) and ``handlers/schedule`` runs the step with a ``Fired``: its ``send`` posts into the
chat that asked, unprompted, so the senders gate it as a proactive message (QQ refuses it unless
the group opted in with an event to cite). A fire the bus does not take is retried (10 times, up
to an hour), then kept in the SQS queue ``SCHEDULE_FAILURE_QUEUE_ARN`` names (the template's
``ScheduleFailureQueue``, alarmed on).

Recurring: an ``AWS::Scheduler::Schedule`` in template.yaml with the same target and an
``Input`` naming a step (``{"schedule_id", "then": {"step": ...}, "scheduled_time":
"<aws.scheduler.scheduled-time>"}``).

Exactly once: a schedule's name is a hash of what asked for it (bot, event, function, step,
state, delay), so a retried handler creates nothing new (``ConflictException`` is success);
each delivery runs once per (``schedule_id``, ``scheduled_time``) (Powertools idempotency), so
Scheduler's at-least-once delivery is absorbed.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from qqbus.actions import Continuation, Outbox, current_outbox
from qqbus.steps import Resumed, Resuming, resuming

__all__ = [
    "MAX_DELAY_S",
    "SCHEDULE_SOURCE",
    "Fired",
    "ScheduleDetail",
    "SchedulesNotSetUp",
    "later",
    "schedule_name",
    "scheduled",
]

SCHEDULE_SOURCE = "qqbus.schedule"
FIRED = "fired"
GROUP_ENV = "SCHEDULE_GROUP"
ROLE_ENV = "SCHEDULER_ROLE_ARN"
TARGET_ENV = "SCHEDULE_TARGET_ARN"
#: The SQS queue a fire goes to when the bus would not take it after the retries (optional).
FAILURE_QUEUE_ENV = "SCHEDULE_FAILURE_QUEUE_ARN"
#: The longest delay ``later`` takes (30 days).
MAX_DELAY_S = 30 * 24 * 3600
#: Scheduler's limit on a target's Input.
MAX_INPUT_CHARS = 8192


class SchedulesNotSetUp(RuntimeError):
    """This function has no schedule group, role or target (its template Environment)."""


class ScheduleDetail(BaseModel):
    """The detail of a ``qqbus.schedule`` event: which schedule, when, and the step it runs."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    schedule_id: str
    bot_id: str = ""
    then: Continuation
    scheduled_time: str = Field(default="", description="Scheduler's <aws.scheduler.scheduled-time>")
    due_at: int | None = Field(default=None, description="Unix milliseconds (one-time schedules)")


def schedule_name(bot_id: str, event_id: str, function: str, then: Continuation, seconds: int) -> str:
    """A schedule's deterministic name (Scheduler: at most 64 of [0-9a-zA-Z-_.])."""
    key = "\x1f".join(
        (bot_id, event_id, function, then.step, json.dumps(then.state, sort_keys=True), str(seconds))
    )
    return "qqbus-" + hashlib.sha256(key.encode()).hexdigest()[:40]


def later(
    ev: Any,
    seconds: int,
    step: str,
    state: dict[str, Any] | None = None,
    *,
    scheduler: Any = None,
    now: float | None = None,
) -> str:
    """Run ``step`` in ``seconds`` (1 s to 30 days) with ``state`` and ``ev``'s chat; the schedule's name.

    Raises
    ------
    ValueError
        A delay out of range, or state too large for a schedule's input.
    SchedulesNotSetUp
        The function's Environment names no schedule group, role or target.
    """
    if not 1 <= seconds <= MAX_DELAY_S:
        raise ValueError(f"a delay is 1 s to {MAX_DELAY_S // 86400} days")
    group, role, target = (os.environ.get(n, "").strip() for n in (GROUP_ENV, ROLE_ENV, TARGET_ENV))
    if not (group and role and target):
        raise SchedulesNotSetUp(f"{GROUP_ENV}, {ROLE_ENV} and {TARGET_ENV} must be set to schedule")
    outbox: Outbox = current_outbox()
    then = outbox.continuation(step, ev.payload, state)
    name = schedule_name(outbox.bot_id, outbox.event_id, outbox.function, then, seconds)
    due = int((time.time() if now is None else now) + seconds)
    detail = ScheduleDetail(
        schedule_id=name,
        bot_id=outbox.bot_id,
        then=then,
        scheduled_time="<aws.scheduler.scheduled-time>",
        due_at=due * 1000,
    )
    text = detail.model_dump_json(exclude_none=True)
    if len(text) > MAX_INPUT_CHARS:
        raise ValueError(
            f"the state is too large for a schedule ({len(text)} > {MAX_INPUT_CHARS} characters)"
        )
    if scheduler is None:
        from qqbus.aws import client

        scheduler = client("scheduler")
    try:
        scheduler.create_schedule(
            Name=name,
            GroupName=group,
            ScheduleExpression=f"at({time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(due))})",
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Target={
                "Arn": target,
                "RoleArn": role,
                "Input": text,
                "EventBridgeParameters": {"Source": SCHEDULE_SOURCE, "DetailType": FIRED},
                "RetryPolicy": {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 3600},
                **_dead_letter(),
            },
        )
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code")
        if code != "ConflictException":  # a retried handler: the schedule exists already
            raise
    return name


def _dead_letter() -> dict[str, Any]:
    """The target's DeadLetterConfig, when the function names a failure queue."""
    arn = os.environ.get(FAILURE_QUEUE_ENV, "").strip()
    return {"DeadLetterConfig": {"Arn": arn}} if arn else {}


@dataclass
class Fired(Resumed):
    """A schedule coming due, as its step gets it: ``send`` posts into the chat that asked."""

    detail: ScheduleDetail | None = None

    @property
    def schedule_id(self) -> str:
        return self.detail.schedule_id if self.detail else ""


def _outbox(detail: ScheduleDetail, key_prefix: str) -> Outbox:
    return Outbox(
        bot_id=detail.bot_id,
        event_id=f"{detail.schedule_id}@{detail.scheduled_time}",
        detail_type=f"{SCHEDULE_SOURCE}.{FIRED}",
        function=key_prefix,
    )


_RESUMING: Resuming[ScheduleDetail, Fired] = Resuming(
    what="schedule",
    key_fields=("schedule_id", "scheduled_time"),
    parse=lambda e: ScheduleDetail.model_validate(e.detail),
    key=lambda d: {"schedule_id": d.schedule_id, "scheduled_time": d.scheduled_time},
    keys=lambda d: {"schedule_id": d.schedule_id, "bot_id": d.bot_id, "step": d.then.step},
    resumed=lambda d, outbox: Fired(bot_id=d.bot_id, then=d.then, outbox=outbox, detail=d),
    outbox=_outbox,
    metric="SchedulesRun",
)


def scheduled(fn: Callable[[Fired, Any], Any]) -> Callable[[dict[str, Any], Any], Any]:
    """Make ``fn(fired, context)`` the Lambda handler of ``qqbus.schedule`` events: once per
    (schedule, scheduled time), its sends published when it returns."""
    return resuming(_RESUMING, fn, default_name="schedule")
