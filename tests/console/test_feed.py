"""The live feed: what a page missed reaches it in order, or it is told to start over."""

from __future__ import annotations

import threading
import time

from qqbus_dev.console.feed import Feed


def test_a_reader_gets_everything_after_its_last_id_in_order() -> None:
    feed = Feed()
    ids = [feed.publish("trace", n) for n in range(5)]
    assert [m.data for m in feed.since(ids[1], timeout=0)] == [2, 3, 4]
    assert feed.since(ids[-1], timeout=0.05) == []  # nothing new: waits, then nothing


def test_a_waiting_reader_wakes_on_news_and_on_close() -> None:
    feed = Feed()
    got: list[object] = []
    reader = threading.Thread(target=lambda: got.extend(feed.since(0, timeout=10)))
    reader.start()
    time.sleep(0.05)
    feed.publish("chat", {"text": "pong"})
    reader.join(timeout=2)
    assert [m.data for m in got] == [{"text": "pong"}]
    started = time.monotonic()
    closer = threading.Timer(0.05, feed.close)
    closer.start()
    assert feed.since(feed.last_id, timeout=10) == []
    assert time.monotonic() - started < 2


def test_a_reader_that_fell_behind_or_comes_from_another_run_is_reset() -> None:
    feed = Feed(keep=3)
    for n in range(6):
        feed.publish("trace", n)
    (reset,) = feed.since(1, timeout=0)  # ids 2 and 3 are gone
    assert reset.kind == "reset" and reset.id == feed.last_id
    (reset,) = feed.since(99, timeout=0)  # an id this feed never gave
    assert reset.kind == "reset"
    assert [m.data for m in feed.since(3, timeout=0)] == [3, 4, 5]
