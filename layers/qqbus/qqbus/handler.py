"""``@handler``: the one way to write a qqbus event Lambda, and ``Delivered``, what it receives.

``@handler(Model)`` turns ``fn(delivered, context)`` into ``lambda_handler(event, context)``
through the pipeline every bus function shares (``qqbus.pipeline``): the EventBridge event,
its ``detail`` parsed into ``Delivered[Model]``, log keys (correlation id = the event id),
metrics, and the run's ``Outbox``: replies and sends (``ev.reply(...)``) are collected and go
on the bus when ``fn`` returns; if they cannot be published the run fails and is retried, and
the retry asks for the same action ids.

The idempotency choice is made per function. ``once=True`` (the default, the safe choice for a
new handler) runs ``fn`` at most once per (bot_id, event_id) through Powertools idempotency: two
records per event in ``IDEMPOTENCY_TABLE_NAME``, twice a state write's cost. Keep it for work
that is not idempotent by itself (a counter incremented without the event's id, a call to
another service, an email). Every built-in handler takes ``once=False``: the state handlers'
event-time-ordered conditional writes are exactly-once by design (a duplicate is one refused
write; they return ``store.write(...)``, so a run that changed nothing is reported
``unchanged``), and the message handlers ask for actions with deterministic ids, which the
senders perform once (conversations and cooldowns keep the event ids they applied).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from qqbus.detail import TRANSPORTS, BusEvent
from qqbus.events.chat import ChatEvent
from qqbus.observability import count, logger, note
from qqbus.outbox_scope import collecting_lazily
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
from qqbus.state import Written

if TYPE_CHECKING:  # imported when a run asks for an action: a state handler never does
    from qqbus.actions import Action, MessageLike, Outbox

__all__ = ["Delivered", "handler"]

P = TypeVar("P")
M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")

#: The idempotency key of an event handler run (``once=True``).
EVENT_KEY = ("bot_id", "event_id")


class Delivered(BaseModel, Generic[P]):
    """An event as a handler receives it: the contract's detail with a typed ``payload``.

    Its reply API asks for one action per call (``qqbus.actions``), put on the bus when the
    handler returns; it works inside a ``@handler`` function.
    """

    # Built per payload model (``Delivered[Model]``, on first use): the generic itself never is.
    model_config = ConfigDict(extra="allow", defer_build=True)

    bot_id: str = Field(description="QQ AppID, or the OneBot self_id as a string")
    event_id: str = Field(description="QQ envelope id; for OneBot a hash of the raw body")
    transport: str = Field(description="How it arrived", examples=list(TRANSPORTS))
    received_at: int = Field(description="When the ingress received it (Unix milliseconds)")
    payload: P

    def reply(self, message: MessageLike, *, quote: bool = False) -> Action:
        """Answer this event where it happened: the group, else the user (see ``Outbox.reply``)."""
        return _outbox().reply(self.payload, message, quote=quote)

    def send_group(self, group_id: str | int, message: MessageLike) -> Action:
        """Post into a group of this event's platform, unprompted."""
        return _outbox().send_group(self.protocol, group_id, message)

    def send_private(self, user_id: str | int, message: MessageLike) -> Action:
        """Message a user of this event's platform, unprompted."""
        return _outbox().send_private(self.protocol, user_id, message)

    def call(
        self,
        action: str,
        *,
        then: str | None = None,
        state: dict[str, Any] | None = None,
        timeout: int = 60,
        **params: Any,
    ) -> Action:
        """Any OneBot v11 action by name (``ev.call("set_group_ban", group_id=..., ...)``).

        ``then`` names a step (``@step("whois.answer")``, ``qqbus.steps``) that gets the result
        (a query's ``data``, typed by ``qqbus.queries``, or why it failed) with ``state`` and this
        event's chat, so it can answer here; an answer after ``timeout`` seconds is ``late``.
        """
        outbox = _outbox()
        then_ = None if then is None else outbox.continuation(then, self.payload, state, timeout)
        return outbox.call(action, then=then_, **params)

    @property
    def protocol(self) -> Literal["qq", "onebot"]:
        """``qq`` or ``onebot``: the payload's own answer."""
        if not isinstance(self.payload, ChatEvent):
            raise TypeError(f"{type(self.payload).__name__} is not a QQ or OneBot event model")
        return self.payload.protocol


