"""The QQ official websocket gateway, relayed onto the bus (``qqbus relay qq``).

Token: ``POST getAppAccessToken {appId, clientSecret}`` -> ``{access_token, expires_in}``
(``expires_in`` is a string of seconds), refreshed in its last 60 s. Gateway: ``GET
/gateway/bot`` gives the URL, the shard count and ``session_start_limit``; identifies are
paced to ``max_concurrency`` per 5 s. Per shard: Hello (op 10) -> Identify (op 2) or Resume
(op 6) -> READY / RESUMED; heartbeats (op 1) at the server's interval with the last seq; a
heartbeat with no ACK (op 11) since the previous one marks the connection dead.

Every dispatch but READY/RESUMED goes to the bus (source qq.official, transport websocket).
The seq a shard resumes from is the last one such that it and everything before it is on the
bus (``SeqTracker``), so whatever was received but not yet accepted is replayed by the server.

After a drop, op 7, or close 4008/4009 the shard resumes; op 9 and the other 4xxx codes make
it identify again; 4914/4915 stop the relay with ``GatewayStopped``, and so do 4001-4002 and
4010-4014 (a bug or a configuration error: retrying blindly would not help).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import random
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

from websockets.asyncio.client import ClientConnection, connect
from websockets.client import backoff
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from qqbus.detail import event_entry
from qqbus.events.qq import INTENT_GROUP_AND_C2C_EVENT, SOURCE
from qqbus.relay.publisher import RelayPublisher

log = logging.getLogger("qqbus.relay.qq")

PRODUCTION_API = "https://api.sgroup.qq.com"
SANDBOX_API = "https://sandbox.api.sgroup.qq.com"
TOKEN_URL = "https://bots.qq.com/app/getAppAccessToken"

OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_RESUME = 0, 1, 2, 6
OP_RECONNECT, OP_INVALID_SESSION, OP_HELLO, OP_HEARTBEAT_ACK = 7, 9, 10, 11

FATAL_CLOSE_CODES = {
    4914: "the bot is offline or limited to the sandbox (4914)",
    4915: "the bot is banned (4915)",
}
NO_RETRY_CLOSE_CODES = {4001, 4002, 4010, 4011, 4012, 4013, 4014}
RESUME_CLOSE_CODES = {4008, 4009}

Action = Literal["resume", "identify", "stop"]


class GatewayStopped(RuntimeError):
    """The gateway said to stop (or the configuration is wrong): retrying would not help."""


def close_action(code: int | None) -> Action:
    """What to do after the server closed with ``code`` (None: the connection just dropped)."""
    if code in RESUME_CLOSE_CODES:
        return "resume"
    if code in FATAL_CLOSE_CODES or code in NO_RETRY_CLOSE_CODES:
        return "stop"
    if code is not None and 4000 <= code < 5000:
        return "identify"
    return "resume"


def describe_stop(code: int | None, reason: str = "") -> str:
    known = FATAL_CLOSE_CODES.get(code or 0)
    return (
        known or f"the gateway closed with {code} {reason!r}: not retrying (check intents, shards, payloads)"
    )


@dataclass
class GatewayConfig:
    app_id: str
    secret: str
    bus_name: str
    api_base: str = PRODUCTION_API
    token_url: str = TOKEN_URL
    intents: int = INTENT_GROUP_AND_C2C_EVENT
    shards: int | None = None  # None: what /gateway/bot recommends
    identify_window: float = 5.0  # seconds per max_concurrency identifies
    backoff_initial: float = 1.0
    backoff_min: float = 1.0
    backoff_max: float = 60.0
    open_timeout: float = 10.0
    close_timeout: float = 2.0
    proxy: str | Literal[True] | None = True  # websockets' default: honour HTTPS_PROXY


def _http_json(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", "User-Agent": "qqbus-relay", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        return json.loads(response.read())


class TokenSource:
    """The app access token, fetched on demand and refreshed in its last 60 seconds."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.token: str | None = None
        self.expires_at = 0.0
        self._lock = asyncio.Lock()

    async def get(self, *, force: bool = False) -> str:
        async with self._lock:
            if force or self.token is None or time.time() > self.expires_at - 60:
                body = {"appId": self.config.app_id, "clientSecret": self.config.secret}
                try:
                    answer = await asyncio.to_thread(_http_json, "POST", self.config.token_url, body)
                except urllib.error.HTTPError as exc:
                    raise GatewayStopped(f"getAppAccessToken refused: HTTP {exc.code}") from exc
                if not isinstance(answer, dict) or not answer.get("access_token"):
                    raise GatewayStopped(f"getAppAccessToken gave no token (check appId/secret): {answer}")
                self.token = str(answer["access_token"])
                self.expires_at = time.time() + int(str(answer.get("expires_in", "7200")))
                log.info("access token refreshed; expires in %ss", answer.get("expires_in"))
            return self.token


