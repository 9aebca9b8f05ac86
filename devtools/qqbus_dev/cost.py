"""``qqbus cost --events-per-day N``: what a deployment costs, from the template's own settings.

Each event passes an ingress function, puts one event on the bus and runs its handler; a share
of events (``--replies``) asks for one action, which runs a sender and puts the action and its
result on the bus. Memory sizes and tracing come from template.yaml; durations, writes and log
volume are the assumptions below (change them with the flags). Prices are AWS's published
us-east-1 on-demand list prices (x86 Lambda), without free tiers; check them for your region.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qqbus_dev.template import TEMPLATE_PATH, Template

#: USD, us-east-1 list prices (2025).
PRICES = {
    "eventbridge_per_million_events": 1.00,
    "lambda_per_million_requests": 0.20,
    "lambda_per_gb_second": 0.0000166667,
    "dynamodb_per_million_writes": 0.625,
    "dynamodb_per_million_reads": 0.125,
    "xray_per_million_traces": 5.00,
    "logs_per_gb_ingested": 0.50,
}


@dataclass
class Assumptions:
    ingress_ms: float = 40.0
    handler_ms: float = 60.0
    sender_ms: float = 150.0
    replies: float = 0.2  # actions asked per event
    state_writes: float = 0.3  # group-state writes per event (only notices write)
    log_bytes: int = 1500  # per invocation
    xray_sampled: float = 0.05  # X-Ray's default rule: 1 request/s, then 5 %


def _memory(template: Template, folder: str) -> float:
    fn = next(f for f in template.functions() if f.folder == folder)
    return float(fn.properties.get("MemorySize", 128)) / 1024


def per_million(template: Template, a: Assumptions) -> dict[str, float]:
    """USD per million events, by service."""
    m = 1.0  # million events
    invocations = m * (2 + a.replies)  # ingress + handler (+ sender)
    gb_seconds = 1e6 * (
        _memory(template, "qq_webhook") * a.ingress_ms / 1000
        + _memory(template, "onebot_group_message") * a.handler_ms / 1000
        + a.replies * _memory(template, "qq_sender") * a.sender_ms / 1000
    )
    bus_events = m * (1 + 2 * a.replies)  # the event; each action and its result
    # idempotency: a put and an update per handler and per sender run; the ledger's slot write
    writes = m * (2 + a.state_writes + a.replies * 3)
    reads = m * a.replies * 2  # the sender reads the group row and its slot
    traced = any(f.properties.get("Tracing") == "Active" for f in template.functions())
    return {
        "EventBridge": bus_events * PRICES["eventbridge_per_million_events"],
        "Lambda requests": invocations * PRICES["lambda_per_million_requests"],
        "Lambda duration": gb_seconds * PRICES["lambda_per_gb_second"],
        "DynamoDB on-demand": writes * PRICES["dynamodb_per_million_writes"]
        + reads * PRICES["dynamodb_per_million_reads"],
        "X-Ray": (m * a.xray_sampled * PRICES["xray_per_million_traces"]) if traced else 0.0,
        "CloudWatch Logs": invocations * 1e6 * a.log_bytes / 1e9 * PRICES["logs_per_gb_ingested"],
    }


def render(costs: dict[str, float], events_per_day: int) -> str:
    month = events_per_day * 30 / 1e6
    lines = [f"{'service':<20} {'per million events':>20} {'per month':>12}"]
    for service, usd in costs.items():
        lines.append(f"{service:<20} {usd:>19.2f}$ {usd * month:>11.2f}$")
    total = sum(costs.values())
    lines.append(f"{'total':<20} {total:>19.2f}$ {total * month:>11.2f}$")
    lines.append(f"({events_per_day:,} events a day = {month:.2f} million a month; us-east-1 list prices)")
    return "\n".join(lines)


def run(events_per_day: int, template_path: Path = TEMPLATE_PATH, **assumptions: Any) -> int:
    a = Assumptions(**{k: v for k, v in assumptions.items() if v is not None})
    print(render(per_million(Template.read(template_path), a), events_per_day))
    return 0
