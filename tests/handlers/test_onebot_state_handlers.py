"""onebot_group_increase / decrease / ban / admin against moto DynamoDB."""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

import pytest
from qqbus.state import MUTED_UNTIL_LIFTED, DynamoGroupStore

from tests.handlers.conftest import Invoke
from tests.support import bus_event

SELF = 123456789
GROUP = 987654321
T = 1718000035


def notice_payload(notice_type: str, time: int, **fields: Any) -> dict[str, Any]:
    return {
        "time": time,
        "self_id": SELF,
        "post_type": "notice",
        "notice_type": notice_type,
        "group_id": GROUP,
        "operator_id": 1,
        **fields,
    }


def notice(notice_type: str, time: int, **fields: Any) -> dict[str, Any]:
    payload = notice_payload(notice_type, time, **fields)
    raw = json.dumps(payload).encode()
    return bus_event(
        "onebot.v11",
        f"notice.{notice_type}",
        {
            "bot_id": str(SELF),
            "event_id": hashlib.sha256(raw).hexdigest(),
            "transport": "http_post",
            "received_at": time * 1000,
            "payload": payload,
        },
    )


def state(store: DynamoGroupStore) -> Any:
    return store.get(str(SELF), str(GROUP))


def test_events_payloads_update_state(invoke: Invoke, sample: Any, group_store: DynamoGroupStore) -> None:
    invoke("onebot_group_increase", sample("onebot_group_increase"))
    s = state(group_store)
    assert (s.protocol, s.member, s.member_at) == ("onebot", True, 1718000010)
    invoke("onebot_group_admin", sample("onebot_group_admin"))
    assert state(group_store).bot_admin is True
    invoke("onebot_group_ban", sample("onebot_group_ban"))
    s = state(group_store)
    assert (s.muted_until, s.muted_at, s.group_muted_until) == (1718000035 + 600, 1718000035, None)
    invoke("onebot_group_decrease", sample("onebot_group_decrease"))
    s = state(group_store)
    assert (s.member, s.member_at, s.bot_admin) == (False, 1718000040, True)


def test_other_members_joining_or_leaving_change_nothing(
    invoke: Invoke, group_store: DynamoGroupStore
) -> None:
    invoke("onebot_group_increase", notice("group_increase", T, sub_type="approve", user_id=42))
    invoke("onebot_group_decrease", notice("group_decrease", T + 1, sub_type="leave", user_id=42))
    invoke("onebot_group_ban", notice("group_ban", T + 2, sub_type="ban", user_id=42, duration=60))
    invoke("onebot_group_admin", notice("group_admin", T + 3, sub_type="set", user_id=42))
    assert state(group_store) is None


def test_kick_me_marks_not_member_even_without_user_id_match(
    invoke: Invoke, group_store: DynamoGroupStore
) -> None:
    invoke("onebot_group_increase", notice("group_increase", T, sub_type="invite", user_id=SELF))
    invoke("onebot_group_decrease", notice("group_decrease", T + 100, sub_type="kick_me", user_id=0))
    assert state(group_store).member is False


def test_a_late_join_does_not_undo_a_newer_leave(invoke: Invoke, group_store: DynamoGroupStore) -> None:
    invoke("onebot_group_decrease", notice("group_decrease", T + 100, sub_type="leave", user_id=SELF))
    invoke("onebot_group_increase", notice("group_increase", T, sub_type="approve", user_id=SELF))
    assert (state(group_store).member, state(group_store).member_at) == (False, T + 100)


@pytest.mark.parametrize("duration", [0, -1, None])
def test_whole_group_mute_lasts_until_lifted(
    invoke: Invoke, group_store: DynamoGroupStore, duration: int | None
) -> None:
    fields = {} if duration is None else {"duration": duration}
    invoke("onebot_group_ban", notice("group_ban", T, sub_type="ban", user_id=0, **fields))
    s = state(group_store)
    assert (s.group_muted_until, s.group_muted_at, s.muted_until) == (MUTED_UNTIL_LIFTED, T, None)
    assert s.is_muted(now=T + 10**6)
    invoke("onebot_group_ban", notice("group_ban", T + 50, sub_type="lift_ban", user_id=0, duration=0))
    s = state(group_store)
    assert (s.group_muted_until, s.group_muted_at) == (None, T + 50)
    assert not s.is_muted(now=T + 10**6)


