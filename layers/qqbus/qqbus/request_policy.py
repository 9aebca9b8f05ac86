"""What the bot does with OneBot friend and group requests: a policy chosen in template.yaml.

``approve`` all, ``reject`` all, ``match`` (approve when the request's comment matches
``QQBUS_REQUEST_COMMENT_PATTERN``, a regular expression; reject otherwise), or ``pending`` (leave
it for a person). The handlers turn the decision into an action (``set_friend_add_request`` /
``set_group_add_request`` with the request's ``flag``) that the OneBot sender performs.
"""

from __future__ import annotations

import os
import re

POLICIES = ("approve", "reject", "match", "pending")
COMMENT_PATTERN_ENV = "QQBUS_REQUEST_COMMENT_PATTERN"


class PolicyError(ValueError):
    """The configured policy or pattern is not usable (a deployment error: fail loudly)."""


def decide(policy: str, comment: str, pattern: str = "") -> bool | None:
    """True approve, False reject, None leave pending.

    Raises
    ------
    PolicyError
        For an unknown policy, or ``match`` with no pattern or a pattern that does not compile.
    """
    if policy == "approve":
        return True
    if policy == "reject":
        return False
    if policy == "pending":
        return None
    if policy != "match":
        raise PolicyError(f"unknown request policy {policy!r} (one of {', '.join(POLICIES)})")
    if not pattern:
        raise PolicyError(f"the match policy needs {COMMENT_PATTERN_ENV}")
    try:
        return re.search(pattern, comment) is not None
    except re.error as exc:
        raise PolicyError(f"{COMMENT_PATTERN_ENV} is not a regular expression: {exc}") from exc


def decide_from_env(policy_env: str, comment: str) -> bool | None:
    """``decide`` with the policy in ``policy_env`` (default ``pending``) and the shared pattern."""
    policy = os.environ.get(policy_env, "").strip() or "pending"
    return decide(policy, comment, os.environ.get(COMMENT_PATTERN_ENV, ""))
