"""The ``qqbus`` command: local runs of the stack and its handlers."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="qqbus", description="QQ bot events on EventBridge, locally.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("invoke", help="run one handler in-process on an embedded moto (no Docker)")
    p.add_argument("function", help="handler folder (e.g. qq_group_add_robot) or logical id")
    p.add_argument("event", help="event JSON file (e.g. events/qq_group_add_robot.json)")

    args = parser.parse_args(argv)
    if args.command == "invoke":
        from qqbus.local.invoke import run

        return run(args.function, args.event)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
