"""The template's own rules on moto: every event lands in exactly its function's queue."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from qqbus_dev.provision import Routes, create_bus_and_routes
from qqbus_dev.template import Template

from tests.support import CONTRACT, SENDERS, SUB_TYPES, event_file


@pytest.fixture
def routes(template: Template, refs: dict[str, Any]) -> Iterator[tuple[Routes, Any, Any]]:
    with mock_aws():
        events, sqs = boto3.client("events"), boto3.client("sqs")
        yield create_bus_and_routes(template, events, sqs, refs), events, sqs


def _drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    got = []
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            return got
        for m in msgs:
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def _put(events: Any, bus: str, source: str, detail_type: str, detail: dict[str, Any]) -> None:
    resp = events.put_events(
        Entries=[
            {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail), "EventBusName": bus}
        ]
    )
    assert resp["FailedEntryCount"] == 0


def test_every_events_payload_lands_in_exactly_its_own_queue(
    template: Template, routes: tuple[Routes, Any, Any]
) -> None:
    r, events, sqs = routes
    folder_of = {fn.logical_id: fn.folder for fn in template.event_functions()}
    every = [*CONTRACT, *SUB_TYPES, *SENDERS]
    for name in every:
        e = event_file(name)
        _put(events, r.bus_name, e["source"], e["detail-type"], e["detail"])
    delivered: dict[str, list[str]] = {}
    for logical_id, url in r.function_queues.items():
        for body in _drain(sqs, url):
            folder = folder_of[logical_id]
            delivered.setdefault(folder, []).append(
                body["detail"].get("event_id") or body["detail"]["action_id"]
            )
            assert body["detail-type"] == event_file(folder)["detail-type"]
    assert {k: len(v) for k, v in delivered.items()} == dict.fromkeys(every, 1)
    for name, ids in delivered.items():
        detail = event_file(name)["detail"]
        assert ids == [detail.get("event_id") or detail["action_id"]]
    for url in r.catch_all_queues.values():
        assert _drain(sqs, url) == []


#: Event types real traffic carries; those no rule handles must reach only the catch-all.
OBSERVED_TYPES = [
    ("qq.official", "GROUP_AT_MESSAGE_CREATE"),
    ("qq.official", "C2C_MESSAGE_CREATE"),
    ("qq.official", "FRIEND_ADD"),
    ("qq.official", "AT_MESSAGE_CREATE"),
    ("qq.official", "INTERACTION_CREATE"),
    ("onebot.v11", "meta_event.lifecycle"),
    ("onebot.v11", "request.friend"),
    ("onebot.v11", "request.group"),
    ("onebot.v11", "notice.notify"),
    ("onebot.v11", "notice.group_card"),
    ("onebot.v11", "message_sent.group"),
    # A handled type under the other source is not that handler's event.
    ("onebot.v11", "GROUP_ADD_ROBOT"),
    ("qq.official", "message.group"),
]
UNHANDLED = [t for t in OBSERVED_TYPES if t not in set(CONTRACT.values())]


@pytest.mark.parametrize("source, detail_type", UNHANDLED)
def test_unknown_types_land_only_in_the_catch_all(
    routes: tuple[Routes, Any, Any], source: str, detail_type: str
) -> None:
    r, events, sqs = routes
    _put(events, r.bus_name, source, detail_type, {"bot_id": "1", "event_id": "e", "payload": {}})
    for url in r.function_queues.values():
        assert _drain(sqs, url) == []
    (got,) = _drain(sqs, r.catch_all_queues["UnhandledEventsRule"])
    assert (got["source"], got["detail-type"]) == (source, detail_type)
    assert _drain(sqs, r.catch_all_queues["ActionResultsRule"]) == []


@pytest.mark.parametrize(
    "detail_type, sender",
    [
        ("qq.group_message", "QqSenderFunction"),
        ("qq.c2c_message", "QqSenderFunction"),
        ("onebot.send_group_msg", "OnebotSenderFunction"),
        ("onebot.set_group_ban", "OnebotSenderFunction"),
    ],
)
def test_actions_reach_only_their_protocols_sender(
    routes: tuple[Routes, Any, Any], detail_type: str, sender: str
) -> None:
    r, events, sqs = routes
    _put(events, r.bus_name, "qqbus.action", detail_type, {"bot_id": "1", "action_id": "a"})
    for logical_id, url in r.function_queues.items():
        assert len(_drain(sqs, url)) == (logical_id == sender), logical_id
    assert all(_drain(sqs, url) == [] for url in r.catch_all_queues.values())


def test_results_reach_only_the_results_log(routes: tuple[Routes, Any, Any]) -> None:
    r, events, sqs = routes
    for outcome in ("sent", "refused", "failed"):
        _put(events, r.bus_name, "qqbus.action.result", outcome, {"action_id": "a", "bot_id": "1"})
    assert [e["detail-type"] for e in _drain(sqs, r.catch_all_queues["ActionResultsRule"])] == [
        "sent",
        "refused",
        "failed",
    ]
    assert all(_drain(sqs, url) == [] for url in r.function_queues.values())
    assert _drain(sqs, r.catch_all_queues["UnhandledEventsRule"]) == []


def test_other_sources_match_nothing(routes: tuple[Routes, Any, Any]) -> None:
    r, events, sqs = routes
    _put(events, r.bus_name, "someone.else", "GROUP_ADD_ROBOT", {})
    for url in [*r.function_queues.values(), *r.catch_all_queues.values()]:
        assert _drain(sqs, url) == []
