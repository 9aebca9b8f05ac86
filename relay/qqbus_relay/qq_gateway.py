"""The QQ official websocket gateway, relayed onto the bus (``qqbus relay qq``).

Token: ``POST getAppAccessToken {appId, clientSecret}`` -> ``{access_token, expires_in}``
(``expires_in`` is a string of seconds), refreshed in its last 60 s. Gateway: ``GET
/gateway/bot`` gives the URL, the shard count and ``session_start_limit``; identifies are
paced to ``max_concurrency`` per 5 s. A 5xx, 429 or network failure of either endpoint is
retried with backoff for as long as it lasts (a relay that ran for hours must survive one 503
at its next token refresh); a 4xx (a wrong secret) stops with ``GatewayStopped``.

Per shard: Hello (op 10) -> Identify (op 2) or Resume (op 6) -> READY / RESUMED; heartbeats
(op 1) at the server's interval with the last seq; a heartbeat with no ACK (op 11) since the
previous one marks the connection dead.

Every dispatch but READY/RESUMED goes to the bus (source qq.official, transport websocket).
``SeqTracker`` keeps the seq a shard resumes from: the last one such that it and everything
before it is safe (on the bus, refused for good, or fsynced in the spool), so what was received
but is not yet safe is replayed by the server. A replayed seq that was already submitted is not
submitted again. The session id and that seq are saved beside the spool (``SessionFile``), so a
restarted relay resumes too.

After a drop, op 7, or close 4008/4009 the shard resumes; op 9 and the other 4xxx codes make
it identify again; 4914/4915 stop the relay with ``GatewayStopped``, and so do 4001-4002 and
4010-4014 (a bug or a configuration error: retrying blindly would not help).
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import json
import logging
import math
import os
import random
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from qqbus.detail import detail_type_problem, event_entry, onebot_event_id
from qqbus.events.qq import SOURCE, parse_intents
from qqbus.json_body import read_json_object
from qqbus.senders.qq import IP_NOT_WHITELISTED, QQ_API_BASE, QQ_TOKEN_URL
from websockets.asyncio.client import ClientConnection, connect
from websockets.client import backoff
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from qqbus_relay.blocking import call_in_daemon_thread
from qqbus_relay.publisher import Outcome, RelayPublisher
from qqbus_relay.session_file import SessionFile

log = logging.getLogger("qqbus_relay.qq")


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
    api_base: str = QQ_API_BASE
    token_url: str = QQ_TOKEN_URL
    # QQ_INTENTS: names (GROUP_AND_C2C_EVENT,INTERACTION) or a number; default group and C2C events.
    # Add INTERACTION for keyboards' callback buttons (INTERACTION_CREATE).
    intents: int = field(default_factory=lambda: parse_intents(os.environ.get("QQ_INTENTS", "")))
    shards: int | None = None  # None: what /gateway/bot recommends
    identify_window: float = 5.0  # seconds per max_concurrency identifies
    backoff_initial: float = 1.0
    backoff_min: float = 1.0
    backoff_max: float = 60.0
    open_timeout: float = 10.0
    close_timeout: float = 1.0
    proxy: str | Literal[True] | None = True  # websockets' default: honour HTTPS_PROXY
    max_frame_bytes: int = 1024 * 1024
    save_every: float = 0.5  # seconds: how stale the saved resume seq may get


def _http_json(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", "User-Agent": "qqbus-relay", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def transient_status(status: int) -> bool:
    """An HTTP status worth retrying: the server's trouble, not our request's."""
    return status >= 500 or status in (408, 429)


class HttpRetry:
    """Calls to the platform's HTTP endpoints, retried with backoff while they fail transiently."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.failures = 0
        self.last_error: str | None = None

    def _delays(self) -> Iterator[float]:
        c = self.config
        return backoff(initial_delay=c.backoff_initial, min_delay=c.backoff_min, max_delay=c.backoff_max)

    async def fetch(self, what: str, method: str, url: str, body: Any = None, headers: Any = None) -> Any:
        """The JSON answer of ``what``; ``GatewayStopped`` when it is refused (4xx)."""
        delays = self._delays()
        while True:
            try:
                answer = await call_in_daemon_thread(
                    _http_json, method, url, body, headers, name="qqbus-http"
                )
                self.last_error = None
                return answer
            except urllib.error.HTTPError as exc:
                if not transient_status(exc.code):
                    text = _error_text(exc)
                    if str(IP_NOT_WHITELISTED) in text:  # the OpenAPI (not the token endpoint) checks it
                        text += (
                            " - this host's public IP is not on the bot's IP whitelist (开发设置 -> IP白名单)"
                        )
                    raise GatewayStopped(f"{what} refused: HTTP {exc.code} {text}") from exc
                problem = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError, ValueError) as exc:  # network, timeout, not JSON
                problem = f"{type(exc).__name__}: {exc}"
            self.failures += 1
            self.last_error = f"{what}: {problem}"[:300]
            delay = next(delays)
            log.warning("%s failed (%s); retrying in %.1f s", what, problem, delay)
            await asyncio.sleep(delay)


