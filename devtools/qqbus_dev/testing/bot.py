"""``Bot``: receive an event as the deployed stack would, and see what the handler did.

``bot.receive(event)`` puts the event on the template's bus (moto), lets the template's rules
pick the functions, and runs each one's ``handlers/<name>/app.py`` with its Environment from
template.yaml and a Lambda context, as ``make dev`` does. The actions they ask for are read back
from the bus (they reach the senders' queues), and each is put through the sender's own gate
against the state the run left (``qqbus.senders``): a reply into a group where the bot is muted
shows as refused (``muted``), as it would be in AWS. No platform API is called.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qqbus import aws
from qqbus.actions import ACTION_SOURCE, Action, Result
from qqbus.state import DynamoGroupStore, DynamoUserStore, GroupState, UserState

from qqbus_dev.functions import DevSecrets, LocalFunction, function_environment
from qqbus_dev.provision import local_refs
from qqbus_dev.testing.events import Event, OneBotEvents, QQEvents, event_from
from qqbus_dev.testing.received import Call, Outcome, Received, Write
from qqbus_dev.testing.stack import KitStack

__all__ = ["Bot", "NoHandler"]


class NoHandler(LookupError):
    """No function of the template takes the event (it would go to the catch-all)."""


def _metrics(lines: list[dict[str, Any]]) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in lines:
        for directive in line.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in directive.get("Metrics", []):
                value = line.get(metric["Name"], 0)
                found[metric["Name"]] = found.get(metric["Name"], 0) + sum(
                    value if isinstance(value, list) else [value]
                )
    return found


def _spec_of(event: Event) -> str:
    sub_type = event.payload.get("sub_type") if event.source == "onebot.v11" else None
    return f"{event.detail_type}.{sub_type}" if isinstance(sub_type, str) and sub_type else event.detail_type


class _Rows:
    """A state table as a test sees it: rows by id, for the bot of either protocol."""

    def __init__(self, bot: Bot, logical_id: str, key: str) -> None:
        self._bot = bot
        self._logical_id = logical_id
        self._key = key

    def _table(self) -> str:
        stack = self._bot.stack
        if self._logical_id not in stack.tables:
            raise LookupError(f"template.yaml has no {self._logical_id}")
        return stack.tables[self._logical_id]

    def _bot_ids(self, bot_id: str | None) -> list[str]:
        return [bot_id] if bot_id is not None else [str(self._bot.onebot.self_id), self._bot.qq.appid]

    def items(self) -> list[dict[str, Any]]:
        """Every row, as plain Python."""
        self._table()
        return self._bot.stack.items(self._logical_id)

    def put(
        self, key: str | int, *, protocol: str | None = None, bot_id: str | None = None, **attributes: Any
    ) -> None:
        """Arrange a row before an event: ``bot.groups.put(987654321, member=True, muted_until=...)``
        (``protocol`` and ``bot_id`` default from the id: digits are OneBot)."""
        onebot = str(key).isdigit() if protocol is None else protocol == "onebot"
        item = {
            "bot_id": bot_id or (str(self._bot.onebot.self_id) if onebot else self._bot.qq.appid),
            self._key: str(key),
            "protocol": protocol or ("onebot" if onebot else "qq"),
            **attributes,
        }
        from boto3.dynamodb.types import TypeSerializer

        serialize = TypeSerializer().serialize
        self._bot.stack.client("dynamodb").put_item(
            TableName=self._table(), Item={k: serialize(v) for k, v in item.items() if v is not None}
        )


class Groups(_Rows):
    """The groups table: ``bot.groups.get(987654321)`` is that group's ``GroupState`` or None."""

    def get(self, group_id: str | int, *, bot_id: str | None = None) -> GroupState | None:
        store = DynamoGroupStore(self._table())
        for bid in self._bot_ids(bot_id):
            if (state := store.get(bid, str(group_id))) is not None:
                return state
        return None

    def all(self) -> list[GroupState]:
        return DynamoGroupStore(self._table()).scan()


class Users(_Rows):
    """The users table: ``bot.users.get(openid)`` is that user's ``UserState`` or None."""

    def get(self, user_id: str | int, *, bot_id: str | None = None) -> UserState | None:
        store = DynamoUserStore(self._table())
        for bid in self._bot_ids(bot_id):
            if (state := store.get(bid, str(user_id))) is not None:
                return state
        return None

    def all(self) -> list[UserState]:
        return DynamoUserStore(self._table()).scan()


