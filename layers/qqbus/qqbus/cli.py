"""The ``qqbus`` command: the local stack, signed test posts, the groups table, one-off invokes."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path


def _dev(args: argparse.Namespace) -> int:
    from qqbus.local.functions import DevSecrets
    from qqbus.local.stack import LocalStack, StackOptions

    secrets = DevSecrets(qq=args.qq_secret, onebot=args.onebot_secret or None)
    options = StackOptions(
        host=args.host,
        port=args.port,
        aws_port=args.aws_port,
        stage=args.stage,
        secrets=secrets,
        verbose=args.verbose,
        retry_delay=args.retry_delay,
    )
    if args.template:
        options.template = Path(args.template)
    if args.state_file:
        options.state_file = Path(args.state_file)
    return LocalStack(options).run()


def _groups(args: argparse.Namespace) -> int:
    from qqbus.local.groups_view import render
    from qqbus.local.state_file import read_state
    from qqbus.state import DynamoGroupStore

    state = read_state()
    endpoint = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or state.get("aws_endpoint")
    table = args.table or os.environ.get("GROUPS_TABLE_NAME") or state.get("groups_table")
    if not table:
        print("no groups table: start `make dev`, or pass --table / set GROUPS_TABLE_NAME", file=sys.stderr)
        return 2
    if endpoint:  # the local stack's moto: any credentials do
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    import boto3

    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=state.get("region") or os.environ.get("AWS_DEFAULT_REGION"),
    )
    print(render(DynamoGroupStore(table, client).scan(args.bot), as_json=args.json))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from qqbus.local.functions import DEV_ONEBOT_SECRET, DEV_QQ_SECRET

    parser = argparse.ArgumentParser(prog="qqbus", description="QQ bot events on EventBridge, locally.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("dev", help="run the whole pipeline on 127.0.0.1 with an embedded AWS (moto)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3000, help="HTTP port of the webhooks (0: any free port)")
    p.add_argument("--aws-port", type=int, default=4566, help="port of the embedded AWS (0: any free port)")
    p.add_argument("--stage", default="local")
    p.add_argument("--template", help="template.yaml to run (default: the repository's)")
    p.add_argument("--qq-secret", default=os.environ.get("QQ_BOT_SECRET") or DEV_QQ_SECRET)
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

    p = sub.add_parser("send", help="sign a QQ or OneBot payload with the dev secret and post it")
    p.add_argument("payload", help="a platform payload, an events/ file, or a Function URL event")
    p.add_argument("--url", help="base URL of the stack (default: the running `qqbus dev`)")
    p.add_argument("--appid", help="X-Bot-Appid for a QQ payload")

    p = sub.add_parser("groups", help="print the groups table")
    p.add_argument("--json", action="store_true")
    p.add_argument("--bot", help="only this bot_id")
    p.add_argument("--endpoint-url", help="AWS endpoint (default: the running `qqbus dev`, else AWS)")
    p.add_argument("--table", help="table name (default: GROUPS_TABLE_NAME, else the running `qqbus dev`)")

    p = sub.add_parser("invoke", help="run one handler in-process on an embedded moto (no Docker)")
    p.add_argument("function", help="handler folder (e.g. qq_group_add_robot) or logical id")
    p.add_argument("event", help="event JSON file (e.g. events/qq_group_add_robot.json)")

    args = parser.parse_args(argv)
    if args.command == "dev":
        return _dev(args)
    if args.command == "send":
        from qqbus.local.send import run as send

        return send(args.payload, args.url, qq_appid=args.appid)
    if args.command == "groups":
        return _groups(args)
    from qqbus.local.invoke import run as invoke

    return invoke(args.function, args.event)


if __name__ == "__main__":
    sys.exit(main())
