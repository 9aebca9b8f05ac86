"""qqbus cost reads the template's own settings: memory and tracing change the estimate."""

from __future__ import annotations

import copy

import pytest
from qqbus_dev.cost import PRICES, Assumptions, measured, per_million, render
from qqbus_dev.template import Template


def test_the_estimate_follows_the_template(template: Template) -> None:
    base = per_million(template, Assumptions())
    data = copy.deepcopy(template.data)
    data["Globals"]["Function"]["MemorySize"] = 512
    data["Globals"]["Function"]["Tracing"] = "PassThrough"
    for res in data["Resources"].values():
        if res.get("Type") == "AWS::Serverless::Function":
            res["Properties"].pop("Tracing", None)
    bigger = per_million(Template(data), Assumptions())
    assert bigger["Lambda duration"] > base["Lambda duration"]
    assert base["X-Ray"] > 0 and bigger["X-Ray"] == 0
    assert bigger["EventBridge"] == base["EventBridge"]


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


def test_the_recorded_figures_meet_the_state_targets() -> None:
    figures = measured()  # written by bench/bench_calls.py --write (make bench)
    assert figures["state_event"]["dynamodb_writes"] <= 1
    assert figures["state_duplicate"]["dynamodb_writes"] <= 1
    assert figures["ping_qq"]["bus_entries"] <= 3 and figures["ping_onebot"]["bus_entries"] <= 3


def test_render_says_where_it_breaks_even(template: Template) -> None:
    text = render(per_million(template, Assumptions()), 100_000)
    assert "break-even" in text and "events a day" in text
