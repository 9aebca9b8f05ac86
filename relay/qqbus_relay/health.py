"""A tiny HTTP endpoint with the relay's state (``GET /health``), and a periodic status line."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("qqbus_relay")


async def serve_health(state: Callable[[], dict[str, Any]], host: str, port: int) -> asyncio.Server:
    """``GET /health`` (or ``/``) answers ``state()`` as JSON: 200, or 503 when its ``healthy``
    is False (the bus is unreachable), so a container or load balancer check sees it too.
    Anything else is 404."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), timeout=5)
            while (await asyncio.wait_for(reader.readline(), timeout=5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request_line.decode("latin-1").split()
            path = parts[1].split("?")[0] if len(parts) > 1 else "/"
            if path in ("/", "/health"):
                data = state()
                status = "200 OK" if data.get("healthy", True) else "503 Service Unavailable"
                body = json.dumps(data, default=str).encode()
            else:
                status, body = "404 Not Found", b'{"error":"not found"}'
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                f"Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port)
    log.info("health on http://%s:%s/health", host, server.sockets[0].getsockname()[1])
    return server


async def log_status(state: Callable[[], dict[str, Any]], every: float = 60.0) -> None:
    """One structured status line every ``every`` seconds."""
    while True:
        await asyncio.sleep(every)
        log.info("status %s", json.dumps(state(), default=str))