def _error_text(exc: urllib.error.HTTPError) -> str:
    try:
        return exc.read(300).decode("utf-8", "replace")
    except Exception:
        return ""


class TokenSource:
    """The app access token, fetched on demand and refreshed in its last 60 seconds."""

    def __init__(self, config: GatewayConfig, http: HttpRetry | None = None) -> None:
        self.config = config
        self.http = http or HttpRetry(config)
        self.token: str | None = None
        self.expires_at = 0.0
        self._lock = asyncio.Lock()

    async def get(self, *, force: bool = False) -> str:
        async with self._lock:
            if force or self.token is None or time.time() > self.expires_at - 60:
                body = {"appId": self.config.app_id, "clientSecret": self.config.secret}
                answer = await self.http.fetch("getAppAccessToken", "POST", self.config.token_url, body)
                if not isinstance(answer, dict) or not answer.get("access_token"):
                    raise GatewayStopped(
                        f"getAppAccessToken gave no token (check appId/secret): {answer}"[:400]
                    )
                try:
                    expires_in = int(str(answer.get("expires_in", "7200")))
                except ValueError:
                    expires_in = 7200
                self.token = str(answer["access_token"])
                self.expires_at = time.time() + expires_in
                log.info("access token refreshed; expires in %ss", expires_in)
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


class SeqRanges:
    """A set of seqs kept as sorted, disjoint ranges (dropped entries come in runs)."""

    def __init__(self) -> None:
        self._lo: list[int] = []
        self._hi: list[int] = []

    def _find(self, seq: int) -> int:
        return bisect.bisect_right(self._lo, seq) - 1

    def __contains__(self, seq: object) -> bool:
        if not isinstance(seq, int):
            return False
        i = self._find(seq)
        return i >= 0 and seq <= self._hi[i]

    def __len__(self) -> int:
        return sum(hi - lo + 1 for lo, hi in zip(self._lo, self._hi, strict=True))

    def first(self) -> int | None:
        return self._lo[0] if self._lo else None

    def add(self, seq: int) -> None:
        if seq in self:
            return
        i = self._find(seq)
        left = i >= 0 and self._hi[i] == seq - 1
        right = i + 1 < len(self._lo) and self._lo[i + 1] == seq + 1
        if left and right:
            self._hi[i] = self._hi[i + 1]
            del self._lo[i + 1], self._hi[i + 1]
        elif left:
            self._hi[i] = seq
        elif right:
            self._lo[i + 1] = seq
        else:
            self._lo.insert(i + 1, seq)
            self._hi.insert(i + 1, seq)

    def discard(self, seq: int) -> None:
        if seq not in self:
            return
        i = self._find(seq)
        lo, hi = self._lo[i], self._hi[i]
        if lo == hi:
            del self._lo[i], self._hi[i]
        elif seq == lo:
            self._lo[i] = seq + 1
        elif seq == hi:
            self._hi[i] = seq - 1
        else:
            self._hi[i] = seq - 1
            self._lo.insert(i + 1, seq + 1)
            self._hi.insert(i + 1, hi)


