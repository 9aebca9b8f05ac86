"""The message handlers (extension points) and the log-and-count notice handlers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.handlers.conftest import Invoke

LOG_ONLY = ["onebot_group_upload", "onebot_friend_add", "onebot_group_recall", "onebot_friend_recall"]


def _metrics(lines: list[dict[str, Any]]) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in lines:
        for directive in line.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in directive["Metrics"]:
                value = line[metric["Name"]]
                found[metric["Name"]] = found.get(metric["Name"], 0) + sum(
                    value if isinstance(value, list) else [value]
                )
    return found


def test_group_message_normalises_segments(invoke: Invoke, sample: Any, output: Any) -> None:
    result = invoke("onebot_group_message", sample("onebot_group_message"))
    assert result["segments"] == [
        {"type": "at", "data": {"qq": 123456789}},
        {"type": "text", "data": {"text": " /ping"}},
    ]
    assert result["mentions_bot"] is True
    lines = output()
    log = next(line for line in lines if line.get("message") == "group message")
    assert log["group_id"] == 987654321
    assert log["correlation_id"] == sample("onebot_group_message")["detail"]["event_id"]
    assert log["detail_type"] == "message.group" and log["bot_id"] == "123456789"
    assert _metrics(lines)["EventsHandled"] == 1


def test_private_message_from_cq_string(invoke: Invoke, sample: Any) -> None:
    event = sample("onebot_private_message")
    event["detail"]["payload"]["message"] = "hi &#91;1&#93;[CQ:face,id=178]"
    result = invoke("onebot_private_message", event)
    assert result["segments"] == [
        {"type": "text", "data": {"text": "hi [1]"}},
        {"type": "face", "data": {"id": "178"}},
    ]


@pytest.mark.parametrize("name", LOG_ONLY)
def test_log_only_handlers_log_and_count(invoke: Invoke, sample: Any, output: Any, name: str) -> None:
    event = sample(name)
    event["detail"]["payload"]["added_by_a_newer_implementation"] = {"x": 1}
    invoke(name, event)
    lines = output()
    info = [line for line in lines if line.get("level") == "INFO" and "correlation_id" in line]
    assert info and info[0]["correlation_id"] == event["detail"]["event_id"]
    assert _metrics(lines)["EventsHandled"] == 1


@pytest.mark.parametrize("name", [*LOG_ONLY, "onebot_group_ban", "onebot_group_message"])
def test_a_payload_missing_a_required_field_is_reported_not_crashed(
    invoke: Invoke, sample: Any, output: Any, name: str
) -> None:
    event = sample(name)
    del event["detail"]["payload"]["user_id"]
    result = invoke(name, event)
    assert result["status"] == "invalid" and "user_id" in result["error"]
    lines = output()
    error = next(line for line in lines if line.get("level") == "ERROR")
    assert "user_id" in error["message"] and error["detail_type"] == event["detail-type"]
    assert _metrics(lines)["InvalidEvents"] == 1


def test_something_that_is_not_an_eventbridge_event_fails_loudly(invoke: Invoke) -> None:
    with pytest.raises(ValueError, match="not an EventBridge event"):
        invoke("onebot_friend_add", {"body": "{}"})