def _outbox() -> Outbox:
    """The run's Outbox: ``qqbus.actions`` is imported when a run first asks for an action."""
    from qqbus.actions import current_outbox

    return current_outbox()


def handler(
    model: type[M], *, once: bool = True
) -> Callable[[Callable[[Delivered[M], Any], R]], Callable[[dict[str, Any], Any], R | dict[str, str]]]:
    """Make ``fn(delivered: Delivered[model], context)`` an EventBridge Lambda handler.

    Parameters
    ----------
    model:
        The payload model, e.g. ``qqbus.events.qq.GroupAddRobot``.
    once:
        Run ``fn`` at most once per (bot_id, event_id) (Powertools idempotency: two DynamoDB
        writes per event). EventBridge delivers at least once: turn it off only when running
        twice changes nothing the second time (conditional state writes, deterministic action
        ids); ``fn`` then returning ``store.write(...)`` reports a run that changed nothing
        as ``unchanged``.
    """
    delivered_model = Delivered[model]  # type: ignore[valid-type]

    def decorate(fn: Callable[[Delivered[M], Any], R]) -> Callable[[dict[str, Any], Any], R | dict[str, str]]:
        key_prefix = f"{function_name(model.__name__)}.{fn.__name__}"
        prewarm_function(EVENT_KEY if once else None, key_prefix, models=(delivered_model,))

        def keys(run: Run[Any]) -> dict[str, Any]:
            assert run.bus_event is not None
            detail = run.bus_event.detail
            return {
                "detail_type": run.bus_event.detail_type,  # names its source too
                "bot_id": detail.get("bot_id"),
                "replay_name": run.bus_event.replay_name,
            }

        def duplicate(run: Run[Any]) -> dict[str, Any]:
            # Async invocations' return values go nowhere in AWS; locally they tell the story.
            note(f"duplicate {run.bus_event.detail_type} event {run.item.event_id}: already handled")  # type: ignore[union-attr]
            count("DuplicateEvents")
            return {"status": "duplicate", "event_id": run.item.event_id}  # type: ignore[union-attr]

        def unchanged(run: Run[Any]) -> dict[str, Any]:
            # A duplicate, or an event older than what the row holds: logged at DEBUG only.
            logger.debug(f"{run.bus_event.detail_type} event {run.item.event_id} changed nothing")  # type: ignore[union-attr]
            count("UnchangedEvents")
            return {"status": "unchanged", "event_id": run.item.event_id}  # type: ignore[union-attr]

        def work(run: Run[Any]) -> R:
            delivered: Delivered[M] = run.item  # type: ignore[assignment]
            assert run.bus_event is not None
            detail_type = run.bus_event.detail_type

            def outbox() -> Outbox:
                from qqbus.actions import Outbox

                return Outbox(
                    bot_id=delivered.bot_id,
                    event_id=delivered.event_id,
                    detail_type=detail_type,
                    function=key_prefix,
                )

            with collecting_lazily(outbox) as scope:
                result = fn(delivered, run.context)
            if scope.made is not None and (asked := scope.made.flush()):
                count("ActionsRequested", asked)
            elif isinstance(result, Written) and not result.changed:
                return unchanged(run)  # type: ignore[return-value]
            count("EventsHandled")
            return result

        def event_key(run: Run[Any]) -> dict[str, str]:
            assert run.item is not None
            return {"bot_id": run.item.bot_id, "event_id": run.item.event_id}

        def parse(bus_event: BusEvent) -> Delivered[M]:
            return delivered_model.model_validate(bus_event.detail)  # type: ignore[no-any-return]

        lambda_handler = pipeline(
            received(),
            log_keys(keys),
            parsed(
                parse, what=lambda e: f"{e.detail_type} event for {model.__name__}", metric="InvalidEvents"
            ),
            at_most_once(
                event_key if once else None,
                key_prefix=key_prefix,
                duplicate=duplicate,
            ),
            work=work,
        )
        functools.update_wrapper(lambda_handler, fn)
        return observed(lambda_handler, correlation_id_path="detail.event_id", cold_start=True)  # type: ignore[return-value]

    return decorate