class SeqTracker:
    """Which seqs to submit, and the seq to resume from.

    Frames arrive in order on a connection and a resume replays from ``resume_seq + 1``, so a
    seq at or below ``last_received`` was submitted before: ``admit`` turns it away (a replayed
    duplicate), unless its entry was dropped (the spool was full): that hole is what the replay
    is for. ``resume_seq`` is the highest seq with it and everything before it settled.
    """

    def __init__(self, start: int | None = None) -> None:
        self.last_received = start
        self.duplicates = 0
        self._pending: set[int] = set()
        self._holes = SeqRanges()

    def admit(self, seq: int) -> bool:
        """Record a received seq; False when it was already submitted (do not submit it again)."""
        if self.last_received is not None and seq <= self.last_received and seq not in self._holes:
            self.duplicates += 1
            return False
        self._holes.discard(seq)
        self._pending.add(seq)
        self.last_received = seq if self.last_received is None else max(self.last_received, seq)
        return True

    def settled(self, seq: int, outcome: Outcome = "published") -> None:
        """The entry of ``seq`` is done with; a dropped one stays a hole to be replayed."""
        self._pending.discard(seq)
        if outcome == "dropped":
            self._holes.add(seq)

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    @property
    def holes(self) -> int:
        return len(self._holes)

    @property
    def resume_seq(self) -> int:
        unsettled = [s for s in (min(self._pending, default=None), self._holes.first()) if s is not None]
        if unsettled:
            return min(unsettled) - 1
        return self.last_received or 0


def read_gateway_frame(raw: str | bytes) -> tuple[dict[str, Any] | None, str | None]:
    """A gateway frame as a JSON object, and why the bus could not carry it (None: it can).

    The ingress's reader decides (``qqbus.json_body``); a frame it refuses for the bus but that
    is still JSON (nested too deep, a number out of range) is read plainly, so that its ``op`` and
    ``s`` still count: the relay must still heartbeat, and settle the seq it refuses. Never raises.
    """
    message, why = read_json_object(raw)
    if message is not None:
        return message, None
    try:
        plain = json.loads(raw)
    except (ValueError, RecursionError):
        return None, why
    return (plain, why) if isinstance(plain, dict) else (None, why)


def frame_seq(message: dict[str, Any]) -> int | None:
    seq = message.get("s")
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def dispatch_entry(message: dict[str, Any], raw: str | bytes, config: GatewayConfig) -> dict[str, Any]:
    """The bus entry of a dispatch (op 0 with a string ``t``): the frame as received is the payload."""
    given = message.get("id")
    if isinstance(given, str) and given:
        event_id = given
    else:
        body = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
        event_id = onebot_event_id(body)  # the ingress's stable hash of the raw body
    return event_entry(
        source=SOURCE,
        detail_type=str(message["t"]),
        bot_id=config.app_id,
        event_id=event_id,
        transport="websocket",
        payload=message,
        bus_name=config.bus_name,
    )