class IdentifyLimiter:
    """At most ``max_concurrency`` identifies in any ``window`` seconds, across shards."""

    def __init__(self, max_concurrency: int, window: float) -> None:
        self.max_concurrency = max(1, max_concurrency)
        self.window = window
        self._times: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            while self._times and now - self._times[0] >= self.window:
                self._times.popleft()
            if len(self._times) >= self.max_concurrency:
                await asyncio.sleep(self.window - (now - self._times[0]))
                self._times.popleft()
            self._times.append(time.monotonic())


class SeqTracker:
    """The seq to resume from: the highest one with it and every earlier dispatch on the bus."""

    def __init__(self) -> None:
        self.last_received: int | None = None
        self._pending: set[int] = set()
        self._accepted_max: int | None = None

    def received(self, seq: int) -> None:
        self._pending.add(seq)
        self.last_received = seq if self.last_received is None else max(self.last_received, seq)

    def accepted(self, seq: int) -> None:
        self._pending.discard(seq)
        self._accepted_max = seq if self._accepted_max is None else max(self._accepted_max, seq)

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    @property
    def resume_seq(self) -> int:
        if self._pending:
            return min(self._pending) - 1
        return self.last_received or 0


@dataclass
class ShardStats:
    state: str = "starting"
    session_id: str | None = None
    identifies: int = 0
    resumes: int = 0
    connections: int = 0
    dispatches: int = 0
    last_close: str | None = None


