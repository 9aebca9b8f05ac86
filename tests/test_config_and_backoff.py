"""The two small helpers every retry and every per-bot setting share."""

from __future__ import annotations

import pytest
from qqbus.backoff import backoff_delay
from qqbus.config import value_or_map


def test_backoff_doubles_is_capped_and_jittered_within_half_to_all() -> None:
    for attempt, full in ((0, 0.5), (1, 1.0), (3, 4.0), (10, 10.0)):
        delays = {backoff_delay(attempt, base=0.5, cap=10.0) for _ in range(200)}
        assert all(full / 2 <= d <= full for d in delays), (attempt, min(delays), max(delays))
        assert len(delays) > 100  # drawn, not fixed


def test_value_or_map() -> None:
    assert value_or_map("  http://x  ", "URL") == "http://x"
    assert value_or_map("", "URL") == ""
    assert value_or_map(' {"1": "a", "*": "b"} ', "URL") == {"1": "a", "*": "b"}
    with pytest.raises(ValueError, match="URL is not valid JSON"):
        value_or_map("{nope", "URL")
    assert value_or_map("{}", "map") == {}
    with pytest.raises(ValueError, match="secret map is not valid JSON"):
        value_or_map('{"a": 1', "secret map")
