"""PutEvents faults injected into a real (moto-backed) boto3 client through botocore's own events.

``plan(call_number, entry_count)`` decides each call: None (untouched), an error code (the
whole call fails with HTTP 500 and that code), or a list with, per entry, None (sent to the
bus) or the ErrorCode the entry fails with (it is never sent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.awsrequest import AWSResponse

Plan = Callable[[int, int], "str | list[str | None] | None"]


class PutEventsFaults:
    def __init__(self, client: Any, plan: Plan) -> None:
        self.plan = plan
        self.calls = 0
        self.injected = 0
        events = client.meta.events
        events.register("provide-client-params.events.PutEvents", self._params)
        events.register("before-call.events.PutEvents", self._before)
        events.register("after-call.events.PutEvents", self._after)

    def _params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        self.calls += 1
        decision = self.plan(self.calls, len(params["Entries"]))
        context["fault"] = decision
        if isinstance(decision, list) and any(code is None for code in decision):
            params["Entries"] = [
                e for e, code in zip(params["Entries"], decision, strict=True) if code is None
            ]

    def _before(self, context: dict[str, Any], **_: Any) -> Any:
        decision = context.get("fault")
        if isinstance(decision, str):
            self.injected += 1
            error = {
                "Error": {"Code": decision, "Message": "injected"},
                "ResponseMetadata": {"HTTPStatusCode": 500},
            }
            return AWSResponse("https://events.invalid/", 500, {}, None), error
        if isinstance(decision, list) and all(code is not None for code in decision):
            self.injected += len(decision)
            entries = [{"ErrorCode": code, "ErrorMessage": "injected"} for code in decision]
            parsed = {
                "FailedEntryCount": len(entries),
                "Entries": entries,
                "ResponseMetadata": {"HTTPStatusCode": 200},
            }
            return AWSResponse("https://events.invalid/", 200, {}, None), parsed
        return None

    def _after(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
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
        self.injected += sum(code is not None for code in decision)
        parsed["FailedEntryCount"] = sum("ErrorCode" in e for e in parsed["Entries"])
