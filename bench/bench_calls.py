"""AWS calls, bus entries and log bytes per event, counted on the real handlers and senders.

Run: .venv/bin/python bench/bench_calls.py [--write]. Everything runs in this process on moto
(the template's tables, bus and routes), with the fake QQ and OneBot APIs on 127.0.0.1; each
function is the template's own (``handlers/<name>/app.py`` with its template environment and the
template's default log level). Every botocore call made while a function runs is counted
(botocore's ``before-call`` event on the default session, so nothing of boto3 is replaced):

- a state event (GROUP_ADD_ROBOT), then the same event again (a duplicate delivery);
- ``/ping`` answered end to end on QQ and on OneBot (handler, then the sender it asked), then the
  same message again (a duplicate: the handler runs again and asks for the same action);
- a message through each ingress function (signed as the platform signs it);
- what the stateful features cost (OneBot): a chat message no command takes, ``/guess`` and one
  turn of it, another member's message during that game, ``/whois`` (a query and its answer),
  ``/remind`` (its schedule made, fired as EventBridge Scheduler would, and the reminder sent)
  and a command with a cooldown.

Log bytes are measured as the template deploys (Tracing PassThrough: no line carries a trace id;
``BENCH_SAMPLED=1`` measures sampled invocations, about 55 bytes more a line) and without cold
starts (a ColdStart line per new instance).

DynamoDB writes are PutItem, UpdateItem, DeleteItem and the items of a BatchWriteItem, failed
conditional writes included (DynamoDB bills them); reads are GetItem, Query and Scan. Bus entries
are counted per PutEvents entry, the ingress's event entry added (one per event).

Printed against the targets of the cost issue; ``--write`` records the figures in
``devtools/qqbus_dev/measured.json``, where ``qqbus cost`` reads them (``make bench`` writes it).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import os
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")

import boto3
from moto import mock_aws

REPO = Path(__file__).resolve().parents[1]
MEASURED = REPO / "devtools" / "qqbus_dev" / "measured.json"
WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
READS = {"GetItem", "Query", "Scan"}

#: The cost issue's targets: (figure, at most).
TARGETS = {
    "state_event.dynamodb_writes": 1,
    "state_duplicate.dynamodb_writes": 1,
    "ping_qq.dynamodb_writes": 2,
    "ping_qq.dynamodb_reads": 3,
    "ping_onebot.dynamodb_writes": 2,
    "ping_onebot.dynamodb_reads": 3,
    "ping_qq.bus_entries": 3,
    "ping_onebot.bus_entries": 3,
    "state_event.log_bytes": 600,
    "ping_qq.log_bytes_per_invocation": 600,
    "ping_onebot.log_bytes_per_invocation": 600,
}


@dataclass
class Tally:
    """What one scenario cost."""

    calls: Counter[str] = field(default_factory=Counter)
    writes: int = 0
    reads: int = 0
    entries: int = 0
    log_bytes: int = 0
    invocations: int = 0

    def figures(self) -> dict[str, float]:
        return {
            "dynamodb_writes": self.writes,
            "dynamodb_reads": self.reads,
            "bus_entries": self.entries,
            "invocations": self.invocations,
            "log_bytes": self.log_bytes,
            "log_bytes_per_invocation": round(self.log_bytes / max(self.invocations, 1)),
        }


class Counting:
    """Counts the botocore calls of the thread that runs a function (the bench's own are not)."""

    def __init__(self) -> None:
        self.tally: Tally | None = None
        self.thread: int | None = None
        boto3.setup_default_session()
        # before-parameter-build: once per API call, with the call's own parameters
        boto3.DEFAULT_SESSION.events.register("before-parameter-build", self._before_call)  # type: ignore[union-attr]

    def _before_call(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        tally = self.tally
        if tally is None or threading.get_ident() != self.thread:
            return
        service, op = model.service_model.service_name, model.name
        tally.calls[f"{service}.{op}"] += 1
        if service == "dynamodb":
            if op in WRITES:
                tally.writes += 1
            elif op == "BatchWriteItem":
                tally.writes += sum(len(v) for v in params.get("RequestItems", {}).values())
            elif op in READS:
                tally.reads += 1
        if service == "events" and op == "PutEvents":
            tally.entries += len(params.get("Entries", []))

    @contextmanager
    def into(self, tally: Tally) -> Iterator[None]:
        self.tally, self.thread = tally, threading.get_ident()
        try:
            yield
        finally:
            self.tally = self.thread = None


class Bench:
    """The template on moto: tables, bus with a queue per route, the functions, the fake APIs."""

    def __init__(self) -> None:
        from qqbus_dev.fake_apis import FakeOneBotApi, FakeQQApi
        from qqbus_dev.functions import load_functions
        from qqbus_dev.provision import create_bus_and_routes, create_queues, create_tables, local_refs
        from qqbus_dev.template import Template

        template = Template.read(REPO / "template.yaml")
        self.refs = local_refs(template, region="us-east-1", stage="bench")
        self.sqs = boto3.client("sqs")
        create_tables(template, boto3.client("dynamodb"), self.refs)
        create_queues(template, self.sqs, self.refs)
        self.routes = create_bus_and_routes(template, boto3.client("events"), self.sqs, self.refs)
        level = str(template.parameter_defaults().get("LogLevel", "INFO"))
        self.log_level = level
        self.functions = load_functions(template, self.refs, REPO, log_level=level)
        self.fake_qq, self.fake_onebot = FakeQQApi().start(), FakeOneBotApi().start()
        for fn in self.functions.values():
            if "QQ_API_BASE" in fn.env:
                fn.env.update(QQ_API_BASE=self.fake_qq.url, QQ_TOKEN_URL=self.fake_qq.token_url)
            if "ONEBOT_API_URL" in fn.env:
                fn.env["ONEBOT_API_URL"] = self.fake_onebot.url
            if "QQBUS_ALLOW_REPLAYS" in fn.env:  # as deployed (local tools allow old examples)
                fn.env["QQBUS_ALLOW_REPLAYS"] = "false"
        self.counting = Counting()
        from qqbus_dev.template import resolve

        self.scheduler = boto3.client("scheduler")
        for logical_id in template.of_type("AWS::Scheduler::ScheduleGroup"):  # /remind's group
            self.scheduler.create_schedule_group(Name=resolve({"Ref": logical_id}, self.refs))

    def close(self) -> None:
        self.fake_qq.stop()
        self.fake_onebot.stop()

    def invoke(self, logical_id: str, event: dict[str, Any], tally: Tally) -> Any:
        """Run one function; what it writes to stdout (log lines, EMF metrics) is its log volume."""
        from qqbus.observability import logger

        handler = logger.registered_handler
        out = io.StringIO()
        before = handler.setStream(out)  # type: ignore[attr-defined]
        # Lambda sets an X-Ray header for every invocation; with the template's Tracing
        # (PassThrough) nothing is sampled, and a line carries the trace id only when it is.
        root = f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
        sampled = "1" if os.environ.get("BENCH_SAMPLED") else "0"
        os.environ["_X_AMZN_TRACE_ID"] = f"Root={root};Parent={uuid.uuid4().hex[:16]};Sampled={sampled}"
        try:
            with self.counting.into(tally), contextlib.redirect_stdout(out):
                result = self.functions[logical_id].invoke(copy.deepcopy(event))
        finally:
            handler.setStream(before)  # type: ignore[attr-defined]
            del os.environ["_X_AMZN_TRACE_ID"]
        tally.invocations += 1
        tally.log_bytes += len(out.getvalue().encode())
        if os.environ.get("BENCH_SHOW_LOGS"):
            print(out.getvalue(), end="")
        return result

    def routed(self, logical_id: str) -> list[dict[str, Any]]:
        """The bus events routed to ``logical_id`` since the last look."""
        url, got = self.routes.function_queues[logical_id], []
        while msgs := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for m in msgs:
                got.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return got

    def drain(self) -> None:
        for logical_id in self.routes.function_queues:
            self.routed(logical_id)


def _event(name: str) -> dict[str, Any]:
    return json.loads((REPO / "events" / f"{name}.json").read_text())


def _fresh(event: dict[str, Any], *, qq: bool) -> dict[str, Any]:
    """``event`` with new ids and a current time (a reply window is open only for minutes)."""
    event = copy.deepcopy(event)
    event["id"] = str(uuid.uuid4())
    detail, now = event["detail"], int(time.time())
    payload = detail["payload"]
    if qq:
        detail["event_id"] = payload["id"] = f"{payload['t']}:{uuid.uuid4()}"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now))
        payload["d"]["timestamp"] = stamp if isinstance(payload["d"].get("timestamp"), str) else now
        if "id" in payload["d"] and str(payload["d"]["id"]).startswith("ROBOT"):
            payload["d"]["id"] = f"ROBOT1.0_{uuid.uuid4().hex}"
    else:
        detail["event_id"] = uuid.uuid4().hex
        payload["time"] = now
        payload["message_id"] = int(now % 100000)
    detail["received_at"] = now * 1000
    return event


