"""An invocation's log lines are kept for the trace; the terminal still gets what it got before."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from qqbus.observability import logger
from qqbus_dev.functions import MAX_LOG_CHARS, MAX_LOG_LINES, captured_logs


@pytest.fixture
def terminal() -> Iterator[io.StringIO]:
    """The Powertools logger writing to a buffer at WARNING, as `make dev` runs it; restored after."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    stream, level = handler.setStream(buffer), logger.log_level
    logger.setLevel("WARNING")
    yield buffer
    logger.setLevel(level)
    handler.setStream(stream)


def messages(text: str) -> list[str]:
    return [json.loads(line)["message"] for line in text.splitlines()]


def test_lines_are_kept_and_only_those_at_the_functions_level_echoed(terminal: io.StringIO) -> None:
    lines: list[str] = []
    with captured_logs(lines, "WARNING"):
        logger.info("group @-message", extra={"group_openid": "G"})
        logger.warning("refused: proactive_off")
    assert messages("\n".join(lines)) == ["group @-message", "refused: proactive_off"]
    assert json.loads(lines[0])["group_openid"] == "G"
    assert messages(terminal.getvalue()) == ["refused: proactive_off"]
    assert logger.log_level == logging.WARNING  # the level and the stream are back
    logger.warning("after")
    assert len(lines) == 2 and messages(terminal.getvalue())[-1] == "after"


def test_verbose_echoes_everything_and_without_a_list_nothing_is_captured(terminal: io.StringIO) -> None:
    lines: list[str] = []
    with captured_logs(lines, "INFO"):
        logger.info("shown in verbose mode")
    assert messages(terminal.getvalue()) == ["shown in verbose mode"] and len(lines) == 1
    with captured_logs(None, "INFO"):
        logger.info("not kept")
    assert messages(terminal.getvalue()) == ["shown in verbose mode"]  # at WARNING, as before


def test_a_chatty_handler_cannot_grow_the_trace_without_bound(terminal: io.StringIO) -> None:
    lines: list[str] = []
    with captured_logs(lines, "WARNING"):
        for n in range(MAX_LOG_LINES + 20):
            logger.info("x" * (MAX_LOG_CHARS + 10), extra={"n": n})
    assert len(lines) == MAX_LOG_LINES and all(len(line) == MAX_LOG_CHARS for line in lines)


def test_debug_is_echoed_at_debug_but_not_kept(terminal: io.StringIO) -> None:
    """Message text is logged at DEBUG only: the trace keeps INFO and up."""
    lines: list[str] = []
    with captured_logs(lines, "DEBUG"):
        logger.debug("group message content")
        logger.info("group message")
    assert messages("\n".join(lines)) == ["group message"]
    assert messages(terminal.getvalue()) == ["group message content", "group message"]
