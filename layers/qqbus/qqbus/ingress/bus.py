"""One verified event onto the bus, in the contract's shape, and the answer when it fails.

The answer tells the platform whether sending again can help. A failure of the bus itself
(throttling, an internal error, no such bus, no permission: all heal with time or a fix of
the deployment) is 503, so the platform retries. An event the bus can never take is a 4xx,
so it is not resent forever: 413 when its entry is over the PutEvents size limit (a body
under ``MaxBodyBytes`` can still grow, e.g. ``1e15`` is written ``1000000000000000.0``), 400
when its type cannot be a detail-type (``qqbus.detail.detail_type_problem``: too long, a lone
surrogate, a control character) or the bus calls it malformed.
"""

from __future__ import annotations

from typing import Any

from qqbus.aws import require_env
from qqbus.detail import Transport, detail_type_problem, event_entry, utf8_safe
from qqbus.events.parse import ParsedEvent
from qqbus.ingress.function_url import Response
from qqbus.observability import count, logger, note
from qqbus.publish import EVENT_BUS_ENV, Failed, publisher


def publish(
    parsed: ParsedEvent,
    payload: dict[str, Any],
    *,
    bot_id: str,
    event_id: str,
    transport: Transport,
) -> Response | None:
    """Put the event on the bus; None when it is there, else the answer that says why not."""
    if refusal := _unroutable(parsed.detail_type):
        return refusal
    if parsed.problem:
        # Still published: the payload may be a real implementation's variant, and its
        # handler reports it; dropping it here would lose it.
        logger.warning(utf8_safe(f"{parsed.detail_type} does not fit its model: {parsed.problem}"))
    entry = event_entry(
        source=parsed.source,
        detail_type=parsed.detail_type,
        bot_id=bot_id,
        event_id=event_id,
        transport=transport,
        payload=payload,
        bus_name=require_env(EVENT_BUS_ENV),
    )
    failed = publisher().put([entry])
    logged_id = utf8_safe(event_id)  # the envelope's id, as sent: a log line must still be writable
    if failed:
        logger.error(
            utf8_safe(
                f"the bus refused {parsed.detail_type} {event_id}: {failed[0].code} {failed[0].message}"
            ),
            extra={"event_id": logged_id},
        )
        count("PublishFailed")
        return refused(failed[0])
    note(
        f"published {parsed.source} {parsed.detail_type}",
        event_id=logged_id,
        bot_id=bot_id,
        transport=transport,
    )
    count("Published")
    return None


def refused(failed: Failed) -> Response:
    """The answer to an event the bus did not take: 4xx if it never will, else 503 (retry)."""
    if failed.code == "EntryTooLarge":
        return Response.error(413, f"the event is too large for the bus ({failed.message}); not retried")
    if failed.entry_at_fault:
        return Response.error(400, f"the bus refused the event ({failed.code}); not retried")
    return Response.json(503, {"error": f"event not accepted by the bus ({failed.code}); retry"})


def _unroutable(detail_type: str) -> Response | None:
    problem = detail_type_problem(detail_type)
    return None if problem is None else Response.error(400, problem)