def state_event(bench: Bench) -> tuple[Tally, Tally]:
    # A warm function: a cold start adds a ColdStart metric line once per instance, not per event.
    warm = _fresh(_event("qq_group_add_robot"), qq=True)
    warm["detail"]["payload"]["d"]["group_openid"] = "WARMUP" + uuid.uuid4().hex.upper()  # another row
    bench.invoke("QqGroupAddRobotFunction", warm, Tally())
    event = _fresh(_event("qq_group_add_robot"), qq=True)
    first, again = Tally(entries=1), Tally(entries=1)
    bench.invoke("QqGroupAddRobotFunction", event, first)
    bench.invoke("QqGroupAddRobotFunction", event, again)
    return first, again


def ping(bench: Bench, *, qq: bool) -> tuple[Tally, Tally, list[dict[str, Any]]]:
    """``/ping`` end to end, then its duplicate; the results the sender published."""
    handler = "QqGroupAtMessageCreateFunction" if qq else "OnebotGroupMessageFunction"
    sender = "QqSenderFunction" if qq else "OnebotSenderFunction"
    name = "qq_group_at_message_create" if qq else "onebot_group_message"
    bench.drain()
    event = _fresh(_event(name), qq=qq)
    if qq:  # a reply in a group the bot is in
        join = _fresh(_event("qq_group_add_robot"), qq=True)
        join["detail"]["payload"]["d"]["group_openid"] = event["detail"]["payload"]["d"]["group_openid"]
        join["detail"]["bot_id"] = event["detail"]["bot_id"]
        bench.invoke("QqGroupAddRobotFunction", join, Tally())
    answers = []
    tallies = []
    for _ in range(2):  # the message, then its duplicate delivery
        tally = Tally(entries=1)
        bench.invoke(handler, event, tally)
        for action in bench.routed(sender):
            answers.append(bench.invoke(sender, action, tally))
        tallies.append(tally)
    return tallies[0], tallies[1], answers


