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
