"""EventBridge Scheduler's ``cron(...)`` expressions, for the local stack's clock.

Six fields: minutes, hours, day of month, month, day of week, year (EventBridge Scheduler user
guide, "Schedule types", cron-based schedules). Day of week 1-7 is SUN-SAT; months and days take
their three-letter names; one of day of month and day of week must be ``?``. All of its
wildcards run: ``*``, ``?``, ``,``, ``-``, ``/``; in day of month ``L`` (the month's last day),
``<n>W`` (the weekday nearest the n-th, within the month) and ``LW`` (the last weekday); in day of
week ``L`` (Saturday), ``<d>L`` (the month's last such day) and ``<d>#<n>`` (its n-th, alone in the
field). Refused by name: ``L-<n>`` and ``W``/``#`` in lists, which EventBridge does not document.

Time zones as Scheduler keeps them: a time the spring change skips does not fire that day, and
the hour the autumn change repeats fires once (its first pass).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
#: The years EventBridge accepts.
YEARS = (1970, 2199)


class CronError(ValueError):
    """An expression that is not EventBridge cron, or a time zone that does not exist."""


def zone(tz: str | None) -> ZoneInfo:
    """The IANA time zone ``tz`` (default UTC).

    Raises
    ------
    CronError
        No such time zone.
    """
    try:
        return ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CronError(f"time zone {tz!r} does not exist") from exc


def _number(text: str, names: dict[str, int], low: int, high: int, field: str) -> int:
    value = int(text) if text.isdigit() else names.get(text.upper())
    if value is None or not low <= value <= high:
        raise CronError(f"{field}: {text!r} is not {low}-{high}")
    return value


def _values(
    text: str, low: int, high: int, field: str, names: dict[str, int] | None = None
) -> frozenset[int]:
    """The values a field of ``*``, lists, ranges and steps allows."""
    names = names or {}
    out: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            raise CronError(f"{field}: {part!r} has a bad step")
        if base == "*":
            start, end = low, high
        elif "-" in base:
            a, b = base.split("-", 1)
            start, end = _number(a, names, low, high, field), _number(b, names, low, high, field)
            if start > end:
                raise CronError(f"{field}: {part!r} runs backwards")
        else:
            start = _number(base, names, low, high, field)
            end = high if step else start
        out.update(range(start, end + 1, step or 1))
    return frozenset(out)


def _weekday(day: date) -> int:
    """EventBridge's day of week: 1 = Sunday ... 7 = Saturday."""
    return (day.weekday() + 1) % 7 + 1


def _last(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _nearest_weekday(day: date, n: int) -> bool:
    """``day`` is the Monday-to-Friday day nearest the n-th of its month, not leaving the month."""
    last = _last(day)
    if n > last:
        return False
    wanted = day.replace(day=n)
    if wanted.weekday() == 5:  # Saturday: the Friday before, or the Monday after the 1st
        wanted += timedelta(days=2 if n == 1 else -1)
    elif wanted.weekday() == 6:  # Sunday: the Monday after, or the Friday before the last day
        wanted += timedelta(days=-2 if n == last else 1)
    return day == wanted


def _day_of_month(field: str) -> Callable[[date], bool]:
    if field == "L":
        return lambda day: day.day == _last(day)
    if field == "LW":
        return lambda day: _nearest_weekday(day, _last(day))
    if field.startswith("L-") or ("L" in field and field != "L"):
        raise CronError(f"day-of-month: {field!r} ('L' takes no offset or list here)")
    if "W" in field:
        n = field[:-1]
        if not (field.endswith("W") and n.isdigit()):
            raise CronError(f"day-of-month: {field!r} ('W' takes one day, like 15W)")
        nth = _number(n, {}, 1, 31, "day-of-month")
        return lambda day: _nearest_weekday(day, nth)
    days = _values(field, 1, 31, "day-of-month")
    return lambda day: day.day in days


def _day_of_week(field: str) -> Callable[[date], bool]:
    if "#" in field:
        which, _, nth = field.partition("#")
        if "," in field or "-" in which:
            raise CronError(f"day-of-week: {field!r} ('#' takes one day, alone in the field)")
        if not nth.isdigit() or not 1 <= int(nth) <= 5:
            raise CronError(f"day-of-week: {field!r} needs #1 to #5")
        wanted, n = _number(which, DAYS, 1, 7, "day-of-week"), int(nth)
        return lambda day: _weekday(day) == wanted and (day.day - 1) // 7 + 1 == n
    if field == "L":  # the week's last day
        return lambda day: _weekday(day) == DAYS["SAT"]
    if field.endswith("L"):
        last = _number(field[:-1], DAYS, 1, 7, "day-of-week")
        return lambda day: _weekday(day) == last and day.day + 7 > _last(day)
    days = _values(field, 1, 7, "day-of-week", DAYS)
    return lambda day: _weekday(day) in days


@dataclass(frozen=True)
class Cron:
    """A parsed expression: which minutes, hours, months and years, and which days."""

    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int]
    day_matches: Callable[[date], bool]

    @classmethod
    def parse(cls, expression: str) -> Cron:
        """``expression`` parsed.

        Raises
        ------
        CronError
            Not cron, or a part of it EventBridge does not run (the message names the field).
        """
        body = expression.strip()
        if not (body.startswith("cron(") and body.endswith(")")):
            raise CronError(f"{expression!r} is not cron(...)")
        fields = body[5:-1].split()
        if len(fields) != 6:
            raise CronError(
                f"{expression!r}: cron takes 6 fields (minutes hours day-of-month month day-of-week year)"
            )
        minute, hour, dom, month, dow, year = (f.upper() for f in fields)
        if (dom == "?") == (dow == "?"):
            raise CronError(f"{expression!r}: exactly one of day-of-month and day-of-week is '?'")
        return cls(
            _values(minute, 0, 59, "minutes"),
            _values(hour, 0, 23, "hours"),
            _values(month, 1, 12, "month", MONTHS),
            _values(year, *YEARS, "year"),
            _day_of_week(dow) if dom == "?" else _day_of_month(dom),
        )

    def next_fire(self, after: float, tz: str = "UTC") -> float | None:
        """The first time (Unix seconds) after ``after`` when the schedule fires, None if never.

        Raises
        ------
        CronError
            ``tz`` is no time zone.
        """
        where = zone(tz)
        day = datetime.fromtimestamp(after, where).date()
        times = [(h, m) for h in sorted(self.hours) for m in sorted(self.minutes)]
        while day.year <= YEARS[1]:
            if day.year in self.years and day.month in self.months and self.day_matches(day):
                for hour, minute in times:
                    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=where)  # fold=0
                    when = local.timestamp()
                    # Later than ``after``, and a wall time that exists (not skipped in spring).
                    if when > after and datetime.fromtimestamp(when, where) == local:
                        return when
            day += timedelta(days=1)
        return None


def next_fire(expression: str, tz: str, after: float) -> float | None:
    """When ``cron(...)`` ``expression`` next fires after ``after`` in ``tz`` (Unix seconds), None if never.

    Raises
    ------
    CronError
        Not cron, a part of it EventBridge does not run, or no such time zone.
    """
    return Cron.parse(expression).next_fire(after, tz)
