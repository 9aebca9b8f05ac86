"""EventBridge Scheduler's cron() expressions on the local clock: the next fire time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qqbus_dev.cron import CronError, next_fire


def at(text: str, tz: str = "UTC") -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp()


def nxt(expression: str, after: str, tz: str = "UTC") -> str:
    fire = next_fire(expression, tz, at(after, tz))
    assert fire is not None
    return datetime.fromtimestamp(fire, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %a")


def utc(fire: float | None) -> str:
    assert fire is not None
    return datetime.fromtimestamp(fire, UTC).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize(
    "expression, after, expected",
    [
        ("cron(0 10 * * ? *)", "2026-12-05 09:00", "2026-12-05 10:00 Sat"),
        ("cron(0 10 * * ? *)", "2026-12-05 10:00", "2026-12-06 10:00 Sun"),  # strictly after
        ("cron(15 12 * * ? *)", "2026-12-31 12:20", "2027-01-01 12:15 Fri"),
        ("cron(0/15 * * * ? *)", "2026-12-05 09:07", "2026-12-05 09:15 Sat"),
        ("cron(0 18 ? * MON-FRI *)", "2026-12-05 09:00", "2026-12-07 18:00 Mon"),  # Sat -> Mon
        ("cron(0 8 ? * 2 *)", "2026-12-05 09:00", "2026-12-07 08:00 Mon"),  # 1 = SUN, 2 = MON
        ("cron(0 8 ? * mon *)", "2026-12-05 09:00", "2026-12-07 08:00 Mon"),  # names in any case
        ("cron(0 8 1 * ? *)", "2026-12-05 09:00", "2027-01-01 08:00 Fri"),
        ("cron(0 0 L * ? *)", "2027-02-03 00:00", "2027-02-28 00:00 Sun"),
        ("cron(0 0 L * ? *)", "2028-02-03 00:00", "2028-02-29 00:00 Tue"),  # leap year
        ("cron(0 9 ? * L *)", "2026-12-01 00:00", "2026-12-05 09:00 Sat"),  # the week's last day
        ("cron(0 9 ? * 6L *)", "2026-12-01 00:00", "2026-12-25 09:00 Fri"),  # last Friday
        ("cron(0 9 ? * 3#2 *)", "2026-12-01 00:00", "2026-12-08 09:00 Tue"),  # 2nd Tuesday
        ("cron(0 9 ? * 2#5 *)", "2026-12-01 00:00", "2027-03-29 09:00 Mon"),  # the next 5th Monday
        ("cron(0 9 15W * ? 2026)", "2026-08-01 00:00", "2026-08-14 09:00 Fri"),  # Sat 15th -> Fri
        ("cron(0 9 15W * ? 2026)", "2026-11-01 00:00", "2026-11-16 09:00 Mon"),  # Sun 15th -> Mon
        ("cron(0 9 1W * ? 2026)", "2026-07-31 00:00", "2026-08-03 09:00 Mon"),  # Sat 1st: not July
        ("cron(0 9 31W * ? 2026)", "2026-05-01 00:00", "2026-05-29 09:00 Fri"),  # Sun 31st: not June
        ("cron(0 9 LW * ? *)", "2026-01-01 00:00", "2026-01-30 09:00 Fri"),  # Sat 31st -> Fri
        ("cron(0 9 LW * ? *)", "2027-02-01 00:00", "2027-02-26 09:00 Fri"),  # Sun 28th -> Fri
        ("cron(30 9 ? JAN,JUL MON *)", "2026-12-05 00:00", "2027-01-04 09:30 Mon"),
        ("cron(0 12 29 FEB ? *)", "2026-03-01 00:00", "2028-02-29 12:00 Tue"),
        ("cron(0 0 1 1 ? 2030)", "2026-12-05 00:00", "2030-01-01 00:00 Tue"),
    ],
)
def test_next_fire(expression: str, after: str, expected: str) -> None:
    assert nxt(expression, after) == expected


def test_the_time_zone_is_the_schedules() -> None:
    # 09:00 in Shanghai is 01:00 UTC.
    assert utc(next_fire("cron(0 9 * * ? *)", "Asia/Shanghai", at("2026-12-05 00:30"))) == "2026-12-05 01:00"


#: 2026: 02:00 EST -> 03:00 EDT on 8 March, 02:00 EDT -> 01:00 EST on 1 November.
NY = "America/New_York"


def test_a_time_the_spring_change_skips_does_not_fire_that_day() -> None:
    fire = next_fire("cron(30 2 * * ? *)", NY, at("2026-03-08 00:00", NY))
    assert utc(fire) == "2026-03-09 06:30"  # 02:30 EDT the next day, not 03:30 on the 8th


def test_the_hour_the_autumn_change_repeats_fires_once() -> None:
    first = next_fire("cron(15 1 * * ? *)", NY, at("2026-11-01 00:00", NY))
    assert utc(first) == "2026-11-01 05:15"  # 01:15 EDT, the first pass
    assert utc(next_fire("cron(15 1 * * ? *)", NY, first or 0)) == "2026-11-02 06:15"  # not 01:15 EST
    # Asked during the second pass (01:10 EST): tomorrow, never the first pass that is already past.
    assert utc(next_fire("cron(15 1 * * ? *)", NY, at("2026-11-01 06:10"))) == "2026-11-02 06:15"
    # Every half hour: 01:00 and 01:30 EDT, then 02:00 EST; the repeated 01:00 and 01:30 are left out.
    assert utc(next_fire("cron(0/30 * * * ? *)", NY, at("2026-11-01 05:30"))) == "2026-11-01 07:00"


def test_a_time_that_never_comes_is_none() -> None:
    assert next_fire("cron(0 0 1 1 ? 2020)", "UTC", at("2026-12-05 00:00")) is None
    assert next_fire("cron(0 0 30W FEB ? *)", "UTC", at("2026-12-05 00:00")) is None


@pytest.mark.parametrize(
    "expression, tz, says",
    [
        ("rate(5 minutes)", "UTC", "is not cron"),
        ("cron(0 10 * * *)", "UTC", "6 fields"),
        ("cron(0 10 * * MON *)", "UTC", "exactly one of"),
        ("cron(0 10 ? * ? *)", "UTC", "exactly one of"),
        ("cron(61 10 * * ? *)", "UTC", "minutes"),
        ("cron(0 10 ? * FUNDAY *)", "UTC", "day-of-week"),
        ("cron(0 10 ? * 2#6 *)", "UTC", "#1 to #5"),
        ("cron(0 10 ? * 3#1,6#3 *)", "UTC", "'#' takes one day"),
        ("cron(0 10 1W,15W * ? *)", "UTC", "'W' takes one day"),
        ("cron(0 10 L-3 * ? *)", "UTC", "'L' takes no offset"),
        ("cron(0 10 9-3 * ? *)", "UTC", "backwards"),
        ("cron(0/0 10 * * ? *)", "UTC", "bad step"),
        ("cron(0 10 * * ? *)", "Mars/Olympus", "time zone 'Mars/Olympus' does not exist"),
    ],
)
def test_what_it_cannot_run_is_named(expression: str, tz: str, says: str) -> None:
    with pytest.raises(CronError, match=says):
        next_fire(expression, tz, 0)


ZONES = ["UTC", "Asia/Shanghai", NY, "Europe/London", "Australia/Lord_Howe"]  # Lord Howe: 30-minute DST


def _changes(tz: str) -> list[float]:
    """The hours in 2026 when ``tz``'s offset changes."""
    zone, start = ZoneInfo(tz), at("2026-01-01 00:00")
    hours = [start + h * 3600 for h in range(366 * 24)]
    offsets = [datetime.fromtimestamp(t, zone).utcoffset() for t in hours]
    return [t for t, a, b in zip(hours[1:], offsets, offsets[1:], strict=False) if a != b]


