"""``qqbus dev``: the whole pipeline on 127.0.0.1, on an embedded AWS (moto), no Docker.

- moto runs as a server (``ThreadedMotoServer``), so ``qqbus groups`` and other processes
  can look at the same tables and queues; every boto3 client here goes to it.
- The tables, queues and bus are the template's; each function's rule is the template's
  pattern with an SQS queue as its target (moto delivers bus events to SQS, not to Lambda).
- A worker per function takes its queue and invokes its ``lambda_handler`` with its
  Environment; a failed invocation is retried twice, then its event is parked in the
  template's failure queue in Lambda's destination-record shape, as async Lambda does.
- An HTTP server routes ``POST /qq/webhook`` and ``POST /onebot`` through the real ingress
  functions (request -> Function URL event -> response).
- The senders talk to fake platform APIs on 127.0.0.1 (``qqbus_dev.fake_apis``), or to a real
  OneBot implementation's HTTP API (``--onebot-api``); every step of every event is printed and
  kept in a trace (``GET /_trace/<event_id>``).
- The dev console (``qqbus_dev.console``) is served at ``/``: chat with the bot as virtual
  users, watch each event's trace, the state tables and the failure queues.
- Live reload: a change to a handler's files or to the ``qqbus`` package takes effect on the
  next event (``qqbus_dev.functions.CodeWatch``); a change to the template is reported, and
  takes a restart.
- State survives a restart (``qqbus_dev.persistence``): the tables and the console's sandbox are
  saved beside the state file a second after they change, the queues' messages at a clean stop,
  and all of it is loaded at start (``fresh=True``: start empty).
- One stack per state file (``qqbus_dev.state_file.claim``).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from qqbus.actions import ACTION_SOURCE, RESULT_SOURCE
from qqbus.events.message import plain_text, to_segments

from qqbus_dev import persistence
from qqbus_dev.console.port import ConnectedBot, Posted
from qqbus_dev.functions import DEV_QQ_APPID, CodeWatch, DevSecrets, LocalFunction, load_functions
from qqbus_dev.send import INGRESS_PATHS, event_id_of
from qqbus_dev.state_file import STATE_FILE, Claim, claim, read_state
from qqbus_dev.template import TEMPLATE_PATH, Template, resolve
from qqbus_dev.trace import Step, Trace

if TYPE_CHECKING:
    from qqbus_relay.runner import Relay

    from qqbus_dev.console.app import Console
    from qqbus_dev.fake_apis import FakeApi

MAX_REQUEST_BYTES = 8 * 1024 * 1024


@dataclass
class StackOptions:
    host: str = "127.0.0.1"
    port: int = 3000
    aws_port: int = 4566  # 0: any free port
    template: Path = TEMPLATE_PATH
    stage: str = "local"
    secrets: DevSecrets = field(default_factory=DevSecrets)
    verbose: bool = False
    retries: int = 2
    retry_delay: float = 1.0
    state_file: Path | None = STATE_FILE
    out: TextIO = sys.stdout
    relay_onebot: tuple[str, int] | None = None  # run the OneBot reverse-WS relay here too
    relay_token: str | None = None
    relay_qq: Any = None  # a qqbus_relay.qq_gateway.GatewayConfig: relay a real QQ bot here too
    onebot_api: str | None = None  # a real OneBot HTTP API (NapCat, ...) instead of the fake one
    onebot_access_token: str | None = None  # what the sender presents to that API
    live_reload: bool = True  # changed handler or qqbus code runs from the next event on
    fresh: bool = False  # start empty instead of loading the last run's state
    save_every: float = 1.0  # seconds between saves of changed tables (0: only at stop)

    @property
    def data_file(self) -> Path | None:
        """Where the tables, queues and sandbox are kept between runs (beside the state file)."""
        if self.state_file is None:
            return None
        return self.state_file.with_name(f"{self.state_file.stem}-data.json")

    parameters: dict[str, str] = field(default_factory=dict)  # --parameter-overrides, checked


@dataclass
class FunctionStats:
    invocations: int = 0
    ok: int = 0
    invalid: int = 0
    duplicates: int = 0
    errors: int = 0
    dead_lettered: int = 0


class LocalStack:
    """Start with ``start()``, stop with ``stop()``; ``run()`` does both around Ctrl-C."""

    def __init__(self, options: StackOptions | None = None) -> None:
        self.options = options or StackOptions()
        self.stats: dict[str, FunctionStats] = {}
        self.unhandled: Counter[str] = Counter()
        self.requests = 0
        self.trace = Trace()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        # Queue readers sit in long polls: stop() waits for the messages they are handling, not
        # for their polls to end (a reader that wakes after stop() hands nothing on).
        self._handling = 0
        self._handled = threading.Condition()
        self._saved_env: dict[str, str] | None = None
        self._print_lock = threading.Lock()
        self.functions: dict[str, LocalFunction] = {}
        self.console: Console | None = None
        self.fakes: dict[str, FakeApi] = {}
        self.state: dict[str, Any] = {}
        self.relay_url: str | None = None
        self.bus_name = ""
        self.queue_urls: dict[str, str] = {}
        self.tables: dict[str, str] = {}
        self._relay: Relay | None = None
        self._http: ThreadingHTTPServer | None = None
        self._mock: Any = None  # moto's mock_aws, while the stack runs
        self._moto: Any = None  # moto's ThreadedMotoServer
        self._claim: Claim | None = None
        self._saved_queues: dict[str, list[dict[str, Any]]] = {}  # as of the last clean stop
        self._restored = ""  # what the start loaded, for the banner
        self._last_saved: Any = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        from moto import mock_aws
        from moto.server import ThreadedMotoServer

        from qqbus_dev import moto_speedups

        moto_speedups.apply()
        opts = self.options
        if opts.state_file:
            self._claim = claim(opts.state_file)  # before anything binds: refused, it changed nothing
        try:
            for port, what in ((opts.port, "HTTP"), (opts.aws_port, "embedded AWS")):
                ensure_port_free(opts.host, port, what)
        except PortInUse:
            self._release_claim()
            raise
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines
        self._saved_env = dict(os.environ)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            os.environ.pop(name, None)
        os.environ.update(
            AWS_DEFAULT_REGION=os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",
        )
        # Other processes (qqbus groups, the AWS CLI, a relay with --local) reach the embedded AWS
        # through moto's server; this process's own clients through moto's mock, which shares the
        # server's state (moto docs, "Server mode": decorators and ThreadedMotoServer in one
        # process see the same data) and skips the socket and the HTTP framing on both sides.
        self._moto = ThreadedMotoServer(ip_address=opts.host, port=opts.aws_port, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.aws_endpoint = f"http://{host}:{port}"
        self._mock = mock_aws()
        self._mock.start()
        if not opts.verbose:
            os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
            os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
        from qqbus import aws

        aws.reset()
        from qqbus import actions

        actions.PUBLISHED_LISTENERS.append(self._on_actions_published)
        self._provision()
        saved = self._load_saved()
        self._start_fake_apis()
        self._start_console()
        if saved is not None and self.console is not None and saved.sandbox:
            self.console.sandbox.restore(saved.sandbox)
        self._serve_http()
        for fn in self.functions.values():
            if fn.spec.pattern is not None:
                self._spawn(self._worker, fn, joined=False)
        for rule_id, url in self.routes.catch_all_queues.items():
            self._spawn(self._rule_consumer, rule_id, url, joined=False)
        if opts.relay_onebot or opts.relay_qq:
            self._start_relay()
        self._start_scheduler_clock(saved)
        self._banner()  # before the state file: a client that finds the stack finds its banner printed
        self._write_state()
        self._last_saved = self._change_marker()
        self._spawn(self._housekeeping)

    def stop(self) -> None:
        self._stopping.set()
        if getattr(self, "scheduler_clock", None) is not None:
            self.scheduler_clock.stop()
        if self.console is not None:
            self.console.close()  # its live feeds end, so the HTTP server can stop
        if self._relay is not None:
            self._relay_loop.call_soon_threadsafe(self._relay.stop)
            self._relay_thread.join(timeout=20)
            logging.getLogger("qqbus_relay").removeHandler(self._relay_log)
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        with self._handled:
            self._handled.wait_for(lambda: self._handling == 0, timeout=30)
        if self._mock is not None and self.options.data_file is not None:
            time.sleep(STOP_GRACE_SECONDS)  # a reader that woke with messages lets them go (_reading)
            self._save(queues=True)
        for fake in self.fakes.values():
            fake.stop()
        if self._mock is not None:
            self._mock.stop()
        if self._moto is not None:
            self._moto.stop()
        if self.options.state_file and read_state(self.options.state_file).get("pid") == os.getpid():
            self.options.state_file.unlink()  # only our own (see state_file.claim)
        self._release_claim()
        from qqbus import actions

        if self._on_actions_published in actions.PUBLISHED_LISTENERS:
            actions.PUBLISHED_LISTENERS.remove(self._on_actions_published)
        if self._saved_env is not None:
            os.environ.clear()
            os.environ.update(self._saved_env)
        from qqbus import aws

        aws.reset()
        self.say("stopped")

    def run(self) -> int:
        """Start, serve until Ctrl-C (or SIGTERM), stop cleanly."""
        done = threading.Event()
        # Both, explicitly: a shell that started us in the background (`&`, nohup) may have
        # set SIGINT to "ignore", and then Ctrl-C would never stop the stack.
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        signal.signal(signal.SIGINT, lambda *_: done.set())
        if hasattr(signal, "SIGHUP"):  # the terminal closed: stop cleanly too, so the state is saved
            signal.signal(signal.SIGHUP, lambda *_: done.set())
        self.start()
        try:
            while not done.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        self.stop()
        return 0

    def _release_claim(self) -> None:
        if self._claim is not None:
            self._claim.release()
            self._claim = None

    # --- setup ----------------------------------------------------------------------------

    def _provision(self) -> None:
        import boto3

        from qqbus_dev.provision import create_bus_and_routes, create_queues, create_tables, local_refs

        opts = self.options
        self.template = Template.read(opts.template)
        self.refs = local_refs(
            self.template, os.environ["AWS_DEFAULT_REGION"], stage=opts.stage, parameters=opts.parameters
        )
        self.sqs = boto3.client("sqs")
        self.tables = create_tables(self.template, boto3.client("dynamodb"), self.refs)
        self.queue_urls = create_queues(self.template, self.sqs, self.refs)
        self.refs.update(self.queue_urls)  # !Ref of a queue is its URL
        self.routes = create_bus_and_routes(self.template, boto3.client("events"), self.sqs, self.refs)
        self.bus_name = self.routes.bus_name
        self._dynamodb = boto3.client("dynamodb")
        self.functions = load_functions(
            self.template,
            self.refs,
            opts.template.resolve().parent,
            opts.secrets,
            log_level="INFO" if opts.verbose else "WARNING",
            watch=(lambda folders: CodeWatch(folders, on_change=self._code_changed))
            if opts.live_reload
            else None,
        )
        self._template_stamp = _stamp(opts.template)
        self.stats = {name: FunctionStats() for name in self.functions}

    def _start_fake_apis(self) -> None:
        """Fake QQ OpenAPI and OneBot HTTP API on 127.0.0.1; the senders are pointed at them."""
        from qqbus_dev.fake_apis import FakeOneBotApi, FakeQQApi

        opts = self.options
        self.fake_qq = FakeQQApi(opts.host)
        self.fake_onebot = FakeOneBotApi(opts.host, access_token=opts.onebot_access_token)
        self.fakes = {"qq": self.fake_qq.start(), "onebot": self.fake_onebot.start()}
        for fn in self.functions.values():
            if "QQ_API_BASE" in fn.env:
                fn.env.update(QQ_API_BASE=self.fake_qq.url, QQ_TOKEN_URL=self.fake_qq.token_url)
            if "ONEBOT_API_URL" in fn.env:
                fn.env["ONEBOT_API_URL"] = self._onebot_routes()
                fn.env["ONEBOT_ACCESS_TOKEN"] = opts.onebot_access_token or ""
                fn.env.pop("ONEBOT_ACCESS_TOKEN_PARAMETER", None)

    def _onebot_routes(self) -> str:
        """``ONEBOT_API_URL`` for the OneBot sender: the real or fake API, the relay's bots by socket."""
        routes: dict[str, str] = {"*": self.options.onebot_api or self.fake_onebot.url}
        relay = self._relay
        server = relay.onebot_server if relay is not None else None
        if server is not None and relay is not None and relay.actions is not None:
            routes.update({self_id: "relay" for self_id, _ in server.connections})
        return json.dumps(routes)

    # --- the console (qqbus_dev.console): its hooks are here, in _deliver, and in the HTTP handler

    def _start_console(self) -> None:
        from qqbus_dev.console.app import Console

        self.console = Console(self)

    def _spawn(self, target: Any, *args: Any, joined: bool = True) -> None:
        """A daemon thread; ``stop()`` joins it unless it is a queue reader (see ``_reading``)."""
        thread = threading.Thread(target=target, args=args, daemon=True, name=f"qqbus-{target.__name__}")
        thread.start()
        if joined:
            self._threads.append(thread)

    def _reading(self, sqs: Any, url: str) -> Iterator[dict[str, Any]]:
        """The messages of queue ``url`` until the stack stops, each deleted once handled; stop()
        waits for the one being handled."""
        while not self._stopping.is_set():
            try:
                got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=POLL_SECONDS)
            except Exception as exc:  # the server is stopping, or a passing error
                if not self._stopping.is_set():
                    self.say(f"!  cannot read queue {url.rsplit('/', 1)[-1]}: {exc}")
                    time.sleep(0.5)
                continue
            held = got.get("Messages", [])
            for n, message in enumerate(held):
                with self._handled:
                    if self._stopping.is_set():
                        self._let_go(sqs, url, held[n:])  # left in the queue for the save at stop
                        return
                    self._handling += 1
                try:
                    yield message
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                finally:
                    with self._handled:
                        self._handling -= 1
                        self._handled.notify_all()

    def _let_go(self, sqs: Any, url: str, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            try:
                sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            except Exception:  # moto is stopping: nothing is saved after it anyway
                return

    def _serve_http(self) -> None:
        stack = self

        class Handler(_HttpHandler):
            pass

        Handler.stack = stack
        self._http = ThreadingHTTPServer((self.options.host, self.options.port), Handler)
        self._http.daemon_threads = True
        self.http_url = f"http://{self.options.host}:{self._http.server_address[1]}"
        self._spawn(self._http.serve_forever)

    def _start_relay(self) -> None:
        """The relay in its own thread and event loop, publishing to the embedded bus."""
        import asyncio

        import boto3
        from qqbus_relay.runner import Relay, RelayOptions

        opts = self.options
        self._relay_log = _SayHandler(self.say)  # connects, disconnects, refusals: in the dev log
        logging.getLogger("qqbus_relay").addHandler(self._relay_log)
        logging.getLogger("qqbus_relay").setLevel(logging.INFO)
        if opts.relay_qq is not None:
            opts.relay_qq.bus_name = self.routes.bus_name
        spool = (opts.state_file.parent if opts.state_file else Path(".qqbus")) / "spool-dev"
        relay_options = RelayOptions(
            bus_name=self.routes.bus_name,
            spool_dir=spool,
            qq=opts.relay_qq,
            onebot_listen=opts.relay_onebot,
            onebot_token=opts.relay_token,
            health=None,
            events_client=boto3.client("events"),
            max_in_flight=1,  # the bus is moto in this process (see qqbus_relay.publisher, "Order")
            actions_queue_url=self.queue_urls.get("RelayActionQueue"),
            sqs_client=boto3.client("sqs"),
        )
        ready = threading.Event()

        relay = self._relay = Relay(relay_options)

        def run() -> None:
            self._relay_loop = asyncio.new_event_loop()

            async def main() -> None:
                task = asyncio.create_task(relay.run(install_signal_handlers=False))
                while relay.onebot_server is not None and relay.onebot_server.server is None:
                    await asyncio.sleep(0.01)
                ready.set()
                await task

            self._relay_loop.run_until_complete(main())
            ready.set()

        self._relay_thread = threading.Thread(target=run, daemon=True, name="qqbus-relay")
        self._relay_thread.start()
        ready.wait(timeout=20)
        server = relay.onebot_server
        self.relay_url = server.url if server is not None and server.server is not None else None

    def _start_scheduler_clock(self, saved: persistence.Saved | None) -> None:
        """The template's schedules on moto, the last run's (with when each fires next), and a clock
        that fires due ones (qqbus_dev.scheduler_clock)."""
        import boto3

        from qqbus_dev.scheduler_clock import SchedulerClock, provision

        scheduler = boto3.client("scheduler")
        provision(self.template, scheduler, self.refs)
        self.scheduler_clock = SchedulerClock(scheduler, boto3.client("events"), say=self.say)
        if saved is not None and saved.schedules:
            next_due, problems = persistence.load_schedules(scheduler, saved.schedules)
            for problem in problems:
                self.say(f"!  {problem}")
            self.scheduler_clock.resume(next_due)
        self.scheduler_clock.tick()  # what is due at start (a new rate() schedule) is on the bus now
        self.scheduler_clock.start()

    def _write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "http": self.http_url,
            "aws_endpoint": self.aws_endpoint,
            "region": os.environ["AWS_DEFAULT_REGION"],
            "bus": self.routes.bus_name,
            "groups_table": self.tables.get("GroupsTable"),
            "users_table": self.tables.get("UsersTable"),
            "qq_appid": DEV_QQ_APPID,
            "qq_secret": self.options.secrets.qq,
            "onebot_secret": self.options.secrets.onebot or "",
            "relay_onebot": self.relay_url,
        }
        if self.options.state_file:
            self.options.state_file.parent.mkdir(parents=True, exist_ok=True)
            partial = self.options.state_file.with_suffix(".tmp")
            partial.write_text(json.dumps(state, indent=2))
            partial.replace(self.options.state_file)  # readers never see half a file
        self.state = state

    def _banner(self) -> None:
        s = self.options.secrets
        on_bus = sum(1 for f in self.functions.values() if f.spec.pattern is not None)
        lines = [
            "qqbus local stack (no Docker, no AWS account)",
            f"  HTTP         {self.http_url}   POST /qq/webhook   POST /onebot   GET /_stats",
            f"  console      {self.http_url}/   chat with the bot, watch each event, replay failures",
            f"  AWS (moto)   {self.aws_endpoint}   bus {self.routes.bus_name}",
            f"  groups       table {self.tables.get('GroupsTable')}   (`qqbus groups` prints it)",
            f"  QQ secret    {s.qq!r} (for AppID {DEV_QQ_APPID}, which `qqbus send` and the console use)",
            f"  OneBot       secret {s.onebot!r}"
            if s.onebot
            else "  OneBot       no secret: requests are not signed",
            f"  functions    {on_bus} on the bus, {len(self.functions) - on_bus} ingress; Ctrl-C stops",
        ]
        if self.options.live_reload:
            lines.insert(-1, "  reload       handlers/ and qqbus: on the next event; the template: restart")
        if self._restored:
            lines.insert(-1, f"  state        {self._restored}")
        if self.relay_url:
            token = self.options.relay_token
            lines.insert(
                -1,
                f"  relay        OneBot reverse WebSocket {self.relay_url}"
                + (f" (access token {token!r})" if token else " (no access token)"),
            )
        if self.options.relay_qq is not None:
            lines.insert(-1, f"  relay        QQ gateway for AppID {self.options.relay_qq.app_id}")
        self.say("\n".join(lines), stamp=False)

    # --- live reload, and state that survives a restart (qqbus_dev.persistence) -----------------

    def _code_changed(self, files: list[Path]) -> None:
        """A handler's file or the qqbus package changed (CodeWatch): say so, hook into the new qqbus."""
        root = self.options.template.resolve().parent
        names = [str(f.relative_to(root)) if f.is_relative_to(root) else str(f) for f in files]
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        self.say(f"~~ reload: {shown} changed; each function loads its code again before its next event")
        try:
            from qqbus import actions  # the new qqbus.actions: the handlers' asks reach the trace
        except Exception as exc:  # the invocation that follows fails with the details
            self.say(f"!  the qqbus package does not import: {type(exc).__name__}: {exc}")
            return
        actions.PUBLISHED_LISTENERS.append(self._on_actions_published)

    def _queue_urls_by_name(self) -> dict[str, str]:
        urls = [*self.queue_urls.values(), *self.routes.function_queues.values()]
        urls += self.routes.catch_all_queues.values()
        return {url.rsplit("/", 1)[-1]: url for url in urls}

    def _load_saved(self) -> persistence.Saved | None:
        """Load the last run's tables and queued messages (before any worker reads a queue)."""
        path = self.options.data_file
        if path is None:
            return None
        if self.options.fresh:
            self._restored = f"{path} (--fresh: started empty)"
            return None
        try:
            saved = persistence.read(path)
        except ValueError as exc:
            self._restored = f"{path} (not loaded: {exc})"
            return None
        if saved is None:
            self._restored = f"{path} (nothing saved yet)"
            return None
        problems = persistence.load_tables(self._dynamodb, saved.tables, list(self.tables.values()))
        problems += persistence.load_queues(self.sqs, saved.queues, self._queue_urls_by_name())
        for problem in problems:
            self.say(f"!  {path.name}: {problem}")
        self._saved_queues = saved.queues
        self._restored = f"{path} (loaded {saved.counts()}; --fresh starts empty)"
        return saved

    def _sandbox_state(self) -> dict[str, Any]:
        if self.console is None:
            return {}
        entities = self.console.sandbox.entities()
        bots = [b for b in entities.get("bots", []) if b.get("via", "sandbox") == "sandbox"]
        return {"people": entities.get("people", []), "groups": entities.get("groups", []), "bots": bots}

    def _change_marker(self) -> Any:
        """Something to compare: it moves when an event arrived, a function ran or the sandbox changed."""
        runs = sum(s.invocations for s in self.stats.values())
        return (self.requests, runs, json.dumps(self._sandbox_state(), sort_keys=True))

    def _save(self, *, queues: bool) -> None:
        """Save the tables and the sandbox; the queues' messages too when ``queues`` (at stop: while
        the stack runs, reading them would race its readers and the console's Failures list)."""
        path = self.options.data_file
        if path is None:
            return
        try:
            tables = persistence.dump_tables(self._dynamodb, list(self.tables.values()))
            if queues:
                self._saved_queues = persistence.dump_queues(self.sqs, self._queue_urls_by_name())
            clock = getattr(self, "scheduler_clock", None)
            schedules = (
                persistence.dump_schedules(clock.scheduler, clock.next_due()) if clock is not None else []
            )
            saved = persistence.Saved(
                tables=tables, queues=self._saved_queues, schedules=schedules, sandbox=self._sandbox_state()
            )
            persistence.write(path, saved)
        except Exception as exc:  # a full disk, or moto going away under us: say it, keep running
            self.say(f"!  cannot save the state to {path}: {type(exc).__name__}: {exc}")
            return
        if queues:
            self.say(f"saved {saved.counts()} to {path}")

    def _housekeeping(self) -> None:
        """Once a second: save what changed, and notice a changed template."""
        every = self.options.save_every
        next_save = time.monotonic() + every
        while not self._stopping.wait(min(every, 1.0) if every > 0 else 1.0):
            stamp = _stamp(self.options.template)
            if stamp != self._template_stamp:
                self._template_stamp = stamp
                self.say(
                    f"!! {self.options.template.name} changed: the stack still runs the rules, functions,"
                    " tables and environments it started with; restart `make dev` (Ctrl-C, then again)"
                    " to apply it; the tables, queues and console users are kept"
                )
            if every > 0 and time.monotonic() >= next_save:
                next_save = time.monotonic() + every
                marker = self._change_marker()
                if marker != self._last_saved:
                    self._save(queues=False)
                    self._last_saved = marker

    # --- the bus side -----------------------------------------------------------------------

    def _worker(self, fn: LocalFunction) -> None:
        import boto3

        sqs = boto3.client("sqs")
        for message in self._reading(sqs, self.routes.function_queues[fn.name]):
            self._deliver(fn, json.loads(message["Body"]), sqs)

    def _deliver(self, fn: LocalFunction, event: dict[str, Any], sqs: Any) -> None:
        stats = self.stats[fn.name]
        attempts = 1 + self.options.retries
        detail = event.get("detail") or {}
        is_action = event.get("source") == ACTION_SOURCE
        origin = (detail.get("origin") or {}).get("event_id") if is_action else detail.get("event_id")
        step_data: dict[str, Any] = {}
        if is_action:
            label = f"{event.get('detail-type')} {_quote(detail)}"
            step_data["action_id"] = detail.get("action_id")
            if origin:
                self.trace.action(str(origin), detail, f"   asks {label}")
        else:
            label = f"{event.get('detail-type')} {short_id(str(detail.get('event_id', '')))}"
        if "ONEBOT_API_URL" in fn.env:
            fn.env["ONEBOT_API_URL"] = self._onebot_routes()  # relay connections come and go
        watch = self.console.delivering(fn, event) if self.console is not None else None
        error: Exception | None = None
        for attempt in range(1, attempts + 1):
            stats.invocations += 1
            started = time.monotonic()
            step_data["logs"] = []  # the handler's log lines, for the console's trace
            try:
                result = fn.invoke(event, logs=step_data["logs"])
            except Exception as exc:
                error = exc
                stats.errors += 1
                line = (
                    f"x  {fn.name} {label} failed (attempt {attempt}/{attempts}): {type(exc).__name__}: {exc}"
                )
                self._step(
                    origin, "invocation", line, function=fn.name, status="error", error=str(exc), **step_data
                )
                if attempt < attempts and not self._stopping.wait(self.options.retry_delay * attempt):
                    continue
                break
            ms = (time.monotonic() - started) * 1000
            status = result.get("status") if isinstance(result, dict) else None
            if status == "invalid":
                stats.invalid += 1
                line = f"!  {fn.name} {label} invalid payload: {result.get('error')} ({ms:.0f} ms)"
            elif status == "duplicate":
                stats.duplicates += 1
                line = f"=  {fn.name} {label} duplicate: already handled ({ms:.0f} ms)"
            elif status == "unchanged":  # a state handler's refused writes: a duplicate or an older event
                stats.ok += 1
                line = f"=  {fn.name} {label} unchanged: a duplicate or older than the row ({ms:.0f} ms)"
            else:
                stats.ok += 1
                status = "ok"
                line = f"-> {fn.name} {label} ok ({ms:.0f} ms)"
            if watch is not None:
                step_data.update(watch.changes())  # the group row before -> after
            self._step(
                origin, "invocation", line, function=fn.name, status=status, ms=round(ms, 1), **step_data
            )
            if isinstance(result, dict) and result.get("parked"):  # the sender parked it (the whitelist)
                line = (
                    f"x  {fn.name} {label} {result.get('reason')}: parked in the failure queue for a replay"
                )
                self._step(origin, "parked", line, function=fn.name, queue="HandlerFailureQueue", **step_data)
            return
        self._dead_letter(fn, event, error, attempts, sqs, origin)

    def _on_actions_published(self, asked: list[Any]) -> None:
        """A handler's actions, recorded as they reach the bus (before its run ends)."""
        for action in asked:
            detail = action.model_dump(mode="json", exclude_none=True)
            if action.origin is not None:
                line = f"   asks {action.detail_type} {_quote(detail)}"
                self.trace.action(action.origin.event_id, detail, line)

    def _step(self, event_id: Any, kind: str, line: str, **data: Any) -> None:
        """Print ``line`` and keep it in the trace of ``event_id`` (when there is one)."""
        self.say(line)
        if event_id:
            self.trace.add(str(event_id), Step(kind, line, data=data))

    def _dead_letter(
        self, fn: LocalFunction, event: dict[str, Any], error: Exception | None, n: int, sqs: Any, origin: Any
    ) -> None:
        """Park the event as Lambda's OnFailure destination would: a destination record."""
        destination = resolve(
            fn.spec.properties.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure", {}),
            self.refs,
        ).get("Destination")
        queue_name = str(destination).rsplit(":", 1)[-1] if destination else None
        record = {
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
            "requestContext": {
                "functionArn": fn.name,
                "condition": "RetriesExhausted",
                "approximateInvokeCount": n,
            },
            "requestPayload": event,
            "responsePayload": {"errorType": type(error).__name__, "errorMessage": str(error)},
        }
        if queue_name:
            url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))
        self.stats[fn.name].dead_lettered += 1
        line = f"x  {fn.name} gave up after {n} attempts; event parked in {queue_name or 'nowhere'}"
        action_id = (event.get("detail") or {}).get("action_id")
        ids = {"action_id": action_id} if event.get("source") == ACTION_SOURCE and action_id else {}
        self._step(origin, "parked", line, function=fn.name, queue=queue_name, **ids)

    def _rule_consumer(self, rule_id: str, url: str) -> None:
        import boto3

        sqs = boto3.client("sqs")
        sources = self.template.bus_rules()[rule_id]["Properties"]["EventPattern"].get("source")
        on_event = self._on_result if sources == [RESULT_SOURCE] else self._on_unhandled
        for message in self._reading(sqs, url):
            on_event(rule_id, json.loads(message["Body"]))

    def _on_unhandled(self, rule_id: str, event: dict[str, Any]) -> None:
        self.unhandled[str(event.get("detail-type"))] += 1
        line = f"-- {event.get('source')} {event.get('detail-type')}: no function handles it ({rule_id})"
        self._step((event.get("detail") or {}).get("event_id"), "unhandled", line, rule=rule_id)

    def _on_result(self, rule_id: str, event: dict[str, Any]) -> None:
        result = event.get("detail") or {}
        line = "   => " + describe_result(result, self.trace)
        self.say(line)
        self.trace.result(result, line)

    # --- the HTTP side ----------------------------------------------------------------------

    def ingress_function(self, path: str) -> LocalFunction | None:
        for fn in self.functions.values():
            if INGRESS_PATHS.get(fn.spec.folder) == path.rstrip("/"):
                return fn
        return None

    # --- what the console asks of the stack (qqbus_dev.console.port.StackPort) --------------

    @property
    def host(self) -> str:
        return self.options.host

    def submit(
        self, payload: dict[str, Any], *, qq_appid: str | None, before: Callable[[str | None], None]
    ) -> Posted:
        """Sign ``payload`` with the stack's secrets as its platform would, post it to the ingress."""
        from qqbus_dev.send import post, prepare

        secrets = self.options.secrets
        prepared = prepare(
            json.dumps(payload, ensure_ascii=False).encode(),
            qq_appid=qq_appid,
            qq_secret=secrets.qq,
            onebot_secret=secrets.onebot or "",
        )
        event_id = event_id_of(prepared.path, prepared.body)
        before(event_id)
        status, body = post(self.http_url, prepared)
        return Posted(status, body.decode("utf-8", "replace"), event_id)

    def connected_bots(self) -> list[ConnectedBot]:
        bots = []
        server = self._relay.onebot_server if self._relay is not None else None
        if server is not None:
            bots += [
                ConnectedBot("onebot", str(sid), "reverse WebSocket")
                for sid, _ in sorted(list(server.connections))
            ]
        if self.options.relay_qq is not None:
            bots.append(ConnectedBot("qq", str(self.options.relay_qq.app_id), "QQ gateway"))
        return bots

    def peek(self, table: str, key: dict[str, dict[str, str]]) -> dict[str, Any] | None:
        from qqbus_dev.table_peek import read_item

        return read_item(self._dynamodb, os.environ["AWS_DEFAULT_REGION"], table, key)

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "functions": {name: vars(s) for name, s in self.stats.items()},
            "unhandled": dict(self.unhandled),
        }

    def say(self, text: str, *, stamp: bool = True) -> None:
        with self._print_lock:
            prefix = time.strftime("%H:%M:%S ") if stamp else ""
            print(prefix + text, file=self.options.out, flush=True)


