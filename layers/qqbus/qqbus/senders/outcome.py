"""What a sender works with (``SendContext``) and what it reports (``sent``/``refused``/``failed``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from qqbus.actions import Action, Result
from qqbus.senders.json_http import Retrying
from qqbus.senders.ledger import Ledger, ledger
from qqbus.state import GroupStore, UserStore, groups, users

#: Seconds of the invocation kept free for reporting after the last retry.
REPORT_MARGIN_S = 3.0


def retry_policy() -> Retrying:
    """The retry policy of a send (a seam: tests replace it to count and skip the waits)."""
    return Retrying()


@dataclass
class SendContext:
    """The time, the stores and the retry policy of one send; tests swap any of them."""

    lambda_context: Any = None
    now: int = field(default_factory=lambda: int(time.time()))
    retrying: Retrying = field(default_factory=lambda: retry_policy())
    groups: Callable[[], GroupStore] = groups
    users: Callable[[], UserStore] = users
    ledger: Callable[[], Ledger] = ledger

    @property
    def deadline(self) -> float | None:
        """The monotonic time by which retries must stop (None outside Lambda)."""
        remaining = getattr(self.lambda_context, "get_remaining_time_in_millis", None)
        if remaining is None:
            return None
        return time.monotonic() + remaining() / 1000 - REPORT_MARGIN_S


class Repeated(NamedTuple):
    """A delivery the ledger says was performed already (``outcome``): nothing to send or report."""

    outcome: str


def _result(action: Action, outcome: str, **fields: Any) -> Result:
    return Result(
        action_id=action.action_id,
        bot_id=action.bot_id,
        outcome=outcome,  # type: ignore[arg-type]
        protocol=action.protocol,
        action=action.action,
        target=action.target,
        origin_event_id=action.origin.event_id if action.origin else None,
        then=action.then,
        **fields,
    )


def sent(action: Action, **fields: Any) -> Result:
    return _result(action, "sent", **fields)


def refused(action: Action, reason: str, message: str, **fields: Any) -> Result:
    """Not sent by rule (state, windows, limits): not an error, never retried."""
    return _result(action, "refused", reason=reason, message=message, **fields)


def failed(action: Action, reason: str, message: str, **fields: Any) -> Result:
    """Not sent because the platform or the configuration said no."""
    return _result(action, "failed", reason=reason, message=message, **fields)
