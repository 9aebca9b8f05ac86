"""Blocking calls (PutEvents, the token endpoint) off the event loop, in daemon threads.

``asyncio.to_thread`` runs on the default executor, which ``asyncio.run`` joins at exit: one
call stuck on a dead network would hold a stopping relay past its deadline (and past the 10 s a
container engine waits before SIGKILL). A daemon thread is never waited for; its late answer,
if any, is dropped.

Starting a thread costs about a millisecond on a busy machine, per PutEvents call: a thread
that finished its call waits ``IDLE_SECONDS`` for the next one (at most ``MAX_IDLE`` wait), so
a relay under load starts none. A call that hangs holds only its own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
Job = Callable[[], None]

MAX_IDLE = 8
IDLE_SECONDS = 30.0

_lock = threading.Lock()
_idle: list[queue.SimpleQueue[tuple[Job, str]]] = []  # the inboxes of threads waiting for work


def _serve(inbox: queue.SimpleQueue[tuple[Job, str]]) -> None:
    while True:
        try:
            job, name = inbox.get(timeout=IDLE_SECONDS)
        except queue.Empty:
            with _lock:
                if inbox in _idle:  # nobody took this thread meanwhile: it ends
                    _idle.remove(inbox)
                    return
            continue  # taken just now: its job is on the way
        threading.current_thread().name = name
        job()
        with _lock:
            if len(_idle) >= MAX_IDLE:
                return
            _idle.append(inbox)


def _start(job: Job, name: str) -> None:
    """Run ``job`` in an idle daemon thread, or in a new one."""
    with _lock:
        inbox = _idle.pop() if _idle else None
    if inbox is None:
        inbox = queue.SimpleQueue()
        threading.Thread(target=_serve, args=(inbox,), name=name, daemon=True).start()
    inbox.put((job, name))


async def call_in_daemon_thread(fn: Callable[..., T], *args: Any, name: str = "qqbus-blocking") -> T:
    """``fn(*args)`` in a daemon thread; its result or exception, here."""
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

    _start(work, name)
    return await future