def ingress(bench: Bench, *, qq: bool) -> Tally:
    """The ingress function taking one message over HTTP (signed as the platform signs it)."""
    from qqbus.ingress.function_url import function_url_event
    from qqbus_dev.send import prepare

    name = "qq_group_at_message_create" if qq else "onebot_group_message"
    raw = json.dumps(_event(name)["detail"]["payload"]).encode()
    request = prepare(raw, fresh_time=True, fresh_id=True, state={})
    tally = Tally()
    function = "QqWebhookFunction" if qq else "OnebotHttpFunction"
    answer = bench.invoke(function, function_url_event(request.body, request.headers), tally)
    if answer["statusCode"] >= 300:
        raise SystemExit(f"{function} refused the bench's message: {answer}")
    bench.drain()
    return tally


def _onebot_message(text: str, *, user_id: int = 345678901, at_bot: bool = False) -> dict[str, Any]:
    event = _fresh(_event("onebot_group_message"), qq=False)
    payload = event["detail"]["payload"]
    segments = [{"type": "text", "data": {"text": text}}]
    if at_bot:
        segments.insert(0, {"type": "at", "data": {"qq": str(payload["self_id"])}})
    payload["message"], payload["raw_message"], payload["user_id"] = segments, text, user_id
    payload["sender"] = {**payload.get("sender", {}), "user_id": user_id}
    return event