def test_a_whole_group_lift_ban_keeps_the_bots_own_mute(
    invoke: Invoke, group_store: DynamoGroupStore
) -> None:
    invoke("onebot_group_ban", notice("group_ban", T, sub_type="ban", user_id=SELF, duration=600))
    invoke("onebot_group_ban", notice("group_ban", T + 10, sub_type="ban", user_id=0))
    invoke("onebot_group_ban", notice("group_ban", T + 20, sub_type="lift_ban", user_id=0, duration=0))
    s = state(group_store)
    assert (s.muted_until, s.group_muted_until) == (T + 600, None)
    assert s.is_muted(now=T + 30) and not s.is_muted(now=T + 600)


def test_a_short_own_mute_does_not_hide_a_longer_group_mute(
    invoke: Invoke, group_store: DynamoGroupStore
) -> None:
    invoke("onebot_group_ban", notice("group_ban", T, sub_type="ban", user_id=0))
    invoke("onebot_group_ban", notice("group_ban", T + 10, sub_type="ban", user_id=SELF, duration=60))
    s = state(group_store)
    assert (s.muted_until, s.group_muted_until) == (T + 70, MUTED_UNTIL_LIFTED)
    assert s.is_muted(now=T + 3600)  # own mute over, the group's is not
    invoke("onebot_group_admin", notice("group_admin", T + 20, sub_type="set", user_id=SELF))
    assert not state(group_store).is_muted(now=T + 3600)  # an admin speaks through a group mute


def _metric(lines: list[dict[str, Any]], name: str) -> float:
    """The sum of metric ``name`` over the EMF lines written (a value may be a list)."""
    values = [
        line[name]
        for line in lines
        for directive in line.get("_aws", {}).get("CloudWatchMetrics", [])
        for metric in directive["Metrics"]
        if metric["Name"] == name
    ]
    return sum(sum(v) if isinstance(v, list) else v for v in values)


@pytest.mark.parametrize(
    "handler, notice_type, fields, why",
    [
        ("onebot_group_ban", "group_ban", {"time": 2**62}, "more than a day ahead"),
        ("onebot_group_ban", "group_ban", {"time": 10**40}, "time"),
        ("onebot_group_ban", "group_ban", {"time": 0}, "before 2010-01-01"),
        ("onebot_group_ban", "group_ban", {"time": True}, "boolean"),
        ("onebot_group_ban", "group_ban", {"time": "１７１８００００３５"}, "not a decimal integer"),
        ("onebot_group_ban", "group_ban", {"user_id": True}, "boolean"),
        ("onebot_group_ban", "group_ban", {"duration": None}, "positive duration"),
        ("onebot_group_ban", "group_ban", {"duration": 0}, "positive duration"),
        ("onebot_group_ban", "group_ban", {"duration": -5}, "positive duration"),
        ("onebot_group_ban", "group_ban", {"sub_type": "unban"}, "sub_type"),
        ("onebot_group_admin", "group_admin", {"sub_type": "remove"}, "sub_type"),
        ("onebot_group_admin", "group_admin", {"group_id": 3.5}, "not an integer"),
        ("onebot_group_increase", "group_increase", {"time": 2**62}, "more than a day ahead"),
        ("onebot_group_decrease", "group_decrease", {"group_id": "１２３"}, "not a decimal integer"),
    ],
)
def test_implausible_or_loosely_typed_events_are_reported_and_change_nothing(
    invoke: Invoke,
    group_store: DynamoGroupStore,
    output: Any,
    handler: str,
    notice_type: str,
    fields: dict[str, Any],
    why: str,
) -> None:
    sub_type = {
        "group_ban": "ban",
        "group_admin": "set",
        "group_increase": "approve",
        "group_decrease": "leave",
    }
    base: dict[str, Any] = {"sub_type": sub_type[notice_type], "user_id": SELF, "duration": 600}
    event = notice(notice_type, T, **base)
    payload = event["detail"]["payload"]
    payload.update(fields)
    for name in [k for k, v in fields.items() if v is None]:
        del payload[name]
    result = invoke(handler, event)
    assert result["status"] == "invalid" and why in result["error"]
    lines = output()
    error = next(line for line in lines if line.get("level") == "ERROR")
    assert why in error["message"] and _metric(lines, "InvalidEvents") == 1
    assert state(group_store) is None  # nothing stored, no clock frozen


