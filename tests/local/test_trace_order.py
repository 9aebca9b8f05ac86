"""A trace tells an event's story in order, whichever thread wrote its line first."""

from __future__ import annotations

from qqbus_dev.trace import Step, Trace


def test_the_arrival_comes_first_even_when_the_handler_finished_before_the_response() -> None:
    trace = Trace()
    trace.add("e1", Step("invocation", "-> Fn ok", at=2.0))  # the worker was quicker
    trace.action("e1", {"action_id": "a1"}, "   asks send")
    trace.add("e1", Step("ingress", "<- POST /onebot 204", at=1.0))
    trace.add("e1", Step("invocation", "-> Sender ok", data={"action_id": "a1"}))
    event = trace.get("e1")
    assert event is not None
    assert [line.split()[0] for line in event.as_dict()["lines"]] == ["<-", "->", "asks", "->"]
    assert event.steps[0].kind == "invocation"  # kept as written; only the story is ordered
