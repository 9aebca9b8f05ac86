"""OneBot v11 over WebSocket, relayed onto the bus (``qqbus relay onebot``).

Reverse WebSocket (the implementation connects to us): the handshake must carry ``X-Self-ID``
(400 without) and, with an access token configured, ``Authorization: Bearer <t>`` (go-cqhttp
and OneBot-YaYa send ``Token <t>``) or ``?access_token=<t>``: missing 401, wrong 403.
``X-Client-Role`` is Universal, Event or API; event frames from Universal and Event connections
go on the bus (source onebot.v11, transport reverse_ws); an API connection is held open and
its frames (API responses) are ignored. A second connection for the same self_id and role
replaces the first, which is closed with 1000 "replaced". ``connections[(self_id, role)]`` is
the registry of live connections (what an actions path would send API frames over).

Forward WebSocket (we connect to an implementation that only serves): ``OneBotForwardClient``
reconnects with websockets' backoff and relays the same way (transport websocket); the first
event on a connection names its bot.

Every frame goes through ``read_frame``, which never raises: a frame that is not JSON, not an
event, or names another bot than its connection is counted and logged and the connection goes
on. Frames are read with the HTTP ingress's reader (``qqbus.json_body``), so a frame is refused
for what the ingress refuses with 400: a number the bus cannot carry (``NaN``, ``Infinity``,
``1e999``, an integer beyond 64 bits), nesting deeper than 64, a type that cannot be a
detail-type (``qqbus.detail.detail_type_problem``), another bot's ``self_id``. Frames are
capped at ``max_frame_bytes`` (websockets closes with 1009 past it); the payload goes on the bus
as received, lone surrogate escapes included.
"""

from __future__ import annotations

import functools
import hmac
import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import parse_qs

from qqbus.detail import Transport, detail_type_problem, event_entry, onebot_event_id
from qqbus.events.parse import UnknownPayload, parse_event
from qqbus.json_body import NotAJsonObject, Uncarriable, load_json_object
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.client import backoff
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from qqbus_relay.actions import Answers
from qqbus_relay.publisher import RelayPublisher

log = logging.getLogger("qqbus_relay.onebot")

ROLES = {"universal": "Universal", "event": "Event", "api": "API"}


#: Largest frame accepted: a bus entry is at most 256 KiB, and a frame past this is no event.
MAX_FRAME_BYTES = 1024 * 1024


@dataclass
class OneBotWsConfig:
    bus_name: str
    access_token: str | None = None
    publish_heartbeats: bool = False
    max_frame_bytes: int = MAX_FRAME_BYTES
    close_timeout: float = 1.0


@dataclass
class OneBotStats:
    frames: int = 0
    published: int = 0
    heartbeats: int = 0
    ignored: int = 0
    refused_frames: int = 0
    refused_handshakes: int = 0
    replaced: int = 0


def given_token(request: Request) -> str | None:
    """The access token of a handshake: Authorization Bearer/Token, else ?access_token=."""
    auth = request.headers.get("Authorization", "")
    scheme, _, value = auth.strip().partition(" ")
    if scheme.lower() in ("bearer", "token") and value.strip():
        return value.strip()
    # Not urlsplit: a path such as "//[" makes it raise (found by the fuzz suite).
    query = parse_qs(request.path.partition("?")[2].partition("#")[0]).get("access_token")
    return query[0] if query else None


FrameKind = Literal["event", "heartbeat", "ignored", "refused"]


@dataclass(frozen=True)
class Frame:
    """What one frame is: an entry for the bus, or why there is none (``problem``)."""

    kind: FrameKind
    entry: dict[str, Any] | None = None
    bot_id: str | None = None
    problem: str | None = None


