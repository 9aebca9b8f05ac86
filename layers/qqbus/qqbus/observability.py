"""The one Powertools Logger and Metrics of a qqbus process, and each invocation's one line.

Service and namespace come from ``POWERTOOLS_SERVICE_NAME`` / ``POWERTOOLS_METRICS_NAMESPACE``
(set in template.yaml's Globals), defaulting to ``qqbus``.

An invocation that goes well writes one INFO line: what happened (``note``: the event it
handled, the command it ran, the action it sent), the keys that say where, and its metrics in
CloudWatch's embedded metric format in the same JSON object (CloudWatch extracts the metrics of
any line carrying ``_aws``). One line instead of a line per step and a separate EMF line halves
the log bytes an answered message costs (see bench/bench_calls.py); warnings and errors are
still written the moment they happen, and DEBUG shows every step.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

__all__ = ["MetricUnit", "count", "logger", "metrics", "note", "summarised"]

Handler = TypeVar("Handler", bound=Callable[..., Any])

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "qqbus")

#: Keys Powertools puts on every line that CloudWatch already has: each log event carries the
#: time it was written (``@timestamp``, to the millisecond), the log group names the function
#: (and its ARN), ``service`` is the same in every qqbus function, the REPORT line gives memory,
#: ``ColdStart`` is a metric, ``location`` is a source line. Dropped above DEBUG; the request id,
#: the correlation id and the X-Ray trace id stay on every line.
REDUNDANT_LOG_KEYS = [
    "timestamp",
    "location",
    "service",
    "function_arn",
    "function_memory_size",
    "function_name",
    "cold_start",
]


def trim_log_keys() -> None:
    """Drop ``REDUNDANT_LOG_KEYS`` from this invocation's lines unless the level is DEBUG, and
    the X-Ray trace id when X-Ray did not sample the request (Lambda sets an id either way; an
    unsampled one names no trace). Called as each invocation starts."""
    if logger.log_level > logging.DEBUG:
        logger.remove_keys(REDUNDANT_LOG_KEYS)
        if "Sampled=1" not in os.environ.get("_X_AMZN_TRACE_ID", ""):
            logger.append_keys(xray_trace_id=None)  # Powertools' documented way to leave it out


metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "qqbus")


def count(name: str, value: float = 1) -> None:
    """Add ``value`` to the count metric ``name`` (published when the invocation ends).

    Not kept while metrics are disabled (``qqbus dev``): Powertools would keep every value and
    print them all at the 100th, on the dev terminal."""
    if is_metrics_disabled():
        return
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


class _Invocation(threading.local):
    """This thread's invocation under way: its notes and how deep (one may run inside another
    locally). Per thread: ``qqbus dev`` runs a relay beside the functions in one process."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.keys: dict[str, Any] = {}
        self.depth = 0
        self.said = False  # something was noted that is worth a line by itself


_now = _Invocation()


def note(message: str, *, alone: bool = True, **keys: Any) -> None:
    """Say ``message`` (with ``keys``) in the line that ends this invocation (at DEBUG also now);
    outside one (the relay, a script), an INFO line now.

    Parts join with "; " in the order they were noted; a key noted twice keeps its last value.
    ``alone=False``: context (the message a handler read) that makes no line by itself: a chat
    message no command took costs its metrics only, while a command's line names who asked."""
    if not _now.depth:
        if alone:
            logger.info(message, extra=keys)
        return
    _now.parts.append(message)
    _now.keys.update(keys)
    _now.said |= alone
    logger.debug(message, extra=keys)


def _line() -> None:
    """Write the invocation's line (its notes and metrics), or the metrics alone, and forget them."""
    parts, keys = (_now.parts, _now.keys) if _now.said else ([], {})
    _now.parts, _now.keys, _now.said = [], {}, False
    emf: dict[str, Any] = {}
    if metrics.metric_set and not is_metrics_disabled():
        emf = dict(metrics.serialize_metric_set())
        metrics.clear_metrics()
        for name in _metric_names(emf):  # one value: a number, as EMF allows, not a list of one
            if isinstance(emf[name], list) and len(emf[name]) == 1:
                emf[name] = _number(emf[name][0])
    if parts:
        logger.info("; ".join(parts), extra={**keys, **emf})
    elif emf:
        print(json.dumps(emf, separators=(",", ":")))  # as Powertools' flush writes it


def _metric_names(emf: dict[str, Any]) -> list[str]:
    return [m["Name"] for d in emf["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


_cold = True


def summarised(handler: Handler, *, cold_start: bool = False) -> Handler:
    """``handler`` ending each invocation with its line (``note``) and metrics, and, with
    ``cold_start``, the ColdStart metric on its first. Inside ``logger.inject_lambda_context``,
    so the line carries the request and correlation ids."""

    @functools.wraps(handler)
    def run(event: Any, context: Any) -> Any:
        global _cold
        if not _now.depth:
            _now.parts, _now.keys, _now.said = [], {}, False
        _now.depth += 1
        trim_log_keys()
        if _cold and cold_start and not is_metrics_disabled():
            metrics.provider.add_cold_start_metric(context)  # its own EMF line, once
        _cold = False
        try:
            return handler(event, context)
        finally:
            _now.depth -= 1
            if not _now.depth:
                _line()

    return run  # type: ignore[return-value]
