"""The Lambda pipeline of every bus-triggered function, written once and composed.

An EventBridge event goes through the same steps in an event handler (``qqbus.handler``) and in
a sender (``qqbus.senders.delivery``), like Powertools' middleware factory composes its own:

1. ``observed``: Powertools' Lambda context in the logs (correlation id from the event), and the
   invocation's one line with its metrics when it returns;
2. ``received``: read as an EventBridge event (anything else is a wiring error and
   fails loudly, into the failure queue);
3. ``parsed``: the detail into its model; a detail that does not fit is reported (an ERROR naming
   each bad field, the ``invalid`` metric) and not retried: retrying cannot fix it, and the bus
   archive keeps the event for a replay once the model or its sender is fixed;
4. ``log_keys``: what the rest of the run's log lines carry;
5. ``at_most_once``: at most once per key (Powertools idempotency, innermost but for the work itself), or
   nothing, for work that is idempotent by construction (see ``once_per_key``); a value the
   database refuses for good (DynamoDB ``ValidationException``) is reported like a bad detail;
6. the function's own work.

Each step is a function ``step(run, next)``; ``pipeline(*steps, work=...)`` returns the
``lambda_handler(event, context)``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from qqbus.aws import cached, client, prewarm, prewarm_enabled
from qqbus.detail import BusEvent
from qqbus.events.registry import error_summary
from qqbus.observability import count, logger, summarised

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

T = TypeVar("T")
R = TypeVar("R")

IDEMPOTENCY_TABLE_ENV = "IDEMPOTENCY_TABLE_NAME"
#: How long a handled key is remembered; beyond the bus's retry window (MaximumEventAge).
IDEMPOTENCY_SECONDS = 24 * 3600


@dataclass
class Run(Generic[T]):
    """One invocation as it goes down the pipeline."""

    event: dict[str, Any]
    context: Any
    bus_event: BusEvent | None = None
    item: T | None = None  # the parsed detail
    extra: dict[str, Any] = field(default_factory=dict)


Next = Callable[[Run[Any]], Any]
Step = Callable[[Run[Any], Next], Any]


def pipeline(*steps: Step, work: Next) -> Callable[[dict[str, Any], Any], Any]:
    """``lambda_handler(event, context)`` running ``steps`` in order around ``work``."""

    def lambda_handler(event: dict[str, Any], context: Any) -> Any:
        return _call(0, Run(event=event, context=context))

    def _call(i: int, run: Run[Any]) -> Any:
        if i == len(steps):
            return work(run)
        return steps[i](run, lambda r: _call(i + 1, r))

    return lambda_handler


def observed(
    handler: Callable[..., Any], *, correlation_id_path: str, cold_start: bool
) -> Callable[..., Any]:
    """Step 1 as a wrapper: Powertools' Lambda context around the whole pipeline, which ends with
    the invocation's one line and its metrics (``qqbus.observability.summarised``)."""
    inner = summarised(handler, cold_start=cold_start)
    return logger.inject_lambda_context(correlation_id_path=correlation_id_path, clear_state=True)(inner)


def received() -> Step:
    """Step 2: read as an EventBridge event. (Not counted: Lambda's own ``Invocations`` metric
    is that count, and one metric fewer keeps each invocation's EMF line short.)"""

    def step(run: Run[Any], next_: Next) -> Any:
        try:
            run.bus_event = BusEvent.model_validate(run.event)
        except ValidationError as exc:
            raise ValueError(f"not an EventBridge event: {error_summary(exc)}") from exc
        return next_(run)

    return step


def parsed(parse: Callable[[BusEvent], Any], *, what: Callable[[BusEvent], str], metric: str) -> Step:
    """Step 3: the detail as its model; a bad one is reported once and answered ``invalid``."""

    def step(run: Run[Any], next_: Next) -> Any:
        assert run.bus_event is not None
        try:
            run.item = parse(run.bus_event)
        except ValidationError as exc:
            problem = error_summary(exc)
            logger.error(
                f"invalid {what(run.bus_event)}: {problem}",
                extra={"errors": exc.errors(include_url=False, include_input=False)},
            )
            count(metric)
            return {"status": "invalid", "error": problem}
        return next_(run)

    return step