class Bot:
    """One test's bot: event builders for both protocols, ``receive``, and the state tables.

    Made by the ``bot`` fixture (``qqbus_dev.testing.plugin``) on an open ``KitStack``.
    """

    def __init__(self, stack: KitStack, *, clock: Callable[[], float] = time.time) -> None:
        if not stack.is_open:
            raise RuntimeError("the kit's AWS is not open: use the bot fixture")
        self.stack = stack
        self.onebot = OneBotEvents(clock=clock)
        self.qq = QQEvents(clock=clock)
        self.groups = Groups(self, "GroupsTable", "group_id")
        self.users = Users(self, "UsersTable", "user_id")
        self._refs = stack.refs
        self._functions: dict[str, LocalFunction] = {}
        from qqbus.senders.ledger import InMemoryLedger

        self._ledger = InMemoryLedger()

    @property
    def project(self) -> Path:
        return self.stack.project

    def reset(self) -> None:
        """Start again within a test: empty tables and queues, handler modules loaded afresh."""
        self.stack.empty()
        self._functions.clear()
        self._ledger = type(self._ledger)()
        aws.reset()

    # --- configuration ---------------------------------------------------------------------

    def set_parameters(self, **values: str) -> None:
        """Template parameters for the functions' environments from now on, as
        ``--parameter-overrides`` gives them: ``bot.set_parameters(CommandAdmins="42")``."""
        self.stack.template.check_parameters(values)
        params = {**self.stack.parameters, **values}
        refs = local_refs(
            self.stack.template, region=self.stack.region, stage=self.stack.stage, parameters=params
        )
        refs.update(self.stack.queues)
        self._refs = refs
        self._functions.clear()

    def function(self, name: str) -> LocalFunction:
        """The template's function by handler folder or logical id, loaded with its Environment."""
        specs = self.stack.template.functions()
        matches = [s for s in specs if name in (s.folder, s.logical_id)]
        if not matches:
            known = ", ".join(sorted(s.folder for s in specs))
            raise NoHandler(f"template.yaml has no function {name!r} (handler folders: {known})")
        spec = matches[0]
        if spec.logical_id not in self._functions:
            env = function_environment(spec, self._refs, DevSecrets())
            self._functions[spec.logical_id] = LocalFunction(spec, env, self.project)
        return self._functions[spec.logical_id]

    # --- receiving -------------------------------------------------------------------------

    def receive(self, event: Event | dict[str, Any] | str | Path, *, handler: str | None = None) -> Received:
        """Deliver ``event`` (an ``Event``, a payload, an EventBridge event or a file) and return
        what happened. The template's rules choose the functions; ``handler`` (a folder or
        logical id) runs that one instead.

        Raises
        ------
        NoHandler
            When no function's rule takes the event.
        """
        ev = event if isinstance(event, Event) else event_from(event)
        if handler is not None:
            deliveries = [(self.function(handler), ev.bus_event())]
        else:
            deliveries = [(self.function(logical_id), ev.bus_event()) for logical_id in self._route(ev)]
        # The tables the functions can write: those their Environment names (as their policies do).
        named = {str(v) for fn, _ in deliveries for v in fn.env.values() if v is not None}
        tables = [t for t, name in self.stack.tables.items() if name in named]
        before = self.stack.state(tables)
        values: dict[str, Any] = {}
        logs: list[str] = []
        out = io.StringIO()
        for fn, bus_event in deliveries:
            with contextlib.redirect_stdout(out):
                values[fn.name] = fn.invoke(bus_event, logs=logs)
        actions = self._actions()
        outcomes = [self._gate(a, ev) for a in actions]
        parsed = []
        for line in [*logs, *out.getvalue().splitlines()]:  # log lines, EMF metrics, what it printed
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if isinstance(record, dict):
                parsed.append(record)
            elif line not in logs:
                print(line)  # a handler's own print() stays visible
        return Received(
            event=ev,
            functions=[fn.name for fn, _ in deliveries],
            values=values,
            actions=actions,
            outcomes=outcomes,
            writes=self._writes(before, self.stack.state(tables)),
            logs=[p for p in parsed if "level" in p],  # an EMF-only line has no level
            metrics=_metrics(parsed),
        )

    def answer(
        self,
        asked: Call | Action,
        data: Any = None,
        *,
        outcome: str = "sent",
        reason: str | None = None,
        message: str | None = None,
    ) -> Received:
        """What the platform answered an action: its result goes on the bus as the sender would
        put it (``sent`` with ``data``: OneBot's ``data``, QQ's body; or ``refused``/``failed``
        with a ``reason``), and the functions that take results run (a query's step answers).

        ``bot.answer(result.should_call("get_group_member_info"), {"nickname": "Ann"})``
        """
        from qqbus.actions import RESULT_SOURCE
        from qqbus.senders.outcome import failed, refused, sent

        action = asked.action if isinstance(asked, Call) else asked
        if outcome == "sent":
            made = sent(action, **({} if data is None else {"data": data}))
        else:
            report = refused if outcome == "refused" else failed
            made = report(action, reason or "onebot_100", message or f"{action.action} {outcome}")
        entry = made.entry(self.stack.routes.bus_name if self.stack.routes else "")
        return self.receive(Event(RESULT_SOURCE, entry["DetailType"], json.loads(entry["Detail"])))

    def _route(self, ev: Event) -> list[str]:
        """The functions whose rules take ``ev`` (logical ids): the bus decides, once per kind of
        event (the values of the fields the template's patterns look at; ``KitStack.route_key``)."""
        routes = self.stack.routes
        assert routes is not None
        key = self.stack.route_key(ev.source, ev.detail_type, ev.detail)
        reached = self.stack.route_cache.get(key)
        if reached is None:
            answer = self.stack.client("events").put_events(Entries=[ev.entry(routes.bus_name)])
            if answer.get("FailedEntryCount"):
                raise ValueError(f"the bus refused {ev}: {answer['Entries'][0]}")
            reached = self.stack.route_cache[key] = [str(m["function"]) for m in self._tapped()]
        if not reached:
            raise NoHandler(
                f"no function in {self.project / 'template.yaml'} takes {ev}: it goes to the catch-all. "
                f"Add one: qqbus new handler {_spec_of(ev)}"
            )
        return reached

    def _tapped(self) -> list[dict[str, Any]]:
        """What the functions' rules delivered since the last look: ``{"function", "event"}`` each."""
        sqs, url = self.stack.client("sqs"), self.stack.tap
        found: list[dict[str, Any]] = []
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            found += [json.loads(m["Body"]) for m in messages]
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
            if len(messages) < 10:  # moto hands over every visible message: the queue is empty
                break
        return found

    def _actions(self) -> list[Action]:
        """The actions the run put on the bus, as the senders' rules delivered them."""
        found: dict[str, Action] = {}
        for message in self._tapped():
            event = message.get("event") or {}
            if event.get("source") == ACTION_SOURCE:
                action = Action.model_validate(event["detail"])
                found.setdefault(action.action_id, action)
        return sorted(
            found.values(), key=lambda a: (a.origin.function, a.origin.index) if a.origin else ("", 0)
        )

    def _gate(self, action: Action, ev: Event) -> Outcome:
        """What the protocol's sender would do with ``action`` right after the event."""
        from qqbus.senders.gate import Refused, gate_onebot
        from qqbus.senders.outcome import SendContext
        from qqbus.senders.qq import prepare
        from qqbus.state import InMemoryGroupStore, InMemoryUserStore

        now = self._event_time(ev)
        tables = self.stack.tables
        groups = DynamoGroupStore(tables["GroupsTable"]) if "GroupsTable" in tables else InMemoryGroupStore()
        users = DynamoUserStore(tables["UsersTable"]) if "UsersTable" in tables else InMemoryUserStore()
        if action.protocol == "onebot":
            group = groups.get(action.bot_id, action.target.group_id) if action.target.group_id else None
            decision = gate_onebot(action, group, now)
            if isinstance(decision, Refused):
                return Outcome("refused", decision.reason, decision.message)
            return Outcome("sent")
        ctx = SendContext(now=now, groups=lambda: groups, users=lambda: users, ledger=lambda: self._ledger)
        prepared = prepare(action, ctx)
        if isinstance(prepared, Result):
            return Outcome(prepared.outcome, prepared.reason, prepared.message)
        return Outcome("sent")

    @staticmethod
    def _event_time(ev: Event) -> int:
        from qqbus.events.parse import UnknownPayload, parse_event

        try:
            model: Any = parse_event(ev.payload).model
        except UnknownPayload:  # not a platform event (an action's result)
            return int(time.time())
        chat = model.chat() if hasattr(model, "chat") else None
        if chat is not None and chat.time is not None:
            return int(chat.time)
        stamp = getattr(model, "time", None)
        return int(stamp) if isinstance(stamp, int) else int(time.time())

    @staticmethod
    def _writes(
        before: dict[str, dict[Any, dict[str, Any]]], after: dict[str, dict[Any, dict[str, Any]]]
    ) -> list[Write]:
        writes = []
        for table, rows in after.items():
            old = before.get(table, {})
            for key in sorted({*old, *rows}, key=str):
                if old.get(key) != rows.get(key):
                    writes.append(Write(table, key, old.get(key), rows.get(key)))
        return writes

    def __enter__(self) -> Bot:
        aws.reset()
        return self

    def __exit__(self, *exc: object) -> None:
        aws.reset()