def flow(bench: Bench, event: dict[str, Any], *, schedules: bool = False) -> Tally:
    """One message end to end: the handler, then whatever the bus routes on (senders, answers to
    queries, the functions steps run in), and with ``schedules`` the one-time schedules it made,
    fired as EventBridge Scheduler would (each fire: one bus entry)."""
    from qqbus_dev.scheduler_clock import SchedulerClock

    bench.drain()
    tally = Tally(entries=1)
    bench.invoke("OnebotGroupMessageFunction", event, tally)
    clock = SchedulerClock(bench.scheduler, boto3.client("events"), say=lambda _: None)
    for _ in range(20):
        fired = clock.tick(time.time() + 31 * 86400) if schedules else 0
        tally.entries += fired
        moved = [(fn, ev) for fn in bench.routes.function_queues for ev in bench.routed(fn)]
        for fn, ev in moved:
            bench.invoke(fn, ev, tally)
        if not moved and not fired:
            break
    return tally


def features(bench: Bench) -> dict[str, Tally]:
    """What the stateful features cost per message, on OneBot (``/whois`` is OneBot's)."""
    from qqbus.example_commands import commands

    if "bench_daily" not in commands._by_name:  # the shared instance: register once

        @commands.command("bench_daily", help="a command with a cooldown (bench only)", cooldown=60)
        def bench_daily(call: Any) -> None:
            call.reply("done")

    user = 345678901
    return {
        "chat_message": flow(bench, _onebot_message("good morning everyone")),
        "guess_start": flow(bench, _onebot_message("/guess", user_id=user)),
        "guess_turn": flow(bench, _onebot_message("50", user_id=user)),
        "chat_while_guessing": flow(bench, _onebot_message("nice weather", user_id=user + 1)),
        "whois": flow(bench, _onebot_message("/whois")),
        "remind": flow(bench, _onebot_message("/remind 5s tea"), schedules=True),
        "cooldown_command": flow(bench, _onebot_message("/bench_daily")),
    }


def measure() -> dict[str, dict[str, float]]:
    with mock_aws():
        bench = Bench()
        try:
            state, state_dup = state_event(bench)
            qq, qq_dup, qq_answers = ping(bench, qq=True)
            onebot, onebot_dup, onebot_answers = ping(bench, qq=False)
            sent_qq = len([r for r in bench.fake_qq.received if "/messages" in r.path])
            sent_onebot = len(bench.fake_onebot.calls("send_group_msg")) + len(
                bench.fake_onebot.calls("send_msg")
            )
            ingress_qq, ingress_onebot = ingress(bench, qq=True), ingress(bench, qq=False)
            extra = features(bench)
        finally:
            bench.close()
    if sent_qq != 1 or sent_onebot != 1:
        raise SystemExit(f"each /ping must reach its platform once: QQ {sent_qq}, OneBot {sent_onebot}")
    figures = {
        "state_event": state.figures(),
        "state_duplicate": state_dup.figures(),
        "ping_qq": qq.figures(),
        "ping_qq_duplicate": qq_dup.figures(),
        "ping_onebot": onebot.figures(),
        "ping_onebot_duplicate": onebot_dup.figures(),
        "ingress_qq": ingress_qq.figures(),
        "ingress_onebot": ingress_onebot.figures(),
        **{name: tally.figures() for name, tally in extra.items()},
    }
    if not state.log_bytes or state.writes != 1:
        raise SystemExit("the state event must write its row (a fresh group) and say so")
    figures["calls"] = {  # type: ignore[assignment]
        "state_event": dict(state.calls),
        **{name: dict(tally.calls) for name, tally in extra.items()},
        "ping_qq": dict(qq.calls),
        "ping_onebot": dict(onebot.calls),
        "answers": [*qq_answers, *onebot_answers],
    }
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write", action="store_true", help=f"record the figures in {MEASURED.relative_to(REPO)}"
    )
    args = parser.parse_args()
    figures = measure()
    print(f"{'figure':<42} {'measured':>9} {'target':>8}")
    met = True
    for scenario in (k for k in figures if k != "calls"):
        for name, value in figures[scenario].items():
            key = f"{scenario}.{name}"
            target = TARGETS.get(key)
            ok = target is None or value <= target
            met &= ok
            goal = "" if target is None else f"<= {target}"
            print(f"{key:<42} {value:>9} {goal:>8}{'' if ok else '  MISSED'}")
    print("calls:", json.dumps(figures["calls"], ensure_ascii=False))
    if args.write:
        record = {k: v for k, v in figures.items() if k != "calls"}
        record["measured_on"] = time.strftime("%Y-%m-%d")
        MEASURED.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        print(f"written: {MEASURED.relative_to(REPO)}")
    print("all targets met" if met else "some targets missed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
