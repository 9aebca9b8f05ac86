"""The failure queues: what is parked in them, why, and putting an event back on the bus.

Which queues: every SQS queue the template names as a Lambda ``OnFailure`` destination or a rule
target's ``DeadLetterConfig`` (HandlerFailureQueue, DeliveryDeadLetterQueue, ScheduleFailureQueue).
Three message shapes: Lambda's destination record (``requestPayload`` is the EventBridge event,
``responsePayload`` the error), EventBridge's dead letter (the event itself, the error in the
``ERROR_CODE`` / ``ERROR_MESSAGE`` message attributes) and EventBridge Scheduler's (the target's
``Input``, a ``qqbus.schedule`` detail, with the same attributes and ``SCHEDULE_ARN``).

Listing must not consume: messages are received with a visibility timeout, then made visible
again at once. "Replay" puts the event back on the bus with PutEvents (same source, detail-type
and detail, so every handler's idempotency still applies) and deletes the message.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from qqbus_dev.console.sandbox import describe_payload, message_text
from qqbus_dev.template import Template

LABELS = {
    "HandlerFailureQueue": "Handler failures",
    "DeliveryDeadLetterQueue": "Delivery dead letters",
    "ScheduleFailureQueue": "Schedule failures",
}
MAX_LISTED = 100


class NotFound(LookupError):
    """No such queue or message (already replayed, or deleted)."""


def failure_queue_ids(template: Template) -> list[str]:
    """Logical ids of the queues the template sends failures to, in template order."""
    found: list[str] = []

    def walk(node: Any, inside: bool) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                target = value[0] if key == "Fn::GetAtt" and isinstance(value, list) and value else None
                if inside and target is not None and target not in found:
                    found.append(str(target))
                walk(value, inside or key in ("OnFailure", "DeadLetterConfig"))
        elif isinstance(node, list):
            for value in node:
                walk(value, inside)

    walk(template.data, False)  # Globals too: the OnFailure destination is set there
    queues = template.of_type("AWS::SQS::Queue")
    return [q for q in found if q in queues]


def describe(message: dict[str, Any]) -> dict[str, Any]:
    """A parked message for people: when, which function, what failed, and the event it holds."""
    try:
        body = json.loads(message.get("Body") or "")
    except ValueError:
        body = message.get("Body")
    attributes = message.get("MessageAttributes") or {}
    info: dict[str, Any] = {"message_id": message["MessageId"], "body": body, "event": None}
    if isinstance(body, dict) and isinstance(body.get("requestPayload"), dict):
        context = body.get("requestContext") or {}
        response = body.get("responsePayload") or {}
        info.update(
            event=body["requestPayload"],
            function=str(context.get("functionArn", "")).rsplit(":", 1)[-1] or None,
            condition=context.get("condition"),
            attempts=context.get("approximateInvokeCount"),
            at=body.get("timestamp"),
            error=": ".join(str(v) for v in (response.get("errorType"), response.get("errorMessage")) if v)
            or "no error given",
        )
    elif isinstance(body, dict) and "detail-type" in body:
        code = (attributes.get("ERROR_CODE") or {}).get("StringValue")
        text = (attributes.get("ERROR_MESSAGE") or {}).get("StringValue")
        target = (attributes.get("TARGET_ARN") or {}).get("StringValue")
        info.update(
            event=body,
            function=str(target).rsplit(":", 1)[-1] if target else None,
            at=body.get("time"),
            error=": ".join(str(v) for v in (code, text) if v) or "no error given",
        )
    elif isinstance(body, dict) and "schedule_id" in body and "then" in body:
        # Scheduler's dead letter: the fire's detail; replayed as the Scheduler would put it.
        code = (attributes.get("ERROR_CODE") or {}).get("StringValue")
        text = (attributes.get("ERROR_MESSAGE") or {}).get("StringValue")
        schedule = (attributes.get("SCHEDULE_ARN") or {}).get("StringValue")
        info.update(
            event={"source": "qqbus.schedule", "detail-type": "fired", "detail": body},
            function=str(schedule).rsplit("/", 1)[-1] if schedule else body.get("schedule_id"),
            at=body.get("scheduled_time") or None,
            error=": ".join(str(v) for v in (code, text) if v) or "no error given",
        )
    else:
        info["error"] = "not a failure record this console knows (neither a destination record nor an event)"
    event = info["event"]
    if isinstance(event, dict):
        detail = event.get("detail")
        detail = detail if isinstance(detail, dict) else {}
        origin = detail.get("origin")
        info["detail_type"] = event.get("detail-type")
        info["source"] = event.get("source")
        origin = origin.get("event_id") if isinstance(origin, dict) else None
        info["event_id"] = origin or detail.get("event_id")
        info["text"] = said(detail)
    return info


def said(detail: dict[str, Any], limit: int = 60) -> str | None:
    """What a parked event says, shortened: an action's message, or the text of a message event."""
    if "message" in detail:
        text: str | None = message_text(detail["message"])
    else:
        payload = detail.get("payload")
        described = describe_payload(payload) if isinstance(payload, dict) else None
        text = described["text"] if described else None
    text = " ".join((text or "").split())
    if not text:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


class FailureQueues:
    """The template's failure queues on the stack's SQS, listed and replayed under one lock."""

    def __init__(
        self, template: Template, queue_urls: dict[str, str], sqs: Any, events: Any, bus: str
    ) -> None:
        self.urls = {q: queue_urls[q] for q in failure_queue_ids(template) if q in queue_urls}
        self.sqs = sqs
        self.events = events
        self.bus = bus
        self._lock = threading.Lock()

    def _peek(self, url: str) -> list[dict[str, Any]]:
        """Every message (up to ``MAX_LISTED``), left in the queue and visible."""
        seen: dict[str, dict[str, Any]] = {}
        while len(seen) < MAX_LISTED:
            got = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=30,
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
            ).get("Messages", [])
            if not got:
                break
            seen.update((m["MessageId"], m) for m in got)
        for message in seen.values():
            self.sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        return list(seen.values())

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "queue": queue,
                    "label": LABELS.get(queue, queue),
                    "name": url.rsplit("/", 1)[-1],
                    "messages": [describe(m) for m in self._peek(url)],
                }
                for queue, url in self.urls.items()
            ]

    def replay(self, queue: str, message_id: str) -> dict[str, Any]:
        """Put the message's event back on the bus and delete the message; its description.

        Raises
        ------
        NotFound
            No such queue, or no such message in it.
        ValueError
            The message holds no EventBridge event to put back.
        """
        url = self.urls.get(queue)
        if url is None:
            raise NotFound(f"no failure queue {queue!r} (there are: {', '.join(self.urls) or 'none'})")
        with self._lock:
            message = next((m for m in self._peek(url) if m["MessageId"] == message_id), None)
            if message is None:
                raise NotFound(f"no message {message_id!r} in {queue} (replayed or deleted already?)")
            info = describe(message)
            event = info["event"]
            if not isinstance(event, dict) or not isinstance(event.get("detail"), dict):
                raise ValueError(f"message {message_id} holds no EventBridge event to replay")
            answer = self.events.put_events(
                Entries=[
                    {
                        "Source": str(event.get("source")),
                        "DetailType": str(event.get("detail-type")),
                        "Detail": json.dumps(event["detail"], ensure_ascii=False),
                        "EventBusName": self.bus,
                    }
                ]
            )
            if answer.get("FailedEntryCount"):
                raise RuntimeError(f"the bus refused the event: {answer['Entries']}")
            self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            return info