class ShardSession:
    """One shard's connection, kept alive across drops, resumed where the protocol allows."""

    def __init__(
        self,
        shard: int,
        shards: int,
        url: str,
        config: GatewayConfig,
        tokens: TokenSource,
        limiter: IdentifyLimiter,
        publisher: RelayPublisher,
    ) -> None:
        self.shard, self.shards, self.url = shard, shards, url
        self.config, self.tokens, self.limiter, self.publisher = config, tokens, limiter, publisher
        self.session_id: str | None = None
        self.tracker = SeqTracker()
        self.stats = ShardStats()
        self._our_close: Action | None = None  # why we closed the connection, if we did
        self._acked = True
        self._was_ready = False

    def health(self) -> dict[str, Any]:
        return {
            "shard": [self.shard, self.shards],
            **vars(self.stats),
            "last_seq": self.tracker.last_received,
            "resume_seq": self.tracker.resume_seq,
            "in_flight": self.tracker.in_flight,
        }

    async def run(self) -> None:
        """Connect, and reconnect for ever, until the gateway says stop (``GatewayStopped``).

        websockets' ``connect`` iterator retries failed connection attempts with its backoff;
        connections that open but end before the session is ready back off the same way.
        """
        delays = functools.partial(
            backoff,
            initial_delay=self.config.backoff_initial,
            min_delay=self.config.backoff_min,
            max_delay=self.config.backoff_max,
        )
        failures = delays()
        async for ws in connect(
            self.url,
            reconnect_delays=delays,
            process_exception=_retryable,
            open_timeout=self.config.open_timeout,
            close_timeout=self.config.close_timeout,
            proxy=self.config.proxy,
            max_size=None,
        ):
            self.stats.connections += 1
            action = await self._serve(ws)
            if self._was_ready:
                failures = delays()  # a session was up: start the backoff over
            if action == "identify":
                self.session_id, self.tracker = None, SeqTracker()
            await asyncio.sleep(next(failures) if not self._was_ready or action == "identify" else 0)

    async def _serve(self, ws: ClientConnection) -> Action:
        """One connection, from Hello to close; what to do next."""
        self._our_close = None
        self._was_ready = False
        heartbeat: asyncio.Task[None] | None = None
        try:
            hello = json.loads(await asyncio.wait_for(ws.recv(), timeout=self.config.open_timeout))
            if hello.get("op") != OP_HELLO:
                log.warning("shard %s: expected Hello, got op %s", self.shard, hello.get("op"))
                await ws.close(4002, "expected hello")
                return "resume" if self.session_id else "identify"
            interval = float(hello["d"]["heartbeat_interval"]) / 1000
            await self._identify_or_resume(ws)
            heartbeat = asyncio.create_task(self._heartbeat(ws, interval))
            async for raw in ws:
                action = await self._on_frame(ws, raw)
                if action is not None:
                    self._our_close = action
                    await ws.close(4900, f"client: {action}")
                    break
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
            reason = closed.rcvd.reason if closed.rcvd else ""
            self.stats.last_close = f"{code} {reason}".strip()
            if self._our_close is None:
                action = close_action(code)
                log.info(
                    "shard %s: connection closed (%s): %s",
                    self.shard,
                    self.stats.last_close or "dropped",
                    action,
                )
                if action == "stop":
                    self.stats.state = "stopped"
                    raise GatewayStopped(describe_stop(code, reason)) from closed
                if code == 4004:  # authentication failed: a new token, then identify
                    await self.tokens.get(force=True)
                return action
        except (TimeoutError, ValueError, KeyError, TypeError) as exc:
            log.warning("shard %s: bad handshake from the gateway: %s", self.shard, exc)
            await ws.close(4002, "bad hello")
        finally:
            if heartbeat:
                heartbeat.cancel()
        self.stats.state = "reconnecting"
        return self._our_close or ("resume" if self.session_id else "identify")

    async def _identify_or_resume(self, ws: ClientConnection) -> None:
        token = f"QQBot {await self.tokens.get()}"
        if self.session_id:
            self.stats.resumes += 1
            self.stats.state = "resuming"
            seq = self.tracker.resume_seq
            log.info("shard %s: resuming session %s from seq %s", self.shard, self.session_id, seq)
            await ws.send(
                json.dumps(
                    {"op": OP_RESUME, "d": {"token": token, "session_id": self.session_id, "seq": seq}}
                )
            )
        else:
            await self.limiter.wait()
            self.stats.identifies += 1
            self.stats.state = "identifying"
            identify = {
                "token": token,
                "intents": self.config.intents,
                "shard": [self.shard, self.shards],
                "properties": {"$os": "linux", "$browser": "qqbus", "$device": "qqbus"},
            }
            await ws.send(json.dumps({"op": OP_IDENTIFY, "d": identify}))

    async def _heartbeat(self, ws: ClientConnection, interval: float) -> None:
        """Heartbeat every ``interval``; a heartbeat not ACKed by the next one means a dead link."""
        self._acked = True
        await asyncio.sleep(interval * random.random())  # spread the shards' heartbeats
        while True:
            if not self._acked:
                log.warning("shard %s: no heartbeat ACK: the connection is dead, reconnecting", self.shard)
                self._our_close = "resume"
                await ws.close(4900, "client: heartbeat not acknowledged")
                return
            self._acked = False
            await ws.send(json.dumps({"op": OP_HEARTBEAT, "d": self.tracker.last_received}))
            await asyncio.sleep(interval)

    async def _on_frame(self, ws: ClientConnection, raw: str | bytes) -> Action | None:
        try:
            message = json.loads(raw)
        except ValueError:
            log.warning("shard %s: a frame that is not JSON: %.100r", self.shard, raw)
            return None
        op = message.get("op")
        if op == OP_HEARTBEAT_ACK:
            self._acked = True
        elif op == OP_DISPATCH:
            await self._dispatch(message, raw if isinstance(raw, bytes) else raw.encode())
        elif op == OP_HEARTBEAT:
            await ws.send(json.dumps({"op": OP_HEARTBEAT, "d": self.tracker.last_received}))
        elif op == OP_RECONNECT:
            log.info("shard %s: the gateway asked to reconnect (op 7)", self.shard)
            return "resume"
        elif op == OP_INVALID_SESSION:
            log.info("shard %s: invalid session (op 9): identifying again", self.shard)
            return "identify"
        return None

    async def _dispatch(self, message: dict[str, Any], raw: bytes) -> None:
        t, seq, data = message.get("t"), message.get("s"), message.get("d")
        if t == "READY":
            self.session_id = str((data or {}).get("session_id"))
            self.stats.session_id, self.stats.state = self.session_id, "ready"
            self._was_ready = True
            log.info("shard %s: READY, session %s", self.shard, self.session_id)
        elif t == "RESUMED":
            self.stats.state = "ready"
            self._was_ready = True
            log.info("shard %s: RESUMED", self.shard)
        if not isinstance(seq, int):
            seq = None
        if t in ("READY", "RESUMED") or not isinstance(t, str):
            if seq is not None:
                self.tracker.received(seq)
                self.tracker.accepted(seq)
            return
        self.stats.dispatches += 1
        given = message.get("id")
        event_id = given if isinstance(given, str) and given else hashlib.sha256(raw).hexdigest()
        entry = event_entry(
            source=SOURCE,
            detail_type=t,
            bot_id=self.config.app_id,
            event_id=event_id,
            transport="websocket",
            payload=message,
            bus_name=self.config.bus_name,
        )
        if seq is None:
            await self.publisher.submit(entry)
            return
        tracker = self.tracker
        tracker.received(seq)
        await self.publisher.submit(entry, on_accepted=lambda: tracker.accepted(seq))