class _SayHandler(logging.Handler):
    """Relay log records as stack lines (``~~ OneBot 123 connected as Universal``)."""

    def __init__(self, say: Any) -> None:
        super().__init__(logging.INFO)
        self.say = say

    def emit(self, record: logging.LogRecord) -> None:
        self.say(f"~~ relay: {record.getMessage()}")


class PortInUse(RuntimeError):
    """A port the stack needs is taken (most often by another `make dev`)."""


#: How long stop() lets a queue reader that woke with messages put them back, before the save.
STOP_GRACE_SECONDS = 0.3


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


#: How long each queue reader waits for a message in one ReceiveMessage: moto answers as soon as
#: one arrives, so a long wait costs no latency, and idle readers cost one request per wait, not
#: one a second each (about 30 readers; every request through moto's server costs a few ms of CPU).
POLL_SECONDS = 20


def ensure_port_free(host: str, port: int, what: str) -> None:
    """Fail fast, naming the port, instead of hanging inside a server that cannot bind it."""
    import socket

    if not port:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            owner = read_state().get("pid")
            hint = f" (a `qqbus dev` runs as pid {owner})" if owner else ""
            raise PortInUse(
                f"{what} port {host}:{port} is in use{hint}: stop it, or pick another with"
                f" {'--port' if what == 'HTTP' else '--aws-port'}"
            ) from exc


