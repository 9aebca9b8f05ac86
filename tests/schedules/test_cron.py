"""EventBridge Scheduler's cron() expressions on the local clock: the next fire time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qqbus_dev.cron import Cron, CronError


def at(text: str, tz: str = "UTC") -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp()


def nxt(expression: str, after: str, tz: str = "UTC") -> str:
    fire = Cron.parse(expression).next_fire(at(after, tz), tz)
    assert fire is not None
    return datetime.fromtimestamp(fire, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %a")


@pytest.mark.parametrize(
    "expression, after, expected",
    [
        ("cron(0 10 * * ? *)", "2026-12-05 09:00", "2026-12-05 10:00 Sat"),
        ("cron(0 10 * * ? *)", "2026-12-05 10:00", "2026-12-06 10:00 Sun"),  # strictly after
        ("cron(15 12 * * ? *)", "2026-12-31 12:20", "2027-01-01 12:15 Fri"),
        ("cron(0/15 * * * ? *)", "2026-12-05 09:07", "2026-12-05 09:15 Sat"),
        ("cron(0 18 ? * MON-FRI *)", "2026-12-05 09:00", "2026-12-07 18:00 Mon"),  # Sat -> Mon
        ("cron(0 8 ? * 2 *)", "2026-12-05 09:00", "2026-12-07 08:00 Mon"),  # 1 = SUN, 2 = MON
        ("cron(0 8 1 * ? *)", "2026-12-05 09:00", "2027-01-01 08:00 Fri"),
        ("cron(0 0 L * ? *)", "2027-02-03 00:00", "2027-02-28 00:00 Sun"),
        ("cron(0 0 L * ? *)", "2028-02-03 00:00", "2028-02-29 00:00 Tue"),  # leap year
        ("cron(0 9 ? * 6L *)", "2026-12-01 00:00", "2026-12-25 09:00 Fri"),  # last Friday
        ("cron(0 9 ? * 3#2 *)", "2026-12-01 00:00", "2026-12-08 09:00 Tue"),  # 2nd Tuesday
        ("cron(30 9 ? JAN,JUL MON *)", "2026-12-05 00:00", "2027-01-04 09:30 Mon"),
        ("cron(0 12 29 FEB ? *)", "2026-03-01 00:00", "2028-02-29 12:00 Tue"),
        ("cron(0 0 1 1 ? 2030)", "2026-12-05 00:00", "2030-01-01 00:00 Tue"),
    ],
)
def test_next_fire(expression: str, after: str, expected: str) -> None:
    assert nxt(expression, after) == expected


def test_the_time_zone_is_the_schedules() -> None:
    # 09:00 in Shanghai is 01:00 UTC.
    fire = Cron.parse("cron(0 9 * * ? *)").next_fire(at("2026-12-05 00:30"), "Asia/Shanghai")
    assert datetime.fromtimestamp(fire or 0, UTC).strftime("%H:%M") == "01:00"


def test_a_year_that_has_passed_never_fires() -> None:
    assert Cron.parse("cron(0 0 1 1 ? 2020)").next_fire(at("2026-12-05 00:00")) is None


@pytest.mark.parametrize(
    "expression, says",
    [
        ("rate(5 minutes)", "is not cron"),
        ("cron(0 10 * * *)", "6 fields"),
        ("cron(0 10 * * MON *)", "exactly one of"),
        ("cron(0 10 ? * ? *)", "exactly one of"),
        ("cron(0 10 15W * ? *)", "'W'"),
        ("cron(61 10 * * ? *)", "minutes"),
        ("cron(0 10 ? * FUNDAY *)", "day-of-week"),
        ("cron(0 10 ? * 2#6 *)", "#1 to #5"),
        ("cron(0 10 9-3 * ? *)", "backwards"),
        ("cron(0/0 10 * * ? *)", "bad step"),
    ],
)
def test_what_it_cannot_run_is_named(expression: str, says: str) -> None:
    with pytest.raises(CronError, match=says):
        Cron.parse(expression)


minutes = st.sets(st.integers(0, 59), min_size=1, max_size=3)
hours = st.sets(st.integers(0, 23), min_size=1, max_size=3)
days = st.sets(st.integers(1, 7), min_size=1, max_size=3)


@settings(max_examples=60, deadline=None)
@given(minutes, hours, days, st.integers(0, 4 * 365 * 24 * 60))
def test_the_next_fire_matches_every_field_and_none_is_skipped(
    ms: set[int], hs: set[int], ds: set[int], offset: int
) -> None:
    expression = f"cron({','.join(map(str, ms))} {','.join(map(str, hs))} ? * {','.join(map(str, ds))} *)"
    after = at("2026-01-01 00:00") + offset * 60
    fire = Cron.parse(expression).next_fire(after)
    assert fire is not None and fire > after
    when = datetime.fromtimestamp(fire, UTC)
    assert when.minute in ms and when.hour in hs and (when.weekday() + 1) % 7 + 1 in ds
    # No earlier minute in between matches: walk back minute by minute to ``after``.
    probe = when - timedelta(minutes=1)
    while probe.timestamp() > after:
        assert not (probe.minute in ms and probe.hour in hs and (probe.weekday() + 1) % 7 + 1 in ds)
        probe -= timedelta(minutes=1)