@dataclass
class ShardStats:
    state: str = "starting"
    session_id: str | None = None
    restored: bool = False  # the session came from the file a previous run saved
    identifies: int = 0
    resumes: int = 0
    connections: int = 0
    dispatches: int = 0
    duplicates_skipped: int = 0
    refused: int = 0  # dispatches the bus could not carry (as HTTP ingress refuses them)
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
        session_file: SessionFile | None = None,
    ) -> None:
        self.shard, self.shards, self.url = shard, shards, url
        self.config, self.tokens, self.limiter, self.publisher = config, tokens, limiter, publisher
        self.session_id: str | None = None
        self.tracker = SeqTracker()
        self.stats = ShardStats()
        self.session_file = session_file
        self._save_handle: asyncio.TimerHandle | None = None
        self._our_close: Action | None = None  # why we closed the connection, if we did
        self._acked = True
        self._was_ready = False
        saved = session_file.load() if session_file else None
        if saved is not None:
            self.session_id, self.tracker = saved.session_id, SeqTracker(start=saved.seq)
            self.stats.session_id, self.stats.restored = saved.session_id, True
            log.info(
                "shard %s: resuming the saved session %s from seq %s (saved %.0f s ago)",
                shard,
                saved.session_id,
                saved.seq,
                time.time() - saved.saved_at,
            )

    def health(self) -> dict[str, Any]:
        return {
            "shard": [self.shard, self.shards],
            **vars(self.stats),
            "last_seq": self.tracker.last_received,
            "resume_seq": self.tracker.resume_seq,
            "in_flight": self.tracker.in_flight,
            "holes": self.tracker.holes,
        }

    def save(self) -> None:
        """Write the session id and resume seq now (also what a pending timed save would do)."""
        if self._save_handle is not None:
            self._save_handle.cancel()
            self._save_handle = None
        if self.session_file is None:
            return
        try:
            self.session_file.save(self.session_id, self.tracker.resume_seq)
        except OSError as exc:
            log.error("shard %s: cannot save the session to %s: %s", self.shard, self.session_file.path, exc)

    def _save_soon(self) -> None:
        """Save within ``save_every`` seconds: a burst of events costs one write."""
        if self.session_file is None or self._save_handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.save()
            return
        self._save_handle = loop.call_later(self.config.save_every, self.save)

    def _settled(self, tracker: SeqTracker, seq: int, outcome: Outcome) -> None:
        tracker.settled(seq, outcome)
        if tracker is self.tracker:
            self._save_soon()

    def _forget_session(self) -> None:
        self.session_id, self.tracker = None, SeqTracker()
        self.stats.session_id = None
        self.save()

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
        try:
            async for ws in connect(
                self.url,
                reconnect_delays=delays,
                process_exception=_retryable,
                open_timeout=self.config.open_timeout,
                close_timeout=self.config.close_timeout,
                proxy=self.config.proxy,
                max_size=self.config.max_frame_bytes,
            ):
                self.stats.connections += 1
                action = await self._serve(ws)
                if self._was_ready:
                    failures = delays()  # a session was up: start the backoff over
                if action == "identify":
                    self._forget_session()
                await asyncio.sleep(next(failures) if not self._was_ready or action == "identify" else 0)
        finally:
            self.save()

    async def _serve(self, ws: ClientConnection) -> Action:
        """One connection, from Hello to close; what to do next."""
        self._our_close = None
        self._was_ready = False
        heartbeat: asyncio.Task[None] | None = None
        try:
            hello, _ = read_gateway_frame(await asyncio.wait_for(ws.recv(), timeout=self.config.open_timeout))
            if hello is None or hello.get("op") != OP_HELLO:
                log.warning("shard %s: expected Hello, got %.100r", self.shard, hello)
                await ws.close(4002, "expected hello")
                return "resume" if self.session_id else "identify"
            interval = float(hello["d"]["heartbeat_interval"]) / 1000
            if not math.isfinite(interval) or interval <= 0:
                raise ValueError(f"heartbeat_interval {interval!r}")
            await self._identify_or_resume(ws)
            heartbeat = asyncio.create_task(self._heartbeat(ws, min(interval, 300.0)))
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
        message, uncarriable = read_gateway_frame(raw)
        if message is None:
            log.warning("shard %s: a frame that is not a JSON object: %.100r", self.shard, raw)
            return None
        op = message.get("op")
        if op == OP_HEARTBEAT_ACK:
            self._acked = True
        elif op == OP_DISPATCH:
            await self._dispatch(message, raw, uncarriable)
        elif op == OP_HEARTBEAT:
            await ws.send(json.dumps({"op": OP_HEARTBEAT, "d": self.tracker.last_received}))
        elif op == OP_RECONNECT:
            log.info("shard %s: the gateway asked to reconnect (op 7)", self.shard)
            return "resume"
        elif op == OP_INVALID_SESSION:
            log.info("shard %s: invalid session (op 9): identifying again", self.shard)
            return "identify"
        return None

    async def _dispatch(
        self, message: dict[str, Any], raw: str | bytes, uncarriable: str | None = None
    ) -> None:
        t, seq, data = message.get("t"), frame_seq(message), message.get("d")
        if t == "READY":
            session_id = data.get("session_id") if isinstance(data, dict) else None
            if isinstance(session_id, (str, int)) and not isinstance(session_id, bool) and str(session_id):
                self.session_id = str(session_id)
            else:
                log.warning(
                    "shard %s: READY without a session_id: this session cannot be resumed", self.shard
                )
            self.stats.session_id, self.stats.state = self.session_id, "ready"
            self._was_ready = True
            log.info("shard %s: READY, session %s", self.shard, self.session_id)
            self.save()
        elif t == "RESUMED":
            self.stats.state = "ready"
            self._was_ready = True
            log.info("shard %s: RESUMED", self.shard)
        if t in ("READY", "RESUMED") or not isinstance(t, str) or not t:
            if seq is not None and self.tracker.admit(seq):
                self._settled(self.tracker, seq, "published")
            return
        if seq is not None and not self.tracker.admit(seq):
            self.stats.duplicates_skipped += 1  # replayed after a resume, and already submitted
            return
        self.stats.dispatches += 1
        if problem := uncarriable or detail_type_problem(t):  # what HTTP ingress refuses with 400
            self.stats.refused += 1
            log.error("shard %s: dispatch %s refused (the bus cannot carry it): %s", self.shard, seq, problem)
            if seq is not None:
                self._settled(self.tracker, seq, "rejected")  # refused for good: resume past it
            return
        entry = dispatch_entry(message, raw, self.config)
        if seq is None:
            await self.publisher.submit(entry)
            return
        await self.publisher.submit(entry, on_done=functools.partial(self._settled, self.tracker, seq))