def _retryable(exc: Exception) -> Exception | None:
    """Retry network errors and 5xx/429 handshakes; raise anything else."""
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        return None if status >= 500 or status == 429 else exc
    if isinstance(exc, (OSError, TimeoutError, InvalidHandshake)):
        return None
    return exc


class QQGatewayRelay:
    """All shards of one bot: token, gateway URL, pacing, sessions."""

    def __init__(self, config: GatewayConfig, publisher: RelayPublisher) -> None:
        self.config = config
        self.publisher = publisher
        self.tokens = TokenSource(config)
        self.sessions: list[ShardSession] = []

    def health(self) -> dict[str, Any]:
        return {"app_id": self.config.app_id, "shards": [s.health() for s in self.sessions]}

    async def gateway(self) -> dict[str, Any]:
        token = await self.tokens.get()
        url = self.config.api_base.rstrip("/") + "/gateway/bot"
        try:
            info = await asyncio.to_thread(_http_json, "GET", url, None, {"Authorization": f"QQBot {token}"})
        except urllib.error.HTTPError as exc:
            raise GatewayStopped(f"GET /gateway/bot refused: HTTP {exc.code}") from exc
        if not isinstance(info, dict) or not info.get("url"):
            raise GatewayStopped(f"GET /gateway/bot gave no url: {info}")
        return info

    async def run(self) -> None:
        info = await self.gateway()
        limit = info.get("session_start_limit") or {}
        if limit.get("remaining") == 0:
            wait = int(limit.get("reset_after", 0)) / 1000
            log.warning("no session starts left; waiting %.0f s for the limit to reset", wait)
            await asyncio.sleep(wait)
        shards = self.config.shards or int(info.get("shards") or 1)
        limiter = IdentifyLimiter(int(limit.get("max_concurrency") or 1), self.config.identify_window)
        self.sessions = [
            ShardSession(i, shards, info["url"], self.config, self.tokens, limiter, self.publisher)
            for i in range(shards)
        ]
        log.info("gateway %s, %d shard(s)", info["url"], shards)
        await asyncio.gather(*(s.run() for s in self.sessions))
