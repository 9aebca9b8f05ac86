"""JSON over HTTP for the senders, with the retry policy platforms ask for.

Standard library only (``urllib``), so a sender's cold start pays for no HTTP package. A call is
retried on 429, 5xx and network errors, with exponential backoff and jitter, waiting at least
what ``Retry-After`` asks; it never waits past ``deadline`` (the invocation's remaining time).
When the attempts or the time run out it raises ``Unavailable``: the send is retried later
(Lambda's own retries), not reported as failed yet.
"""

from __future__ import annotations

import email.utils
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qqbus.backoff import backoff_delay

#: Seconds a single request may take.
REQUEST_TIMEOUT_S = 8.0


class Unavailable(Exception):
    """The platform could not be reached or kept answering 429/5xx; worth retrying later."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class HttpResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body as JSON, or None when it is empty or not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    @property
    def retryable(self) -> bool:
        return self.status == 429 or self.status >= 500


def request_json(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
) -> HttpResponse:
    """One request; any HTTP status is a response, a network failure is ``Unavailable``."""
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
    return request_bytes(method, url, data, headers, content_type="application/json")


def request_bytes(
    method: str,
    url: str,
    data: bytes | None,
    headers: dict[str, str] | None = None,
    *,
    content_type: str = "application/octet-stream",
) -> HttpResponse:
    """``request_json`` for a body that is not JSON (a part of a file PUT to a presigned URL)."""
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", content_type)
    request.add_header("User-Agent", "qqbus")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
            return HttpResponse(
                response.status, response.read(), {k.lower(): v for k, v in response.headers.items()}
            )
    except urllib.error.HTTPError as err:
        return HttpResponse(err.code, err.read(), {k.lower(): v for k, v in err.headers.items()})
    except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections, bad URLs
        raise Unavailable(f"{method} {url}: {exc}") from exc


def retry_after(response: HttpResponse, now: float | None = None) -> float | None:
    """Seconds the server asked us to wait (``Retry-After``: seconds or an HTTP date)."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


@dataclass
class Retrying:
    """The retry policy; ``sleep`` and ``clock`` are seams for tests."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 10.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def call(self, send: Callable[[], HttpResponse], *, deadline: float | None = None) -> HttpResponse:
        """``send()`` until it answers something other than 429/5xx, within ``deadline``.

        Raises
        ------
        Unavailable
            After the last attempt, or when the next wait would pass ``deadline``.
        """
        last = ""
        status: int | None = None
        for attempt in range(self.attempts):
            try:
                response = send()
            except Unavailable as exc:
                last, status, wait = str(exc), None, None
            else:
                if not response.retryable:
                    return response
                last, status = f"HTTP {response.status}: {response.body[:200]!r}", response.status
                wait = retry_after(response)
            if attempt == self.attempts - 1:
                break
            backoff = backoff_delay(attempt, base=self.base_delay, cap=self.max_delay)
            delay = max(backoff, wait or 0.0)
            if deadline is not None and self.clock() + delay > deadline:
                raise Unavailable(f"no time left to retry after {last}", status=status)
            self.sleep(delay)
        raise Unavailable(f"gave up after {self.attempts} attempts: {last}", status=status)
