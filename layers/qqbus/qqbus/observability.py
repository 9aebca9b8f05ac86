"""The one Powertools Logger and Metrics of a qqbus process.

Service and namespace come from ``POWERTOOLS_SERVICE_NAME`` / ``POWERTOOLS_METRICS_NAMESPACE``
(set in template.yaml's Globals), defaulting to ``qqbus``.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

__all__ = ["MetricUnit", "count", "logger", "metrics", "publishing_metrics"]

Handler = TypeVar("Handler", bound=Callable[..., Any])

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "qqbus")

#: Keys Powertools puts on every line that CloudWatch already has: the log group names the
#: function (and its ARN), ``service`` is the same in every qqbus function, the REPORT line gives
#: memory, ``ColdStart`` is a metric, ``location`` is a source line. Dropped above DEBUG; the
#: request id, the correlation id and the X-Ray trace id stay on every line.
REDUNDANT_LOG_KEYS = [
    "location",
    "service",
    "function_arn",
    "function_memory_size",
    "function_name",
    "cold_start",
]


def trim_log_keys() -> None:
    """Drop ``REDUNDANT_LOG_KEYS`` from this invocation's lines unless the level is DEBUG."""
    if logger.log_level > logging.DEBUG:
        logger.remove_keys(REDUNDANT_LOG_KEYS)


metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "qqbus")


def count(name: str, value: float = 1) -> None:
    """Add ``value`` to the count metric ``name`` (published when the invocation ends).

    Not kept while metrics are disabled (``qqbus dev``): Powertools would keep every value and
    print them all at the 100th, on the dev terminal."""
    if is_metrics_disabled():
        return
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def publishing_metrics(handler: Handler, *, cold_start: bool = False) -> Handler:
    """``handler`` with its counts published as it returns (Powertools ``log_metrics``), and the
    cold-start metric with ``cold_start``; while metrics are disabled, ``handler`` as it is
    (Powertools would warn of an empty flush on every invocation)."""
    published = metrics.log_metrics(handler, capture_cold_start_metric=cold_start)

    @functools.wraps(handler)
    def run(event: Any, context: Any) -> Any:
        return handler(event, context) if is_metrics_disabled() else published(event, context)

    return run  # type: ignore[return-value]
