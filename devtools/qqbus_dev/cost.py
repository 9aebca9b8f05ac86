"""``qqbus cost --events-per-day N``: what a deployment costs, from measured calls per event.

Each event passes an ingress function, puts one event on the bus and runs its handler; a share
of events (``--replies``) is answered, which runs a sender and puts the action and its result on
the bus; a share (``--state-writes``) changes group or user state; the rest are chat that the
handler reads and leaves. The AWS calls and log bytes of each kind of event are not assumed:
``bench/bench_calls.py`` counts them on the real ingress functions, handlers and senders and
records them in ``measured.json`` beside this module (``make bench`` regenerates it). Memory
sizes and tracing come from template.yaml (its defaults, or ``--parameter-overrides``);
durations are the assumptions below. Prices come from one table (``PRICES``) with its source
and date, without free tiers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qqbus_dev.template import TEMPLATE_PATH, Template

MEASURED_PATH = Path(__file__).with_name("measured.json")

#: USD, AWS list prices for us-east-1, on demand, no free tier. Source: the pricing
#: pages of EventBridge (custom events), Lambda, DynamoDB (on-demand: $0.625 per million write
#: request units, $0.125 per million read units), X-Ray (traces recorded) and CloudWatch Logs
#: (ingestion), as listed on 2026-12-01. Check them for your region.
PRICES = {
    "eventbridge_per_million_events": 1.00,
    "lambda_per_million_requests": 0.20,
    "lambda_per_gb_second": 0.0000166667,  # x86_64
    "lambda_per_gb_second_arm64": 0.0000133334,
    "dynamodb_per_million_writes": 0.625,
    "dynamodb_per_million_reads": 0.125,
    "xray_per_million_traces": 5.00,
    "logs_per_gb_ingested": 0.50,
}
PRICES_DATE = "2026-12-01"
#: A small always-on VM for the break-even line (t4g.small on demand, 730 h; a $5 VPS is similar).
VM_PER_MONTH = 12.26


def measured(path: Path = MEASURED_PATH) -> dict[str, dict[str, float]]:
    """The calls, entries and log bytes per event that ``bench/bench_calls.py`` recorded."""
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@dataclass
class Assumptions:
    ingress_ms: float = 40.0
    handler_ms: float = 60.0
    sender_ms: float = 150.0
    replies: float = 0.2  # share of events answered (a /ping-like round trip)
    state_writes: float = 0.3  # share of events that change state (only notices do)


#: Lambda's X-Ray sampling with Tracing Active, which a function cannot change: the first
#: request each second, then 5 % of the rest (Lambda developer guide, "Using X-Ray").
XRAY_RESERVOIR_PER_SECOND = 1.0
XRAY_RATE = 0.05


def traced_share(events_per_day: float) -> float:
    """The share of events X-Ray records at this volume (arriving evenly: the busiest hours do
    better, the quiet ones worse)."""
    per_second = events_per_day / 86400
    if per_second <= 0:
        return 0.0
    reservoir = min(per_second, XRAY_RESERVOIR_PER_SECOND)
    return (reservoir + XRAY_RATE * (per_second - reservoir)) / per_second


def _function(template: Template, folder: str) -> Any:
    return next(f for f in template.functions() if f.folder == folder)


def _memory(template: Template, folder: str) -> float:
    return float(_function(template, folder).properties.get("MemorySize", 128)) / 1024


def _gb_second(template: Template, folder: str) -> float:
    """The price of a GB-second of ``folder``'s function: Graviton (arm64) or x86_64."""
    arm = _function(template, folder).properties.get("Architectures") == ["arm64"]
    return PRICES["lambda_per_gb_second_arm64" if arm else "lambda_per_gb_second"]


def _traced(template: Template, parameters: dict[str, str]) -> bool:
    values = {**template.parameter_defaults(), **parameters}
    for fn in template.functions():
        tracing = fn.properties.get("Tracing")
        if isinstance(tracing, dict) and "Ref" in tracing:
            tracing = values.get(tracing["Ref"])
        if tracing == "Active":
            return True
    return False


def per_million(
    template: Template,
    a: Assumptions,
    figures: dict[str, Any] | None = None,
    *,
    events_per_day: float = 100_000,
    parameters: dict[str, str] | None = None,
) -> dict[str, float]:
    """USD per million events, by service, from the measured figures per kind of event, at
    ``events_per_day`` (X-Ray's sampling depends on it) and the template's ``parameters``."""
    f = figures if figures is not None else measured()
    ping = {k: (f["ping_qq"][k] + f["ping_onebot"][k]) / 2 for k in f["ping_qq"]}  # the two platforms
    entry = {k: (f["ingress_qq"][k] + f["ingress_onebot"][k]) / 2 for k in f["ingress_qq"]}
    state, quiet = f["state_event"], f["chat_message"]  # quiet: a message the handler only reads
    m = 1.0  # million events
    invocations = m * (2 + a.replies)  # ingress + handler (+ sender)
    duration = 1e6 * (
        _memory(template, "qq_webhook") * a.ingress_ms / 1000 * _gb_second(template, "qq_webhook")
        + _memory(template, "onebot_group_message")
        * a.handler_ms
        / 1000
        * _gb_second(template, "onebot_group_message")
        + a.replies * _memory(template, "qq_sender") * a.sender_ms / 1000 * _gb_second(template, "qq_sender")
    )
    other = max(0.0, 1 - a.replies - a.state_writes)

    def mix(name: str) -> float:
        return a.replies * ping[name] + a.state_writes * state[name] + other * quiet[name]

    log_bytes = entry["log_bytes"] + mix("log_bytes")
    traced = _traced(template, parameters or {})
    return {
        "EventBridge": m * mix("bus_entries") * PRICES["eventbridge_per_million_events"],
        "Lambda requests": invocations * PRICES["lambda_per_million_requests"],
        "Lambda duration": duration,
        "DynamoDB on-demand": m * mix("dynamodb_writes") * PRICES["dynamodb_per_million_writes"]
        + m * mix("dynamodb_reads") * PRICES["dynamodb_per_million_reads"],
        "X-Ray": m * traced_share(events_per_day) * PRICES["xray_per_million_traces"] if traced else 0.0,
        "CloudWatch Logs": 1e6 * log_bytes / 1e9 * PRICES["logs_per_gb_ingested"],
    }


def render(costs: dict[str, float], events_per_day: int) -> str:
    month = events_per_day * 30 / 1e6
    lines = [f"{'service':<20} {'per million events':>20} {'per month':>12}"]
    for service, usd in costs.items():
        lines.append(f"{service:<20} {usd:>19.2f}$ {usd * month:>11.2f}$")
    total = sum(costs.values())
    lines.append(f"{'total':<20} {total:>19.2f}$ {total * month:>11.2f}$")
    volume = f"{events_per_day:,} events a day = {month:.2f} million a month"
    lines.append(f"({volume}; us-east-1 list prices of {PRICES_DATE})")
    if total > 0:
        even = VM_PER_MONTH / total * 1e6 / 30
        vm = f"${VM_PER_MONTH:.2f}/month always-on VM"
        lines.append(f"break-even against a {vm}: {even:,.0f} events a day")
    return "\n".join(lines)


def run(
    events_per_day: int,
    template_path: Path = TEMPLATE_PATH,
    parameters: dict[str, str] | None = None,
    **assumptions: Any,
) -> int:
    a = Assumptions(**{k: v for k, v in assumptions.items() if v is not None})
    template = Template.read(template_path)
    costs = per_million(template, a, events_per_day=events_per_day, parameters=parameters)
    print(render(costs, events_per_day))
    return 0
