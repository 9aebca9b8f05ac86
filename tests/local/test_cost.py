"""qqbus cost reads the template's own settings: memory and tracing change the estimate."""

from __future__ import annotations

import copy

import pytest
from qqbus_dev.cost import PRICES, Assumptions, measured, per_million, render, traced_share
from qqbus_dev.template import Template


def test_the_estimate_follows_the_template(template: Template) -> None:
    base = per_million(template, Assumptions())
    data = copy.deepcopy(template.data)
    data["Globals"]["Function"]["MemorySize"] = 512
    bigger = per_million(Template(data), Assumptions())
    assert bigger["Lambda duration"] > base["Lambda duration"]
    assert bigger["EventBridge"] == base["EventBridge"]
    data["Globals"]["Function"]["Architectures"] = ["x86_64"]
    x86 = per_million(Template(data), Assumptions())
    assert x86["Lambda duration"] == pytest.approx(bigger["Lambda duration"] * 0.0000166667 / 0.0000133334)


def test_x_ray_costs_what_lambdas_sampling_records(template: Template) -> None:
    assert per_million(template, Assumptions())["X-Ray"] == 0  # the default: Tracing PassThrough
    active = {"Tracing": "Active"}
    quiet = per_million(template, Assumptions(), events_per_day=10_000, parameters=active)
    busy = per_million(template, Assumptions(), events_per_day=100_000_000, parameters=active)
    # Below one event a second the reservoir (1/s) records every event; far above it, about 5 %.
    assert quiet["X-Ray"] == pytest.approx(PRICES["xray_per_million_traces"])
    assert busy["X-Ray"] == pytest.approx(0.05 * PRICES["xray_per_million_traces"], rel=0.02)
    assert traced_share(86400 * 2) == pytest.approx(0.525)  # 2/s: 1 + 5 % of the other 1
    assert traced_share(0) == 0


def test_replies_add_bus_events_and_a_sender_run(template: Template) -> None:
    quiet = per_million(template, Assumptions(replies=0))
    chatty = per_million(template, Assumptions(replies=1, state_writes=0))
    assert quiet["EventBridge"] == pytest.approx(PRICES["eventbridge_per_million_events"])
    assert chatty["EventBridge"] == pytest.approx(3 * PRICES["eventbridge_per_million_events"])
    assert chatty["Lambda requests"] == pytest.approx(3 * PRICES["lambda_per_million_requests"])


def test_render_prints_the_month_for_the_daily_volume(template: Template) -> None:
    costs = per_million(template, Assumptions())
    text = render(costs, 1_000_000)
    total = sum(costs.values())
    assert f"{total:.2f}$" in text and f"{total * 30:.2f}$" in text


def test_the_calls_are_the_measured_ones(template: Template) -> None:
    figures = measured()
    base = per_million(template, Assumptions(), figures)
    more = copy.deepcopy(figures)
    more["state_event"]["dynamodb_writes"] += 2  # what a lock record per state event costs
    dearer = per_million(template, Assumptions(state_writes=1, replies=0), more)
    cheaper = per_million(template, Assumptions(state_writes=1, replies=0), figures)
    assert dearer["DynamoDB on-demand"] - cheaper["DynamoDB on-demand"] == pytest.approx(
        2 * PRICES["dynamodb_per_million_writes"]
    )
    assert base["CloudWatch Logs"] > 0


def test_the_recorded_figures_meet_the_targets(template: Template) -> None:
    figures = measured()  # written by bench/bench_calls.py --write (make bench)
    assert figures["state_event"]["dynamodb_writes"] <= 1
    assert figures["state_duplicate"]["dynamodb_writes"] <= 1
    assert figures["ping_qq"]["bus_entries"] <= 3 and figures["ping_onebot"]["bus_entries"] <= 3
    for answered in ("state_event", "ping_qq", "ping_onebot"):
        assert figures[answered]["log_bytes_per_invocation"] <= 600, answered
    assert sum(per_million(template, Assumptions(), figures).values()) <= 3.50


def test_render_says_where_it_breaks_even(template: Template) -> None:
    text = render(per_million(template, Assumptions()), 100_000)
    assert "break-even" in text and "events a day" in text


def test_the_readme_cost_tables_are_the_measured_ones(template: Template) -> None:
    """README's tables come from measured.json: regenerate them when `make bench` changes it."""
    import re

    from tests.support import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    costs = per_million(template, Assumptions())
    total = re.search(r"^\| total \| \$(\d+\.\d\d) \|", readme, re.M)
    assert total and float(total.group(1)) == pytest.approx(sum(costs.values()), abs=0.005)
    for service, usd in costs.items():
        row = re.search(rf"^\| {re.escape(service)} \| \$(\d+\.\d\d) \|", readme, re.M)
        assert row and float(row.group(1)) == pytest.approx(usd, abs=0.005), service
    figures = measured()
    rows = {
        "`/guess` (starts a conversation)": "guess_start",
        "a `/guess` turn (a number)": "guess_turn",
        "`/whois` (a query, its answer, the reply)": "whois",
        "`/remind 5s tea` (acknowledged, fired, sent)": "remind",
        "a command with `cooldown=`": "cooldown_command",
    }
    for label, scenario in rows.items():
        row = re.search(rf"^\| {re.escape(label)} \| (\d+) / (\d+) \| (\d+) \|", readme, re.M)
        f = figures[scenario]
        assert row, label
        assert [int(x) for x in row.groups()] == [f["dynamodb_writes"], f["dynamodb_reads"], f["bus_entries"]]
