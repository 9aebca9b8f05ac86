"""OneBot reverse WebSocket (auth, duplicate self_id, events to the bus), forward client, health."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from qqbus_relay.runner import Relay, RelayOptions
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.relay.conftest import BusTap

SELF = "123456789"
TOKEN = "onebot-relay-token"
LIFECYCLE = {
    "time": 1718000000,
    "self_id": 123456789,
    "post_type": "meta_event",
    "meta_event_type": "lifecycle",
    "sub_type": "connect",
}
HEARTBEAT = {
    "time": 2,
    "self_id": 123456789,
    "post_type": "meta_event",
    "meta_event_type": "heartbeat",
    "status": {"online": True},
    "interval": 5000,
}
MESSAGE = {
    "time": 3,
    "self_id": 123456789,
    "post_type": "message",
    "message_type": "group",
    "sub_type": "normal",
    "message_id": -12345,
    "group_id": 42,
    "user_id": 7,
    "message": [{"type": "text", "data": {"text": "hi"}}],
    "raw_message": "hi",
    "font": 0,
    "sender": {"user_id": 7},
}


def options(tmp_path: Path, **kw: Any) -> RelayOptions:
    base = RelayOptions(
        bus_name="qqbus-test",
        spool_dir=tmp_path / "spool",
        onebot_listen=("127.0.0.1", 0),
        onebot_token=TOKEN,
        health=("127.0.0.1", 0),
        events_client=boto3.client("events"),
        # The bus is moto in this process: one call out, as `qqbus dev` runs it (see
        # qqbus_relay.publisher, "Order"); the publisher's tests cover several.
        max_in_flight=1,
    )
    for key, value in kw.items():
        setattr(base, key, value)
    return base


def run_relay(tmp_path: Path, body: Callable[[Relay], Awaitable[None]], **kw: Any) -> Relay:
    """Run a relay (reverse WS on a free port, health on another) around ``body``; return it."""
    box: list[Relay] = []

    async def keep(relay: Relay) -> None:
        box.append(relay)
        await body(relay)

    asyncio.run(_run(tmp_path, keep, kw))
    return box[0]


async def _run(tmp_path: Path, body: Callable[[Relay], Awaitable[None]], kw: dict[str, Any]) -> None:
    relay = Relay(options(tmp_path, **kw))
    task = asyncio.create_task(relay.run(install_signal_handlers=False))
    for _ in range(200):
        if relay.health_url and (relay.onebot_server is None or relay.onebot_server.server):
            break
        await asyncio.sleep(0.02)
    try:
        await body(relay)
    finally:
        relay.stop()
        assert await asyncio.wait_for(task, 20) == 0


def headers(token: str | None = TOKEN, scheme: str = "Bearer", role: str = "Universal") -> dict[str, str]:
    h = {"X-Self-ID": SELF, "X-Client-Role": role}
    if token is not None:
        h["Authorization"] = f"{scheme} {token}"
    return h


async def wait_for(check: Callable[[], bool], timeout: float = 10) -> None:
    for _ in range(int(timeout / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


@pytest.mark.parametrize(
    "hdrs, query, status",
    [
        (headers(None), "", 401),
        (headers("wrong"), "", 403),
        (headers(TOKEN, scheme="Basic"), "", 401),
        ({"Authorization": f"Bearer {TOKEN}"}, "", 400),
        (headers(role="Nonsense"), "", 400),
        (headers(None), "?access_token=wrong", 403),
    ],
)
def test_handshakes_without_the_right_token_are_refused(
    tap: BusTap, tmp_path: Path, hdrs: dict[str, str], query: str, status: int
) -> None:
    async def body(relay: Relay) -> None:
        assert relay.onebot_server is not None
        with pytest.raises(InvalidStatus) as refused:
            async with connect(relay.onebot_server.url + query, additional_headers=hdrs, proxy=None):
                pass
        assert refused.value.response.status_code == status

    relay = run_relay(tmp_path, body)
    assert relay.onebot_server is not None and relay.onebot_server.relay.stats.refused_handshakes == 1


@pytest.mark.parametrize("scheme, query", [("Bearer", ""), ("Token", ""), (None, f"?access_token={TOKEN}")])
def test_accepted_token_forms_and_events_reach_the_bus(
    tap: BusTap, tmp_path: Path, scheme: str | None, query: str
) -> None:
    async def body(relay: Relay) -> None:
        assert relay.onebot_server is not None
        hdrs = headers(TOKEN if scheme else None, scheme=scheme or "Bearer")
        async with connect(relay.onebot_server.url + query, additional_headers=hdrs, proxy=None) as ws:
            for payload in (LIFECYCLE, HEARTBEAT, MESSAGE):
                await ws.send(json.dumps(payload))
            await ws.send("not json")
            await ws.send(json.dumps({"status": "ok", "retcode": 0, "data": None, "echo": "1"}))
            await wait_for(lambda: relay.publisher.stats.published >= 2)

    relay = run_relay(tmp_path, body)
    events = tap.drain()
    # Calls out together land in any order (--max-in-flight): compare what arrived, not its order.
    assert sorted(e["detail-type"] for e in events) == ["message.group", "meta_event.lifecycle"]
    for event in events:
        assert event["source"] == "onebot.v11"
        assert event["detail"]["transport"] == "reverse_ws" and event["detail"]["bot_id"] == SELF
    assert events[1]["detail"]["payload"] == MESSAGE
    stats = relay.onebot_server.relay.stats if relay.onebot_server else None
    assert stats is not None and stats.heartbeats == 1 and stats.ignored == 2


def test_a_second_connection_for_the_same_self_id_replaces_the_first(tap: BusTap, tmp_path: Path) -> None:
    async def body(relay: Relay) -> None:
        assert relay.onebot_server is not None
        url = relay.onebot_server.url
        async with (
            connect(url, additional_headers=headers(), proxy=None) as first,
            connect(url, additional_headers=headers(), proxy=None) as second,
        ):
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(first.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
            assert "replaced" in closed.value.rcvd.reason
            await second.send(json.dumps(MESSAGE))
            await wait_for(lambda: relay.publisher.stats.published >= 1)
            assert relay.onebot_server.health()["connections"] == [f"{SELF}/Universal"]
            # An API connection of the same bot is another role: it does not replace the event one.
            async with connect(url, additional_headers=headers(role="API"), proxy=None) as api:
                await api.send(json.dumps(MESSAGE))  # frames on an API connection are responses, ignored
                await wait_for(lambda: len(relay.onebot_server.connections) == 2)  # type: ignore[union-attr]

    relay = run_relay(tmp_path, body)
    assert len(tap.drain()) == 1
    assert relay.onebot_server is not None and relay.onebot_server.relay.stats.replaced == 1


def test_forward_client_relays_an_implementations_events(tap: BusTap, tmp_path: Path) -> None:
    seen_auth: list[str] = []

    async def implementation(ws: ServerConnection) -> None:
        assert ws.request is not None
        seen_auth.append(ws.request.headers.get("Authorization", ""))
        for payload in (LIFECYCLE, MESSAGE):
            await ws.send(json.dumps(payload))
        await ws.wait_closed()

    async def body_with_server() -> None:
        server = await serve(implementation, "127.0.0.1", 0)
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        try:
            await _run(
                tmp_path,
                lambda relay: wait_for(lambda: relay.publisher.stats.published >= 2),
                {"onebot_listen": None, "onebot_connect": [url]},
            )
        finally:
            server.close()

    asyncio.run(body_with_server())
    events = tap.drain()
    assert [e["detail"]["transport"] for e in events] == ["websocket", "websocket"]
    assert seen_auth == [f"Bearer {TOKEN}"]


def test_health_endpoint_reports_state(tap: BusTap, tmp_path: Path) -> None:
    async def body(relay: Relay) -> None:
        assert relay.onebot_server is not None and relay.health_url
        async with connect(relay.onebot_server.url, additional_headers=headers(), proxy=None) as ws:
            await ws.send(json.dumps(MESSAGE))
            await wait_for(lambda: relay.publisher.stats.published >= 1)
            raw = await asyncio.to_thread(lambda: urllib.request.urlopen(relay.health_url, timeout=5).read())
            state = json.loads(raw)
            assert state["publisher"]["published"] == 1 and state["publisher"]["spooled"] == 0
            assert state["onebot"]["reverse"]["connections"] == [f"{SELF}/Universal"]
            assert state["publisher"]["queue_depth"] == 0

    run_relay(tmp_path, body)


def test_an_event_naming_another_bot_is_refused(tap: BusTap, tmp_path: Path) -> None:
    """X-Self-ID 123456789 publishing as bot 999 is refused, as the HTTP ingress refuses it."""

    async def body(relay: Relay) -> None:
        assert relay.onebot_server is not None
        async with connect(relay.onebot_server.url, additional_headers=headers(), proxy=None) as ws:
            await ws.send(json.dumps(MESSAGE | {"self_id": 999, "message_id": 1}))
            await ws.send(json.dumps(MESSAGE | {"self_id": "999", "message_id": 2}))
            await ws.send(json.dumps(MESSAGE | {"self_id": int(SELF), "message_id": 3}))
            await ws.send(
                json.dumps(MESSAGE | {"self_id": SELF, "message_id": 4})
            )  # a string is the same bot
            await wait_for(lambda: relay.publisher.stats.published >= 2)

    relay = run_relay(tmp_path, body)
    events = tap.drain()
    assert sorted(e["detail"]["payload"]["message_id"] for e in events) == [3, 4]
    assert {e["detail"]["bot_id"] for e in events} == {SELF}
    assert relay.onebot_server is not None and relay.onebot_server.relay.stats.refused_frames == 2


def test_a_lone_surrogate_is_published_as_received_and_the_connection_lives_on(
    tap: BusTap, tmp_path: Path
) -> None:
    """A JS implementation that cut an emoji sends a lone surrogate escape; it used to kill the handler."""
    text = json.dumps(MESSAGE | {"raw_message": "cut \ud83d", "message_id": 1})
    assert "\\ud83d" in text  # the escape as the implementation sends it

    async def body(relay: Relay) -> None:
        assert relay.onebot_server is not None
        async with connect(relay.onebot_server.url, additional_headers=headers(), proxy=None) as ws:
            await ws.send(text)
            await ws.send(json.dumps(MESSAGE | {"message_id": 2}))
            await wait_for(lambda: relay.publisher.stats.published >= 2)

    run_relay(tmp_path, body)
    events = tap.drain()
    by_id = {e["detail"]["payload"]["message_id"]: e for e in events}
    assert sorted(by_id) == [1, 2] and len(events) == 2
    assert by_id[1]["detail"]["payload"]["raw_message"] == "cut \ud83d"
    assert by_id[1]["detail"]["payload"] == json.loads(text)


def test_a_frame_over_the_size_limit_closes_that_connection_only(tap: BusTap, tmp_path: Path) -> None:
    big = json.dumps(MESSAGE | {"raw_message": "x" * (1024 * 1024 + 1)})

    async def body(relay: Relay) -> None:
        assert relay.onebot_server is not None
        url = relay.onebot_server.url
        async with connect(url, additional_headers=headers(), proxy=None, max_size=None) as ws:
            await ws.send(big)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        async with connect(url, additional_headers=headers(), proxy=None) as ws:
            await ws.send(json.dumps(MESSAGE))
            await wait_for(lambda: relay.publisher.stats.published >= 1)

    run_relay(tmp_path, body)
    assert [e["detail"]["payload"] for e in tap.drain()] == [MESSAGE]


def test_forward_client_limits_frames_and_pins_the_bot(tap: BusTap, tmp_path: Path) -> None:
    """An oversized frame ends the connection (the client reconnects); a second bot on it is refused."""
    connections: list[int] = []

    async def implementation(ws: ServerConnection) -> None:
        connections.append(1)
        if len(connections) == 1:
            await ws.send("[" + "0," * (600 * 1024) + "0]")
        else:
            await ws.send(json.dumps(MESSAGE))
            await ws.send(json.dumps(MESSAGE | {"self_id": 5, "message_id": 9}))
        await ws.wait_closed()

    async def body_with_server() -> None:
        server = await serve(implementation, "127.0.0.1", 0, max_size=None)
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        try:
            await _run(
                tmp_path,
                lambda relay: wait_for(
                    lambda: (
                        relay.publisher.stats.published >= 1
                        and relay.onebot_clients[0].relay.stats.refused_frames >= 1
                    )
                ),
                {"onebot_listen": None, "onebot_connect": [url]},
            )
        finally:
            server.close()

    asyncio.run(body_with_server())
    assert len(connections) >= 2
    assert [e["detail"]["payload"] for e in tap.drain()] == [MESSAGE]
