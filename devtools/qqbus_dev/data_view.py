"""``qqbus data``: the bot data table (``BotDataTable``): the bot's own values and who waits in a
conversation, as text tables or JSON."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

from qqbus.bot_data import BOT_DATA_TABLE_ENV, BotData, DataItem

from qqbus_dev.groups_view import readable_time, render

DATA_COLUMNS = ("bot_id", "scope", "name", "value", "expires_at")
CONVERSATION_COLUMNS = ("bot_id", "chat", "user_id", "step", "turns", "status", "deadline")
#: The template names the table ``qqbus-<stage>-bot-data`` (the groups table ``-groups``).
TABLE_SUFFIX = "-bot-data"


@dataclass
class ConversationRow:
    """One conversation row, for people: where, who, on which step, how far, until when."""

    bot_id: str
    chat: str
    user_id: str
    step: str
    turns: int
    status: str
    deadline: int | None


def conversations(data: BotData, bot_id: str | None = None) -> list[ConversationRow]:
    """Every conversation row that has not expired (of ``bot_id``), sorted."""
    now, rows = int(time.time()), []
    for page in data.client.get_paginator("scan").paginate(TableName=data.table_name):
        for raw in page.get("Items", []):
            row = data.deserialize(raw)
            if not str(row.get("key", "")).startswith("conv#") or (bot_id and row.get("bot_id") != bot_id):
                continue
            if isinstance(row.get("expires_at"), int) and row["expires_at"] <= now:
                continue
            rows.append(
                ConversationRow(
                    str(row["bot_id"]),
                    str(row.get("chat", "")),
                    str(row.get("user_id", "")),
                    str(row.get("step", "")),
                    int(row.get("turns", 0)),
                    str(row.get("status", "")),
                    row.get("deadline"),
                )
            )
    return sorted(rows, key=lambda r: (r.bot_id, r.chat, r.user_id))


def _shown(items: list[DataItem]) -> list[DataItem]:
    """Values as one JSON line each, expiry as local time (for the text table)."""
    shown = []
    for item in items:
        value = item.value if isinstance(item.value, str) else json.dumps(item.value, ensure_ascii=False)
        expires: Any = readable_time(item.expires_at) if item.expires_at else None
        shown.append(DataItem(item.bot_id, item.scope, item.name, value[:60], item.updated_at, expires))
    return shown


def report(data: BotData, bot_id: str | None = None, as_json: bool = False) -> str:
    """The values, then the conversations."""
    items, waits = data.items(bot_id), conversations(data, bot_id)
    if as_json:
        return json.dumps(
            {"data": [asdict(i) for i in items], "conversations": [asdict(w) for w in waits]},
            indent=2,
            ensure_ascii=False,
        )
    return "\n".join(
        [
            "values",
            render(_shown(items), columns=DATA_COLUMNS),
            "",
            "conversations",
            render(waits, columns=CONVERSATION_COLUMNS),
        ]
    )


def find_table(client: Any, state: dict[str, Any]) -> str | None:
    """The running stack's bot data table: the one named like its groups table, else the only one."""
    names = [n for n in client.list_tables().get("TableNames", []) if n.endswith(TABLE_SUFFIX)]
    groups = str(state.get("groups_table") or "")
    if groups.endswith("-groups") and groups.removesuffix("-groups") + TABLE_SUFFIX in names:
        return groups.removesuffix("-groups") + TABLE_SUFFIX
    return names[0] if len(names) == 1 else None


def run(args: argparse.Namespace, state: dict[str, Any]) -> int:
    """``qqbus data [--bot ID] [--json] [--table NAME] [--endpoint-url URL]``."""
    endpoint = args.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or state.get("aws_endpoint")
    if endpoint:  # the local stack's moto: any credentials do
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    import boto3

    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=state.get("region") or os.environ.get("AWS_DEFAULT_REGION"),
    )
    table = (
        args.table or os.environ.get(BOT_DATA_TABLE_ENV) or (find_table(client, state) if endpoint else None)
    )
    if not table:
        print(
            f"no bot data table: start `make dev`, or pass --table / set {BOT_DATA_TABLE_ENV}",
            file=sys.stderr,
        )
        return 2
    print(report(BotData(table, client), args.bot, as_json=args.json))
    return 0