def short_id(event_id: str) -> str:
    """Enough of an event id to tell events apart in a log line (QQ ids start with their type)."""
    return event_id.rpartition(":")[2][:12]


def _quote(action: dict[str, Any]) -> str:
    """An action's message text, quoted and cut short, for a log line."""
    text = plain_text(to_segments(action.get("message")))
    text = text if len(text) <= 40 else text[:37] + "..."
    return json.dumps(text, ensure_ascii=False) if action.get("message") else action.get("action", "")


def describe_result(result: dict[str, Any], trace: Trace | None = None) -> str:
    """``pong (passive, msg_seq 1)``, ``refused: proactive_off (...)``: a result for people."""
    action = None
    if trace is not None and (origin := result.get("origin_event_id")):
        event = trace.get(str(origin))
        action = event.actions.get(str(result.get("action_id"))) if event else None
    what = _quote(action).strip('"') if action else str(result.get("action"))
    if result.get("outcome") == "sent":
        how = [str(result.get("mode") or "sent")]
        if result.get("msg_seq") is not None:
            how.append(f"msg_seq {result['msg_seq']}")
        return f"{what} ({', '.join(how)})"
    detail = f" ({result.get('message')})" if result.get("message") else ""
    return f"{result.get('outcome')}: {result.get('reason')}{detail} [{what}]"