CHANGES = {tz: _changes(tz) for tz in ZONES}
minutes = st.sets(st.one_of(st.sampled_from([0, 15, 30, 45]), st.integers(0, 59)), min_size=1, max_size=3)
hours = st.sets(st.one_of(st.integers(0, 3), st.integers(0, 23)), min_size=1, max_size=3)  # DST: 1-3 h
days = st.sets(st.integers(1, 7), min_size=1, max_size=7)


@settings(max_examples=120, deadline=None)
@given(minutes, hours, days, st.sampled_from(ZONES), st.data())
def test_the_next_fire_is_the_first_later_minute_that_matches_in_its_time_zone(
    ms: set[int], hs: set[int], ds: set[int], tz: str, data: st.DataObject
) -> None:
    """The fire is later than ``after``, its wall time matches every field, and no whole minute in
    between does (a repeated hour's second pass never matches: Scheduler fires that hour once)."""
    assert CHANGES[NY] and CHANGES["Australia/Lord_Howe"]  # the zones below do change
    if CHANGES[tz] and data.draw(st.booleans(), label="near a clock change"):
        after = data.draw(st.sampled_from(CHANGES[tz])) + data.draw(st.integers(-6 * 3600, 6 * 3600))
    else:
        after = at("2026-01-01 00:00") + data.draw(st.integers(0, 4 * 365 * 86400))
    zone = ZoneInfo(tz)

    def matches(t: float) -> bool:
        local = datetime.fromtimestamp(t, zone)
        return (
            local.fold == 0 and local.minute in ms and local.hour in hs and local.isoweekday() % 7 + 1 in ds
        )

    expression = f"cron({','.join(map(str, ms))} {','.join(map(str, hs))} ? * {','.join(map(str, ds))} *)"
    fire = next_fire(expression, tz, after)
    assert fire is not None and fire > after and fire % 60 == 0
    assert matches(fire)
    probe = fire - 60
    while probe > after:
        assert not matches(probe), datetime.fromtimestamp(probe, zone)
        probe -= 60
