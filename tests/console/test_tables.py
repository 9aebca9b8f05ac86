"""State rows for people: every attribute shown, times local and readable, expiry marked."""

from __future__ import annotations

import time
from datetime import datetime

from qqbus.state import MUTED_UNTIL_LIFTED
from qqbus_dev.console.tables import cell, columns, format_time, item_to_row, render

NOW = 1_718_000_000


def test_times_are_local_with_their_zone_in_seconds_or_milliseconds() -> None:
    local = datetime.fromtimestamp(NOW).astimezone()
    expected = local.strftime("%Y-%m-%d %H:%M:%S ") + local.strftime("%Z")
    assert format_time(NOW) == expected
    assert format_time(NOW * 1000) == expected  # received_at and the like are milliseconds
    assert cell("member_at", NOW, NOW)["text"] == expected


def test_an_until_in_the_past_is_expired_in_the_future_counts_down() -> None:
    assert cell("muted_until", NOW - 5, NOW)["note"] == "expired"
    assert cell("muted_until", NOW + 600, NOW)["note"] == "in 10 min"
    assert cell("group_muted_until", NOW + 3 * 3600, NOW)["note"] == "in 3 h"  # any *_until field
    assert cell("muted_until", MUTED_UNTIL_LIFTED, NOW) == {"text": "until lifted", "note": None}


def test_other_values_are_shown_as_they_are() -> None:
    assert cell("member", True, NOW) == {"text": "true", "note": None}
    assert cell("group_id", "987654321", NOW)["text"] == "987654321"
    assert cell("member_count", 12, NOW)["text"] == "12"  # a number that is not a time


def test_rows_render_generically_with_the_key_first() -> None:
    item = {
        "bot_id": {"S": "1"},
        "group_id": {"S": "2"},
        "protocol": {"S": "onebot"},
        "member": {"BOOL": True},
        "group_muted_until": {"N": str(NOW + 60)},
        "zeta": {"L": [{"N": "1.5"}]},
    }
    row = item_to_row(item)
    assert row["group_muted_until"] == NOW + 60 and row["zeta"] == [1.5]
    assert columns([row, {"user_id": "u"}])[:5] == ["bot_id", "group_id", "user_id", "protocol", "member"]
    table = render("GroupsTable", [row], now=NOW)
    cells = table["rows"][0]["cells"]
    assert set(cells) == set(row)  # a new attribute needs no change to be shown
    assert cells["group_muted_until"]["note"] == "in 60 s"
    assert render("GroupsTable", [], now=time.time())["rows"] == []
