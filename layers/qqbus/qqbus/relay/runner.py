"""Running the relay as a process: components, the publisher, health, and a clean shutdown.

On SIGINT/SIGTERM the websockets are closed first (no new events), then the publisher flushes
what it holds within ``flush_timeout`` and spools the rest to disk for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qqbus.publish import EventBridgePublisher
from qqbus.relay.health import log_status, serve_health
from qqbus.relay.onebot_ws import OneBotForwardClient, OneBotRelay, OneBotReverseServer, OneBotWsConfig
from qqbus.relay.publisher import RelayPublisher
from qqbus.relay.qq_gateway import GatewayConfig, GatewayStopped, QQGatewayRelay

log = logging.getLogger("qqbus.relay")


@dataclass
class RelayOptions:
    bus_name: str
    spool_dir: Path
    qq: GatewayConfig | None = None
    onebot_listen: tuple[str, int] | None = None
    onebot_connect: list[str] = field(default_factory=list)
    onebot_token: str | None = None
    publish_heartbeats: bool = False
    health: tuple[str, int] | None = ("127.0.0.1", 8081)
    status_every: float = 60.0
    flush_timeout: float = 10.0
    events_client: Any = None  # a boto3 events client (default: the cached one)


class Relay:
    """The relay's parts, started together and stopped together."""

    def __init__(self, options: RelayOptions) -> None:
        self.options = options
        self.publisher = RelayPublisher(EventBridgePublisher(events=options.events_client), options.spool_dir)
        self.qq = QQGatewayRelay(options.qq, self.publisher) if options.qq else None
        onebot = OneBotRelay(
            OneBotWsConfig(options.bus_name, options.onebot_token, options.publish_heartbeats), self.publisher
        )
        self.onebot_server = OneBotReverseServer(onebot) if options.onebot_listen else None
        self.onebot_clients = [OneBotForwardClient(url, onebot) for url in options.onebot_connect]
        self._stop = asyncio.Event()
        self.health_url: str | None = None

    def state(self) -> dict[str, Any]:
        p = self.publisher
        return {
            "publisher": {
                "state": p.stats.state,
                "queue_depth": p.queue_depth,
                "spooled": p.spool.pending,
                "published": p.stats.published,
                "rejected": p.stats.rejected,
                "last_error": p.stats.last_error,
            },
            "qq": self.qq.health() if self.qq else None,
            "onebot": {
                "reverse": self.onebot_server.health() if self.onebot_server else None,
                "forward": [c.health() for c in self.onebot_clients],
            },
        }

    def stop(self) -> None:
        self._stop.set()

    async def run(self, *, install_signal_handlers: bool = True) -> int:
        """Run until ``stop()`` (or a signal); 0, or 2 when the QQ gateway said stop."""
        if install_signal_handlers:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.stop)
        publisher_task = asyncio.create_task(self.publisher.run(), name="publisher")
        tasks: list[asyncio.Task[Any]] = []
        servers: list[Any] = []
        if self.options.health:
            health = await serve_health(self.state, *self.options.health)
            servers.append(health)
            host, port = health.sockets[0].getsockname()[:2]
            self.health_url = f"http://{host}:{port}/health"
        if self.onebot_server and self.options.onebot_listen:
            await self.onebot_server.start(*self.options.onebot_listen)
        if self.qq:
            tasks.append(asyncio.create_task(self.qq.run(), name="qq-gateway"))
        tasks += [asyncio.create_task(c.run(), name=f"onebot-forward-{c.url}") for c in self.onebot_clients]
        tasks.append(asyncio.create_task(log_status(self.state, self.options.status_every), name="status"))
        code = await self._until_stopped(tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.onebot_server:
            await self.onebot_server.stop()
        for server in servers:
            server.close()
        await self.publisher.close(self.options.flush_timeout)
        await publisher_task
        log.info(
            "relay stopped: %d published, %d spooled for the next start",
            self.publisher.stats.published,
            self.publisher.spool.pending,
        )
        return code

    async def _until_stopped(self, tasks: list[asyncio.Task[Any]]) -> int:
        stopper: asyncio.Task[Any] = asyncio.create_task(self._stop.wait())
        watched: list[asyncio.Task[Any]] = [stopper, *tasks]
        while True:
            done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            if stopper in done:
                return 0
            for task in done:
                error = task.exception()
                if isinstance(error, GatewayStopped):
                    log.error("QQ gateway: %s", error)
                    stopper.cancel()
                    return 2
                if error is not None:
                    log.error(
                        "%s failed: %r", task.get_name() if isinstance(task, asyncio.Task) else task, error
                    )
                    stopper.cancel()
                    return 1
                watched.remove(task)


def run_blocking(options: RelayOptions) -> int:
    """Run the relay in this thread's own event loop until a signal (the CLI's entry point)."""

    async def main() -> int:
        return await Relay(options).run()

    return asyncio.run(main())
