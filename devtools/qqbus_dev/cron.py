"""EventBridge Scheduler's ``cron(...)`` expressions, for the local stack's clock.

Six fields: minutes, hours, day of month, month, day of week, year (AWS EventBridge Scheduler
user guide, "Schedule types", cron-based schedules). Day of week 1-7 is SUN-SAT; months and days
take their three-letter names; one of day of month and day of week must be ``?``. Supported:
``*``, ``?``, ``,``, ``-``, ``/``, ``L`` (day of month: the month's last day; day of week:
``<d>L``, the month's last such weekday, and ``L`` alone, Saturday) and ``<d>#<n>`` (the n-th
such weekday of the month). ``W`` (the nearest weekday) is refused by name: run it in AWS.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
#: The years EventBridge accepts.
YEARS = (1970, 2199)


class CronError(ValueError):
    """An expression that is not EventBridge cron, or a part of it the local clock does not run."""


def _number(text: str, names: dict[str, int], low: int, high: int, field: str) -> int:
    value = names.get(text.upper()) if not text.isdigit() else int(text)
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


@dataclass(frozen=True)
class Cron:
    """A parsed expression: which minutes, hours, months and years, and a rule for days."""

    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int]
    day_of_month: str
    day_of_week: str

    @classmethod
    def parse(cls, expression: str) -> Cron:
        body = expression.strip()
        if not (body.startswith("cron(") and body.endswith(")")):
            raise CronError(f"{expression!r} is not cron(...)")
        fields = body[5:-1].split()
        if len(fields) != 6:
            raise CronError(
                f"{expression!r}: cron takes 6 fields (minutes hours day-of-month month day-of-week year)"
            )
        minute, hour, dom, month, dow, year = fields
        if (dom == "?") == (dow == "?"):
            raise CronError(f"{expression!r}: exactly one of day-of-month and day-of-week is '?'")
        if "W" in dom.upper():
            raise CronError(f"{expression!r}: 'W' (nearest weekday) is not run locally")
        cron = cls(
            _values(minute, 0, 59, "minutes"),
            _values(hour, 0, 23, "hours"),
            _values(month, 1, 12, "month", MONTHS),
            _values(year, *YEARS, "year"),
            dom.upper(),
            dow.upper(),
        )
        cron.day_matches(date(2000, 1, 1))  # a bad day field fails now, not at the first tick
        return cron

    def day_matches(self, day: date) -> bool:
        if self.day_of_week == "?":
            return _dom_matches(self.day_of_month, day)
        return _dow_matches(self.day_of_week, day)

    def next_fire(self, after: float, tz: str = "UTC") -> float | None:
        """The first time (Unix seconds) after ``after`` when the schedule fires, None if never."""
        zone = ZoneInfo(tz or "UTC")
        start = datetime.fromtimestamp(after, zone).replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.date()
        while day.year <= YEARS[1]:
            if day.year in self.years and day.month in self.months and self.day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        when = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                        if when >= start:
                            return when.timestamp()
            day += timedelta(days=1)
        return None


def _weekday(day: date) -> int:
    """EventBridge's day of week: 1 = Sunday ... 7 = Saturday."""
    return (day.weekday() + 1) % 7 + 1


def _dom_matches(field: str, day: date) -> bool:
    last = calendar.monthrange(day.year, day.month)[1]
    if field == "L":
        return day.day == last
    return day.day in _values(field, 1, 31, "day-of-month")


def _dow_matches(field: str, day: date) -> bool:
    if "#" in field:
        which, _, nth = field.partition("#")
        if not nth.isdigit() or not 1 <= int(nth) <= 5:
            raise CronError(f"day-of-week: {field!r} needs #1 to #5")
        wanted = _number(which, DAYS, 1, 7, "day-of-week")
        return _weekday(day) == wanted and (day.day - 1) // 7 + 1 == int(nth)
    if field.endswith("L"):
        wanted = 7 if field == "L" else _number(field[:-1], DAYS, 1, 7, "day-of-week")
        last = calendar.monthrange(day.year, day.month)[1]
        return _weekday(day) == wanted and day.day + 7 > last
    return _weekday(day) in _values(field, 1, 7, "day-of-week", DAYS)
