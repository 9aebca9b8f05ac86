"""``sender(perform)``: the Lambda handler of a sender function.

It parses the action event, runs ``perform`` at most once per (bot_id, action_id) (Powertools
idempotency, the same table as the handlers), puts the result on the bus and counts it
(``ActionsSent`` / ``ActionsRefused`` / ``ActionsFailed``). A refusal is data, not an error.

When the platform stays unreachable (``Unavailable``), the invocation fails so that Lambda
retries it later; the ledger counts attempts, and the last one (``SEND_ATTEMPTS``, matching the
template's ``MaximumRetryAttempts`` + 1) reports ``failed`` before failing into the failure
queue. A result that cannot be put on the bus is logged, never a reason to send again.

A failure that a person must fix first (``parking.PARKED_REASONS``: QQ's IP whitelist) is
reported once, logged at ERROR with what to do, and parked in the failure queue for a replay,
without Lambda's retries (they would fail the same way).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from qqbus.actions import Action, Result
from qqbus.aws import client
from qqbus.observability import count, logger, note
from qqbus.pipeline import (
    Run,
    at_most_once,
    function_name,
    log_keys,
    observed,
    parsed,
    pipeline,
    prewarm_function,
    received,
)
from qqbus.publish import EVENT_BUS_ENV, publisher
from qqbus.senders.json_http import Unavailable
from qqbus.senders.outcome import Repeated, SendContext, failed
from qqbus.senders.parking import FAILURE_QUEUE_ENV, park, parked_record, should_park

#: Invocations that may try one action (1 + the template's MaximumRetryAttempts).
SEND_ATTEMPTS = int(os.environ.get("QQBUS_SEND_ATTEMPTS") or 3)
#: The once-key of a delivery: a parked and replayed action is a new delivery (``resend``).
ACTION_KEY = ("bot_id", "action_id", "resend")
METRIC = {"sent": "ActionsSent", "refused": "ActionsRefused", "failed": "ActionsFailed"}

Perform = Callable[[Action, SendContext], Result | Repeated | None]


def report(result: Result) -> None:
    """Put ``result`` on the bus, log and count it (a bus failure is logged, not raised)."""
    said = f"{result.protocol}.{result.action} {result.outcome}"
    if result.outcome == "sent":  # the invocation's line says it (with the mode: http, relay...)
        note(said, mode=result.mode)
    else:
        level = logger.error if should_park(result) else logger.warning
        level(
            f"{said}: {result.reason} ({result.message})" if result.reason else said,
            extra={
                "outcome": result.outcome,
                "reason": result.reason,
                "code": result.code,
                "mode": result.mode,
            },
        )
    count(METRIC[result.outcome])
    bus = os.environ.get(EVENT_BUS_ENV, "").strip()
    if not bus:
        logger.warning(f"{EVENT_BUS_ENV} is not set: the result stays in the log only")
        return
    if failures := publisher().put([result.entry(bus)]):
        logger.error(f"the result of {result.action_id} is not on the bus: {failures[0].code}")
        count("ResultsNotPublished")


def sender(
    perform: Perform, *, locked: Callable[[Action], bool] = lambda action: True
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda handler that performs each ``qqbus.action`` event with ``perform``, through
    the pipeline every bus function shares (``qqbus.pipeline``), once per delivery of an action.

    ``locked(action)``: whether that delivery is made once by Powertools idempotency (two records
    per action). The OneBot sender locks every action (the platform cannot tell a repeat); the QQ
    sender only what holds no reply slot, since ``perform`` makes a message once by its slot's
    done mark and msg_seq and reports a repeat as ``Repeated``."""
    key_prefix = f"{function_name(perform.__module__)}.send"
    prewarm_function(ACTION_KEY, key_prefix)

    def keys(run: Run[Action]) -> dict[str, Any]:
        action = run.item
        assert action is not None and run.bus_event is not None
        return {  # the action id is the correlation id of every line
            "bot_id": action.bot_id,
            "action": action.detail_type,
            "origin_event_id": action.origin.event_id if action.origin else None,
            "replay_name": run.bus_event.replay_name,
        }

    def duplicate(run: Run[Action]) -> dict[str, Any]:
        assert run.item is not None
        note(f"duplicate action {run.item.action_id}: already performed")
        count("DuplicateActions")
        return {"status": "duplicate", "action_id": run.item.action_id}

    def work(run: Run[Action]) -> dict[str, Any]:
        action = run.item
        assert action is not None
        ctx = SendContext(lambda_context=run.context)
        try:
            result = perform(action, ctx)
        except Unavailable as exc:
            attempt = ctx.ledger().count_attempt(action.bot_id, action.delivery_id)
            logger.warning(f"attempt {attempt}/{SEND_ATTEMPTS} of {action.action_id}: {exc}")
            if attempt >= SEND_ATTEMPTS:
                report(failed(action, "unavailable", str(exc), code=exc.status))
            raise
        if isinstance(result, Repeated):
            return duplicate(run)
        if result is None:
            count("ActionsRelayed")
            note(f"{action.detail_type} handed to the relay")
            return {"status": "relayed"}
        report(result)
        if should_park(result):
            return {"status": result.outcome, "reason": result.reason, "parked": _park(action, result, run)}
        return {"status": result.outcome, "reason": result.reason}

    def _park(action: Action, result: Result, run: Run[Action]) -> bool:
        queue = os.environ.get(FAILURE_QUEUE_ENV, "").strip()
        if not queue:
            logger.error(
                f"{FAILURE_QUEUE_ENV} is not set: {action.action_id} is not parked (the archive has it)"
            )
            return False
        arn = getattr(run.context, "invoked_function_arn", None) or key_prefix
        request_id = getattr(run.context, "aws_request_id", None)
        record = parked_record(action, result, function_arn=arn, request_id=request_id)
        try:
            park(client("sqs"), queue, record)
        except Exception as exc:  # the result is reported; the archive still holds the action
            logger.error(f"could not park {action.action_id} in the failure queue: {exc}")
            return False
        count("ActionsParked")
        return True

    def delivery_key(run: Run[Action]) -> dict[str, str] | None:
        action = run.item
        assert action is not None
        if not locked(action):
            return None
        return {"bot_id": action.bot_id, "action_id": action.action_id, "resend": str(action.resend)}

    lambda_handler = pipeline(
        received(),
        parsed(
            lambda bus_event: Action.model_validate(bus_event.detail),
            what=lambda e: f"{e.detail_type} action",
            metric="InvalidActions",
        ),
        log_keys(keys),
        at_most_once(
            delivery_key,
            key_prefix=key_prefix,
            duplicate=duplicate,
        ),
        work=work,
    )
    return observed(lambda_handler, correlation_id_path="detail.action_id", cold_start=False)
