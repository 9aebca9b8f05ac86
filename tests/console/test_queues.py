"""The failure queues as the console reads them: both message shapes, and anything else."""

from __future__ import annotations

import json

from qqbus_dev.console.queues import describe, failure_queue_ids
from qqbus_dev.template import Template

EVENT = {
    "source": "qqbus.action",
    "detail-type": "qq.group_message",
    "detail": {"action_id": "a1", "origin": {"event_id": "GROUP_AT_MESSAGE_CREATE:1"}},
}


def test_the_template_names_the_failure_queues() -> None:
    assert failure_queue_ids(Template.read()) == [
        "HandlerFailureQueue",
        "DeliveryDeadLetterQueue",
        "ScheduleFailureQueue",
    ]


def test_a_schedulers_dead_letter_is_the_fire_to_replay() -> None:
    """EventBridge Scheduler dead-letters the target's Input with the error in attributes."""
    detail = {
        "schedule_id": "qqbus-abc",
        "then": {"step": "remind.fire"},
        "scheduled_time": "2026-12-05T10:00:00Z",
    }
    attr = lambda v: {"DataType": "String", "StringValue": v}  # noqa: E731
    info = describe(
        {
            "MessageId": "m1",
            "Body": json.dumps(detail),
            "MessageAttributes": {
                "ERROR_CODE": attr("AWS.Events.ResourceNotFound"),
                "ERROR_MESSAGE": attr("Event bus qqbus-dev does not exist."),
                "SCHEDULE_ARN": attr("arn:aws:scheduler:us-east-1:1:schedule/qqbus-dev/qqbus-abc"),
            },
        }
    )
    assert info["event"] == {"source": "qqbus.schedule", "detail-type": "fired", "detail": detail}
    assert info["function"] == "qqbus-abc" and info["at"] == "2026-12-05T10:00:00Z"
    assert info["error"] == "AWS.Events.ResourceNotFound: Event bus qqbus-dev does not exist."


def test_a_destination_record_names_the_function_and_error() -> None:
    record = {
        "timestamp": "2026-01-01T00:00:00",
        "requestContext": {
            "functionArn": "arn:aws:lambda:r:1:function:QqSenderFunction",
            "approximateInvokeCount": 3,
        },
        "requestPayload": EVENT,
        "responsePayload": {"errorType": "Unavailable", "errorMessage": "HTTP 503"},
    }
    info = describe({"MessageId": "m", "Body": json.dumps(record)})
    assert info["function"] == "QqSenderFunction" and info["attempts"] == 3
    assert info["error"] == "Unavailable: HTTP 503"
    assert info["event"] == EVENT and info["event_id"] == "GROUP_AT_MESSAGE_CREATE:1"


def test_an_eventbridge_dead_letter_reads_its_error_from_the_attributes() -> None:
    attributes = {
        "ERROR_CODE": {"StringValue": "SDK_CLIENT_ERROR"},
        "ERROR_MESSAGE": {"StringValue": "throttled"},
    }
    info = describe({"MessageId": "m", "Body": json.dumps(EVENT), "MessageAttributes": attributes})
    assert info["error"] == "SDK_CLIENT_ERROR: throttled" and info["event"] == EVENT


def test_anything_else_is_listed_with_a_clear_error_and_cannot_be_replayed() -> None:
    for body in ("not json", json.dumps([1]), json.dumps({"requestPayload": "x"})):
        info = describe({"MessageId": "m", "Body": body})
        assert info["event"] is None and "not a failure record" in info["error"]