def _retryable(exc: Exception) -> Exception | None:
    """Retry network errors and 5xx/429 handshakes; raise anything else."""
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        return None if transient_status(status) else exc
    if isinstance(exc, (OSError, TimeoutError, InvalidHandshake)):
        return None
    return exc


class QQGatewayRelay:
    """All shards of one bot: token, gateway URL, pacing, sessions (saved in ``session_dir``)."""

    def __init__(
        self, config: GatewayConfig, publisher: RelayPublisher, session_dir: Path | None = None
    ) -> None:
        self.config = config
        self.publisher = publisher
        self.session_dir = session_dir
        self.http = HttpRetry(config)
        self.tokens = TokenSource(config, self.http)
        self.sessions: list[ShardSession] = []

    def health(self) -> dict[str, Any]:
        return {
            "app_id": self.config.app_id,
            "http_failures": self.http.failures,
            "http_last_error": self.http.last_error,
            "shards": [s.health() for s in self.sessions],
        }

    def save(self) -> None:
        """Save every shard's session now (the runner calls it after the last flush)."""
        for session in self.sessions:
            session.save()

    async def gateway(self) -> dict[str, Any]:
        token = await self.tokens.get()
        url = self.config.api_base.rstrip("/") + "/gateway/bot"
        info = await self.http.fetch(
            "GET /gateway/bot", "GET", url, None, {"Authorization": f"QQBot {token}"}
        )
        if not isinstance(info, dict) or not isinstance(info.get("url"), str) or not info["url"]:
            raise GatewayStopped(f"GET /gateway/bot gave no url: {info}"[:400])
        return info

    async def run(self) -> None:
        info = await self.gateway()
        limit = info.get("session_start_limit")
        limit = limit if isinstance(limit, dict) else {}
        shards = self.config.shards or _positive_int(info.get("shards"), 1)
        files = [
            SessionFile(self.session_dir, self.config.app_id, i, shards) if self.session_dir else None
            for i in range(shards)
        ]
        restorable = any(f is not None and f.load() is not None for f in files)
        if limit.get("remaining") == 0 and not restorable:
            wait = _positive_int(limit.get("reset_after"), 0) / 1000
            log.warning("no session starts left; waiting %.0f s for the limit to reset", wait)
            await asyncio.sleep(wait)
        limiter = IdentifyLimiter(_positive_int(limit.get("max_concurrency"), 1), self.config.identify_window)
        self.sessions = [
            ShardSession(i, shards, info["url"], self.config, self.tokens, limiter, self.publisher, files[i])
            for i in range(shards)
        ]
        log.info("gateway %s, %d shard(s)", info["url"], shards)
        await asyncio.gather(*(s.run() for s in self.sessions))


def _positive_int(value: Any, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default
