"""``qqbus cost --events-per-day N``: what a deployment costs, from measured calls per event.

Each event passes an ingress function, puts one event on the bus and runs its handler; a share
of events (``--replies``) is answered, which runs a sender and puts the action and its result on
the bus; a share (``--state-writes``) changes group or user state. The AWS calls and log bytes
of each kind of event are not assumed: ``bench/bench_calls.py`` counts them on the real handlers
and senders and records them in ``measured.json`` beside this module (``make bench`` regenerates
it). Memory sizes and tracing come from template.yaml; durations are the assumptions below.
Prices come from one table (``PRICES``) with its source and date, without free tiers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qqbus_dev.template import TEMPLATE_PATH, Template

MEASURED_PATH = Path(__file__).with_name("measured.json")

#: USD, AWS list prices for us-east-1, on demand, x86 Lambda, no free tier. Source: the pricing
#: pages of EventBridge (custom events), Lambda, DynamoDB (on-demand: $0.625 per million write
#: request units, $0.125 per million read units), X-Ray (traces recorded) and CloudWatch Logs
#: (ingestion), as listed on 2026-12-01. Check them for your region.
PRICES = {
    "eventbridge_per_million_events": 1.00,
    "lambda_per_million_requests": 0.20,
    "lambda_per_gb_second": 0.0000166667,
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
    xray_sampled: float = 0.05  # X-Ray's default rule: 1 request/s, then 5 %


def _memory(template: Template, folder: str) -> float:
    fn = next(f for f in template.functions() if f.folder == folder)
    return float(fn.properties.get("MemorySize", 128)) / 1024


def per_million(
    template: Template, a: Assumptions, figures: dict[str, Any] | None = None
) -> dict[str, float]:
    """USD per million events, by service, from the measured figures per kind of event."""
    f = figures if figures is not None else measured()
    ping = {k: (f["ping_qq"][k] + f["ping_onebot"][k]) / 2 for k in f["ping_qq"]}  # the two platforms
    state, quiet = f["state_event"], f["state_duplicate"]  # quiet: a handler run that changes nothing
    m = 1.0  # million events
    invocations = m * (2 + a.replies)  # ingress + handler (+ sender)
    gb_seconds = 1e6 * (
        _memory(template, "qq_webhook") * a.ingress_ms / 1000
        + _memory(template, "onebot_group_message") * a.handler_ms / 1000
        + a.replies * _memory(template, "qq_sender") * a.sender_ms / 1000
    )
    other = max(0.0, 1 - a.replies - a.state_writes)

    def mix(name: str) -> float:
        return a.replies * ping[name] + a.state_writes * state[name] + other * quiet[name]

    log_bytes = mix("log_bytes")
    traced = any(f.properties.get("Tracing") == "Active" for f in template.functions())
    return {
        "EventBridge": m * mix("bus_entries") * PRICES["eventbridge_per_million_events"],
        "Lambda requests": invocations * PRICES["lambda_per_million_requests"],
        "Lambda duration": gb_seconds * PRICES["lambda_per_gb_second"],
        "DynamoDB on-demand": m * mix("dynamodb_writes") * PRICES["dynamodb_per_million_writes"]
        + m * mix("dynamodb_reads") * PRICES["dynamodb_per_million_reads"],
        "X-Ray": (m * a.xray_sampled * PRICES["xray_per_million_traces"]) if traced else 0.0,
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


def run(events_per_day: int, template_path: Path = TEMPLATE_PATH, **assumptions: Any) -> int:
    a = Assumptions(**{k: v for k, v in assumptions.items() if v is not None})
    print(render(per_million(Template.read(template_path), a), events_per_day))
    return 0
