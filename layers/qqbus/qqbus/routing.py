"""``@handler``: the one way to write a qqbus event Lambda.

It turns ``fn(delivered, context)`` into ``lambda_handler(event, context)`` that takes the
EventBridge event, parses ``detail`` into ``Delivered[Model]``, sets the log keys (correlation
id = the event id), counts, and runs ``fn`` at most once per (bot_id, event_id) through
Powertools idempotency (innermost, keyed on the event id, in ``IDEMPOTENCY_TABLE_NAME``).

A payload that does not fit the handler's model is reported (an ERROR log naming each bad
field, and the ``InvalidEvents`` metric) and not retried: retrying cannot fix it, and the bus
archive keeps the event for a replay once the model or the sender is fixed. So is a value the
database refuses for good (DynamoDB ``ValidationException``: an empty or over-long key).

Replies and sends (``ev.reply(...)``) collect in the run's ``Outbox`` and go on the bus when
``fn`` returns, inside the idempotent part: if they cannot be published the run fails and is
retried, and the retry asks for the same action ids. A repeated event is skipped, logged as a
duplicate and counted (``DuplicateEvents``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from qqbus.actions import Outbox, collecting
from qqbus.aws import cached, client, prewarm, prewarm_enabled
from qqbus.detail import BusEvent, Delivered
from qqbus.events.registry import error_summary
from qqbus.observability import count, logger, publishing_metrics

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

__all__ = ["Delivered", "handler"]

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")

IDEMPOTENCY_TABLE_ENV = "IDEMPOTENCY_TABLE_NAME"
#: How long a handled event id is remembered; beyond the bus's retry window (MaximumEventAge).
IDEMPOTENCY_SECONDS = 24 * 3600


@cached
def _persistence(key_jmespath: str, key_prefix: str) -> BasePersistenceLayer | None:
    """One persistence layer per key: Powertools keeps the first ``configure()``'s key path for
    good, so a layer shared by two kinds of key (events, actions) would hash the wrong fields."""
    table = os.environ.get(IDEMPOTENCY_TABLE_ENV, "").strip()
    if not table:
        logger.warning(f"{IDEMPOTENCY_TABLE_ENV} is not set: handlers run without idempotency")
        return None
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(table_name=table, boto3_client=client("dynamodb"))


def once_per_key(
    fn: Callable[[], R], key: dict[str, str], context: Any, *, key_prefix: str, enabled: bool = True
) -> tuple[R, bool]:
    """``fn()`` at most once per ``key`` (Powertools idempotency, innermost): its result (the
    stored one for a repeat) and whether it ran now (False: a duplicate).

    Without ``IDEMPOTENCY_TABLE_NAME`` (or with ``enabled`` off) ``fn`` simply runs.
    """
    ran = False

    def run(key: dict[str, str]) -> R:
        nonlocal ran
        ran = True
        return fn()

    key_jmespath = "[" + ", ".join(key) + "]"
    store = _persistence(key_jmespath, key_prefix) if enabled else None
    if store is None:
        return run(key), True
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

    config = IdempotencyConfig(
        event_key_jmespath=key_jmespath,
        raise_on_no_idempotency_key=True,
        expires_after_seconds=IDEMPOTENCY_SECONDS,
    )
    config.register_lambda_context(context)
    once = idempotent_function(
        run, data_keyword_argument="key", persistence_store=store, config=config, key_prefix=key_prefix
    )
    result: R = once(key=key)
    return result, ran


#: The idempotency key of an event handler run.
EVENT_KEY = "[bot_id, event_id]"


def prewarm_function(key_jmespath: str, key_prefix: str, idempotent: bool = True) -> None:
    """In Lambda's init phase: boto3, the DynamoDB client and the idempotency store, ready."""
    if not prewarm_enabled():
        return
    prewarm("dynamodb", *(["events"] if os.environ.get("EVENT_BUS_NAME") else []))
    if idempotent:
        _persistence(key_jmespath, key_prefix)


def _is_validation_error(exc: BaseException) -> bool:
    """A DynamoDB ValidationException: a value no retry will make acceptable."""
    response = getattr(exc, "response", None)
    return isinstance(response, dict) and response.get("Error", {}).get("Code") == "ValidationException"


def handler(
    model: type[M], *, idempotent: bool = True
) -> Callable[[Callable[[Delivered[M], Any], R]], Callable[[dict[str, Any], Any], R | dict[str, str]]]:
    """Make ``fn(delivered: Delivered[model], context)`` an EventBridge Lambda handler.

    Parameters
    ----------
    model:
        The payload model, e.g. ``qqbus.events.qq.GroupAddRobot``.
    idempotent:
        Run ``fn`` at most once per (bot_id, event_id). Keep it on for anything that writes or
        sends; EventBridge delivers at least once.
    """
    delivered_model = Delivered[model]  # type: ignore[valid-type]

    def decorate(fn: Callable[[Delivered[M], Any], R]) -> Callable[[dict[str, Any], Any], R | dict[str, str]]:
        key_prefix = f"{os.environ.get('AWS_LAMBDA_FUNCTION_NAME') or model.__name__}.{fn.__name__}"
        prewarm_function(EVENT_KEY, key_prefix, idempotent)

        @functools.wraps(fn)
        def lambda_handler(event: dict[str, Any], context: Any) -> R | dict[str, str]:
            count("EventsReceived")
            try:
                bus_event = BusEvent.model_validate(event)
            except ValidationError as exc:
                # A wiring error (not an EventBridge event at all): fail loudly, into the DLQ.
                raise ValueError(f"not an EventBridge event: {error_summary(exc)}") from exc
            detail = bus_event.detail
            logger.append_keys(
                detail_type=bus_event.detail_type,
                source=bus_event.source,
                bot_id=detail.get("bot_id"),
                transport=detail.get("transport"),
                replay_name=bus_event.replay_name,
            )
            try:
                delivered = delivered_model.model_validate(detail)
            except ValidationError as exc:
                problem = error_summary(exc)
                logger.error(
                    f"invalid {bus_event.detail_type} event for {model.__name__}: {problem}",
                    extra={"errors": exc.errors(include_url=False, include_input=False)},
                )
                count("InvalidEvents")
                return {"status": "invalid", "error": problem}

            def run_once() -> R:
                outbox = Outbox(
                    bot_id=delivered.bot_id,
                    event_id=delivered.event_id,
                    detail_type=bus_event.detail_type,
                    function=key_prefix,
                )
                with collecting(outbox):
                    result = fn(delivered, context)
                if asked := outbox.flush():
                    count("ActionsRequested", asked)
                count("EventsHandled")
                return result

            try:
                result, ran = once_per_key(
                    run_once,
                    {"bot_id": delivered.bot_id, "event_id": delivered.event_id},
                    context,
                    key_prefix=key_prefix,
                    enabled=idempotent,
                )
            except Exception as exc:
                if not _is_validation_error(exc):
                    raise
                logger.error(f"the database refused a value of {bus_event.detail_type}: {exc}")
                count("InvalidEvents")
                return {"status": "invalid", "error": str(exc)}
            if not ran:
                # Async invocations' return values go nowhere in AWS; locally they tell the story.
                logger.info(f"duplicate {bus_event.detail_type} event {delivered.event_id}: already handled")
                count("DuplicateEvents")
                return {"status": "duplicate", "event_id": delivered.event_id}
            return result

        traced = logger.inject_lambda_context(correlation_id_path="detail.event_id", clear_state=True)(
            lambda_handler
        )
        return publishing_metrics(traced, cold_start=True)

    return decorate
