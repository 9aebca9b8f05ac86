"""Steps: named functions that a later event resumes, with the chat and state they were left with.

A handler cannot wait inside its invocation for a platform's answer or for an hour to pass, so it
names what runs then, and the later event (a query's result, a schedule coming due) runs it in
another invocation::

    @step("whois.answer")
    def whois_answer(answer: Answer) -> None:        # qqbus.queries.Answer
        answer.reply(f"{answer.data.nickname}: {answer.data.role}")

    ev.call("get_group_member_info", group_id=g, user_id=u, then="whois.answer", state={"user": u})

What is kept between the two is a ``Continuation`` (``qqbus.actions``): the step's name, its JSON
``state``, and the chat of the event that asked (protocol, group, user, the message answered).
The step gets it back as a ``Resumed`` (``Answer`` for queries, ``Fired`` for schedules):
``reply`` answers in that chat as a reply to the asking message, ``send`` posts there unprompted,
``call`` asks again (a chain of queries).

Steps are found by name in the process-wide registry ``steps``: the functions that resume them
(``handlers/action_result``, ``handlers/schedule``) import the modules that register them
(``qqbus.example_commands``; add yours there). A name no step has is logged and counted
(``UnknownSteps``), never retried.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from qqbus.actions import Action, Continuation, MessageLike, Outbox, collecting
from qqbus.detail import BusEvent
from qqbus.observability import count, logger, note
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

__all__ = ["Resumed", "Steps", "step", "steps"]

T = TypeVar("T")
Item = TypeVar("Item", bound=BaseModel)
R = TypeVar("R", bound="Resumed")


class Steps:
    """Step functions by name; ``steps("name")`` is the decorator that registers one."""

    def __init__(self) -> None:
        self._fns: dict[str, Callable[[Any], None]] = {}

    def __call__(self, name: str) -> Callable[[Callable[[T], None]], Callable[[T], None]]:
        """Register ``fn(resumed)`` as the step ``name`` (returned unchanged).

        Raises
        ------
        ValueError
            When another function has that name already.
        """

        def register(fn: Callable[[T], None]) -> Callable[[T], None]:
            known = self._fns.get(name)
            if known is not None and known is not fn:
                raise ValueError(f"step {name!r} is registered twice")
            self._fns[name] = fn
            return fn

        return register

    def get(self, name: str) -> Callable[[Any], None] | None:
        return self._fns.get(name)

    def names(self) -> list[str]:
        return sorted(self._fns)


#: The registry every step is in; ``@step("name")`` registers.
steps = Steps()
step = steps


@dataclass
class Resumed:
    """What a step gets: the bot, the continuation (state and chat), and ways to answer there."""

    bot_id: str
    then: Continuation
    outbox: Outbox = field(repr=False)

    @property
    def state(self) -> dict[str, Any]:
        """The JSON the asker left for this step."""
        return self.then.state

    def reply(self, message: MessageLike) -> Action:
        """Answer in the asker's chat, as a reply to the message that asked (QQ: passive while
        the message's window lasts; then the group's stored event, as any late reply)."""
        conv = self.then.conversation()
        if conv is None:
            raise TypeError(f"step {self.then.step!r} was not asked from a chat: nothing to reply to")
        return self.outbox.reply_in(conv, message)

    def send(self, message: MessageLike) -> Action:
        """Post into the asker's chat unprompted: a proactive message, gated as one."""
        then = self.then
        if then.protocol is None or (then.group_id is None and then.user_id is None):
            raise TypeError(f"step {then.step!r} has no chat to post into")
        if then.group_id is not None:
            return self.outbox.send_group(then.protocol, then.group_id, message)
        assert then.user_id is not None
        return self.outbox.send_private(then.protocol, then.user_id, message)

    def call(
        self,
        action: str,
        *,
        then: str | None = None,
        state: dict[str, Any] | None = None,
        timeout: int = 60,
        **params: Any,
    ) -> Action:
        """Ask again (a chain of queries): ``then`` keeps this step's chat."""
        kept = None
        if then is not None:
            kept = self.then.model_copy(update={"step": then, "state": state or {}, "timeout": timeout})
            kept.asked_at = Continuation(step=then).asked_at
        return self.outbox.call(action, then=kept, **params)

    def resume(self) -> bool:
        """Run the step this continuation names; False (logged, counted) when none has that name."""
        fn = steps.get(self.then.step)
        if fn is None:
            logger.error(
                f"no step named {self.then.step!r} in this function (known: {', '.join(steps.names())})"
            )
            count("UnknownSteps")
            return False
        fn(self)
        return True


@dataclass
class Resuming(Generic[Item, R]):
    """How a resuming function reads its events (the pipeline's parts that differ)."""

    what: str  # for log lines: "action result", "schedule"
    key_fields: tuple[str, ...]  # the fields of ``key``'s dict
    parse: Callable[[BusEvent], Item]
    key: Callable[[Item], dict[str, str]]  # the once-key of a delivery
    keys: Callable[[Item], dict[str, Any]]  # log keys
    resumed: Callable[[Item, Outbox], R]
    outbox: Callable[[Item, str], Outbox]  # the run's outbox, given the function's key prefix
    metric: str


def resuming(
    how: Resuming[Item, R], fn: Callable[[R, Any], Any], *, default_name: str
) -> Callable[[dict[str, Any], Any], Any]:
    """The Lambda handler that resumes a step per event: the shared pipeline (parse, log keys,
    once per ``how.key``), then ``fn(resumed, context)`` collecting its actions, published after."""
    key_prefix = f"{function_name(default_name)}.{fn.__name__}"
    prewarm_function(how.key_fields, key_prefix)

    def keys(run: Run[Item]) -> dict[str, Any]:
        assert run.item is not None and run.bus_event is not None
        return {**how.keys(run.item), "replay_name": run.bus_event.replay_name}

    def duplicate(run: Run[Item]) -> dict[str, Any]:
        assert run.item is not None
        note(f"duplicate {how.what}: already resumed")
        count("DuplicateResumes")
        return {"status": "duplicate", **how.key(run.item)}

    def work(run: Run[Item]) -> Any:
        assert run.item is not None
        outbox = how.outbox(run.item, key_prefix)
        with collecting(outbox):
            result = fn(how.resumed(run.item, outbox), run.context)
        if asked := outbox.flush():
            count("ActionsRequested", asked)
        count(how.metric)
        return result if isinstance(result, dict) else {"status": "ok"}

    def once_key(run: Run[Item]) -> dict[str, str]:
        assert run.item is not None
        return how.key(run.item)

    lambda_handler = pipeline(
        received(),
        parsed(how.parse, what=lambda e: f"{e.detail_type} {how.what}", metric="InvalidEvents"),
        log_keys(keys),
        at_most_once(once_key, key_prefix=key_prefix, duplicate=duplicate),
        work=work,
    )
    functools.update_wrapper(lambda_handler, fn)
    return observed(lambda_handler, correlation_id_path="id", cold_start=True)
