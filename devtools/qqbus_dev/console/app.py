"""The console of a running ``LocalStack``: what its pages read, and what their buttons do.

It listens to the stack's trace (every step of every event), keeps the bus events the workers
deliver (so a click shows the payload and detail, also of events that came through the relay),
and answers the pages' requests (``routes``). Two hooks in the stack call it: ``delivering``
before a function is invoked (the group row before, for the state change), and the HTTP server's
routing of ``/`` and ``/console/...``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from qqbus.actions import ACTION_SOURCE, Action, Outbox, Target
from qqbus.bot_data import BotData
from qqbus.events.message import Segment
from qqbus.events.qq import SOURCE as QQ_SOURCE

from qqbus_dev.console.feed import Feed
from qqbus_dev.console.payloads import message_id_of
from qqbus_dev.console.queues import FailureQueues
from qqbus_dev.console.sandbox import (
    Bot,
    Entry,
    Posted,
    Sandbox,
    SandboxError,
    conversation_key,
    describe_payload,
)
from qqbus_dev.console.tables import item_to_row, render, scan
from qqbus_dev.data_view import report
from qqbus_dev.functions import DEV_QQ_APPID
from qqbus_dev.scheduler_clock import pending
from qqbus_dev.trace import EventTrace, Step

if TYPE_CHECKING:
    from collections.abc import Callable

    from qqbus_dev.console.port import StackPort
    from qqbus_dev.functions import LocalFunction

#: The OneBot bot the sandbox starts with (the self_id of the samples in events/).
DEFAULT_ONEBOT_BOT = "123456789"
#: Tables that are the machinery's own ledgers, not state a bot developer reads.
INTERNAL_TABLES = ("IdempotencyTable", "ActionsTable")
#: Tables the State tab leaves to a tab of their own (Bot data: ``qqbus data``'s view of it).
OWN_TAB_TABLES = ("BotDataTable",)
#: OneBot notices that take a message back (``message_id`` names it).
RECALL_NOTICES = ("group_recall", "friend_recall")
#: Bus events kept for the detail view.
KEEP_EVENTS = 2000
#: QQ events that say the bot is (True) or is no longer (False) in the event's group.
QQ_MEMBERSHIP = {"GROUP_ADD_ROBOT": True, "GROUP_DEL_ROBOT": False, "GROUP_AT_MESSAGE_CREATE": True}


class Watch:
    """One invocation's view of the group row it may change: read before, compared after."""

    def __init__(self, console: Console, table: str | None, key: dict[str, str] | None) -> None:
        self.console = console
        self.table = table
        self.key = key
        self.before = self._read() if table and key else None

    def _read(self) -> dict[str, Any] | None:
        assert self.table and self.key
        try:  # a peek at the stack's table
            item = self.console.stack.peek(self.table, {k: {"S": v} for k, v in self.key.items()})
        except Exception:  # a missing diff is no reason to fail an invocation (tests/console guard the read)
            return None
        return item_to_row(item) if item else None

    def changes(self) -> dict[str, Any]:
        """``{"state": {table, key, before, after}}`` when the row changed, else ``{}``."""
        if not (self.table and self.key):
            return {}
        after = self._read()
        if after == self.before:
            return {}
        return {"state": {"table": self.table, "key": self.key, "before": self.before, "after": after}}


def group_of(event: dict[str, Any]) -> str | None:
    """The group an event is about: OneBot ``group_id``, QQ ``d.group_openid``."""
    payload = (event.get("detail") or {}).get("payload")
    if not isinstance(payload, dict):
        return None
    if payload.get("group_id") is not None and "post_type" in payload:
        return str(payload["group_id"])
    d = payload.get("d")
    return str(d["group_openid"]) if isinstance(d, dict) and d.get("group_openid") else None


