"""Counts while metrics are disabled (``qqbus dev``) are dropped, not kept and printed in bulk."""

from __future__ import annotations

import pytest
from qqbus.observability import count, metrics


def test_counts_are_not_kept_while_metrics_are_disabled(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics.clear_metrics()
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    for _ in range(150):  # Powertools prints a metric's values on its 100th
        count("Requests")
    assert metrics.metric_set == {}
    assert "Requests" not in capsys.readouterr().out
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    try:
        count("Requests")
        assert metrics.metric_set["Requests"]["Value"] == [1.0]
    finally:
        metrics.clear_metrics()


def test_a_handler_publishes_its_counts_only_while_metrics_are_enabled(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import json
    import warnings

    from qqbus.observability import note, summarised
    from qqbus_dev.lambda_context import LocalContext

    def handler(event: dict[str, int], context: object) -> str:
        count("Handled", event["n"])
        if event.get("say"):
            note("handled", n=event["n"])
        return "done"

    run = summarised(handler)
    assert run.__name__ == "handler"
    # As in Lambda, where POWERTOOLS_SERVICE_NAME is set before the import: here the import may
    # come first (collection), and the metrics would have no service dimension.
    monkeypatch.setattr(metrics, "service", "qqbus")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Powertools' "No application metrics to publish" would raise
        assert run({"n": 2}, LocalContext()) == "done"
    assert capsys.readouterr().out == ""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    assert run({"n": 3}, LocalContext()) == "done"
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [line["Handled"] for line in emf] == [3]  # one value: a number, as EMF allows
    assert metrics.metric_set == {}  # flushed
    # With a note, the metrics ride in the invocation's one line: CloudWatch reads either.
    from qqbus.observability import logger

    out = io.StringIO()
    before = logger.registered_handler.setStream(out)  # type: ignore[attr-defined]
    try:
        assert run({"n": 4, "say": 1}, LocalContext()) == "done"
    finally:
        logger.registered_handler.setStream(before)  # type: ignore[attr-defined]
    assert capsys.readouterr().out == ""  # no separate EMF line
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 1, lines
    (line,) = lines
    assert line["message"] == "handled" and line["n"] == 4 and line["Handled"] == 4  # one value: a number
    assert line["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "Handled", "Unit": "Count"}]
    assert line.get("service") == "qqbus", line  # the metrics' dimension, whatever keys the log trims
