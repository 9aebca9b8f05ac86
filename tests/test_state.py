"""GroupStore semantics, the same for the DynamoDB and the in-memory adapter."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qqbus.state import MUTED_UNTIL_LIFTED, DynamoGroupStore, GroupState, GroupStore, InMemoryGroupStore


@pytest.fixture(params=["dynamodb", "memory"])
def store(request: pytest.FixtureRequest) -> Iterator[GroupStore]:
    if request.param == "memory":
        yield InMemoryGroupStore()
    else:
        yield request.getfixturevalue("group_store")


def test_first_write_creates_the_row(store: GroupStore) -> None:
    assert store.write("b", "g", "qq", store.member(True, at=100, by="m"))[0]
    s = store.get("b", "g")
    assert s is not None and (s.bot_id, s.group_id, s.protocol, s.member, s.member_at, s.member_by) == (
        "b",
        "g",
        "qq",
        True,
        100,
        "m",
    )


def test_older_events_and_repeats_change_nothing(store: GroupStore) -> None:
    store.write("b", "g", "qq", store.member(True, at=100, tiebreak="E1"))
    assert not store.write("b", "g", "qq", store.member(False, at=99, tiebreak="E0"))[0]
    assert not store.write("b", "g", "qq", store.member(True, at=100, tiebreak="E1"))[0]
    s = store.get("b", "g")
    assert s is not None and (s.member, s.member_at) == (True, 100)


def test_attribute_groups_have_their_own_clocks(store: GroupStore) -> None:
    store.write("b", "g", "qq", store.proactive(False, at=500))
    assert store.write("b", "g", "qq", store.member(True, at=100))[0]  # older, but another attribute
    s = store.get("b", "g")
    assert s is not None and (s.member, s.proactive) == (True, False)


def test_none_removes_an_attribute(store: GroupStore) -> None:
    store.write("b", "g", "qq", store.reply_event("E1", at=1))
    store.write("b", "g", "qq", store.reply_event(None, at=2))
    s = store.get("b", "g")
    assert s is not None and s.reply_event_id is None and s.reply_event_at == 2


def test_scan_by_bot(store: GroupStore) -> None:
    store.write("b1", "g2", "onebot", store.member(True, at=1))
    store.write("b1", "g1", "onebot", store.member(True, at=1))
    store.write("b2", "g1", "onebot", store.member(False, at=1))
    assert [(s.bot_id, s.group_id) for s in store.scan("b1")] == [("b1", "g1"), ("b1", "g2")]
    assert len(store.scan()) == 3
    assert store.get("nobody", "g") is None


def test_dynamo_item_uses_the_contract_types(
    group_store: DynamoGroupStore, aws_tables: dict[str, str]
) -> None:
    import boto3

    group_store.write("b", "g", "qq", group_store.member(True, at=100))
    group_store.write("b", "g", "qq", group_store.proactive(True, at=101))
    item = boto3.client("dynamodb").get_item(
        TableName=aws_tables["GroupsTable"], Key={"bot_id": {"S": "b"}, "group_id": {"S": "g"}}
    )["Item"]
    assert item["member"] == {"BOOL": True} and item["member_at"] == {"N": "100"}
    assert item["proactive"] == {"BOOL": True} and item["proactive_at"] == {"N": "101"}
    assert item["protocol"] == {"S": "qq"}


# --- the bot's own mute and a whole-group mute ---------------------------------------------


def test_lifting_a_whole_group_mute_leaves_the_bots_own_mute(store: GroupStore) -> None:
    store.write("b", "g", "onebot", store.muted(1000 + 600, scope="self", at=1000))
    store.write("b", "g", "onebot", store.muted(MUTED_UNTIL_LIFTED, scope="group", at=1010))
    assert store.write("b", "g", "onebot", store.muted(None, scope="group", at=1020))[0]
    s = store.get("b", "g")
    assert s is not None and (s.muted_until, s.muted_at, s.group_muted_until, s.group_muted_at) == (
        1600,
        1000,
        None,
        1020,
    )
    assert s.is_self_muted(now=1030) and s.is_muted(now=1030) and not s.is_group_muted(now=1030)


def test_a_short_own_mute_does_not_hide_a_longer_whole_group_mute(store: GroupStore) -> None:
    store.write("b", "g", "onebot", store.muted(MUTED_UNTIL_LIFTED, scope="group", at=1000))
    store.write("b", "g", "onebot", store.muted(1070, scope="self", at=1010))  # newer, shorter
    s = store.get("b", "g")
    assert s is not None and (s.muted_until, s.group_muted_until) == (1070, MUTED_UNTIL_LIFTED)
    assert s.is_muted(now=10**9) and s.is_group_muted(now=10**9) and not s.is_self_muted(now=10**9)


@pytest.mark.parametrize(
    "self_until, group_until, admin, muted",
    [
        (None, None, None, False),
        (2000, None, None, True),
        (2000, None, True, True),  # an admin's own mute still silences it
        (None, MUTED_UNTIL_LIFTED, None, True),
        (None, MUTED_UNTIL_LIFTED, False, True),
        (None, MUTED_UNTIL_LIFTED, True, False),  # a whole-group mute does not stop an admin
        (1500, MUTED_UNTIL_LIFTED, True, False),  # own mute over by now=1600
        (1600, None, None, False),  # ends at 1600: not muted at 1600
    ],
)
def test_is_muted_answers_from_both_mutes_and_admin(
    self_until: int | None, group_until: int | None, admin: bool | None, muted: bool
) -> None:
    state = GroupState(
        "b", "g", "onebot", muted_until=self_until, group_muted_until=group_until, bot_admin=admin
    )
    assert state.is_muted(now=1600) is muted


def test_now_defaults_to_the_clock() -> None:
    state = GroupState("b", "g", "onebot", muted_until=int(time.time()) + 60)
    assert state.is_self_muted() and state.is_muted()
    assert not GroupState("b", "g", "onebot", group_muted_until=int(time.time()) - 1).is_group_muted()


def test_a_row_from_before_the_split_reads_its_group_mute_as_one(store: GroupStore) -> None:
    legacy = {"muted_until": MUTED_UNTIL_LIFTED, "muted_at": 500, "mute_scope": "group"}
    _put_raw(store, "b", "g", legacy)
    s = store.get("b", "g")
    assert s is not None and (s.muted_until, s.group_muted_until, s.group_muted_at) == (
        None,
        MUTED_UNTIL_LIFTED,
        500,
    )
    assert store.write("b", "g", "onebot", store.muted(None, scope="group", at=600))[0]
    s = store.get("b", "g")
    assert s is not None and not s.is_muted(now=700)  # the lift reaches the legacy mute
    assert store.write("b", "g", "onebot", store.muted(1300, scope="self", at=700))[0]
    s = store.get("b", "g")
    assert s is not None and (s.muted_until, s.group_muted_until) == (1300, None)


def _put_raw(store: GroupStore, bot_id: str, group_id: str, attributes: dict[str, Any]) -> None:
    """A row as an older version wrote it."""
    item = {"bot_id": bot_id, "group_id": group_id, "protocol": "onebot", **attributes}
    if isinstance(store, InMemoryGroupStore):
        store.items[(bot_id, group_id)] = item
    else:
        from boto3.dynamodb.types import TypeSerializer

        assert isinstance(store, DynamoGroupStore)
        ser = TypeSerializer()
        store._client.put_item(
            TableName=store.table_name, Item={k: ser.serialize(v) for k, v in item.items()}
        )


# --- events of the same second -------------------------------------------------------------

#: For each attribute group: a write that loses a same-second tie, the one that wins, and what
#: the winner leaves in the row.
Write = Callable[[GroupStore, str], bool]
TIES: dict[str, tuple[Write, Write, dict[str, Any]]] = {
    "leaving beats joining": (
        lambda s, e: s.write("b", "g", "qq", s.member(True, at=100, tiebreak=e))[0],
        lambda s, e: s.write("b", "g", "qq", s.member(False, at=100, tiebreak=e))[0],
        {"member": False},
    ),
    "REJECT beats RECEIVE": (
        lambda s, e: s.write("b", "g", "qq", s.proactive(True, at=100, tiebreak=e))[0],
        lambda s, e: s.write("b", "g", "qq", s.proactive(False, at=100, tiebreak=e))[0],
        {"proactive": False},
    ),
    "clearing the reply event beats setting it": (
        lambda s, e: s.write("b", "g", "qq", s.reply_event("E-RECEIVE", at=100, tiebreak=e))[0],
        lambda s, e: s.write("b", "g", "qq", s.reply_event(None, at=100, tiebreak=e))[0],
        {"reply_event_id": None},
    ),
    "a lift beats the own mute it lifts": (
        lambda s, e: s.write("b", "g", "onebot", s.muted(700, scope="self", at=100, tiebreak=e))[0],
        lambda s, e: s.write("b", "g", "onebot", s.muted(None, scope="self", at=100, tiebreak=e))[0],
        {"muted_until": None},
    ),
    "a lift beats the group mute it lifts": (
        lambda s, e: s.write(
            "b", "g", "onebot", s.muted(MUTED_UNTIL_LIFTED, scope="group", at=100, tiebreak=e)
        )[0],
        lambda s, e: s.write("b", "g", "onebot", s.muted(None, scope="group", at=100, tiebreak=e))[0],
        {"group_muted_until": None},
    ),
    "unset beats set": (
        lambda s, e: s.write("b", "g", "onebot", s.admin(True, at=100, tiebreak=e))[0],
        lambda s, e: s.write("b", "g", "onebot", s.admin(False, at=100, tiebreak=e))[0],
        {"bot_admin": False},
    ),
}


@pytest.mark.parametrize("rule", sorted(TIES))
@pytest.mark.parametrize("winner_first", [True, False])
def test_a_same_second_tie_goes_the_documented_way_in_either_order(
    store: GroupStore, rule: str, winner_first: bool
) -> None:
    loser, winner, want = TIES[rule]
    # The loser gets the greater event id: the rule, not the id, must decide.
    if winner_first:
        assert winner(store, "A") and not loser(store, "Z")
    else:
        assert loser(store, "Z") and winner(store, "A")
    s = store.get("b", "g")
    assert s is not None and {k: getattr(s, k) for k in want} == want


@pytest.mark.parametrize("first", ["E1", "E2"])
def test_two_events_alike_in_the_same_second_are_ordered_by_event_id(store: GroupStore, first: str) -> None:
    other = "E2" if first == "E1" else "E1"
    store.write("b", "g", "qq", store.reply_event(f"cite-{first}", at=100, tiebreak=first))
    store.write("b", "g", "qq", store.reply_event(f"cite-{other}", at=100, tiebreak=other))
    s = store.get("b", "g")
    assert s is not None and s.reply_event_id == "cite-E2"


def test_a_duplicate_is_a_no_op(store: GroupStore) -> None:
    assert store.write("b", "g", "qq", store.proactive(False, at=100, by="m", tiebreak="E1"))[0]
    assert not store.write("b", "g", "qq", store.proactive(False, at=100, by="m", tiebreak="E1"))[0]
    assert store.write("b", "g", "qq", store.proactive(False, at=101, by="m", tiebreak="E0"))[
        0
    ]  # newer second
    assert not store.write("b", "g", "qq", store.proactive(True, at=100, by="m", tiebreak="E9"))[0]  # older


# --- delivery order does not matter ---------------------------------------------------------

Op = tuple[str, int, int, str]  # (kind, event time, value index, event id)
KIND_VALUES: dict[str, list[Any]] = {
    "member": [True, False],
    "proactive": [True, False],
    "reply": ["R1", "R2", None],
    "self_mute": [1500, MUTED_UNTIL_LIFTED, None],
    "group_mute": [MUTED_UNTIL_LIFTED, 1800, None],
    "admin": [True, False],
}


def _write(store: GroupStore, op: Op) -> None:
    kind, at, index, event_id = op
    value = KIND_VALUES[kind][index % len(KIND_VALUES[kind])]
    common: dict[str, Any] = {"at": at, "tiebreak": event_id}
    if kind == "member":
        store.write("b", "g", "onebot", store.member(value, by=event_id, **common))
    elif kind == "proactive":
        store.write("b", "g", "qq", store.proactive(value, by=event_id, **common))
    elif kind == "reply":
        store.write("b", "g", "qq", store.reply_event(value, **common))
    elif kind in ("self_mute", "group_mute"):
        scope = "self" if kind == "self_mute" else "group"
        store.write("b", "g", "onebot", store.muted(value, scope=scope, **common))
    else:
        store.write("b", "g", "onebot", store.admin(value, **common))


def _final(store: GroupStore) -> dict[str, Any]:
    """The row, but not ``updated_at`` (wall clock) nor ``protocol``, which the first write sets:
    these sequences mix QQ-only and OneBot-only writes, which no real group does."""
    s = store.get("b", "g")
    assert s is not None
    return {k: v for k, v in vars(s).items() if k not in ("updated_at", "protocol")}


ops = st.lists(
    st.tuples(
        st.sampled_from(sorted(KIND_VALUES)),
        st.integers(100, 103),  # few seconds: many ties
        st.integers(0, 2),
        st.sampled_from(["E1", "E2", "E3"]),
    ),
    min_size=1,
    max_size=14,
).map(lambda xs: _consistent(xs))


def _consistent(raw: list[Op]) -> list[Op]:
    """One event id is one event: the same id in the same kind and second writes the same value."""
    seen: dict[tuple[str, int, str], Op] = {}
    return [seen.setdefault((k, at, e), (k, at, i, e)) for k, at, i, e in raw]


@settings(max_examples=150, deadline=None)
@given(ops, st.randoms(use_true_random=False))
def test_in_memory_final_state_is_independent_of_delivery_order(events: list[Op], rng: random.Random) -> None:
    one, other = InMemoryGroupStore(), InMemoryGroupStore()
    for op in events:
        _write(one, op)
    shuffled = events + rng.sample(events, len(events) // 2)  # with redeliveries
    rng.shuffle(shuffled)
    for op in shuffled:
        _write(other, op)
    assert _final(one) == _final(other)


def test_dynamodb_and_memory_agree_on_shuffled_sequences_with_ties(group_store: DynamoGroupStore) -> None:
    rng = random.Random(8)
    for trial in range(6):
        events = _consistent(
            [
                (rng.choice(sorted(KIND_VALUES)), rng.randint(100, 102), rng.randint(0, 2), rng.choice("ABC"))
                for _ in range(18)
            ]
        )
        memory = InMemoryGroupStore()
        for op in events:
            _write(memory, op)
        dynamo = _Renamed(group_store, f"g{trial}")
        deliveries = events + rng.sample(events, 6)
        rng.shuffle(deliveries)
        for op in deliveries:
            _write(dynamo, op)
        assert _final(dynamo) == {**_final(memory), "group_id": f"g{trial}"}, (trial, deliveries)


class _Renamed(GroupStore):
    """``store`` with group "g" mapped to another row, so each trial starts empty."""

    def __init__(self, store: GroupStore, group_id: str) -> None:
        self._store, self._group_id = store, group_id

    def _apply(self, bot_id: str, group_id: str, *args: Any) -> bool:
        return self._store._apply(bot_id, self._group_id, *args)

    def get(self, bot_id: str, group_id: str) -> GroupState | None:
        return self._store.get(bot_id, self._group_id)

    def scan(self, bot_id: str | None = None) -> list[GroupState]:
        raise NotImplementedError


def test_dynamo_tie_keys_sit_beside_the_clocks(
    group_store: DynamoGroupStore, aws_tables: dict[str, str]
) -> None:
    import boto3

    group_store.write("b", "g", "qq", group_store.member(False, at=100, tiebreak="E1"))
    group_store.write("b", "g", "onebot", group_store.muted(None, scope="group", at=100, tiebreak="E2"))
    item = boto3.client("dynamodb").get_item(
        TableName=aws_tables["GroupsTable"], Key={"bot_id": {"S": "b"}, "group_id": {"S": "g"}}
    )["Item"]
    assert item["member_at"] == {"N": "100"} and item["member_tie"] == {"S": "1:E1"}
    assert item["group_muted_at"] == {"N": "100"} and item["group_muted_tie"] == {"S": "1:E2"}
    assert "group_muted_until" not in item and "mute_scope" not in item
