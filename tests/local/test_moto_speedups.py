"""The dev stack's moto speed-ups: declared, skipped with a warning when their target moved,
switched off by QQBUS_MOTO_SPEEDUPS=off, and changing no answer."""

from __future__ import annotations

import logging
import os
from typing import Any

import boto3
import botocore.session
import jsonpath_ng.ext
import pytest
from moto import mock_aws
from qqbus_dev import moto_speedups
from qqbus_dev.moto_speedups import DEV_STACK, SpeedUp


def test_every_declared_target_exists_on_the_installed_versions() -> None:
    """The pin's newest moto: every speed-up finds its target (a moved one would only warn)."""
    assert all(s.locate() is not None for s in DEV_STACK), [s.target for s in DEV_STACK if s.locate() is None]
    assert all(s.checked_on for s in DEV_STACK)


def test_applying_twice_wraps_once_and_answers_the_same() -> None:
    import moto
    from moto import backends
    from moto.core import responses
    from moto.dynamodb.responses import DynamoHandler

    plain = sorted(responses.method_names_from_class(DynamoHandler))
    first = moto_speedups.apply()
    assert set(first.values()) <= {"applied", "already"}
    assert set(moto_speedups.apply().values()) == {"already"}  # not a cache around a cache
    assert sorted(responses.method_names_from_class(DynamoHandler)) == plain
    assert jsonpath_ng.ext.parse("$.detail") is jsonpath_ng.ext.parse("$.detail")
    assert [m.value for m in jsonpath_ng.ext.parse("$.detail.a").find({"detail": {"a": 1}})] == [1]
    folder = os.path.dirname(moto.__file__)
    on_disk = sorted(
        e for e in os.listdir(folder) if os.path.isdir(os.path.join(folder, e)) and not e.startswith("__")
    )
    assert list(backends.list_of_moto_modules()) == on_disk and "dynamodb" in on_disk


def test_a_moved_target_is_skipped_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    gone = (
        SpeedUp("gone_module", "moto.no_such_module:thing", "moto 5.2.6", lambda f: f),
        SpeedUp("gone_name", "moto.backends:no_such_function", "moto 5.2.6", lambda f: f),
        SpeedUp("gone_parent", "moto.core:NoSuchClass.method", "moto 5.2.6", lambda f: f),
    )
    with caplog.at_level(logging.WARNING, logger="qqbus_dev"):
        assert moto_speedups.apply(gone) == dict.fromkeys(
            ("gone_module", "gone_name", "gone_parent"), "missing"
        )
        moto_speedups.apply(gone)
    warnings = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(warnings) == 3 and "moto.backends:no_such_function is not there" in warnings[1]


def test_the_switch_turns_them_all_off(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    probe = SpeedUp(
        "probe", "moto.backends:list_of_moto_modules", "moto 5.2.6", lambda f: calls.append(f) or f
    )
    monkeypatch.setenv("QQBUS_MOTO_SPEEDUPS", "off")
    assert moto_speedups.apply((probe,)) == {"probe": "off"} and calls == []


def test_sessions_share_one_loader_and_each_mock_still_starts_empty() -> None:
    moto_speedups.share_botocore_loader()
    table = {
        "TableName": "t",
        "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    with mock_aws():
        first = boto3.client("dynamodb")
        first.create_table(**table)
        assert first.list_tables()["TableNames"] == ["t"]
        loader = boto3.DEFAULT_SESSION._session.get_component("data_loader")  # type: ignore[union-attr]
    with mock_aws():
        second = boto3.client("dynamodb")
        assert boto3.DEFAULT_SESSION._session.get_component("data_loader") is loader  # type: ignore[union-attr]
        assert second.list_tables()["TableNames"] == []
    assert botocore.session.create_loader.cache_info().hits >= 1  # type: ignore[attr-defined]
