"""One verified event onto the bus, in the contract's shape."""

from __future__ import annotations

from typing import Any

from qqbus.aws import require_env
from qqbus.detail import Transport, event_entry
from qqbus.events.parse import ParsedEvent
from qqbus.observability import count, logger
from qqbus.publish import EVENT_BUS_ENV, Failed, publisher


def publish(
    parsed: ParsedEvent,
    payload: dict[str, Any],
    *,
    bot_id: str,
    event_id: str,
    transport: Transport,
) -> Failed | None:
    """Put the event on the bus; the failure if the bus did not take it."""
    if parsed.problem:
        # Still published: the payload may be a real implementation's variant, and its
        # handler reports it; dropping it here would lose it.
        logger.warning(f"{parsed.detail_type} does not fit its model: {parsed.problem}")
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
    if failed:
        logger.error(
            f"the bus refused {parsed.detail_type} {event_id}: {failed[0].code} {failed[0].message}",
            extra={"event_id": event_id},
        )
        count("PublishFailed")
        return failed[0]
    logger.info(
        f"published {parsed.source} {parsed.detail_type}",
        extra={"event_id": event_id, "bot_id": bot_id, "transport": transport},
    )
    count("Published")
    return None
