"""The local stack's trace: for each event, the path it took, as a person would want to read it.

Per event id: the ingress answer, each invocation of a function (ok / invalid / duplicate /
error, with its time), the actions it asked for and their results. The stack prints each step as
a line and keeps the lines with the event, so ``qqbus send`` can show what became of what it
sent (``GET /_trace/<event_id>``) and the console can draw it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

#: Events kept (the oldest are forgotten first).
MAX_EVENTS = 2000


@dataclass
class Step:
    kind: str  # ingress | invocation | unhandled | action | result
    line: str
    at: float = field(default_factory=time.time)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class EventTrace:
    event_id: str
    detail_type: str = "-"
    source: str = ""
    bot_id: str = ""
    steps: list[Step] = field(default_factory=list)
    actions: dict[str, dict[str, Any]] = field(default_factory=dict)  # action_id -> action (+ "result")

    @property
    def settled(self) -> bool:
        """Something handled or parked it, and every action it asked for has run its sender and
        has a result (the two arrive in either order)."""
        handled = any(s.kind in ("invocation", "unhandled", "refused") for s in self.steps)
        performed = {s.data.get("action_id") for s in self.steps if s.kind == "invocation"}
        return handled and all("result" in a and aid in performed for aid, a in self.actions.items())

    def ordered_steps(self) -> list[Step]:
        """The steps in the order of the story: the event's own (its arrival first: the ingress
        line is kept when the response is sent, and a quick handler may have run by then), then
        each action's, as asked."""
        own = sorted(
            (s for s in self.steps if "action_id" not in s.data),
            key=lambda s: s.kind not in ("ingress", "refused"),
        )
        by_action: dict[str, list[Step]] = {}
        for step in self.steps:
            if "action_id" in step.data:
                by_action.setdefault(str(step.data["action_id"]), []).append(step)
        rank = {"action": 0, "invocation": 1, "result": 2}
        ordered = list(own)
        for action_id in self.actions:
            ordered += sorted(by_action.pop(action_id, []), key=lambda s: rank.get(s.kind, 3))
        return ordered + [s for steps in by_action.values() for s in steps]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["settled"] = self.settled
        data["lines"] = [s.line for s in self.ordered_steps()]
        return data


class Trace:
    """Thread-safe; ``listeners`` are called with (event trace, new step) after each step."""

    def __init__(self) -> None:
        self._events: OrderedDict[str, EventTrace] = OrderedDict()
        self._action_origin: dict[str, str] = {}
        self._lock = threading.Lock()
        self.listeners: list[Callable[[EventTrace, Step], None]] = []

    def _event(self, event_id: str) -> EventTrace:
        found = self._events.get(event_id)
        if found is None:
            found = self._events[event_id] = EventTrace(event_id)
            while len(self._events) > MAX_EVENTS:
                self._events.popitem(last=False)
        return found

    def add(self, event_id: str, step: Step, **fields: Any) -> EventTrace:
        with self._lock:
            event = self._event(event_id)
            for name, value in fields.items():
                if value:
                    setattr(event, name, value)
            event.steps.append(step)
        for listener in list(self.listeners):
            listener(event, step)
        return event

    def action(self, origin_event_id: str, action: dict[str, Any], line: str) -> None:
        """An action asked for while handling ``origin_event_id`` (once, however often told)."""
        action_id = str(action.get("action_id"))
        with self._lock:
            self._action_origin[action_id] = origin_event_id
            actions = self._event(origin_event_id).actions
            if action_id in actions:
                return
            actions[action_id] = dict(action)
        self.add(origin_event_id, Step("action", line, data={"action_id": action_id}))

    def result(self, result: dict[str, Any], line: str) -> str | None:
        """Attach a result to its action; the origin event id, when the action is known."""
        action_id = str(result.get("action_id"))
        with self._lock:
            origin = self._action_origin.get(action_id) or result.get("origin_event_id")
            if not origin:
                return None
            event = self._event(str(origin))
            event.actions.setdefault(action_id, {"action_id": action_id})["result"] = dict(result)
        self.add(str(origin), Step("result", line, data={**result, "action_id": action_id}))
        return str(origin)

    def get(self, event_id: str) -> EventTrace | None:
        with self._lock:
            return self._events.get(event_id)

    def recent(self, limit: int = 200) -> list[EventTrace]:
        with self._lock:
            return list(self._events.values())[-limit:]
