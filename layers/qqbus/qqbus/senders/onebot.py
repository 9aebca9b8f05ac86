"""The OneBot sender: any OneBot v11 action, gated, over HTTP or through the relay.

Where a bot's actions go comes from ``ONEBOT_API_URL``: a URL (every bot), or a JSON object
``{"<self_id>": "<url>" | "relay", "*": ...}``; unset, or ``"relay"``, means the relay: the action
goes to the SQS queue ``RELAY_ACTIONS_QUEUE_URL``, the relay sends it as a
``{"action", "params", "echo"}`` frame on the bot's reverse WebSocket and reports the result.
Over HTTP: ``POST {url}/<action>`` with the params as JSON and ``Authorization: Bearer
<ONEBOT_ACCESS_TOKEN>``; ``{"status": "ok", "retcode": 0}`` (or ``async``) is success.
"""

from __future__ import annotations

import os

from qqbus.actions import Action, Result
from qqbus.aws import client
from qqbus.config import value_or_map
from qqbus.secrets import onebot_access_token
from qqbus.senders.gate import Refused, gate_onebot
from qqbus.senders.json_http import request_json
from qqbus.senders.onebot_message import InvalidMessage, checked_action
from qqbus.senders.outcome import SendContext, failed, refused, sent

RELAY = "relay"
RELAY_QUEUE_ENV = "RELAY_ACTIONS_QUEUE_URL"


def route(bot_id: str) -> str:
    """The API base URL of ``bot_id``, or ``"relay"``.

    Raises
    ------
    ValueError
        When ``ONEBOT_API_URL`` is a JSON object that does not parse.
    """
    routes = value_or_map(os.environ.get("ONEBOT_API_URL", ""), "ONEBOT_API_URL")
    if isinstance(routes, str):
        return routes or RELAY
    return str(routes.get(bot_id) or routes.get("*") or RELAY)


def perform(action: Action, ctx: SendContext) -> Result | None:
    """Gate and send one OneBot action; None when the relay will report its result."""
    try:  # a message is checked whole before anything is sent (qqbus.senders.onebot_message)
        action = checked_action(action)
    except InvalidMessage as exc:
        return failed(action, exc.reason, str(exc))
    group = ctx.groups().get(action.bot_id, action.target.group_id) if action.target.group_id else None
    decision = gate_onebot(action, group, ctx.now)
    if isinstance(decision, Refused):
        return refused(action, decision.reason, decision.message)
    try:
        where = route(action.bot_id)
    except ValueError as exc:
        return failed(action, "no_route", str(exc))
    if where == RELAY:
        queue = os.environ.get(RELAY_QUEUE_ENV, "").strip()
        if not queue:
            return failed(action, "no_route", f"no ONEBOT_API_URL for bot {action.bot_id} and no relay queue")
        body = action.model_dump_json(exclude_none=True)
        client("sqs").send_message(QueueUrl=queue, MessageBody=body)
        return None
    headers = {"X-Self-ID": action.bot_id}  # not in the spec; lets one API front several bots
    if token := onebot_access_token():
        headers["Authorization"] = f"Bearer {token}"
    url = f"{where.rstrip('/')}/{action.action}"
    response = ctx.retrying.call(
        lambda: request_json("POST", url, action.params, headers), deadline=ctx.deadline
    )
    if response.status in (401, 403):
        return failed(
            action, "unauthorized", f"the OneBot API answered {response.status}", code=response.status
        )
    if response.status == 404:
        return failed(action, "unsupported_action", f"the OneBot API has no {action.action}", code=404)
    data = response.json()
    if response.status >= 300 or not isinstance(data, dict):
        return failed(action, f"http_{response.status}", response.body[:200].decode("utf-8", "replace"))
    return result_of(action, data, mode="http")


def result_of(action: Action, answer: dict[str, object], *, mode: str) -> Result:
    """The result of a OneBot API answer ``{"status", "retcode", "data", "wording"|"msg"}``; its
    ``data`` rides along (a query's answer: ``qqbus.queries`` types it)."""
    status, retcode = answer.get("status"), answer.get("retcode")
    data = answer.get("data")
    message_id = data.get("message_id") if isinstance(data, dict) else None
    if status in ("ok", "async") and retcode in (0, 1, None):
        return sent(
            action,
            mode=mode,
            platform_message_id=None if message_id is None else str(message_id),
            data=data,
        )
    words = str(answer.get("wording") or answer.get("message") or answer.get("msg") or status)
    return failed(
        action,
        f"onebot_{retcode}",
        words,
        code=retcode if isinstance(retcode, int) else None,
        mode=mode,
        data=data,
    )