def test_a_ban_of_another_member_without_duration_is_still_ignored(
    invoke: Invoke, group_store: DynamoGroupStore
) -> None:
    assert invoke("onebot_group_ban", notice("group_ban", T, sub_type="ban", user_id=42)) is None
    assert state(group_store) is None


# --- whatever the delivery order, the state the events dictate -------------------------------

#: (notice type, fields, which attribute group it writes or None, the value it writes there,
#: whether it wins a same-second tie against the other kind of its group).
KINDS: list[tuple[str, dict[str, Any], str | None, Any, bool]] = [
    ("group_increase", {"sub_type": "approve", "user_id": SELF}, "member", True, False),
    ("group_decrease", {"sub_type": "kick_me", "user_id": 0}, "member", False, True),
    ("group_decrease", {"sub_type": "leave", "user_id": SELF}, "member", False, True),
    ("group_ban", {"sub_type": "ban", "user_id": SELF, "duration": 600}, "self", "ban", False),
    ("group_ban", {"sub_type": "lift_ban", "user_id": SELF, "duration": 0}, "self", None, True),
    ("group_ban", {"sub_type": "ban", "user_id": 0}, "group", MUTED_UNTIL_LIFTED, False),
    ("group_ban", {"sub_type": "lift_ban", "user_id": 0, "duration": 0}, "group", None, True),
    ("group_admin", {"sub_type": "set", "user_id": SELF}, "admin", True, False),
    ("group_admin", {"sub_type": "unset", "user_id": SELF}, "admin", False, True),
    ("group_ban", {"sub_type": "ban", "user_id": 42, "duration": 60}, None, None, False),
]
ATTRIBUTES = {"member": "member", "self": "muted_until", "group": "group_muted_until", "admin": "bot_admin"}


def _delivery(t: int, k: int, group: int) -> tuple[str, dict[str, Any]]:
    """The handler and the bus event of kind ``k`` at time ``t`` in ``group``."""
    notice_type, fields, *_ = KINDS[k]
    return f"onebot_{notice_type}", notice(notice_type, t, group_id=group, **fields)


def _expected(events: list[tuple[int, int]], group: int) -> dict[str, Any]:
    """Per attribute group, the event latest by (time, wins a tie, event id) decides."""
    want: dict[str, Any] = {}
    for slot, attribute in ATTRIBUTES.items():
        writes = [(t, k) for t, k in events if KINDS[k][2] == slot]
        if not writes:
            want[attribute] = None
            continue

        def order(w: tuple[int, int]) -> tuple[int, bool, str]:
            return w[0], KINDS[w[1]][4], _delivery(*w, group)[1]["detail"]["event_id"]

        t, k = max(writes, key=order)
        value = KINDS[k][3]
        want[attribute] = t + 600 if value == "ban" else value
    return want


def test_shuffled_duplicated_and_same_second_events_end_in_the_state_they_dictate(
    invoke: Invoke, group_store: DynamoGroupStore
) -> None:
    rng = random.Random(20261121)
    for trial in range(8):
        group = 5000 + trial  # a row per trial
        # Three seconds for a dozen events: most attribute groups see a tie.
        events = sorted({(T + rng.randrange(3), rng.randrange(len(KINDS))) for _ in range(12)})
        deliveries = events + rng.sample(events, 4)  # at least once: some arrive twice
        rng.shuffle(deliveries)
        for t, k in deliveries:
            invoke(*_delivery(t, k, group))
        s = group_store.get(str(SELF), str(group))
        got = {a: getattr(s, a) if s else None for a in ATTRIBUTES.values()}
        assert got == _expected(events, group), (trial, deliveries)


def test_admin_unset(invoke: Invoke, group_store: DynamoGroupStore) -> None:
    invoke("onebot_group_admin", notice("group_admin", T, sub_type="set", user_id=SELF))
    invoke("onebot_group_admin", notice("group_admin", T + 100, sub_type="unset", user_id=SELF))
    s = state(group_store)
    assert (s.bot_admin, s.admin_at) == (False, T + 100)


def test_missing_groups_table_env_is_a_clear_error(
    invoke: Invoke, sample: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GROUPS_TABLE_NAME")
    with pytest.raises(RuntimeError, match="GROUPS_TABLE_NAME"):
        invoke("onebot_group_increase", sample("onebot_group_increase"))