def log_keys(keys: Callable[[Run[Any]], dict[str, Any]]) -> Step:
    """Step 4: keys every later log line of the run carries."""

    def step(run: Run[Any], next_: Next) -> Any:
        logger.append_keys(**keys(run))
        return next_(run)

    return step


def at_most_once(
    key: Callable[[Run[Any]], dict[str, str] | None] | None,
    *,
    key_prefix: str,
    duplicate: Callable[[Run[Any]], dict[str, Any]],
) -> Step:
    """Step 5: the rest at most once per ``key`` (None, or a key answering None: every time),
    and refused values reported."""

    def step(run: Run[Any], next_: Next) -> Any:
        try:
            once_key = key(run) if key is not None else None
            if once_key is None:  # idempotent by construction (for this run): no record
                return next_(run)
            result, ran = once_per_key(lambda: next_(run), once_key, run.context, key_prefix=key_prefix)
        except Exception as exc:
            if not _is_validation_error(exc):
                raise
            what = run.bus_event.detail_type if run.bus_event else "event"
            logger.error(f"the database refused a value of {what}: {exc}")
            count("InvalidEvents")
            return {"status": "invalid", "error": str(exc)}
        return result if ran else duplicate(run)

    return step


@cached
def _persistence(key_jmespath: str, key_prefix: str) -> BasePersistenceLayer | None:
    """One persistence layer per key: Powertools keeps the first ``configure()``'s key path for
    good, so a layer shared by two kinds of key (events, actions) would hash the wrong fields."""
    table = os.environ.get(IDEMPOTENCY_TABLE_ENV, "").strip()
    if not table:
        logger.warning(f"{IDEMPOTENCY_TABLE_ENV} is not set: functions run without idempotency")
        return None
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(table_name=table, boto3_client=client("dynamodb"))


def once_per_key(
    fn: Callable[[], R], key: dict[str, str], context: Any, *, key_prefix: str
) -> tuple[R, bool]:
    """``fn()`` at most once per ``key`` (Powertools idempotency): its result (the stored one for
    a repeat) and whether it ran now (False: a duplicate). Without ``IDEMPOTENCY_TABLE_NAME`` it
    simply runs. An exception deletes the record, so the retry runs again.
    """
    ran = False

    def run(key: dict[str, str]) -> R:
        nonlocal ran
        ran = True
        return fn()

    key_jmespath = "[" + ", ".join(key) + "]"
    store = _persistence(key_jmespath, key_prefix)
    if store is None:
        return run(key), True
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

    config = IdempotencyConfig(
        event_key_jmespath=key_jmespath,
        raise_on_no_idempotency_key=True,
        expires_after_seconds=IDEMPOTENCY_SECONDS,
    )
    config.register_lambda_context(context)
    idempotent = idempotent_function(
        run, data_keyword_argument="key", persistence_store=store, config=config, key_prefix=key_prefix
    )
    result: R = idempotent(key=key)
    return result, ran


def prewarm_function(
    key_fields: tuple[str, ...] | None, key_prefix: str, models: tuple[type[BaseModel], ...] = ()
) -> None:
    """In Lambda's init phase: boto3, the DynamoDB client, (with a key) the idempotency store,
    and the validators of ``models`` (which defer their build to first use elsewhere)."""
    if not prewarm_enabled():
        return
    for model in models:
        model.model_rebuild()
    prewarm("dynamodb", *(["events"] if os.environ.get("EVENT_BUS_NAME") else []))
    if key_fields:
        _persistence("[" + ", ".join(key_fields) + "]", key_prefix)


def _is_validation_error(exc: BaseException) -> bool:
    """A DynamoDB ValidationException: a value no retry will make acceptable."""
    response = getattr(exc, "response", None)
    return isinstance(response, dict) and response.get("Error", {}).get("Code") == "ValidationException"


def function_name(default: str) -> str:
    """The key prefix of a function's records: its Lambda name, else ``default``."""
    return os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or default


__all__ = [
    "IDEMPOTENCY_SECONDS",
    "Run",
    "Step",
    "at_most_once",
    "function_name",
    "log_keys",
    "observed",
    "once_per_key",
    "parsed",
    "pipeline",
    "prewarm_function",
    "received",
]
