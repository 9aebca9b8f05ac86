"""qq_group_add_robot / del_robot / msg_reject / msg_receive against moto DynamoDB."""

from __future__ import annotations

import random
from typing import Any

from qqbus.state import DynamoGroupStore

from tests.handlers.conftest import Invoke
from tests.support import bus_event

APPID = "102000001"
GROUP = "C9F778FE6ADF9D1D1DBE395BF744A33A"
KINDS = {
    "GROUP_ADD_ROBOT": "qq_group_add_robot",
    "GROUP_DEL_ROBOT": "qq_group_del_robot",
    "GROUP_MSG_REJECT": "qq_group_msg_reject",
    "GROUP_MSG_RECEIVE": "qq_group_msg_receive",
}


def qq_event(t: str, ts: int, *, group: str = GROUP, n: int = 0) -> dict[str, Any]:
    event_id = f"{t}:{ts}-{n}"
    payload = {
        "op": 0,
        "t": t,
        "id": event_id,
        "d": {"group_openid": group, "op_member_openid": "MEMBER", "timestamp": ts},
    }
    return bus_event(
        "qq.official",
        t,
        {
            "bot_id": APPID,
            "event_id": event_id,
            "transport": "webhook",
            "received_at": ts * 1000,
            "payload": payload,
        },
    )


def test_add_robot_marks_member_and_keeps_the_event_id(
    invoke: Invoke, sample: Any, group_store: DynamoGroupStore
) -> None:
    event = sample("qq_group_add_robot")
    invoke("qq_group_add_robot", event)
    state = group_store.get(event["detail"]["bot_id"], event["detail"]["payload"]["d"]["group_openid"])
    assert state is not None
    assert (state.protocol, state.member, state.member_at) == ("qq", True, 1699240248)
    assert state.member_by == "E4F4AEA33253A2797FB897C50B81D7ED"
    assert state.reply_event_id == "GROUP_ADD_ROBOT:39ab91b8-36ee-44d6-80e9-4447a2f2c571"


def test_del_robot_keeps_the_record(invoke: Invoke, sample: Any, group_store: DynamoGroupStore) -> None:
    invoke("qq_group_add_robot", sample("qq_group_add_robot"))
    invoke("qq_group_del_robot", sample("qq_group_del_robot"))
    state = group_store.get("102000001", GROUP)
    assert state is not None and state.member is False and state.member_at == 1699240426
    assert state.reply_event_id == "GROUP_ADD_ROBOT:39ab91b8-36ee-44d6-80e9-4447a2f2c571"


def test_reject_then_receive(invoke: Invoke, sample: Any, group_store: DynamoGroupStore) -> None:
    invoke("qq_group_add_robot", sample("qq_group_add_robot"))
    invoke("qq_group_msg_reject", sample("qq_group_msg_reject"))
    state = group_store.get("102000001", GROUP)
    assert state is not None and state.proactive is False and state.reply_event_id is None
    invoke("qq_group_msg_receive", sample("qq_group_msg_receive"))
    state = group_store.get("102000001", GROUP)
    assert state is not None and state.proactive is True
    assert state.reply_event_id == "GROUP_MSG_RECEIVE:db4a10f1-0599-4345-bbbb-a2ed194b9c9c"


def test_a_late_receive_never_overrides_a_newer_reject(invoke: Invoke, group_store: DynamoGroupStore) -> None:
    invoke("qq_group_msg_reject", qq_event("GROUP_MSG_REJECT", 2000))
    invoke("qq_group_msg_receive", qq_event("GROUP_MSG_RECEIVE", 1000))
    state = group_store.get(APPID, GROUP)
    assert state is not None
    assert (state.proactive, state.proactive_at, state.reply_event_id) == (False, 2000, None)


def test_a_duplicate_runs_once(invoke: Invoke, aws_tables: dict[str, str]) -> None:
    import boto3

    event = qq_event("GROUP_ADD_ROBOT", 1000)
    invoke("qq_group_add_robot", event)
    invoke("qq_group_add_robot", event)
    items = boto3.client("dynamodb").scan(TableName=aws_tables["IdempotencyTable"])["Items"]
    assert len(items) == 1 and items[0]["status"]["S"] == "COMPLETED"


def _expected(events: list[tuple[str, int, str]]) -> dict[str, Any]:
    """What event time dictates: the newest event of each attribute group wins."""
    member = max((e for e in events if e[0] in ("GROUP_ADD_ROBOT", "GROUP_DEL_ROBOT")), key=lambda e: e[1])
    proactive = max(
        (e for e in events if e[0] in ("GROUP_MSG_REJECT", "GROUP_MSG_RECEIVE")), key=lambda e: e[1]
    )
    # reply_event_id is set by ADD and RECEIVE, cleared by REJECT, left alone by DEL.
    reply = max((e for e in events if e[0] != "GROUP_DEL_ROBOT"), key=lambda e: e[1])
    return {
        "member": member[0] == "GROUP_ADD_ROBOT",
        "member_at": member[1],
        "proactive": proactive[0] == "GROUP_MSG_RECEIVE",
        "proactive_at": proactive[1],
        "reply_event_id": None if reply[0] == "GROUP_MSG_REJECT" else reply[2],
    }


def test_shuffled_and_duplicated_sequences_end_in_the_state_event_time_dictates(
    invoke: Invoke, group_store: DynamoGroupStore
) -> None:
    rng = random.Random(20261121)
    for trial in range(12):
        group = f"G{trial}"
        kinds = list(KINDS)
        history = [(rng.choice(kinds), 1000 + 10 * i) for i in range(8)]
        for required in kinds:  # each kind at least once
            history.append((required, 2000 + 10 * kinds.index(required) + rng.randrange(0, 200) * 10))
        events = [(t, ts, f"{t}:{ts}-{trial}") for t, ts in history]
        deliveries = events + rng.sample(events, 4)  # at-least-once: some arrive twice
        rng.shuffle(deliveries)
        for t, ts, _ in deliveries:
            invoke(KINDS[t], qq_event(t, ts, group=group, n=trial))
        state = group_store.get(APPID, group)
        assert state is not None
        want = _expected(events)
        got = {k: getattr(state, k) for k in want}
        assert got == want, (trial, deliveries)
