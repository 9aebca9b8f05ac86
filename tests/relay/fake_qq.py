"""A fake QQ official platform on 127.0.0.1: token and /gateway/bot over HTTP, and a websocket
gateway that speaks the protocol and misbehaves on cue.

Before emitting event number k the gateway looks up ``faults[k]``:

- ``drop``: abort the TCP connection (frames in flight may be lost; a resume replays them)
- ``op7``: ask the client to reconnect; ``op9``: invalidate the session
- ``4009`` / ``4006``: close with that code (4009 resumable, 4006 invalidates the session)
- ``zombie``: stop ACKing heartbeats and stop sending until the client gives up on us
- ``hold``: stop sending (heartbeats still ACKed) until the client goes away

A resume replays every dispatch of the session after the client's seq (``replayed`` counts the
frames). ``offline(n)`` adds n events to the last session while no client is connected, as
the platform does while a relay is down. ``token_failures`` lists answers the token endpoint
gives before it works: ``"503"``, ``"html"`` (a 200 that is not JSON). Once all events are out
and ``finish`` is set, the gateway closes with 4914.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

INTENT = 1 << 25


@dataclass
class Session:
    id: str
    next_s: int = 1
    history: list[tuple[int, str]] = field(default_factory=list)
    valid: bool = True


class FakeQQ:
    def __init__(
        self, total: int, faults: dict[int, str], *, heartbeat_ms: int = 100, burst: int = 25
    ) -> None:
        self.total = total
        self.faults = dict(faults)
        self.heartbeat_ms = heartbeat_ms
        self.burst = burst
        self.cursor = 0
        self.sessions: dict[str, Session] = {}
        self.identifies = 0
        self.resumes: list[int] = []  # the seq of each resume
        self.tokens_issued = 0
        self.expires_in = "7200"
        self.bad_auth = 0
        self.replayed = 0
        self.token_failures: list[str] = []
        self.finish = asyncio.Event()
        self.log: list[str] = []
        self._t0 = time.monotonic()

    # --- HTTP: token and gateway URL --------------------------------------------------------

    def _http(self) -> ThreadingHTTPServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, data: Any) -> None:
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["content-length"])))
                if fake.token_failures:
                    failure = fake.token_failures.pop(0)
                    if failure == "html":
                        body = b"<html>bad gateway</html>"
                        self.send_response(200)
                        self.send_header("content-length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                    else:
                        self._json(int(failure), {"message": "try again"})
                    return
                if self.path != "/app/getAppAccessToken" or request != {
                    "appId": "1024",
                    "clientSecret": "s3cret",
                }:
                    self._json(400, {"code": 100016, "message": "invalid appid or secret"})
                    return
                fake.tokens_issued += 1
                self._json(200, {"access_token": f"tok{fake.tokens_issued}", "expires_in": fake.expires_in})

            def do_GET(self) -> None:
                if self.path != "/gateway/bot" or not self.headers.get("authorization", "").startswith(
                    "QQBot tok"
                ):
                    self._json(401, {"message": "no token"})
                    return
                self._json(
                    200,
                    {
                        "url": fake.ws_url,
                        "shards": 1,
                        "session_start_limit": {
                            "total": 1000,
                            "remaining": 999,
                            "reset_after": 0,
                            "max_concurrency": 1,
                        },
                    },
                )

        return ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    async def start(self) -> None:
        self._ws: Server = await serve(self._handle, "127.0.0.1", 0)
        self.ws_url = f"ws://127.0.0.1:{self._ws.sockets[0].getsockname()[1]}/websocket"
        self._httpd = self._http()
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        self.http_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    async def stop(self) -> None:
        self._ws.close()
        await self._ws.wait_closed()
        self._httpd.shutdown()

    # --- the gateway ------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        await ws.send(json.dumps({"op": 10, "d": {"heartbeat_interval": self.heartbeat_ms}}))
        try:
            first = json.loads(await ws.recv())
            session = await self._open(ws, first)
            if session is None:
                return
            state = {"ack": True}
            reader = asyncio.create_task(self._read(ws, state))
            try:
                await self._stream(ws, session, state)
            finally:
                reader.cancel()
        except ConnectionClosed:
            pass

    async def _open(self, ws: ServerConnection, first: dict[str, Any]) -> Session | None:
        d = first.get("d") or {}
        if not str(d.get("token", "")).startswith("QQBot tok"):
            self.bad_auth += 1
            await ws.close(4004, "authentication failed")
            return None
        if first.get("op") == 2:
            assert d["intents"] & INTENT and d["shard"] == [0, 1], d
            self.identifies += 1
            session = Session(str(uuid.uuid4()))
            self.sessions[session.id] = session
            await self._send_dispatch(
                ws,
                session,
                "READY",
                {"session_id": session.id, "version": 1, "user": {"id": "1024", "bot": True}},
            )
            self.log.append("identify")
            return session
        if first.get("op") == 6:
            session = self.sessions.get(d.get("session_id"))
            if session is None or not session.valid:
                await ws.send(json.dumps({"op": 9, "d": False}))
                await ws.wait_closed()
                return None
            self.resumes.append(int(d["seq"]))
            self.log.append(f"resume@{d['seq']}")
            for s, frame in session.history:
                if s > int(d["seq"]):
                    self.replayed += 1
                    await ws.send(frame)
            await ws.send(json.dumps({"op": 0, "t": "RESUMED", "d": ""}))
            return session
        await ws.close(4001, "invalid opcode")
        return None

    def _next_event(self) -> tuple[str, dict[str, Any], str]:
        k = self.cursor
        self.cursor += 1
        d = {
            "group_openid": "G",
            "author": {"member_openid": "M"},
            "content": f"m{k}",
            "id": f"MSG{k}",
            "timestamp": "2024-01-01T00:00:00+08:00",
        }
        return "GROUP_AT_MESSAGE_CREATE", d, f"EVT:{k}"

    def _record(self, session: Session, t: str, d: Any, event_id: str = "") -> str:
        frame = {"op": 0, "s": session.next_s, "t": t, "d": d}
        if event_id:
            frame["id"] = event_id
        text = json.dumps(frame)
        session.history.append((session.next_s, text))
        session.next_s += 1
        return text

    async def _send_dispatch(
        self, ws: ServerConnection, session: Session, t: str, d: Any, event_id: str = ""
    ) -> None:
        await ws.send(self._record(session, t, d, event_id))

    def offline(self, n: int) -> None:
        """n events for the last session, sent to nobody: a resume replays them."""
        session = list(self.sessions.values())[-1]
        for _ in range(min(n, self.total - self.cursor)):
            self._record(session, *self._next_event())

    async def _read(self, ws: ServerConnection, state: dict[str, bool]) -> None:
        async for raw in ws:
            message = json.loads(raw)
            if message.get("op") == 1 and state["ack"]:
                await ws.send(json.dumps({"op": 11}))

    async def _stream(self, ws: ServerConnection, session: Session, state: dict[str, bool]) -> None:
        while self.cursor < self.total:
            fault = self.faults.pop(self.cursor, None)
            if fault:
                self.log.append(f"{time.monotonic() - self._t0:.1f} fault {fault} at {self.cursor}")
                await self._misbehave(ws, session, state, fault)
                return
            await self._send_dispatch(ws, session, *self._next_event())
            if self.cursor % self.burst == 0:
                await asyncio.sleep(0.02)
        await self.finish.wait()
        await ws.close(4914, "bot offline")

    async def _misbehave(
        self, ws: ServerConnection, session: Session, state: dict[str, bool], fault: str
    ) -> None:
        if fault == "drop":
            ws.transport.abort()
        elif fault == "op7":
            await ws.send(json.dumps({"op": 7}))
            await ws.wait_closed()
        elif fault == "op9":
            session.valid = False
            await ws.send(json.dumps({"op": 9, "d": False}))
            await ws.wait_closed()
        elif fault in ("4009", "4006"):
            if fault == "4006":
                session.valid = False
            await ws.close(int(fault), "fault")
        elif fault == "zombie":
            state["ack"] = False
            await ws.wait_closed()
        elif fault == "hold":
            await ws.wait_closed()
