"""onebot_group_increase / decrease / ban / admin against moto DynamoDB."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from qqbus.state import MUTED_UNTIL_LIFTED, DynamoGroupStore

from tests.handlers.conftest import Invoke
from tests.support import bus_event

SELF = 123456789
GROUP = 987654321


def notice(notice_type: str, time: int, **fields: Any) -> dict[str, Any]:
    payload = {
        "time": time,
        "self_id": SELF,
        "post_type": "notice",
        "notice_type": notice_type,
        "group_id": GROUP,
        "operator_id": 1,
        **fields,
    }
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
    assert (s.muted_until, s.mute_scope) == (1718000035 + 600, "self")
    invoke("onebot_group_decrease", sample("onebot_group_decrease"))
    s = state(group_store)
    assert (s.member, s.member_at, s.bot_admin) == (False, 1718000040, True)


def test_other_members_joining_or_leaving_change_nothing(
    invoke: Invoke, group_store: DynamoGroupStore
) -> None:
    invoke("onebot_group_increase", notice("group_increase", 100, sub_type="approve", user_id=42))
    invoke("onebot_group_decrease", notice("group_decrease", 101, sub_type="leave", user_id=42))
    invoke("onebot_group_ban", notice("group_ban", 102, sub_type="ban", user_id=42, duration=60))
    invoke("onebot_group_admin", notice("group_admin", 103, sub_type="set", user_id=42))
    assert state(group_store) is None


def test_kick_me_marks_not_member_even_without_user_id_match(
    invoke: Invoke, group_store: DynamoGroupStore
) -> None:
    invoke("onebot_group_increase", notice("group_increase", 100, sub_type="invite", user_id=SELF))
    invoke("onebot_group_decrease", notice("group_decrease", 200, sub_type="kick_me", user_id=0))
    assert state(group_store).member is False


def test_a_late_join_does_not_undo_a_newer_leave(invoke: Invoke, group_store: DynamoGroupStore) -> None:
    invoke("onebot_group_decrease", notice("group_decrease", 200, sub_type="leave", user_id=SELF))
    invoke("onebot_group_increase", notice("group_increase", 100, sub_type="approve", user_id=SELF))
    assert (state(group_store).member, state(group_store).member_at) == (False, 200)


@pytest.mark.parametrize("duration", [0, -1])
def test_whole_group_mute_lasts_until_lifted(
    invoke: Invoke, group_store: DynamoGroupStore, duration: int
) -> None:
    invoke("onebot_group_ban", notice("group_ban", 100, sub_type="ban", user_id=0, duration=duration))
    s = state(group_store)
    assert (s.muted_until, s.mute_scope) == (MUTED_UNTIL_LIFTED, "group")
    assert s.is_muted(now=10**9)
    invoke("onebot_group_ban", notice("group_ban", 150, sub_type="lift_ban", user_id=0, duration=0))
    s = state(group_store)
    assert (s.muted_until, s.mute_scope, s.muted_at) == (None, None, 150)
    assert not s.is_muted(now=10**9)


def test_ban_without_duration_field_is_handled(invoke: Invoke, group_store: DynamoGroupStore) -> None:
    event = notice("group_ban", 100, sub_type="ban", user_id=SELF)
    assert "duration" not in event["detail"]["payload"]
    invoke("onebot_group_ban", event)
    assert state(group_store).muted_until == MUTED_UNTIL_LIFTED


def test_admin_unset(invoke: Invoke, group_store: DynamoGroupStore) -> None:
    invoke("onebot_group_admin", notice("group_admin", 100, sub_type="set", user_id=SELF))
    invoke("onebot_group_admin", notice("group_admin", 200, sub_type="unset", user_id=SELF))
    s = state(group_store)
    assert (s.bot_admin, s.admin_at) == (False, 200)


def test_missing_groups_table_env_is_a_clear_error(
    invoke: Invoke, sample: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GROUPS_TABLE_NAME")
    with pytest.raises(RuntimeError, match="GROUPS_TABLE_NAME"):
        invoke("onebot_group_increase", sample("onebot_group_increase"))
