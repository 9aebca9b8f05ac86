"""The bot's own data on moto DynamoDB: scopes, types, TTL, conditional writes, atomic counters."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from qqbus.bot_data import BotData, Key, bot_data, row_key

POINTS = Key("points", int, default=0)
BOT = "123456789"


def test_scopes_keep_their_own_values(data: BotData) -> None:
    data.bot(BOT).set("motd", "hello")
    data.group(BOT, 42).set("motd", "group hello")
    data.user(BOT, 42).set("motd", "user hello")
    data.user("987", 42).set("motd", "another bot")
    assert [data.bot(BOT).get("motd"), data.group(BOT, "42").get("motd"), data.user(BOT, 42).get("motd")] == [
        "hello",
        "group hello",
        "user hello",
    ]
    assert data.user(BOT, 43).get("motd", "none") == "none"
    assert [(i.scope, i.value) for i in data.items(BOT)] == [
        ("bot", "hello"),
        ("group:42", "group hello"),
        ("user:42", "user hello"),
    ]


def test_values_are_json_like_and_keys_are_typed(data: BotData) -> None:
    me = data.user(BOT, 1)
    assert me.get(POINTS) == 0  # the key's default
    value = {"list": [1, 2.5, "x", None, True], "n": 3}
    me.set("profile", value)
    assert me.get("profile") == value
    me.set(POINTS, 7)
    assert me.get(POINTS) == 7
    me.set("points", "seven")  # written by name, read through the typed key: the type is checked
    with pytest.raises(TypeError, match="points: stored str, expected int"):
        me.get(POINTS)
    with pytest.raises(TypeError):
        me.set(POINTS, "eight")
    me.delete(POINTS)
    assert me.get(POINTS) == 0


def test_a_name_cannot_forge_another_scope(data: BotData) -> None:
    data.user(BOT, "1#x").set("a", 1)
    data.user(BOT, "1").set("x#a", 2)
    assert (data.user(BOT, "1#x").get("a"), data.user(BOT, "1").get("x#a")) == (1, 2)
    assert row_key("data", "user:1#x", "a") != row_key("data", "user:1", "x#a")


def test_ttl_sets_the_tables_ttl_attribute_and_an_expired_value_reads_as_absent(
    data: BotData, bot_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    me = data.group(BOT, 5)
    me.set("banner", "sale", ttl=60)
    me.set("forever", "yes")
    raw = boto3.client("dynamodb").scan(TableName=bot_table)["Items"]
    expiry = {i["name"]["S"]: i.get("expires_at", {}).get("N") for i in raw}
    assert int(expiry["banner"]) == pytest.approx(time.time() + 60, abs=5)
    assert expiry["forever"] is None
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    assert (me.get("banner"), me.get("forever")) == (None, "yes")
    assert [i.name for i in data.items(BOT)] == ["forever"]
    assert me.set("banner", "new", ttl=60, if_absent=True)  # expired counts as absent


def test_conditional_sets(data: BotData) -> None:
    me = data.user(BOT, 9)
    assert me.set("daily", True, ttl=86400, if_absent=True)
    assert not me.set("daily", True, ttl=86400, if_absent=True)
    me.set("streak", 1)
    assert me.set("streak", 2, if_equals=1)
    assert not me.set("streak", 5, if_equals=1)  # someone changed it first
    assert me.get("streak") == 2


def test_incr_is_atomic_under_repeated_and_concurrent_calls(data: BotData) -> None:
    """Each incr is one UpdateItem that ADDs and returns the new value: DynamoDB applies it
    atomically, so concurrent calls cannot lose an update. (moto's table is not atomic across
    threads, so the concurrent part checks the calls and that each got a value of its own kind.)"""
    calls: list[tuple[str, str]] = []

    def seen(model: Any, params: dict[str, Any], **_: Any) -> None:
        calls.append((model.name, params.get("UpdateExpression", "")))

    data.client.meta.events.register("before-parameter-build.dynamodb", seen)
    try:
        me = data.user(BOT, 3)
        assert [me.incr(POINTS) for _ in range(5)] == [1, 2, 3, 4, 5]
        assert me.incr("points", -2) == 3
        assert me.get(POINTS) == 3
        calls.clear()
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: data.user(BOT, 3).incr("points", 2), range(20)))
    finally:
        data.client.meta.events.unregister("before-parameter-build.dynamodb", seen)
    assert len(calls) == 20 and all(op == "UpdateItem" and "ADD #v :by" in expr for op, expr in calls)
    assert all(isinstance(r, int) and 5 <= r <= 43 and r % 2 for r in results)


def test_a_counter_with_a_ttl_starts_again_when_it_expires(
    data: BotData, monkeypatch: pytest.MonkeyPatch
) -> None:
    me = data.group(BOT, 8)
    assert [me.incr("sent", ttl=3600) for _ in range(3)] == [1, 2, 3]
    first_expiry = me.data.read(BOT, row_key("data", "group:8", "sent"))["expires_at"]  # type: ignore[index]
    me.incr("sent", ttl=3600)
    assert me.data.read(BOT, row_key("data", "group:8", "sent"))["expires_at"] == first_expiry  # type: ignore[index]
    later = time.time() + 3601
    monkeypatch.setattr(time, "time", lambda: later)
    assert me.incr("sent", ttl=3600) == 1


def test_the_functions_store_is_the_table_its_environment_names(bot_table: str) -> None:
    assert bot_data().table_name == bot_table
