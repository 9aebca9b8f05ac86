"""Exponential backoff with jitter: the one delay every retry in the runtime waits."""

from __future__ import annotations

import random

# From os.urandom on each call: environments resumed from one SnapStart snapshot would
# otherwise share the random module's state and draw the same numbers.
_jitter = random.SystemRandom()


def backoff_delay(attempt: int, *, base: float, cap: float) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): ``base * 2**attempt``, at most ``cap``,
    then a random half to all of it, so that many clients retrying at once spread out."""
    return min(cap, base * 2**attempt) * (0.5 + _jitter.random() / 2)
