"""One function from a raw payload to (source, detail-type, typed model)."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, NamedTuple

from pydantic import BaseModel, ValidationError

from qqbus.events.registry import error_summary


class UnknownPayload(ValueError):
    """The payload is neither a QQ dispatch nor a OneBot v11 event."""


class ParsedEvent(NamedTuple):
    """A payload's place on the bus and its model (a tuple: made once per event on the hot path).

    ``problem`` says why the payload did not fit the model of its type (it then parsed to the
    base model); such an event still goes on the bus, and its handler reports the problem.
    """

    source: str
    detail_type: str
    model: BaseModel
    problem: str | None = None


_protocols: dict[str, ModuleType] = {}


def _protocol(name: str) -> ModuleType:
    """``qqbus.events.<name>``, imported on first use: a QQ-only function never builds the
    OneBot models, and the other way round (an import statement per event costs more)."""
    module = _protocols.get(name)
    if module is None:
        module = _protocols[name] = importlib.import_module(f"qqbus.events.{name}")
    return module


def parse_event(payload: Any) -> ParsedEvent:
    """Classify and parse a QQ official dispatch or a OneBot v11 event.

    Raises
    ------
    UnknownPayload
        When ``payload`` is not a JSON object with an integer ``op`` (QQ, op 0 with ``t``)
        or a string ``post_type`` (OneBot), or lacks the fields every such event has.
    """
    if not isinstance(payload, dict):
        raise UnknownPayload(f"an event is a JSON object, not {type(payload).__name__}")
    try:
        if "post_type" in payload:
            onebot = _protocol("onebot")
            detail_type, type_name = onebot.classify(payload)
            model, problem = onebot.parse_onebot_verbose(payload, type_name)
            return ParsedEvent(onebot.SOURCE, detail_type, model, problem)
        if "op" in payload:
            qq = _protocol("qq")
            if payload.get("op") != 0 or not isinstance(payload.get("t"), str) or not payload["t"]:
                raise UnknownPayload(
                    f"QQ payload with op={payload.get('op')!r} is not a dispatch (op 0 with a type 't')"
                )
            qq_model, problem = qq.parse_qq_verbose(payload)
            return ParsedEvent(qq.SOURCE, payload["t"], qq_model, problem)
    except ValidationError as exc:
        raise UnknownPayload(f"not a valid event envelope: {error_summary(exc)}") from exc
    except ValueError as exc:
        if isinstance(exc, UnknownPayload):
            raise
        raise UnknownPayload(str(exc)) from exc
    raise UnknownPayload("neither a QQ dispatch ('op') nor a OneBot event ('post_type')")
