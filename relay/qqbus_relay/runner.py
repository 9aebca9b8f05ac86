"""Running the relay as a process: components, the publisher, health, and a bounded shutdown.

Exit codes (what the systemd unit acts on): 0 stopped by a signal; 2 the configuration is
wrong or the QQ gateway said stop (4914/4915, a refused secret): do not restart; 1 anything
else, such as a task the relay depends on dying: restart.

On SIGINT/SIGTERM the websockets are closed first (no new events), then the publisher flushes
what it holds and spools the rest to disk for the next start, all within ``stop_timeout``
seconds (8 by default, under the 10 s container engines wait before SIGKILL).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qqbus.publish import EventBridgePublisher

from qqbus_relay.actions import DoneIds, OneBotActions
from qqbus_relay.health import log_status, serve_health
from qqbus_relay.onebot_ws import OneBotForwardClient, OneBotRelay, OneBotReverseServer, OneBotWsConfig
from qqbus_relay.publisher import DEFAULT_MAX_IN_FLIGHT, RelayPublisher
from qqbus_relay.qq_actions import QqActions, QqCredentials
from qqbus_relay.qq_gateway import GatewayConfig, GatewayStopped, QQGatewayRelay
from qqbus_relay.spool import DEFAULT_MAX_BYTES, SpoolInUse, lock_directory

log = logging.getLogger("qqbus_relay")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


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
    stop_timeout: float = 8.0  # the whole shutdown, signal to exit
    max_spool_bytes: int = DEFAULT_MAX_BYTES
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT  # PutEvents calls at a time
    events_client: Any = None  # a boto3 events client (default: the cached one)
    actions_queue_url: str | None = None  # RelayActionQueue: OneBot actions for reverse-WS bots
    sqs_client: Any = None  # a boto3 sqs client for that queue (default: the cached one)
    actions_poll_seconds: int = 10  # SQS long poll of that queue (and of the QQ one)
    qq_actions_queue_url: str | None = None  # QqRelayActionQueue: QQ sends made from this host
    qq_credentials: QqCredentials | None = None  # whose QQ sends, and the API they go to
    failure_queue_url: str | None = None  # where QQ sends refused for the IP whitelist are parked


class Relay:
    """The relay's parts, started together and stopped together."""

    def __init__(self, options: RelayOptions) -> None:
        self.options = options
        self.publisher = RelayPublisher(
            EventBridgePublisher(events=options.events_client),
            options.spool_dir,
            max_spool_bytes=options.max_spool_bytes,
            max_in_flight=options.max_in_flight,
        )
        self.qq = QQGatewayRelay(options.qq, self.publisher, options.spool_dir) if options.qq else None
        onebot = OneBotRelay(
            OneBotWsConfig(options.bus_name, options.onebot_token, options.publish_heartbeats), self.publisher
        )
        self.onebot_server = OneBotReverseServer(onebot) if options.onebot_listen else None
        self.onebot_clients = [OneBotForwardClient(url, onebot) for url in options.onebot_connect]
        self.actions: OneBotActions | None = None
        if options.actions_queue_url and self.onebot_server is not None:
            self.actions = OneBotActions(
                queue_url=options.actions_queue_url,
                connections=self.onebot_server.connections,
                answers=self.onebot_server.answers,
                **self._queue_options(),
            )
        self.qq_actions: QqActions | None = None
        if options.qq_actions_queue_url and options.qq_credentials is not None:
            self.qq_actions = QqActions(
                queue_url=options.qq_actions_queue_url,
                credentials=options.qq_credentials,
                failure_queue_url=options.failure_queue_url,
                done=DoneIds(options.spool_dir / "qq-actions.done"),
                **self._queue_options(),
            )
        self._stop = asyncio.Event()
        self.health_url: str | None = None

    def _queue_options(self) -> dict[str, Any]:
        """What both action queues share: the SQS client, the publisher, the bus, the poll."""
        sqs = self.options.sqs_client
        if sqs is None:
            from qqbus.aws import client

            sqs = client("sqs")
        return {
            "sqs": sqs,
            "publisher": self.publisher,
            "bus_name": self.options.bus_name,
            "wait_seconds": self.options.actions_poll_seconds,
        }

    def state(self) -> dict[str, Any]:
        return {
            "healthy": self.publisher.healthy,
            "publisher": self.publisher.health(),
            "qq": self.qq.health() if self.qq else None,
            "qq_actions": self.qq_actions.health() if self.qq_actions else None,
            "onebot": {
                "reverse": self.onebot_server.health() if self.onebot_server else None,
                "forward": [c.health() for c in self.onebot_clients],
                "actions": self.actions.health() if self.actions else None,
            },
        }

    def stop(self) -> None:
        self._stop.set()

    async def run(self, *, install_signal_handlers: bool = True) -> int:
        """Run until ``stop()`` (or a signal); the exit code (see the module docstring)."""
        try:
            lock = lock_directory(self.options.spool_dir)
        except SpoolInUse as exc:
            log.error("%s", exc)
            return EXIT_CONFIG
        try:
            return await self._run(install_signal_handlers)
        finally:
            lock.close()

    async def _run(self, install_signal_handlers: bool) -> int:
        if install_signal_handlers:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.stop)
        publisher_task = asyncio.create_task(self.publisher.run(), name="publisher")
        tasks: list[asyncio.Task[Any]] = []
        servers: list[asyncio.Server] = []
        code = await self._start(tasks, servers)
        if code is None:
            code = await self._until_stopped([publisher_task, *tasks])
        await self._shutdown(tasks, servers, publisher_task)
        return code

    async def _start(self, tasks: list[asyncio.Task[Any]], servers: list[asyncio.Server]) -> int | None:
        """Start the servers and tasks; an exit code if one cannot start."""
        try:
            if self.options.health:
                health = await serve_health(self.state, *self.options.health)
                servers.append(health)
                host, port = health.sockets[0].getsockname()[:2]
                self.health_url = f"http://{host}:{port}/health"
            if self.onebot_server and self.options.onebot_listen:
                await self.onebot_server.start(*self.options.onebot_listen)
        except OSError as exc:  # the port is taken (maybe by a relay still stopping): restart later
            log.error("cannot listen: %s", exc)
            return EXIT_FAILED
        if self.qq:
            tasks.append(asyncio.create_task(self.qq.run(), name="qq-gateway"))
        tasks += [asyncio.create_task(c.run(), name=f"onebot-forward-{c.url}") for c in self.onebot_clients]
        if self.actions:
            tasks.append(asyncio.create_task(self.actions.run(), name="onebot-actions"))
        if self.qq_actions:
            tasks.append(asyncio.create_task(self.qq_actions.run(), name="qq-actions"))
        tasks.append(asyncio.create_task(log_status(self.state, self.options.status_every), name="status"))
        return None

    async def _shutdown(
        self, tasks: list[asyncio.Task[Any]], servers: list[asyncio.Server], publisher_task: asyncio.Task[Any]
    ) -> None:
        """Close the websockets, flush, spool the rest, save the QQ sessions: within ``stop_timeout``."""
        started = time.monotonic()
        deadline = started + self.options.stop_timeout
        for task in tasks:
            task.cancel()
        closing = [*tasks]
        if self.onebot_server:
            closing.append(asyncio.create_task(self.onebot_server.stop()))
        if closing:
            await asyncio.wait(closing, timeout=min(2.0, self.options.stop_timeout / 4))
        for task in closing:
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.debug("%s ended with %r", task.get_name(), task.exception())
        for server in servers:
            server.close()
        try:
            await self.publisher.close(max(0.0, deadline - time.monotonic() - 0.5))
        except Exception:  # the spool itself failed (a full or broken disk): say so, exit anyway
            log.exception("could not flush or spool the queue at shutdown")
        if not publisher_task.done():
            publisher_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await publisher_task
        if self.qq:
            self.qq.save()
        log.info(
            "relay stopped in %.1f s: %d published, %d spooled for the next start",
            time.monotonic() - started,
            self.publisher.stats.published,
            self.publisher.spool.pending,
        )

    async def _until_stopped(self, tasks: list[asyncio.Task[Any]]) -> int:
        """Wait for ``stop()``; or for a task to end, which ends the relay: every task runs for ever."""
        stopper: asyncio.Task[Any] = asyncio.create_task(self._stop.wait())
        try:
            done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        if stopper in done:
            return EXIT_OK
        task = next(iter(done))
        error = None if task.cancelled() else task.exception()
        if isinstance(error, GatewayStopped):
            log.error("QQ gateway: %s", error)
            return EXIT_CONFIG
        if error is not None:
            log.error("%s failed: %r; stopping the relay", task.get_name(), error, exc_info=error)
        else:
            log.error("%s ended unexpectedly; stopping the relay", task.get_name())
        return EXIT_FAILED


def run_blocking(options: RelayOptions) -> int:
    """Run the relay in this thread's own event loop until a signal (the CLI's entry point)."""

    async def main() -> int:
        return await Relay(options).run()

    return asyncio.run(main())
