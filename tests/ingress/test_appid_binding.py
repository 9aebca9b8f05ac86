"""X-Bot-Appid is not signed: a secret answers only for the AppID it belongs to."""

from __future__ import annotations

import json

import pytest
from qqbus.ingress.function_url import function_url_event
from qqbus.secrets import qq_secret

from tests.ingress.conftest import QQ_APPID, QQ_SECRET, Bus, Call, signed
from tests.support import SAMPLES

BODY = (SAMPLES / "qq/official_group_del_robot.json").read_bytes()
OP13 = (SAMPLES / "qq/official_webhook_validation_op13.json").read_bytes()


def test_a_single_secret_belongs_to_qq_bot_appid_only(qq_webhook: Call, bus: Bus) -> None:
    assert qq_webhook(signed(BODY))["statusCode"] == 200
    # Signed with the right secret, but claiming another bot: it would become that bot_id.
    resp = qq_webhook(signed(BODY, appid="102999999"))
    assert resp["statusCode"] == 401
    assert json.loads(resp["body"])["error"] == "no secret is configured for this AppID"
    assert [e["detail"]["bot_id"] for e in bus.published()] == [QQ_APPID]


def test_op13_signs_only_for_the_bound_appid(qq_webhook: Call, bus: Bus) -> None:
    assert qq_webhook(function_url_event(OP13, {"X-Bot-Appid": QQ_APPID}))["statusCode"] == 200
    assert qq_webhook(function_url_event(OP13, {"X-Bot-Appid": "102999999"}))["statusCode"] == 401
    missing = qq_webhook(function_url_event(OP13, {}))
    assert missing["statusCode"] == 401 and "X-Bot-Appid is required" in missing["body"]


def test_a_single_secret_without_qq_bot_appid_belongs_to_no_one(
    qq_webhook: Call, bus: Bus, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("QQ_BOT_APPID")
    assert qq_webhook(signed(BODY))["statusCode"] == 401
    assert any("QQ_BOT_APPID is not set" in r.getMessage() for r in caplog.records)
    assert bus.published() == []


def test_the_secret_map_names_its_own_appids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QQ_BOT_SECRET", json.dumps({"111": "secret-one", "222": "secret-two"}))
    monkeypatch.setenv("QQ_BOT_APPID", "111")  # ignored: the map says it all
    assert (qq_secret("111"), qq_secret("222"), qq_secret("333")) == ("secret-one", "secret-two", None)
    monkeypatch.setenv("QQ_BOT_SECRET", QQ_SECRET)
    assert (qq_secret("111"), qq_secret(QQ_APPID), qq_secret("")) == (QQ_SECRET, None, None)
