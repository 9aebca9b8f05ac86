"""Untrusted message text through the tokenizer and the router: an answer or nothing, never a crash."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qqbus.command_args import ArgumentError, Reader

from tests.commands.conftest import Say

NAMES = ["ping", "help", "echo", "roll", "r", "id", "disable", "enable", "nope", "ROLL"]
QUOTES = ['"', "“", "”", "「", "」", "\\"]

argument_text = st.lists(
    st.one_of(st.characters(), st.sampled_from([*QUOTES, " ", "\u3000", "<@", "<@!", ">", "2d6", "@"])),
    max_size=30,
).map("".join)
command_text = st.one_of(
    argument_text,
    st.builds(
        lambda p, n, rest: f"{p}{n} {rest}",
        st.sampled_from(["/", "／", " /"]),
        st.sampled_from(NAMES),
        argument_text,
    ),
)
segment = st.one_of(
    st.builds(lambda t: {"type": "text", "data": {"text": t}}, command_text),
    st.builds(lambda q: {"type": "at", "data": {"qq": q}}, st.one_of(st.integers(0, 2**63), st.just("all"))),
    st.builds(lambda i: {"type": "face", "data": {"id": i}}, st.integers(0, 300)),
    st.builds(lambda i: {"type": "reply", "data": {"id": str(i)}}, st.integers(-(2**63), 2**63)),
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(pieces=st.lists(st.tuples(argument_text, st.booleans()), max_size=6))
def test_the_reader_returns_tokens_or_an_argument_error(pieces: list[tuple[str, bool]]) -> None:
    reader = Reader(pieces)
    try:
        while (token := reader.next()) is not None:
            assert (
                token.mention or token.quoted or (token.value and not any(c.isspace() for c in token.value))
            )
    except ArgumentError as exc:
        assert "is not closed" in str(exc)
    assert isinstance(Reader(pieces).rest(), str)


@FUZZ
@given(values=st.lists(st.text(max_size=20), max_size=6))
def test_any_strings_survive_being_quoted(values: list[str]) -> None:
    quoted = " ".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    reader, got = Reader([(quoted, False)]), []
    while (token := reader.next()) is not None:
        got.append(token.value)
    assert got == values


@FUZZ
@given(kind=st.sampled_from(["qq_group", "qq_c2c"]), content=command_text)
def test_qq_content_gets_one_answer_or_none(say: Say, kind: str, content: str) -> None:
    _one_or_none(say(kind, content), content)


@FUZZ
@given(
    kind=st.sampled_from(["onebot_group", "onebot_private"]),
    message=st.one_of(command_text, st.lists(segment, max_size=5)),
    role=st.sampled_from([None, "member", "admin", "owner", "weird"]),
)
def test_onebot_messages_get_one_answer_or_none(say: Say, kind: str, message: Any, role: str | None) -> None:
    _one_or_none(say(kind, message, role=role), message)


def _one_or_none(run: Any, message: Any) -> None:
    assert len(run.actions) == (1 if run.handled else 0), message
    if run.handled:
        assert run.text.strip(), message  # never an empty answer
