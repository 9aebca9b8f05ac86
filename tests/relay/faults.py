"""PutEvents faults injected into a real (moto-backed) boto3 client through botocore's own events.

``plan(call_number, entry_count)`` decides each call: None (untouched), an error code (the
whole call fails with HTTP 500 and that code), or a list with, per entry, None (sent to the
bus) or the ErrorCode the entry fails with (it is never sent).

``delay(call_number)`` makes the bus slow: the call waits that many seconds before its request
goes out. ``max_concurrent`` is the most calls seen in progress at once (the publisher makes
them from several threads).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.awsrequest import AWSResponse

Plan = Callable[[int, int], "str | list[str | None] | None"]


class PutEventsFaults:
    def __init__(self, client: Any, plan: Plan, delay: Callable[[int], float] | None = None) -> None:
        self.plan = plan
        self.delay = delay
        self.calls = 0
        self.injected = 0
        self.concurrent = 0
        self.max_concurrent = 0
        self._lock = threading.Lock()
        events = client.meta.events
        events.register("provide-client-params.events.PutEvents", self._params)
        events.register("before-call.events.PutEvents", self._before)
        events.register("after-call.events.PutEvents", self._after)
        events.register("after-call-error.events.PutEvents", self._ended)

    def _params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        with self._lock:
            self.calls += 1
            call = context["call"] = self.calls
            self.concurrent += 1
            self.max_concurrent = max(self.max_concurrent, self.concurrent)
        decision = self.plan(call, len(params["Entries"]))
        context["fault"] = decision
        if isinstance(decision, list) and any(code is None for code in decision):
            params["Entries"] = [
                e for e, code in zip(params["Entries"], decision, strict=True) if code is None
            ]

    def _count(self, injected: int) -> None:
        with self._lock:
            self.injected += injected

    def _ended(self, **_: Any) -> None:
        with self._lock:
            self.concurrent -= 1

    def _before(self, context: dict[str, Any], **_: Any) -> Any:
        if self.delay is not None:
            time.sleep(self.delay(context["call"]))
        decision = context.get("fault")
        if isinstance(decision, str):
            self._count(1)
            error = {
                "Error": {"Code": decision, "Message": "injected"},
                "ResponseMetadata": {"HTTPStatusCode": 500},
            }
            return AWSResponse("https://events.invalid/", 500, {}, None), error
        if isinstance(decision, list) and all(code is not None for code in decision):
            self._count(len(decision))
            entries = [{"ErrorCode": code, "ErrorMessage": "injected"} for code in decision]
            parsed = {
                "FailedEntryCount": len(entries),
                "Entries": entries,
                "ResponseMetadata": {"HTTPStatusCode": 200},
            }
            return AWSResponse("https://events.invalid/", 200, {}, None), parsed
        return None

    def _after(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        self._ended()
        decision = context.get("fault")
        if (
            not isinstance(decision, list)
            or all(code is None for code in decision)
            or "Entries" not in parsed
        ):
            return
        if all(code is not None for code in decision):
            return
        real = iter(parsed["Entries"])
        parsed["Entries"] = [
            next(real) if code is None else {"ErrorCode": code, "ErrorMessage": "injected"}
            for code in decision
        ]
        self._count(sum(code is not None for code in decision))
        parsed["FailedEntryCount"] = sum("ErrorCode" in e for e in parsed["Entries"])
