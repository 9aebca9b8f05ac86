"""OneBot v11 over WebSocket, relayed onto the bus (``qqbus relay onebot``).

Reverse WebSocket (the implementation connects to us): the handshake must carry ``X-Self-ID``
(400 without) and, with an access token configured, ``Authorization: Bearer <t>`` (go-cqhttp
and OneBot-YaYa send ``Token <t>``) or ``?access_token=<t>``: missing 401, wrong 403.
``X-Client-Role`` is Universal, Event or API; event frames from Universal and Event connections
go on the bus (source onebot.v11, transport reverse_ws); an API connection is held open and
its frames (API responses) are ignored. A second connection for the same self_id and role
replaces the first, which is closed with 1000 "replaced".

Forward WebSocket (we connect to an implementation that only serves): ``OneBotForwardClient``
reconnects with websockets' backoff and relays the same way (transport websocket).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.client import connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.client import backoff
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from qqbus.detail import Transport, event_entry
from qqbus.events.parse import UnknownPayload, parse_event
from qqbus.relay.publisher import RelayPublisher

log = logging.getLogger("qqbus.relay.onebot")

ROLES = {"universal": "Universal", "event": "Event", "api": "API"}


@dataclass
class OneBotWsConfig:
    bus_name: str
    access_token: str | None = None
    publish_heartbeats: bool = False


@dataclass
class OneBotStats:
    frames: int = 0
    published: int = 0
    heartbeats: int = 0
    ignored: int = 0
    refused_handshakes: int = 0
    replaced: int = 0


def given_token(request: Request) -> str | None:
    """The access token of a handshake: Authorization Bearer/Token, else ?access_token=."""
    auth = request.headers.get("Authorization", "")
    scheme, _, value = auth.strip().partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    query = parse_qs(urlsplit(request.path).query).get("access_token")
    return query[0] if query else None


class OneBotRelay:
    """Turns OneBot event frames into bus entries; shared by the reverse server and forward client."""

    def __init__(self, config: OneBotWsConfig, publisher: RelayPublisher) -> None:
        self.config = config
        self.publisher = publisher
        self.stats = OneBotStats()

    async def frame(self, raw: str | bytes, *, self_id: str | None, transport: Transport) -> None:
        self.stats.frames += 1
        body = raw.encode() if isinstance(raw, str) else raw
        try:
            payload = json.loads(body)
        except ValueError:
            log.warning("a frame that is not JSON (%d bytes) from %s: skipped", len(body), self_id)
            self.stats.ignored += 1
            return
        if not isinstance(payload, dict) or "post_type" not in payload:
            self.stats.ignored += 1  # an API response (status/retcode/echo) or noise
            return
        try:
            parsed = parse_event(payload)
        except UnknownPayload as exc:
            log.warning("a frame from %s is not a OneBot event: %s", self_id, exc)
            self.stats.ignored += 1
            return
        if parsed.detail_type == "meta_event.heartbeat":
            self.stats.heartbeats += 1
            if not self.config.publish_heartbeats:
                return
        if parsed.problem:
            log.warning(
                "%s does not fit its model (published anyway): %s", parsed.detail_type, parsed.problem
            )
        bot_id = str(payload.get("self_id") or self_id)
        entry = event_entry(
            source=parsed.source,
            detail_type=parsed.detail_type,
            bot_id=bot_id,
            event_id=hashlib.sha256(body).hexdigest(),
            transport=transport,
            payload=payload,
            bus_name=self.config.bus_name,
        )
        await self.publisher.submit(entry)
        self.stats.published += 1


class OneBotReverseServer:
    """The reverse WebSocket endpoint implementations connect to."""

    def __init__(self, relay: OneBotRelay) -> None:
        self.relay = relay
        self.connections: dict[tuple[str, str], ServerConnection] = {}
        self.server: Server | None = None

    def health(self) -> dict[str, Any]:
        return {
            "listening": self.url if self.server else None,
            "connections": [f"{sid}/{role}" for sid, role in sorted(self.connections)],
            **vars(self.relay.stats),
        }

    async def start(self, host: str, port: int) -> Server:
        self.server = await serve(self._handle, host, port, process_request=self._check, max_size=None)
        bound = self.server.sockets[0].getsockname()
        self.url = f"ws://{bound[0]}:{bound[1]}/"
        log.info("OneBot reverse WebSocket listening on %s", self.url)
        return self.server

    async def stop(self) -> None:
        if self.server:
            self.server.close()
            await self.server.wait_closed()

    def _refuse(self, status: int, reason: str) -> Response:
        self.relay.stats.refused_handshakes += 1
        log.warning("refused a OneBot connection: %s %s", status, reason)
        body = (reason + "\n").encode()
        headers = Headers([("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
        return Response(status, HTTPStatus(status).phrase, headers, body)

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        self_id = (request.headers.get("X-Self-ID") or "").strip()
        if not self_id.isdigit():
            return self._refuse(400, "X-Self-ID (the bot's QQ number) is required")
        role = ROLES.get((request.headers.get("X-Client-Role") or "Universal").strip().lower())
        if role is None:
            return self._refuse(400, "X-Client-Role must be Universal, Event or API")
        expected = self.relay.config.access_token
        if expected:
            token = given_token(request)
            if token is None:
                return self._refuse(401, "an access token is required (Authorization: Bearer <token>)")
            if not hmac.compare_digest(token.encode(), expected.encode()):
                return self._refuse(403, "wrong access token")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        self_id = ws.request.headers["X-Self-ID"].strip()
        role = ROLES[(ws.request.headers.get("X-Client-Role") or "Universal").strip().lower()]
        key = (self_id, role)
        previous = self.connections.get(key)
        self.connections[key] = ws
        if previous is not None:
            self.relay.stats.replaced += 1
            log.info("OneBot %s/%s reconnected: closing the previous connection", self_id, role)
            await previous.close(1000, "replaced by a new connection")
        log.info("OneBot %s connected as %s", self_id, role)
        try:
            async for raw in ws:
                if role != "API":
                    await self.relay.frame(raw, self_id=self_id, transport="reverse_ws")
        except ConnectionClosed:
            pass
        finally:
            if self.connections.get(key) is ws:
                del self.connections[key]
            log.info("OneBot %s/%s disconnected", self_id, role)


class OneBotForwardClient:
    """Connects to an implementation's forward WebSocket and relays its events, for ever."""

    def __init__(self, url: str, relay: OneBotRelay, *, backoff_max: float = 60.0) -> None:
        self.url = url
        self.relay = relay
        self.connected = False
        self.backoff_max = backoff_max

    def health(self) -> dict[str, Any]:
        return {"url": self.url, "connected": self.connected}

    async def run(self) -> None:
        token = self.relay.config.access_token
        headers = {"Authorization": f"Bearer {token}"} if token else None
        delays = functools.partial(backoff, initial_delay=1.0, min_delay=1.0, max_delay=self.backoff_max)
        async for ws in connect(self.url, additional_headers=headers, reconnect_delays=delays, max_size=None):
            self.connected = True
            log.info("connected to OneBot at %s", self.url)
            try:
                async for raw in ws:
                    await self.relay.frame(raw, self_id=None, transport="websocket")
            except ConnectionClosed as closed:
                log.info("OneBot at %s closed the connection (%s); reconnecting", self.url, closed)
            finally:
                self.connected = False
