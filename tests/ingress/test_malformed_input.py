"""Whatever arrives, ingress answers 2xx or 4xx (never 5xx or a stack trace); refusals publish nothing."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qqbus.ingress.http import function_url_event
from qqbus.signatures import onebot_signature, qq_sign_request

from tests.ingress.conftest import ONEBOT_SECRET, QQ_APPID, QQ_SECRET, Bus, Call

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
# Objects that look like events, with fields of any type, missing or extra.
onebot_like = st.fixed_dictionaries(
    {},
    optional={
        "time": json_values,
        "self_id": st.sampled_from([123456789, "123456789", -1, None]),
        "post_type": st.sampled_from(["message", "notice", "request", "meta_event", 5, None]),
        "notice_type": st.sampled_from(["group_ban", "group_recall", "friend_add", "x", 3]),
        "message_type": st.sampled_from(["group", "private", 1]),
        "user_id": json_values,
        "group_id": json_values,
        "message": json_values,
    },
)
qq_like = st.fixed_dictionaries(
    {},
    optional={
        "op": st.sampled_from([0, 13, 1, "0", None]),
        "t": json_values,
        "id": json_values,
        "d": json_values,
    },
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    onebot_like.map(lambda v: json.dumps(v).encode()),
    qq_like.map(lambda v: json.dumps(v).encode()),
    onebot_like.map(lambda v: json.dumps(v).encode()[:-3]),  # truncated
)
SLOW = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _check(resp: dict[str, Any], bus: Bus) -> None:
    assert resp["statusCode"] < 500, resp
    assert "Traceback" not in resp["body"]
    if resp["statusCode"] >= 400:
        assert len(bus.published()) == 0
    else:
        bus.published()


@SLOW
@given(body=bodies, b64=st.booleans())
def test_qq_webhook_never_5xx(qq_webhook: Call, bus: Bus, body: bytes, b64: bool) -> None:
    headers = {
        "X-Bot-Appid": QQ_APPID,
        "X-Signature-Timestamp": "1",
        "X-Signature-Ed25519": qq_sign_request(QQ_SECRET, "1", body),
    }
    _check(qq_webhook(function_url_event(body, headers, base64_body=b64 or None)), bus)


@SLOW
@given(body=bodies, sign=st.booleans())
def test_onebot_http_never_5xx(onebot_http: Call, bus: Bus, body: bytes, sign: bool) -> None:
    headers = {"X-Self-ID": "123456789"}
    if sign:
        headers["X-Signature"] = onebot_signature(ONEBOT_SECRET, body)
    _check(onebot_http(function_url_event(body, headers)), bus)
