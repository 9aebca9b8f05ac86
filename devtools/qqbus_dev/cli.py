"""The ``qqbus`` command: the local stack, signed test posts, the groups table, one-off invokes."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qqbus_dev.template import TEMPLATE_NAME


def _intents(text: str) -> int:
    """``--intents``: a number or intent names (``qqbus.events.qq.parse_intents``)."""
    from qqbus.events.qq import parse_intents

    try:
        return parse_intents(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _dev(args: argparse.Namespace) -> int:
    from qqbus_dev.functions import DevSecrets
    from qqbus_dev.stack import LocalStack, PortInUse, StackOptions

    # The template and its parameters are refused here, in one line, before anything starts.
    template = Path(args.template) if args.template else _project(args) / TEMPLATE_NAME
    parameters, stage = _parameters(template, args.parameter_overrides, args.stage)
    secrets = DevSecrets(qq=args.qq_secret, onebot=args.onebot_secret or None)
    options = StackOptions(
        host=args.host,
        port=args.port,
        aws_port=args.aws_port,
        stage=stage,
        parameters=parameters,
        template=template,
        state_file=template.resolve().parent / PROJECT_STATE_FILE,
        secrets=secrets,
        verbose=args.verbose,
        retry_delay=args.retry_delay,
        onebot_api=args.onebot_api,
        onebot_access_token=args.onebot_access_token or None,
    )
    if args.state_dir:
        options.state_file = Path(args.state_dir) / "dev.json"
    if args.state_file:
        options.state_file = Path(args.state_file)
    options.fresh = args.fresh
    if args.relay_onebot:
        options.relay_onebot = _host_port(args.relay_onebot)
        options.relay_token = args.relay_token or None
    if args.relay_qq:
        from qqbus.senders.qq import QQ_API_BASE, QQ_SANDBOX_API_BASE
        from qqbus_relay.qq_gateway import GatewayConfig

        app_id, secret = os.environ.get("QQ_BOT_APPID"), os.environ.get("QQ_RELAY_SECRET")
        if not app_id or not secret:
            print(
                "--relay-qq needs QQ_BOT_APPID and QQ_RELAY_SECRET (the bot's real secret)", file=sys.stderr
            )
            return 2
        options.relay_qq = GatewayConfig(
            app_id=app_id,
            secret=secret,
            bus_name="",
            api_base=QQ_SANDBOX_API_BASE if args.sandbox else QQ_API_BASE,
        )
    from qqbus_dev.state_file import StateFileTaken

    try:
        return LocalStack(options).run()
    except (PortInUse, StateFileTaken) as exc:
        print(f"qqbus dev: {exc}", file=sys.stderr)
        return 2


def _groups(args: argparse.Namespace) -> int:
    from qqbus.state import DynamoGroupStore, DynamoUserStore

    from qqbus_dev.groups_view import USER_COLUMNS, render
    from qqbus_dev.state_file import read_state

    state_file = _state_file(args)
    state = read_state(state_file) if state_file else {}
    endpoint = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or state.get("aws_endpoint")
    env, key, what = (
        ("USERS_TABLE_NAME", "users_table", "users")
        if args.users
        else ("GROUPS_TABLE_NAME", "groups_table", "groups")
    )
    table = args.table or os.environ.get(env) or state.get(key)
    if not table:
        print(f"no {what} table: start `make dev`, or pass --table / set {env}", file=sys.stderr)
        return 2
    if endpoint:  # the local stack's moto: any credentials do
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

    try:
        client = boto3.client(
            "dynamodb",
            endpoint_url=endpoint,
            region_name=state.get("region") or os.environ.get("AWS_DEFAULT_REGION"),
        )
        store = DynamoUserStore(table, client) if args.users else DynamoGroupStore(table, client)
        rows = store.scan(args.bot)
    except NoRegionError:
        raise UserError("no AWS region: set AWS_DEFAULT_REGION (or start `make dev`)") from None
    except (BotoCoreError, ClientError) as exc:
        raise UserError(f"cannot read the {what} table {table}: {exc}") from None
    print(
        render(rows, as_json=args.json, columns=USER_COLUMNS)
        if args.users
        else render(rows, as_json=args.json)
    )
    return 0


def _relay(args: argparse.Namespace) -> int:
    """``qqbus relay qq|onebot``: 0 stopped, 2 wrong configuration (do not restart), 1 restart."""
    import logging

    from qqbus.senders.qq import QQ_API_BASE, QQ_SANDBOX_API_BASE, QQ_TOKEN_URL
    from qqbus_relay.qq_actions import QqCredentials
    from qqbus_relay.qq_gateway import GatewayConfig
    from qqbus_relay.runner import RelayOptions, run_blocking

    from qqbus_dev.state_file import read_state

    _configure_logging(args.log_format, logging.DEBUG if args.verbose else logging.INFO)
    log = logging.getLogger("qqbus_relay")
    state_file = _state_file(args) if args.local else None
    state = read_state(state_file) if state_file else {}
    if args.local and not state.get("bus"):
        print("--local: no running `make dev` found (start it, or pass --state-file)", file=sys.stderr)
        return 2
    endpoint = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or state.get("aws_endpoint")
    bus = args.bus or os.environ.get("EVENT_BUS_NAME") or state.get("bus")
    if not bus:
        print(
            "the bus is required: --bus or EVENT_BUS_NAME (or --local with `make dev` running)",
            file=sys.stderr,
        )
        return 2
    if args.local:  # the embedded AWS takes any credentials; none may be configured at all
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    import boto3
    from botocore.config import Config
    from botocore.exceptions import NoRegionError

    # One attempt per call, short timeouts: the publisher retries, spools, and must stop in time.
    config = Config(connect_timeout=3, read_timeout=5, retries={"total_max_attempts": 1, "mode": "standard"})
    session = boto3.session.Session()
    try:
        events = session.client(
            "events", endpoint_url=endpoint, region_name=args.region or state.get("region"), config=config
        )
    except NoRegionError:
        print("no AWS region: pass --region or set AWS_DEFAULT_REGION (the bus's region)", file=sys.stderr)
        return 2
    spool_dir = Path(args.spool_dir or f".qqbus/spool/{args.platform}")
    if session.get_credentials() is None:
        log.error(
            "no AWS credentials found (AWS_ACCESS_KEY_ID/..., a profile, or an instance role): "
            "events will be spooled in %s until there are some",
            spool_dir,
        )
    options = RelayOptions(
        bus_name=bus,
        spool_dir=spool_dir,
        publish_heartbeats=args.publish_heartbeats,
        health=_host_port(args.health) if args.health else None,
        stop_timeout=args.stop_timeout,
        max_spool_bytes=int(args.spool_max_mb * 1024 * 1024),
        max_in_flight=args.max_in_flight,
        events_client=events,
    )

    def sqs_client() -> Any:  # long polls of the action queues (20 s) fit in the read timeout
        sqs_config = Config(connect_timeout=3, read_timeout=25, retries={"total_max_attempts": 3})
        region = args.region or state.get("region")
        return session.client("sqs", endpoint_url=endpoint, region_name=region, config=sqs_config)

    if args.platform == "qq":
        app_id = args.app_id or os.environ.get("QQ_BOT_APPID")
        secret = args.secret or os.environ.get("QQ_BOT_SECRET")
        if not app_id or not secret:
            print("--app-id and --secret (or QQ_BOT_APPID and QQ_BOT_SECRET) are required", file=sys.stderr)
            return 2
        queue = args.actions_queue or os.environ.get("QQBUS_QQ_ACTIONS_QUEUE_URL")
        if not args.gateway and not queue:
            print(
                "--no-gateway leaves only QQ actions to do: --actions-queue URL (the QqRelayActionQueueUrl"
                " output, or QQBUS_QQ_ACTIONS_QUEUE_URL) is required",
                file=sys.stderr,
            )
            return 2
        api_base = args.api_base or (QQ_SANDBOX_API_BASE if args.sandbox else QQ_API_BASE)
        token_url = args.token_url or QQ_TOKEN_URL
        if args.gateway:
            options.qq = GatewayConfig(
                app_id=app_id,
                secret=secret,
                bus_name=bus,
                api_base=api_base,
                token_url=token_url,
                shards=args.shards,
                intents=args.intents,
            )
        if queue:  # QQ sends from this host, whose address is whitelisted (QqEgress=relay)
            options.qq_actions_queue_url = queue
            options.qq_credentials = QqCredentials(app_id, secret, api_base, token_url)
            options.failure_queue_url = args.failure_queue or os.environ.get("QQBUS_FAILURE_QUEUE_URL")
            options.sqs_client = sqs_client()
    else:
        options.onebot_listen = _host_port(args.listen) if args.listen else None
        options.onebot_connect = list(args.connect or [])
        options.onebot_token = args.access_token or os.environ.get("ONEBOT_ACCESS_TOKEN") or None
        queue = args.actions_queue or os.environ.get("QQBUS_ACTIONS_QUEUE_URL")
        if queue:  # OneBot actions for the reverse-WS bots (the template's RelayActionQueueUrl)
            options.actions_queue_url = queue
            options.sqs_client = sqs_client()
        if not options.onebot_listen and not options.onebot_connect:
            print("--listen HOST:PORT and/or --connect ws://... is required", file=sys.stderr)
            return 2
    return run_blocking(options)


def _calls_out(value: str) -> int:
    """``--max-in-flight``: PutEvents calls out at a time, in the publisher's range."""
    from qqbus_relay.publisher import MAX_IN_FLIGHT

    try:
        calls = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 1 <= calls <= MAX_IN_FLIGHT:
        raise argparse.ArgumentTypeError(f"{calls} is not 1 to {MAX_IN_FLIGHT}")
    return calls


