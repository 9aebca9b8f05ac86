"""Putting events on the bus: the ``Publisher`` port and its EventBridge adapter.

``EventBridgePublisher.put`` sends entries in PutEvents calls of at most 10 entries and
``max_request_bytes``, and retries only the entries that failed with a retryable error code
(``InternalFailure``, ``ThrottlingException``), with exponential backoff and jitter. What
still failed is returned, never dropped silently: the caller decides (the webhooks answer 5xx
so the platform retries; the relay keeps the entries queued or spools them).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from qqbus.aws import cached
from qqbus.backoff import backoff_delay

#: The environment variable naming the bus every qqbus event and action goes on.
EVENT_BUS_ENV = "EVENT_BUS_NAME"
MAX_ENTRIES_PER_CALL = 10
#: PutEvents request limit (entries summed); an entry larger than this can never be put.
MAX_REQUEST_BYTES = 256 * 1024
RETRYABLE_CODES = frozenset({"InternalFailure", "ThrottlingException", "InternalException"})
#: Codes that fault the entry itself, so no retry of the same entry can succeed: too large
#: (ours), an invalid field or Detail (PutEvents), and a refused call (of that one entry).
ENTRY_FAULT_CODES = frozenset({"EntryTooLarge", "InvalidArgument", "MalformedDetail", "ValidationException"})


def entry_size(entry: dict[str, Any]) -> int:
    """The size EventBridge counts for an entry: UTF-8 Source, DetailType, Detail, 14 for Time.

    Never raises: a lone surrogate (only possible outside ``Detail``) counts as its 3 bytes.
    """
    return 14 + sum(
        len(str(entry.get(k, "")).encode("utf-8", "surrogatepass"))
        for k in ("Source", "DetailType", "Detail")
    )


@dataclass
class Failed:
    """An entry the bus did not accept, with the error it gave."""

    entry: dict[str, Any]
    code: str
    message: str = ""

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE_CODES

    @property
    def entry_at_fault(self) -> bool:
        """The entry can never be put (other failures: the bus or its access, which can heal)."""
        return self.code in ENTRY_FAULT_CODES


class Publisher(ABC):
    """Puts entries on the bus; returns those that failed for good, in their original order."""

    @abstractmethod
    def put(self, entries: Sequence[dict[str, Any]]) -> list[Failed]: ...


def batches(
    entries: Sequence[dict[str, Any]],
    max_entries: int = MAX_ENTRIES_PER_CALL,
    max_bytes: int = MAX_REQUEST_BYTES,
) -> Iterator[list[dict[str, Any]]]:
    """Consecutive runs of entries that fit one PutEvents call (order kept)."""
    batch: list[dict[str, Any]] = []
    size = 0
    for entry in entries:
        n = entry_size(entry)
        if batch and (len(batch) == max_entries or size + n > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += n
    if batch:
        yield batch


@dataclass
class EventBridgePublisher(Publisher):
    """PutEvents through an injected (or the cached) boto3 ``events`` client."""

    events: Any = None
    attempts: int = 4
    base_delay: float = 0.05
    max_delay: float = 2.0
    max_request_bytes: int = MAX_REQUEST_BYTES
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        if self.events is None:
            from qqbus.aws import client

            self.events = client("events")

    def put(self, entries: Sequence[dict[str, Any]]) -> list[Failed]:
        failed: list[Failed] = []
        for batch in batches(entries, max_bytes=self.max_request_bytes):
            failed.extend(self._put_batch(batch))
        return failed

    def _put_batch(self, batch: list[dict[str, Any]]) -> list[Failed]:
        final: list[Failed] = []
        pending: list[dict[str, Any]] = []
        for entry in batch:
            size = entry_size(entry)
            if size > self.max_request_bytes:
                final.append(Failed(entry, "EntryTooLarge", f"{size} bytes > {self.max_request_bytes}"))
            else:
                pending.append(entry)
        retrying: list[Failed] = []
        for attempt in range(self.attempts):
            if not pending:
                break
            if attempt:
                self.sleep(backoff_delay(attempt - 1, base=self.base_delay, cap=self.max_delay))
            retrying = []
            for entry, result in zip(pending, self._call(pending), strict=True):
                if not result.get("EventId"):
                    failure = Failed(
                        entry, result.get("ErrorCode", "Unknown"), result.get("ErrorMessage", "")
                    )
                    (retrying if failure.retryable else final).append(failure)
            pending = [f.entry for f in retrying]
        final.extend(retrying)  # still failing after the last attempt
        position = {id(e): i for i, e in enumerate(batch)}
        return sorted(final, key=lambda f: position[id(f.entry)])

    def put_once(self, entries: list[dict[str, Any]]) -> list[Failed | None]:
        """One PutEvents call, no retries: per entry, None (accepted) or its failure."""
        out: list[Failed | None] = []
        for entry, result in zip(entries, self._call(entries), strict=True):
            ok = result.get("EventId")
            out.append(
                None
                if ok
                else Failed(entry, result.get("ErrorCode", "Unknown"), result.get("ErrorMessage", ""))
            )
        return out

    def _call(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One PutEvents call; a whole-call error becomes a failure of each entry.

        Network errors, throttling and 5xx are retryable; a client error such as
        ``ResourceNotFoundException`` (no such bus) or ``AccessDeniedException`` is not.
        """
        try:
            response = self.events.put_events(Entries=entries)
        except Exception as exc:
            error = getattr(exc, "response", None) or {}
            code = error.get("Error", {}).get("Code") or type(exc).__name__
            status = int(error.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500)
            if code not in RETRYABLE_CODES and (status >= 500 or not error):
                code = "InternalFailure"
            return [{"ErrorCode": code, "ErrorMessage": str(exc)} for _ in entries]
        return list(response["Entries"])


@cached
def publisher() -> Publisher:
    """The EventBridge publisher of this function (one per container)."""
    return EventBridgePublisher()
