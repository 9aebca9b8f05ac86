"""Parking an action that failed for a reason a person must fix first (the IP whitelist).

Such an action is reported ``failed`` once and parked in the failure queue
(``HANDLER_FAILURE_QUEUE_URL``, the template's HandlerFailureQueue) in the shape of Lambda's
own destination record, so the console's and the README's replay works on it as on any failed
invocation. The parked copy carries ``resend`` one higher: putting it back on the bus is a new
delivery (the sender runs it again, with the same reply slot and ``msg_seq``), while a duplicate
delivery of the original is still a duplicate.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from qqbus.actions import ACTION_SOURCE, Action, Result

FAILURE_QUEUE_ENV = "HANDLER_FAILURE_QUEUE_URL"
#: Failures no retry can fix: the action waits in the failure queue for a replay.
PARKED_REASONS = frozenset({"ip_not_whitelisted"})


def should_park(result: Result) -> bool:
    return result.outcome == "failed" and result.reason in PARKED_REASONS


def parked_record(
    action: Action, result: Result, *, function_arn: str, request_id: str | None = None
) -> dict[str, Any]:
    """Lambda's destination-record shape, holding the action event to replay."""
    again = action.model_copy(update={"resend": action.resend + 1})
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": action.detail_type,
        "source": ACTION_SOURCE,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "resources": [],
        "detail": again.model_dump(mode="json", exclude_none=True),
    }
    return {
        "version": "1.0",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "requestContext": {
            "requestId": request_id or str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": result.reason,
            "approximateInvokeCount": 1,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Handled"},
        "responsePayload": {"errorType": result.reason, "errorMessage": result.message or ""},
    }


def park(sqs: Any, queue_url: str, record: dict[str, Any]) -> None:
    """Put ``record`` on the failure queue (raises what SQS raises)."""
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(record, ensure_ascii=False))