#: Where a project's ``qqbus dev`` tells the other commands about itself, in the project.
PROJECT_STATE_FILE = Path(".qqbus") / "dev.json"


class UserError(Exception):
    """A mistake on the command line: told in one line (``qqbus <command>: ...``), exit 2."""


def _project(args: argparse.Namespace) -> Path:
    """The project the command acts on: ``--project DIR``, else the nearest ``template.yaml``
    upward from the current directory."""
    from qqbus_dev.template import ProjectNotFound, find_project

    given = getattr(args, "project", None)
    if given is not None:
        folder = Path(given)
        folder = folder.parent if folder.name == TEMPLATE_NAME and folder.is_file() else folder
        if not (folder / TEMPLATE_NAME).is_file():
            raise UserError(f"--project {given}: no {TEMPLATE_NAME} there")
        return folder.resolve()
    try:
        return find_project()
    except ProjectNotFound as exc:
        raise UserError(str(exc)) from None


def _state_file(args: argparse.Namespace) -> Path | None:
    """``--state-file``, else the state file of the project (None outside any project)."""
    if getattr(args, "state_file", None):
        return Path(args.state_file)
    try:
        return _project(args) / PROJECT_STATE_FILE
    except UserError:
        return None


def _parameters(template: Path, overrides: list[str] | None, stage: str | None) -> tuple[dict[str, str], str]:
    """``--parameter-overrides`` read and checked against ``template``, and the stage to run
    (``--stage``, else ``Stage=`` among the overrides, else ``local``)."""
    from qqbus_dev.template import ParameterError, Template, parameter_overrides

    try:
        parameters = parameter_overrides(overrides or [])
        Template.read(template).check_parameters(parameters)
    except ParameterError as exc:
        raise UserError(f"--parameter-overrides: {exc}") from None
    except OSError as exc:
        raise UserError(f"cannot read {template}: {exc.strerror}") from None
    except ValueError as exc:
        raise UserError(f"{template} is not a template: {exc}") from None
    if stage is not None and parameters.get("Stage", stage) != stage:
        raise UserError(f"--stage {stage} and Stage={parameters['Stage']}: give the stage once")
    return parameters, stage or parameters.get("Stage") or "local"


