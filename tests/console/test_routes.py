"""Who may talk to the console, and how its requests are read (fuzzed: the body is untrusted)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from qqbus_dev.console.routes import ROUTE_MODELS, HttpError, host_allowed, origin_allowed, parse


@pytest.mark.parametrize(
    "host, bound, allowed",
    [
        ("127.0.0.1:3000", "127.0.0.1", True),
        ("localhost:3000", "127.0.0.1", True),
        ("[::1]:3000", "127.0.0.1", True),
        ("192.168.1.20:3000", "0.0.0.0", True),  # --host 0.0.0.0, opened by the machine's address
        ("devbox:3000", "devbox", True),  # --host devbox
        ("attacker.example:3000", "127.0.0.1", False),  # DNS rebinding
        ("", "127.0.0.1", False),
        (None, "127.0.0.1", False),
        ("[bad", "127.0.0.1", False),
    ],
)
def test_only_this_machine_is_a_host(host: str | None, bound: str, allowed: bool) -> None:
    assert host_allowed(host, bound) is allowed


@pytest.mark.parametrize(
    "headers, allowed",
    [
        ({"Host": "127.0.0.1:3000"}, True),  # curl, a test, a script
        (
            {"Host": "127.0.0.1:3000", "Origin": "http://127.0.0.1:3000", "Sec-Fetch-Site": "same-origin"},
            True,
        ),
        ({"Host": "127.0.0.1:3000", "Origin": "http://localhost:3000"}, False),
        ({"Host": "127.0.0.1:3000", "Origin": "null"}, False),
        ({"Host": "127.0.0.1:3000", "Sec-Fetch-Site": "cross-site"}, False),
        ({"Host": "127.0.0.1:3000", "Sec-Fetch-Site": "same-site"}, False),
    ],
)
def test_only_the_console_page_itself_may_post(headers: dict[str, str], allowed: bool) -> None:
    assert origin_allowed(headers) is allowed


@given(model=st.sampled_from(sorted(ROUTE_MODELS.items())), body=st.binary(max_size=300))
def test_any_bytes_are_a_request_or_a_400_that_says_why(model: tuple[str, type], body: bytes) -> None:
    try:
        parsed = parse(model[1], body)
    except HttpError as exc:
        assert exc.status == 400 and str(exc)
    else:
        assert isinstance(parsed, model[1])


@given(
    model=st.sampled_from(sorted(ROUTE_MODELS.items())),
    body=st.dictionaries(
        st.sampled_from(
            [
                "protocol",
                "name",
                "id",
                "bot",
                "user",
                "group",
                "text",
                "mention",
                "kind",
                "duration",
                "queue",
                "message_id",
                "api",
                "status",
                "times",
                "extra",
            ]
        ),
        st.none()
        | st.booleans()
        | st.integers()
        | st.text(max_size=30)
        | st.lists(st.integers(), max_size=2),
        max_size=6,
    ),
)
def test_any_json_object_is_a_request_or_a_400_naming_the_field(model: tuple[str, type], body: dict) -> None:
    import json

    try:
        parse(model[1], json.dumps(body).encode())
    except HttpError as exc:
        assert exc.status == 400
        assert any(name in str(exc) for name in [*body, *model[1].model_fields, "group and user"]), str(exc)
