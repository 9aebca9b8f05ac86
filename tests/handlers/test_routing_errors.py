"""@handler: a value the database refuses for good is reported invalid, not retried into the failure queue."""

from __future__ import annotations

from typing import Any

from qqbus.events.onebot import NoticeEvent
from qqbus.handler import Delivered, handler
from qqbus.state import groups
from qqbus_dev.lambda_context import LocalContext

from tests.support import bus_event


def test_a_dynamodb_validation_error_is_invalid_and_counted(aws_tables: dict[str, str], output: Any) -> None:
    @handler(NoticeEvent)
    def writes_an_overlong_key(ev: Delivered[NoticeEvent], context: object) -> None:
        too_long = "g" * 1025  # a sort key over 1024 bytes: DynamoDB refuses it, whatever the retry
        groups().write(ev.bot_id, too_long, "onebot", groups().member(True, at=ev.payload.time))

    payload = {"time": 1718000000, "self_id": 1, "post_type": "notice", "notice_type": "x"}
    detail = {
        "bot_id": "1",
        "event_id": "e-long-key",
        "transport": "http_post",
        "received_at": 1,
        "payload": payload,
    }
    result = writes_an_overlong_key(bus_event("onebot.v11", "notice.x", detail), LocalContext())
    assert result["status"] == "invalid" and "ValidationException" in result["error"]
    lines = output()
    assert any(
        line.get("level") == "ERROR" and "database refused" in line.get("message", "") for line in lines
    )
    metrics = [line for line in lines if "InvalidEvents" in line]
    assert metrics and metrics[-1]["InvalidEvents"] == 1