def _count(value: str) -> int:
    """A whole number, 0 or more."""
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number, 0 or more")
    return int(value)


def _port(value: str) -> int:
    """``--port``/``--aws-port``: 0 (any free port) to 65535."""
    if not value.isdigit() or int(value) > 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port (0 to 65535)")
    return int(value)


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not port.isdigit() or int(port) > 65535:
        raise UserError(f"{value!r} is not HOST:PORT (e.g. 127.0.0.1:8080)")
    return host or "127.0.0.1", int(port)


def _configure_logging(fmt: str, level: int) -> None:
    import json
    import logging

    class JsonFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            entry = {
                "time": self.formatTime(record),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
            if record.exc_info:
                entry["exception"] = self.formatException(record.exc_info)
            return json.dumps(entry, ensure_ascii=False)

    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("websockets").setLevel(logging.WARNING)
    logging.getLogger("botocore").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``qqbus`` command's exit status. A mistake is told in one line (status 2), never as a
    traceback; a reader that leaves early (``qqbus send ... | head``) ends it quietly."""
    try:
        args = build_parser().parse_args(argv)
        try:
            status = _run(args)
        except UserError as exc:
            print(f"qqbus {args.command}: {exc}", file=sys.stderr)
            status = 2
        sys.stdout.flush()  # inside the try: a closed pipe shows here, not at exit
        return status
    except BrokenPipeError:
        _quiet_stdout()
        return 128 + 13  # as a process that SIGPIPE ended (the shell's 141)
    except KeyboardInterrupt:
        return 128 + 2


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that Python's own flush at exit finds no closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file (a test's capture): nothing is flushed at exit
        pass


def build_parser() -> argparse.ArgumentParser:
    from qqbus_dev.functions import DEV_ONEBOT_SECRET, DEV_QQ_SECRET

    parser = argparse.ArgumentParser(prog="qqbus", description="QQ bot events on EventBridge, locally.")
    parser.add_argument("--project", metavar="DIR", help=PROJECT_HELP)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("dev", help="run the whole pipeline on 127.0.0.1 with an embedded AWS (moto)")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (0.0.0.0: reachable from other machines)"
    )
    p.add_argument("--port", type=_port, default=3000, help="HTTP port of the webhooks (0: any free port)")
    p.add_argument("--aws-port", type=_port, default=4566, help="port of the embedded AWS (0: any free port)")
    p.add_argument("--stage", help="the template's Stage, the suffix of every resource name (default: local)")
    p.add_argument("--template", help="template.yaml to run (default: the project's)")
    _parameters_option(p)
    p.add_argument(
        "--qq-secret",
        default=os.environ.get("QQ_BOT_SECRET") or DEV_QQ_SECRET,
        help=f"QQ bot secret to check signatures with (default QQ_BOT_SECRET, else {DEV_QQ_SECRET})",
    )
    p.add_argument(
        "--onebot-secret",
        default=os.environ.get("ONEBOT_SECRET", DEV_ONEBOT_SECRET),
        help="OneBot HTTP POST secret ('' for unsigned requests)",
    )
    p.add_argument(
        "--retry-delay", type=float, default=1.0, help="seconds before a failed invocation's retry"
    )
    p.add_argument("--verbose", action="store_true", help="show the handlers' own JSON logs and metrics")
    p.add_argument(
        "--state-file", help="where to tell other qqbus commands the endpoints (default .qqbus/dev.json)"
    )
    p.add_argument(
        "--state-dir",
        help="keep this stack's state file and saved state here (default .qqbus/): for a second stack",
    )
    p.add_argument(
        "--fresh",
        action="store_true",
        help="start with empty tables, queues and console (default: the last run's)",
    )
    p.add_argument(
        "--relay-onebot", metavar="HOST:PORT", help="also run the OneBot reverse-WebSocket relay here"
    )
    p.add_argument("--relay-token", help="access token the OneBot relay requires")
    p.add_argument(
        "--relay-qq",
        action="store_true",
        help="also relay a real QQ bot's gateway (QQ_BOT_APPID, QQ_RELAY_SECRET)",
    )
    p.add_argument("--sandbox", action="store_true", help="with --relay-qq: the sandbox API")
    p.add_argument(
        "--onebot-api",
        metavar="URL",
        help="send OneBot actions to this real OneBot HTTP API (NapCat, go-cqhttp, ...) instead of the fake",
    )
    p.add_argument(
        "--onebot-access-token",
        default=os.environ.get("ONEBOT_ACCESS_TOKEN"),
        help="access token the OneBot HTTP API requires",
    )

    p = sub.add_parser("send", help="sign a QQ or OneBot payload with the dev secret and post it")
    p.add_argument("payload", help="a platform payload, an events/ file, or a Function URL event")
    p.add_argument("--url", help="base URL of the stack (default: the running `qqbus dev`)")
    p.add_argument("--appid", help="X-Bot-Appid for a QQ payload")
    p.add_argument("--keep-time", action="store_true", help="send the payload's event time as it is")
    p.add_argument(
        "--keep-id",
        action="store_true",
        help="send the file's event id (QQ: id and d.id; OneBot: the body, its id) to try a duplicate;"
        " by default each send is a new event",
    )
    p.add_argument(
        "--wait", type=float, default=10.0, help="seconds to follow the event through the stack (0: do not)"
    )

    p = sub.add_parser("groups", help="print the groups table (--users: the users table)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.add_argument("--users", action="store_true", help="each user's state instead (friends, C2C opt-in)")
    p.add_argument("--bot", help="only this bot_id")
    p.add_argument("--endpoint-url", help="AWS endpoint (default: the running `qqbus dev`, else AWS)")
    p.add_argument("--table", help="table name (default: GROUPS_TABLE_NAME, else the running `qqbus dev`)")

    p = sub.add_parser("schedules", help="list the schedules waiting to fire (/remind, recurring jobs)")
    p.add_argument("--json", action="store_true", help="print them as JSON")
    p.add_argument("--endpoint-url", help="AWS endpoint (default: the running `qqbus dev`, else AWS)")
    p.add_argument("--state-file", help="the dev stack's state file (default .qqbus/dev.json)")

    p = sub.add_parser("data", help="print the bot's own data and who waits in a conversation")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.add_argument("--bot", help="only this bot_id")
    p.add_argument("--endpoint-url", help="AWS endpoint (default: the running `qqbus dev`, else AWS)")
    p.add_argument("--table", help="table name (default: BOT_DATA_TABLE_NAME, else the running `qqbus dev`)")
    p.add_argument("--state-file", help="the dev stack's state file (default .qqbus/dev.json)")

    relay = sub.add_parser(
        "relay", help="hold QQ gateway / OneBot websockets and put their events on the bus"
    )
    relay_sub = relay.add_subparsers(dest="platform", required=True)
    # A qq and a onebot relay on one host must not share a spool or a health port: the defaults differ.
    for name, text, health_port in (
        ("qq", "the QQ official websocket gateway", 8081),
        ("onebot", "OneBot v11 reverse/forward WebSocket", 8082),
    ):
        p = relay_sub.add_parser(name, help=text)
        p.add_argument("--bus", help="event bus name (default: EVENT_BUS_NAME)")
        p.add_argument("--endpoint-url", help="EventBridge endpoint (default: AWS_ENDPOINT_URL, else AWS)")
        p.add_argument("--region", help="the bus's AWS region (default: AWS_DEFAULT_REGION / the profile's)")
        p.add_argument(
            "--local",
            action="store_true",
            help="use the bus of the running `make dev` (no credentials needed)",
        )
        p.add_argument(
            "--state-file", help="with --local: the dev stack's state file (default .qqbus/dev.json)"
        )
        p.add_argument(
            "--spool-dir",
            default=os.environ.get("QQBUS_SPOOL_DIR"),
            help="where entries wait while the bus is unreachable, and the QQ session is kept; one per "
            f"relay (default: QQBUS_SPOOL_DIR, else .qqbus/spool/{name})",
        )
        p.add_argument(
            "--spool-max-mb",
            type=float,
            default=os.environ.get("QQBUS_SPOOL_MAX_MB", "256"),
            help="spool cap; when full, new entries are dropped with an error (default 256)",
        )
        p.add_argument(
            "--max-in-flight",
            type=_calls_out,
            metavar="1-32",
            default=os.environ.get("QQBUS_MAX_IN_FLIGHT", "4"),  # a string: argparse checks it as typed
            help="PutEvents calls out at a time; 1 keeps order between calls, more carry more events"
            " to a far bus (default QQBUS_MAX_IN_FLIGHT, else 4)",
        )
        p.add_argument(
            "--health",
            default=os.environ.get("QQBUS_HEALTH", f"127.0.0.1:{health_port}"),
            help=f"HOST:PORT of GET /health, 503 while the bus is unreachable ('' to turn it off; "
            f"default QQBUS_HEALTH, else 127.0.0.1:{health_port})",
        )
        p.add_argument(
            "--stop-timeout",
            type=float,
            default=8.0,
            help="seconds from SIGTERM to exit: flush, spool the rest (default 8, under Docker's 10)",
        )
        p.add_argument(
            "--publish-heartbeats", action="store_true", help="put OneBot heartbeats on the bus too"
        )
        p.add_argument(
            "--log-format",
            choices=["text", "json"],
            default=os.environ.get("QQBUS_LOG_FORMAT", "text"),
            help="log lines as text or one JSON object each (default: QQBUS_LOG_FORMAT, else text)",
        )
        p.add_argument("--verbose", action="store_true", help="log at DEBUG (every frame and call)")
        if name == "qq":
            p.add_argument("--app-id", help="the bot's AppID (default: QQ_BOT_APPID)")
            p.add_argument("--secret", help="the bot's secret (default: QQ_BOT_SECRET)")
            p.add_argument("--sandbox", action="store_true", help="use the sandbox API")
            p.add_argument("--api-base", help="OpenAPI base URL (overrides --sandbox)")
            p.add_argument("--token-url", help="getAppAccessToken URL")
            p.add_argument("--shards", type=int, help="shard count (default: what /gateway/bot recommends)")
            p.add_argument(
                "--intents",
                type=_intents,
                default=os.environ.get("QQ_INTENTS", ""),
                help="a bitmask or names: GROUP_AND_C2C_EVENT,INTERACTION (QQ_INTENTS; default 1<<25)",
            )
            p.add_argument(
                "--actions-queue",
                metavar="URL",
                help="perform the QQ sender's actions from this host (QqEgress=relay): the"
                " QqRelayActionQueueUrl output (default QQBUS_QQ_ACTIONS_QUEUE_URL)",
            )
            p.add_argument(
                "--failure-queue",
                metavar="URL",
                help="with --actions-queue: where an action QQ refuses for the IP whitelist is parked"
                " for a replay, the HandlerFailureQueueUrl output (default QQBUS_FAILURE_QUEUE_URL)",
            )
            p.add_argument(
                "--no-gateway",
                dest="gateway",
                action="store_false",
                help="no websocket gateway: only perform QQ actions (webhook bots with QqEgress=relay)",
            )
        else:
            p.add_argument("--listen", help="HOST:PORT for the reverse WebSocket (e.g. 0.0.0.0:8080)")
            p.add_argument("--connect", action="append", help="forward WebSocket URL of an implementation")
            p.add_argument("--access-token", help="OneBot access token (default: ONEBOT_ACCESS_TOKEN)")
            p.add_argument(
                "--actions-queue",
                metavar="URL",
                help="SQS queue of actions for reverse-WS bots (the RelayActionQueueUrl output;"
                " default QQBUS_ACTIONS_QUEUE_URL)",
            )

    p = sub.add_parser(
        "cost", help="estimate what a deployment costs, from measured calls per event and template.yaml"
    )
    p.add_argument("--events-per-day", type=_count, required=True, help="events the bot receives a day")
    p.add_argument("--replies", type=float, help="actions asked per event (default 0.2)")
    p.add_argument("--handler-ms", type=float, help="handler duration (default 60 ms)")
    p.add_argument("--ingress-ms", type=float, help="ingress duration (default 40 ms)")
    p.add_argument("--sender-ms", type=float, help="sender duration (default 150 ms)")
    _parameters_option(p)  # e.g. Tracing=Active

    p = sub.add_parser("new", help="scaffold a new piece of the project")
    new_sub = p.add_subparsers(dest="what", required=True)
    p = new_sub.add_parser(
        "handler", help="a handler for one event type, wired in template.yaml, with events/ and a test"
    )
    p.add_argument(
        "type", help="QQ t (FRIEND_ADD) or OneBot <post_type>.<type>[.<sub_type>] (notice.notify.poke)"
    )
    p.add_argument("--name", help="handler folder (default: from the type, e.g. onebot_notify_poke)")
    p.add_argument(
        "--writes-groups", action="store_true", help="give it the groups table (GROUPS_TABLE_NAME)"
    )
    p.add_argument(
        "--replies", action="store_true", help="let it ask for actions (EVENT_BUS_NAME, PutEvents)"
    )
    p.add_argument("--writes-users", action="store_true", help="give it the users table (USERS_TABLE_NAME)")

    p = sub.add_parser(
        "doctor", help="check a deployed stack (or `make dev`) for what a QQ bot in production still needs"
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument("--stack", metavar="NAME", help="a deployed stack: its Parameters and Outputs")
    source.add_argument("--local", action="store_true", help="the running `make dev` (.qqbus/dev.json)")
    p.add_argument("--state-file", help="with --local: the dev stack's state file (default .qqbus/dev.json)")
    p.add_argument("--region", help="the stack's AWS region (default: AWS_DEFAULT_REGION / the profile's)")
    p.add_argument(
        "--endpoint-url", help="AWS endpoint (default: AWS_ENDPOINT_URL, else AWS; tests use moto)"
    )
    p.add_argument("--webhook-url", help="the webhook to validate (default: the stack's QqWebhookUrl)")
    p.add_argument("--app-id", help="the bot's AppID (default: the stack's QqBotAppId)")
    p.add_argument("--secret", help="the bot's secret (default: the secret parameter, else QQ_BOT_SECRET)")
    p.add_argument(
        "--secret-parameter",
        help="SSM parameter (or secretsmanager:<id>) of the secret (default: QqBotSecretParameterName)",
    )
    p.add_argument("--egress", choices=["direct", "nat", "relay"], help="default: the stack's QqEgress")
    p.add_argument("--sandbox", choices=["true", "false"], help="default: the stack's QqSandbox")
    p.add_argument(
        "--token-url",
        help="getAppAccessToken URL (default: QQ_TOKEN_URL, else https://bots.qq.com/app/getAppAccessToken)",
    )
    p.add_argument("--skip-token", action="store_true", help="do not ask the token endpoint (offline)")

    p = sub.add_parser("invoke", help="run one handler in-process on an embedded moto (no Docker)")
    p.add_argument("function", help="handler folder (e.g. qq_group_add_robot) or logical id")
    p.add_argument("event", help="event JSON file (e.g. events/qq_group_add_robot.json)")
    _parameters_option(p)

    _project_option(sub)
    return parser


def _project_option(sub: Any) -> None:
    """``--project DIR`` on every subcommand too (``qqbus new handler X --project ../bot``)."""
    for command in sub.choices.values():
        nested = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
        for inner in nested:
            _project_option(inner)
        if not nested:  # SUPPRESS: not given here, the value before the subcommand stays
            command.add_argument("--project", metavar="DIR", default=argparse.SUPPRESS, help=PROJECT_HELP)


PROJECT_HELP = "the project to act on (default: the nearest directory upward with a template.yaml)"


def _parameters_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--parameter-overrides",
        nargs="+",
        action="extend",
        metavar="KEY=VALUE",
        help="template parameters, as for `sam deploy`: Key=Value or ParameterKey=Key,ParameterValue=Value,"
        " several at once (e.g. CommandAdmins=<your QQ openid>)",
    )


def _run(args: argparse.Namespace) -> int:
    if args.command == "dev":
        return _dev(args)
    if args.command == "send":
        from qqbus_dev.send import run as send

        return send(
            args.payload,
            args.url,
            keep_time=args.keep_time,
            keep_id=args.keep_id,
            wait=args.wait,
            state_file=_state_file(args),
            qq_appid=args.appid,
        )
    if args.command == "groups":
        return _groups(args)
    if args.command == "schedules":
        from qqbus_dev.scheduler_clock import run as schedules
        from qqbus_dev.state_file import read_state

        state_file = _state_file(args)
        state = read_state(state_file) if state_file else {}
        endpoint = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or state.get("aws_endpoint")
        region = state.get("region") or os.environ.get("AWS_DEFAULT_REGION")
        return schedules(endpoint, region, as_json=args.json)
    if args.command == "data":
        from qqbus_dev.data_view import run as data
        from qqbus_dev.state_file import read_state

        state_file = _state_file(args)
        return data(args, read_state(state_file) if state_file else {})
    if args.command == "relay":
        return _relay(args)
    if args.command == "cost":
        from qqbus_dev.cost import run as cost

        template_path = _project(args) / TEMPLATE_NAME
        return cost(
            args.events_per_day,
            template_path,
            _parameters(template_path, args.parameter_overrides, None)[0],
            replies=args.replies,
            handler_ms=args.handler_ms,
            ingress_ms=args.ingress_ms,
            sender_ms=args.sender_ms,
        )
    if args.command == "new":
        from qqbus_dev.scaffold import run as scaffold

        return scaffold(
            args.type,
            name=args.name,
            writes_groups=args.writes_groups,
            replies=args.replies,
            writes_users=args.writes_users,
            root=_project(args),
        )
    if args.command == "doctor":
        from qqbus_dev.doctor import run as doctor

        if args.local:
            args.state_file = args.state_file or _state_file(args)
        return doctor(args)
    from qqbus_dev.invoke import run as invoke

    template = _project(args) / TEMPLATE_NAME
    parameters, _ = _parameters(template, args.parameter_overrides, None)
    return invoke(args.function, args.event, template, parameters=parameters)


if __name__ == "__main__":
    sys.exit(main())
