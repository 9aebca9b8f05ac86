"""The replay window: how old, or how far ahead, a signed request may be.

A signature proves who sent a request, not when, so a captured request can be sent again.
Handlers remember an event id for ``IDEMPOTENCY_SECONDS`` after they first see it; ingress
accepts a signed request only while that memory is sure to last, so every replay that gets
through is deduplicated. The request's time (QQ: ``X-Signature-Timestamp``; OneBot, whose
HMAC covers the body: the payload's ``time``) may be at most ``MAX_AGE_SECONDS`` in the past
and ``MAX_SKEW_SECONDS`` in the future. The age limit is the idempotency window less the
skew: a request stamped up to ``MAX_SKEW_SECONDS`` ahead may be handled that much before its
stamp, so its id is forgotten that much earlier.

``QQBUS_ALLOW_REPLAYS=true`` turns the window off, for the local stack and ``sam local
invoke``, whose fixed example payloads are signed once and dated in the past. The template
sets it to false; never set it in AWS.
"""

from __future__ import annotations

import time

from qqbus.aws import cached
from qqbus.ingress.function_url import env_flag
from qqbus.observability import logger
from qqbus.pipeline import IDEMPOTENCY_SECONDS

#: How far ahead of this function's clock a request may be stamped (the sender's clock skew).
MAX_SKEW_SECONDS = 300
#: How old a request may be: the handlers' idempotency window less the skew (see above).
MAX_AGE_SECONDS = IDEMPOTENCY_SECONDS - MAX_SKEW_SECONDS
ALLOW_REPLAYS_ENV = "QQBUS_ALLOW_REPLAYS"


@cached
def _warn_allowed() -> None:
    logger.warning(f"{ALLOW_REPLAYS_ENV} is set: signed requests of any age are accepted (local use only)")


def replays_allowed() -> bool:
    """Whether the window is off (``QQBUS_ALLOW_REPLAYS``; logged once per process)."""
    if not env_flag(ALLOW_REPLAYS_ENV):
        return False
    _warn_allowed()
    return True


def outside_window(at: float, now: float | None = None) -> str | None:
    """Why a request stamped ``at`` (Unix seconds) is refused, or None when it is accepted."""
    if replays_allowed():
        return None
    now = time.time() if now is None else now
    if at < now - MAX_AGE_SECONDS:
        return (
            f"is {int(now - at)} s old, more than the {MAX_AGE_SECONDS} s a request stays valid (a replay?)"
        )
    if at > now + MAX_SKEW_SECONDS:
        return f"is {int(at - now)} s in the future, more than the {MAX_SKEW_SECONDS} s of clock skew allowed"
    return None