def _detail_type_of(body: bytes) -> str:
    """Best effort, for the log line only."""
    from qqbus.events.parse import UnknownPayload, parse_event

    try:
        return parse_event(json.loads(body)).detail_type
    except (ValueError, UnknownPayload):  # not JSON, or not an event (op 13 too)
        return "-"


class _HttpHandler(BaseHTTPRequestHandler):
    stack: LocalStack
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # the stack prints its own line
        pass

    def _console(self, method: str) -> bool:
        """Hand ``/`` and ``/console/...`` to the console; True when it answered."""
        from qqbus_dev.console import routes

        if self.stack.console is None or not routes.serves(self.path.split("?")[0]):
            return False
        routes.handle(self.stack.console, self, method)
        return True

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if self._console("GET"):
            return
        if path == "/_stats":
            self._send(200, json.dumps(self.stack.snapshot()).encode(), {"content-type": "application/json"})
        elif path.startswith("/_trace/"):
            found = self.stack.trace.get(path.removeprefix("/_trace/"))
            if found is None:
                self._send(404, b'{"error":"no such event (yet)"}', {"content-type": "application/json"})
            else:
                body = json.dumps(found.as_dict(), ensure_ascii=False, default=str).encode()
                self._send(200, body, {"content-type": "application/json"})
        elif path.startswith("/_fakes/") and path.rstrip("/").rsplit("/", 1)[-1] in self.stack.fakes:
            fake = self.stack.fakes[path.rstrip("/").rsplit("/", 1)[-1]]
            received = [vars(r) for r in fake.received]
            self._send(
                200, json.dumps(received, ensure_ascii=False).encode(), {"content-type": "application/json"}
            )
        elif path == "/health":
            state = {k: v for k, v in self.stack.state.items() if "secret" not in k}
            self._send(
                200, json.dumps({"status": "ok", **state}).encode(), {"content-type": "application/json"}
            )
        else:
            self._send(404, b'{"error":"not found"}', {"content-type": "application/json"})

    def do_POST(self) -> None:
        from urllib.parse import parse_qsl, urlsplit

        from qqbus.ingress.function_url import function_url_event

        started = time.monotonic()
        url = urlsplit(self.path)
        if self._console("POST"):
            return
        if url.path.startswith("/_fakes/") and url.path.endswith("/fail"):
            self._fail_next(url.path.split("/")[2])
            return
        if url.path == "/_fakes/qq/whitelist":
            self._whitelist()
            return
        fn = self.stack.ingress_function(url.path)
        length = int(self.headers.get("content-length") or 0)
        if fn is None:
            self._send(404, b'{"error":"no function serves this path"}', {"content-type": "application/json"})
            return
        if length > MAX_REQUEST_BYTES:
            self._send(413, b'{"error":"body too large"}', {"content-type": "application/json"}, close=True)
            return
        body = self.rfile.read(length) if length else b""
        event = function_url_event(
            body, dict(self.headers.items()), method="POST", path=url.path, query=dict(parse_qsl(url.query))
        )
        self.stack.requests += 1
        self.stack.stats[fn.name].invocations += 1
        logs: list[str] = []  # the ingress function's log lines (why it refused), for the trace
        try:
            result = fn.invoke(event, logs=logs)
        except Exception as exc:  # its code does not load (live reload), or it raised: Lambda's 502
            self.stack.say(f"x  {fn.name} failed: {type(exc).__name__}: {exc}")
            result = {
                "statusCode": 502,
                "body": json.dumps({"error": f"{fn.name} failed: {type(exc).__name__}"}),
            }
        status = int(result["statusCode"])
        stats = self.stack.stats[fn.name]
        if status < 400:
            stats.ok += 1
        elif status >= 500:
            stats.errors += 1
        else:
            stats.invalid += 1
        raw = result.get("body") or ""
        self._send(status, raw.encode(), result.get("headers") or {})
        ms = (time.monotonic() - started) * 1000
        detail_type = _detail_type_of(body)
        line = f"<- POST {url.path} {detail_type} {status} ({ms:.0f} ms)"
        event_id = event_id_of(url.path, body)
        self.stack.say(line)
        if event_id:
            kind = "ingress" if status < 400 else "refused"
            data = {
                "status": status,
                "ms": round(ms, 1),
                "path": url.path,
                "body": body.decode("utf-8", "replace"),
                "logs": logs,
            }
            arrived = time.time() - ms / 1000
            self.stack.trace.add(event_id, Step(kind, line, at=arrived, data=data), detail_type=detail_type)

    def _fail_next(self, name: str) -> None:
        """``POST /_fakes/<qq|onebot>/fail {"status", "body", "headers", "times"}``, or
        ``{"fault": "ip_not_whitelisted", "times"}`` (a named fault): inject faults."""
        length = int(self.headers.get("content-length") or 0)
        try:
            spec = json.loads(self.rfile.read(length) or b"{}")
            fake = self.stack.fakes[name]
            if "fault" in spec:
                fake.inject(str(spec["fault"]), int(spec.get("times", 1)))
            else:
                fake.fail_next(
                    int(spec["status"]),
                    spec.get("body"),
                    dict(spec.get("headers") or {}),
                    int(spec.get("times", 1)),
                )
        except (KeyError, TypeError, ValueError) as exc:
            self._send(
                400,
                json.dumps({"error": f"bad fault: {exc!r}"}).encode(),
                {"content-type": "application/json"},
            )
            return
        self._send(204, b"", {})

    def _whitelist(self) -> None:
        """``POST /_fakes/qq/whitelist {"allow": ["203.0.113.7", ...] | null}``: the fake QQ
        OpenAPI refuses every other caller with 11298, as QQ does (null: no whitelist)."""
        length = int(self.headers.get("content-length") or 0)
        try:
            allow = json.loads(self.rfile.read(length) or b"{}")["allow"]
            if allow is not None and not (isinstance(allow, list) and all(isinstance(a, str) for a in allow)):
                raise ValueError("allow is a list of addresses, or null")
        except (KeyError, TypeError, ValueError) as exc:
            self._send(
                400,
                json.dumps({"error": f"bad whitelist: {exc!r}"}).encode(),
                {"content-type": "application/json"},
            )
            return
        self.stack.fake_qq.whitelist = None if allow is None else set(allow)
        state = "off" if allow is None else f"on, allowing {', '.join(allow) or 'nobody'}"
        self.stack.say(f"** the fake QQ OpenAPI's IP whitelist is {state}")
        self._send(204, b"", {})

    def _send(self, status: int, body: bytes, headers: dict[str, str], *, close: bool = False) -> None:
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() not in ("content-length", "connection"):
                self.send_header(key, value)
        self.send_header("content-length", str(len(body)))
        if close:
            self.send_header("connection", "close")
            self.close_connection = True
        self.end_headers()
        if body and status != 204:
            self.wfile.write(body)
