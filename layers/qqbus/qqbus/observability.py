"""The one Powertools Logger and Metrics of a qqbus process.

Service and namespace come from ``POWERTOOLS_SERVICE_NAME`` / ``POWERTOOLS_METRICS_NAMESPACE``
(set in template.yaml's Globals), defaulting to ``qqbus``.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

__all__ = ["MetricUnit", "count", "logger", "metrics"]

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "qqbus")
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "qqbus")


def count(name: str, value: float = 1) -> None:
    """Add ``value`` to the count metric ``name`` (published when the invocation ends).

    Not kept while metrics are disabled (``qqbus dev``): Powertools would keep every value and
    print them all at the 100th, on the dev terminal."""
    if is_metrics_disabled():
        return
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