class Console:
    def __init__(self, stack: StackPort) -> None:
        import boto3

        self.stack = stack
        self.feed = Feed()
        self.dynamodb = boto3.client("dynamodb")
        self.events = boto3.client("events")
        self.scheduler = boto3.client("scheduler")
        self.queues = FailureQueues(
            stack.template, dict(stack.queue_urls), boto3.client("sqs"), self.events, stack.bus_name
        )
        self.rules = {
            name: f"{name}{key}"
            for name, fn in stack.functions.items()
            for key, spec in (fn.spec.properties.get("Events") or {}).items()
            if spec.get("Type") == "EventBridgeRule"
        }
        self._events: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._bots_seen: list[str] = []
        self.sandbox = Sandbox(
            [Bot("qq", DEV_QQ_APPID), Bot("onebot", DEFAULT_ONEBOT_BOT)],
            post=self._post,
            publish=self.feed.publish,
            extra_bots=self._connected_bots,
            member_hint=self._member_in_table,
        )
        stack.trace.listeners.append(self._on_step)

    def close(self) -> None:
        self.feed.close()

    # --- hooks the stack calls ------------------------------------------------------------

    def delivering(self, fn: LocalFunction, event: dict[str, Any]) -> Watch:
        """``fn`` is about to get ``event``: keep the event, and watch the group row it may change."""
        detail = event.get("detail") or {}
        is_action = event.get("source") == ACTION_SOURCE
        if not is_action and detail.get("event_id"):
            self._remember(str(detail["event_id"]), event)
        table = fn.env.get("GROUPS_TABLE_NAME")
        group = None if is_action else group_of(event)
        key = {"bot_id": str(detail.get("bot_id")), "group_id": group} if group and table else None
        return Watch(self, table, key)

    def _remember(self, event_id: str, event: dict[str, Any]) -> None:
        self._track_membership(event)
        with self._lock:
            known = event_id in self._events
            self._events[event_id] = event
            while len(self._events) > KEEP_EVENTS:
                self._events.popitem(last=False)
        if known or self.sandbox.entry(f"event:{event_id}") is not None:
            return
        detail = event.get("detail") or {}
        self._track_recall(detail)
        said = describe_payload(detail.get("payload") or {})
        if said is None or not said["user_id"]:
            return  # only messages from outside the sandbox (relay, `qqbus send`) join the chat
        bot_key = f"{said['protocol']}:{detail.get('bot_id')}"
        if all(b.key != bot_key for b in self.sandbox.bots()):
            self.sandbox.add_bot(said["protocol"], str(detail.get("bot_id")))
        self.sandbox.seen(
            said["protocol"], user_id=said["user_id"], group_id=said["group_id"], name=said["name"]
        )
        key = conversation_key(bot_key, group_id=said["group_id"], user_id=said["user_id"])
        name = said["name"] or self.sandbox.person(said["protocol"], said["user_id"]).name
        note = f"via {detail.get('transport', '?')}"
        payload = detail.get("payload") or {}
        segments = payload.get("message")
        self.sandbox.record(
            Entry(
                f"event:{event_id}",
                key,
                "user",
                said["text"],
                name,
                "delivered",
                note,
                event_id,
                message=segments if isinstance(segments, list) else None,  # images and all, as sent
                message_id=message_id_of(payload),
            )
        )

    def _track_recall(self, detail: dict[str, Any]) -> None:
        """A OneBot recall notice (someone took a message back): the message is marked recalled."""
        payload = detail.get("payload")
        if not isinstance(payload, dict) or payload.get("notice_type") not in RECALL_NOTICES:
            return
        if payload.get("message_id") is not None:
            who = payload.get("operator_id") or payload.get("user_id")
            bot_key = f"onebot:{detail.get('bot_id')}"
            self.sandbox.recalled(bot_key, str(payload["message_id"]), by=f"user {who}")

    def _track_membership(self, event: dict[str, Any]) -> None:
        """A QQ join, leave or group message (also from outside the sandbox) settles membership."""
        detail = event.get("detail") or {}
        payload = detail.get("payload")
        if not isinstance(payload, dict) or payload.get("t") not in QQ_MEMBERSHIP:
            return
        d = payload.get("d")
        if isinstance(d, dict) and d.get("group_openid") and event.get("source") == QQ_SOURCE:
            member = QQ_MEMBERSHIP[str(payload["t"])]
            self.sandbox.set_member(f"qq:{detail.get('bot_id')}", str(d["group_openid"]), member)

    def _member_in_table(self, bot_key: str, group_id: str) -> bool:
        """The groups table's ``member`` for a pair the sandbox has not seen joining or leaving."""
        protocol, _, bot_id = bot_key.partition(":")
        table = self.stack.tables.get("GroupsTable")
        if protocol != "qq" or table is None:
            return False
        try:
            item = self.stack.peek(table, {"bot_id": {"S": bot_id}, "group_id": {"S": group_id}})
        except Exception:  # no table to read: the bot was never added
            return False
        return item is not None and item_to_row(item).get("member") is True

    def _on_step(self, ev: EventTrace, step: Step) -> None:
        self.feed.publish("trace", self.summary(ev))
        if step.kind in ("action", "result"):
            action = ev.actions.get(str(step.data.get("action_id")))
            if action is not None:
                self.sandbox.on_action(action, action.get("result") if step.kind == "result" else None)
        elif step.kind == "invocation" and "state" in step.data:
            self.feed.publish("state", step.data["state"])
        elif step.kind == "parked":
            self.feed.publish("failures", {"event_id": ev.event_id})

    # --- what the pages read --------------------------------------------------------------

    def summary(self, ev: EventTrace, *, full: bool = False) -> dict[str, Any]:
        """An event's trace for the page (``full``: with the ingress body)."""
        with self._lock:
            stored = self._events.get(ev.event_id) or {}
        detail = stored.get("detail") or {}
        steps = []
        for s in ev.ordered_steps():
            data = dict(s.data)
            if not full:
                data.pop("body", None)
            if "function" in data:
                data["rule"] = self.rules.get(str(data["function"]))
            steps.append({"kind": s.kind, "line": s.line, "at": s.at, "data": data})
        actions = []
        for action_id, action in list(ev.actions.items()):
            actions.append(
                {
                    "action_id": action_id,
                    "detail_type": f"{action.get('protocol')}.{action.get('action')}",
                    "target": action.get("target"),
                    "message": action.get("message"),
                    "result": action.get("result"),
                }
            )
        return {
            "event_id": ev.event_id,
            "detail_type": ev.detail_type if ev.detail_type != "-" else stored.get("detail-type", "-"),
            "source": ev.source or stored.get("source", ""),
            "bot_id": ev.bot_id or str(detail.get("bot_id", "")),
            "transport": detail.get("transport"),
            "at": min((s.at for s in ev.steps), default=time.time()),
            "steps": steps,
            "actions": actions,
        }

    def snapshot(self) -> dict[str, Any]:
        feed_id = self.feed.last_id  # first: what is published after it reaches the page as well
        return {
            "feed_id": feed_id,
            **self.sandbox.entities(),
            "conversations": self.sandbox.conversations(),
            "traces": [self.summary(ev) for ev in self.stack.trace.recent(300)],
            "http": self.stack.http_url,
        }

    def event(self, event_id: str) -> dict[str, Any] | None:
        """One event in full: its trace, the bus event as delivered, and the platform payload."""
        ev = self.stack.trace.get(event_id)
        with self._lock:
            stored = self._events.get(event_id)
        if ev is None and stored is None:
            return None
        payload = (stored or {}).get("detail", {}).get("payload") if stored else None
        if payload is None and ev is not None:
            for step in ev.steps:
                if step.kind in ("ingress", "refused") and "body" in step.data:
                    try:
                        payload = json.loads(step.data["body"])
                    except ValueError:
                        payload = step.data["body"]
                    break
        return {
            "trace": self.summary(ev, full=True) if ev is not None else None,
            "event": stored,
            "payload": payload,
        }

    def state(self) -> dict[str, Any]:
        tables = [
            render(logical_id, scan(self.dynamodb, name)) | {"table": name}
            for logical_id, name in self.stack.tables.items()
            if logical_id not in INTERNAL_TABLES + OWN_TAB_TABLES
        ]
        return {"tables": tables, "now": time.time(), "timezone": time.strftime("%Z")}

    def schedules(self) -> dict[str, Any]:
        """What ``qqbus schedules`` lists: one-time schedules (``due``) and recurring ones."""
        rows = pending(self.scheduler)
        return {
            "once": [r for r in rows if str(r["expression"]).startswith("at(")],
            "recurring": [r for r in rows if not str(r["expression"]).startswith("at(")],
            "now": time.time(),
        }

    def bot_data(self) -> dict[str, Any]:
        """What ``qqbus data --json`` prints: the bot's values and the conversations waiting."""
        table = self.stack.tables.get("BotDataTable")
        if table is None:
            return {"table": None, "data": [], "conversations": []}
        shown: dict[str, Any] = json.loads(report(BotData(table, self.dynamodb), as_json=True))
        return {"table": table, **shown}

    def failures(self) -> dict[str, Any]:
        return {"queues": self.queues.listing(), "fakes": sorted(self.stack.fakes), "faults": self.faults()}

    def faults(self) -> dict[str, int]:
        """Each fake API's injected faults not answered yet."""
        return {name: fake.pending_faults for name, fake in sorted(self.stack.fakes.items())}

    # --- what the buttons do --------------------------------------------------------------

    def _post(self, payload: dict[str, Any], bot: Bot, before: Callable[[str | None], None]) -> Posted:
        """Sign ``payload`` as its platform would and post it to the stack's own ingress."""
        return self.stack.submit(payload, qq_appid=bot.id if bot.protocol == "qq" else None, before=before)

    def bot_posts(
        self, bot_key: str, message: str | list[Segment], *, group_id: str | None, user_id: str | None
    ) -> str:
        """The bot posts unprompted (as a scheduled job would): one action on the bus; its trace id.
        ``message`` is text, or segments (markdown, a keyboard, media...: how they look here)."""
        bot = self.sandbox.bot(bot_key)
        if group_id is not None:
            self.sandbox.group(bot.protocol, group_id)
        elif user_id is not None:
            self.sandbox.person(bot.protocol, user_id)
        else:
            raise SandboxError("the bot posts to a group or a user: give one")
        outbox = self._outbox(bot.id, "console.bot_posts")
        if group_id is not None:
            action = outbox.send_group(bot.protocol, group_id, message)
        else:
            action = outbox.send_private(bot.protocol, str(user_id), message)
        where = f"group {group_id}" if group_id is not None else f"user {user_id}"
        shown = message if isinstance(message, str) else action.text or f"{len(message)} segments"
        line = f"** console: the bot posts unprompted to {where}: {json.dumps(shown, ensure_ascii=False)}"
        return self._ask(outbox, action, line, {"text": shown})

    def recall(self, bot_key: str, entry_id: str) -> str:
        """The bot takes back a message of the chat (QQ ``recall``, OneBot ``delete_msg``), as a
        handler would ask: one action on the bus; its trace id."""
        bot = self.sandbox.bot(bot_key)
        entry = self.sandbox.entry(entry_id)
        if entry is None or not entry.conversation.startswith(f"{bot.key}:"):
            raise SandboxError(f"no message {entry_id!r} in a chat of {bot.key}")
        if not entry.message_id:
            raise SandboxError("that message has no platform message id (not sent, or not a message)")
        outbox = self._outbox(bot.id, "console.recall")
        params: dict[str, Any] = {"message_id": entry.message_id}
        if bot.protocol == "qq":
            place = entry.conversation.removeprefix(f"{bot.key}:")
            kind, _, chat = place.partition(":")
            target = Target(group_id=chat) if kind == "group" else Target(user_id=chat)
            action = outbox.ask("qq", "recall", target=target, params=params)
        else:  # OneBot message ids are int32 (go-cqhttp refuses a string one)
            mid = entry.message_id
            params["message_id"] = int(mid) if str(mid).lstrip("-").isdigit() else mid
            action = outbox.ask("onebot", "delete_msg", params=params)
        line = f"** console: the bot recalls message {entry.message_id}"
        return self._ask(outbox, action, line, {"message_id": entry.message_id})

    def _outbox(self, bot_id: str, detail_type: str) -> Outbox:
        """An outbox for what the console asks in the bot's name (its own event id: its trace)."""
        return Outbox(
            bot_id=bot_id, event_id=f"console:{uuid.uuid4()}", detail_type=detail_type, function="console"
        )

    def _ask(self, outbox: Outbox, action: Action, line: str, data: dict[str, Any]) -> str:
        """Trace the console's request, show it in the chat, and put the action on the bus."""
        self.stack.trace.add(
            outbox.event_id,
            Step("console", line, data={"origin": "console", **data}),
            detail_type=outbox.detail_type,
            source="qqbus.console",
            bot_id=outbox.bot_id,
        )
        self.sandbox.on_action(action.model_dump(mode="json", exclude_none=True), None)
        answer = self.events.put_events(Entries=outbox.entries(self.stack.bus_name))
        if answer.get("FailedEntryCount"):
            raise RuntimeError(f"the bus refused the action: {answer['Entries']}")
        return outbox.event_id

    def replay(self, queue: str, message_id: str) -> dict[str, Any]:
        info = self.queues.replay(queue, message_id)
        self.stack.say(f"** console: replayed {info.get('detail_type')} from {queue} (message {message_id})")
        self.feed.publish("failures", {"replayed": message_id})
        return info

    def fault(self, api: str, status: int, times: int, kind: str = "status") -> dict[str, Any]:
        """The fake ``api`` answers the next ``times`` requests with ``status``, or with the named
        fault ``kind`` (``ip_not_whitelisted``: QQ's 401 with code 11298)."""
        fake = self.stack.fakes.get(api)
        if fake is None:
            raise SandboxError(f"no fake API {api!r}; there are: {', '.join(sorted(self.stack.fakes))}")
        if kind != "status":
            if api != "qq":
                raise SandboxError(f"{kind} is a QQ API fault; the {api} API has no IP whitelist")
            status = fake.inject(kind, times)
            self.stack.say(
                f"** console: the fake {api} API answers {kind} ({status}) to its next {times} requests"
            )
            self.feed.publish("failures", {"faults": self.faults()})
            return {"api": api, "status": status, "times": times, "kind": kind, "faults": self.faults()}
        body: dict[str, Any] = (
            {"code": status, "message": "fault injected by the console"}
            if api == "qq"
            else {"status": "failed", "retcode": status, "wording": "fault injected by the console"}
        )
        fake.fail_next(status, body, {}, times)
        self.stack.say(f"** console: the fake {api} API answers {status} to its next {times} requests")
        self.feed.publish("failures", {"faults": self.faults()})
        return {"api": api, "status": status, "times": times, "kind": kind, "faults": self.faults()}

    def clear_faults(self, api: str | None = None) -> dict[str, Any]:
        """Forget the faults injected into the fake ``api`` (every fake: None) not answered yet."""
        if api is not None and api not in self.stack.fakes:
            raise SandboxError(f"no fake API {api!r}; there are: {', '.join(sorted(self.stack.fakes))}")
        names = [api] if api is not None else sorted(self.stack.fakes)
        cleared = {name: self.stack.fakes[name].clear_faults() for name in names}
        self.stack.say(
            f"** console: cleared the injected faults ({', '.join(f'{k} {v}' for k, v in cleared.items())})"
        )
        self.feed.publish("failures", {"faults": self.faults()})
        return {"cleared": cleared, "faults": self.faults()}

    # --- bots that come and go ------------------------------------------------------------

    def _connected_bots(self) -> list[Bot]:
        return [Bot(b.protocol, b.id, b.via) for b in self.stack.connected_bots()]

    def check_bots(self) -> None:
        """Tell the pages when a reverse-WebSocket bot connected or left."""
        keys = sorted(f"{b.key}/{b.via}" for b in self._connected_bots())
        with self._lock:
            changed, self._bots_seen = keys != self._bots_seen, keys
        if changed:
            self.feed.publish("sandbox", self.sandbox.entities())