def read_frame(
    raw: str | bytes, *, self_id: str | None, transport: Transport, config: OneBotWsConfig
) -> Frame:
    """One frame to its bus entry. Never raises: whatever the bytes, a ``Frame`` says what they were.

    ``self_id`` is the connection's ``X-Self-ID`` (None on a forward connection until its first
    event names the bot). An event naming another bot is refused, as the HTTP ingress refuses it.
    """
    body = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    try:
        payload = load_json_object(body)  # the HTTP ingress's reader: what it refuses, we refuse
    except Uncarriable as exc:
        return Frame("refused", problem=str(exc)[:300])
    except NotAJsonObject as exc:
        return Frame("ignored", problem=f"not a JSON object ({len(body)} bytes): {exc}"[:300])
    if "post_type" not in payload:
        return Frame("ignored", problem="not an event")  # an API response (status/retcode/echo)
    given = payload.get("self_id")
    if isinstance(given, bool) or (given is not None and not isinstance(given, (str, int))):
        return Frame("refused", problem=f"self_id is a JSON {type(given).__name__}, not a QQ number")
    if self_id is not None and given is not None and str(given) != self_id:
        return Frame("refused", problem=f"self_id {str(given)[:24]!r} does not match X-Self-ID {self_id}")
    bot_id = self_id if self_id is not None else (str(given) if given is not None else None)
    if bot_id is None:
        return Frame("refused", problem="no self_id: cannot tell which bot sent it")
    try:
        parsed = parse_event(payload)
    except UnknownPayload as exc:
        return Frame("ignored", problem=f"not a OneBot event: {exc}"[:300])
    if unroutable := detail_type_problem(parsed.detail_type):
        return Frame("refused", problem=unroutable)
    kind: FrameKind = "heartbeat" if parsed.detail_type == "meta_event.heartbeat" else "event"
    if kind == "heartbeat" and not config.publish_heartbeats:
        return Frame(kind, bot_id=bot_id)
    entry = event_entry(
        source=parsed.source,
        detail_type=parsed.detail_type,
        bot_id=bot_id,
        event_id=onebot_event_id(body),
        transport=transport,
        payload=payload,
        bus_name=config.bus_name,
    )
    problem = f"{parsed.detail_type} does not fit its model (published anyway): {parsed.problem}"
    return Frame(kind, entry, bot_id, problem if parsed.problem else None)


class OneBotRelay:
    """Turns OneBot event frames into bus entries; shared by the reverse server and forward client."""

    def __init__(self, config: OneBotWsConfig, publisher: RelayPublisher) -> None:
        self.config = config
        self.publisher = publisher
        self.stats = OneBotStats()

    async def frame(self, raw: str | bytes, *, self_id: str | None, transport: Transport) -> str | None:
        """Put one frame's event on the bus; the bot it came from, or None if nothing was published."""
        self.stats.frames += 1
        frame = read_frame(raw, self_id=self_id, transport=transport, config=self.config)
        if frame.kind == "heartbeat":
            self.stats.heartbeats += 1
        elif frame.kind == "ignored":
            self.stats.ignored += 1
            if frame.problem != "not an event":
                log.warning(
                    "a frame from %s was skipped: %s", self_id or "a forward connection", frame.problem
                )
        elif frame.kind == "refused":
            self.stats.refused_frames += 1
            log.warning("refused a frame from %s: %s", self_id or "a forward connection", frame.problem)
        elif frame.problem:
            log.warning("%s", frame.problem)
        if frame.entry is None:
            return None
        await self.publisher.submit(frame.entry)
        self.stats.published += 1
        return frame.bot_id


class OneBotReverseServer:
    """The reverse WebSocket endpoint implementations connect to."""

    def __init__(self, relay: OneBotRelay) -> None:
        self.relay = relay
        self.connections: dict[tuple[str, str], ServerConnection] = {}
        self.server: Server | None = None
        self.answers = Answers()  # API answers (by echo) to the actions the relay sends

    def health(self) -> dict[str, Any]:
        return {
            "listening": self.url if self.server else None,
            "connections": [f"{sid}/{role}" for sid, role in sorted(self.connections)],
            **vars(self.relay.stats),
        }

    async def start(self, host: str, port: int) -> Server:
        self.server = await serve(
            self._handle,
            host,
            port,
            process_request=self._check,
            max_size=self.relay.config.max_frame_bytes,
            close_timeout=self.relay.config.close_timeout,
        )
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
                if self.answers.offer(raw):
                    continue
                if role != "API":
                    await self.relay.frame(raw, self_id=self_id, transport="reverse_ws")
        except ConnectionClosed:
            pass
        finally:
            if self.connections.get(key) is ws:
                del self.connections[key]
            log.info("OneBot %s/%s disconnected (%s)", self_id, role, _close_reason(ws))


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
        config = self.relay.config
        async for ws in connect(
            self.url,
            additional_headers=headers,
            reconnect_delays=delays,
            max_size=config.max_frame_bytes,
            close_timeout=config.close_timeout,
        ):
            self.connected = True
            log.info("connected to OneBot at %s", self.url)
            bot: str | None = None  # the first event names the bot; later ones must agree
            try:
                async for raw in ws:
                    bot = await self.relay.frame(raw, self_id=bot, transport="websocket") or bot
            except ConnectionClosed:
                pass
            finally:
                self.connected = False
            log.info("OneBot at %s closed the connection (%s); reconnecting", self.url, _close_reason(ws))


def _close_reason(ws: ServerConnection | ClientConnection) -> str:
    """How a connection ended, for the log (1009: a frame over the size limit)."""
    code = ws.close_code
    return f"{code} {ws.close_reason or ''}".strip() if code is not None else "dropped"
