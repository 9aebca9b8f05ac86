"""Lazily created, cached boto3 clients, and one ``reset()`` for every qqbus cache.

Clients are made on first use, not at import, so importing a handler costs no boto3 and a
test can open moto's ``mock_aws`` before any client exists. ``reset()`` drops them (and
every other cache made with ``cached``) so that the next call builds fresh ones.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_caches: list[Any] = []


def cached(fn: F) -> F:
    """``functools.cache``, cleared by ``reset()``."""
    wrapped = functools.cache(fn)
    _caches.append(wrapped)
    return wrapped  # type: ignore[return-value]


def reset() -> None:
    """Forget every cached client, store and secret (tests call this between cases)."""
    for cache in _caches:
        cache.cache_clear()


@cached
def client(service: str) -> Any:
    """A boto3 client for ``service`` (honours ``AWS_ENDPOINT_URL`` for the local stack)."""
    import boto3

    return boto3.client(service)  # type: ignore[call-overload]


def require_env(name: str) -> str:
    """The value of a required environment variable, or a RuntimeError naming it."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise RuntimeError(f"environment variable {name} is not set (see template.yaml)")
    return value


def prewarm_enabled() -> bool:
    """In Lambda (``AWS_EXECUTION_ENV``) or when ``QQBUS_PREWARM`` is set, but not in tests.

    Lambda runs module code in its init phase, which the first invocation does not wait for
    (and SnapStart snapshots): clients made there are free for the first event.
    """
    flag = os.environ.get("QQBUS_PREWARM", "").strip().lower()
    if flag in ("0", "false", "no"):
        return False
    return flag in ("1", "true", "yes") or os.environ.get("AWS_EXECUTION_ENV", "").startswith("AWS_Lambda")


def prewarm(*services: str) -> None:
    """Create the clients a function will use, now (see ``prewarm_enabled``)."""
    if prewarm_enabled():
        for service in services:
            client(service)
