"""Blocking calls (PutEvents, the token endpoint) off the event loop, in daemon threads.

``asyncio.to_thread`` runs on the default executor, which ``asyncio.run`` joins at exit: one
call stuck on a dead network would hold a stopping relay past its deadline (and past the 10 s a
container engine waits before SIGKILL). A daemon thread is never waited for; its late answer,
if any, is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def call_in_daemon_thread(fn: Callable[..., T], *args: Any, name: str = "qqbus-blocking") -> T:
    """``fn(*args)`` in a new daemon thread; its result or exception, here."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():  # the caller stopped waiting (cancelled)
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def work() -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = fn(*args)
        except BaseException as exc:
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=work, name=name, daemon=True).start()
    return await future
