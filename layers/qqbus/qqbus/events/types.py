"""Field types shared by the QQ and OneBot models.

Both protocols say "integer" for ids and times, so only integers are taken: a JSON integer, a
whole float that carries it exactly, or a string of ASCII digits (implementations send numeric
strings sometimes). Never a bool (``true`` is not 1), a fraction, or other scripts' digits
(``"１７"`` is not 17): lenient coercion would store nonsense as state.

Event times must also be plausible: a time far in the future would win every later
comparison of event times (group state orders writes by them) and freeze that state for good.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, Strict

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

#: No event is older than this (2010-01-01T00:00:00Z): anything earlier is a wrong clock or a unit slip.
EARLIEST_EVENT_TIME = 1262304000
#: How far ahead of our clock an event time may be (a sender's clock may run fast, not by a day).
MAX_CLOCK_AHEAD_SECONDS = 24 * 3600

_DECIMAL = re.compile(r"-?[0-9]{1,20}")
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]{1,9})?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)
#: The largest magnitude up to which every whole float is exactly one integer.
_EXACT_FLOAT = 2**53


def _integer(value: Any) -> Any:
    """An int from an int, a whole float or an ASCII decimal string; refuses bools and the rest."""
    if value.__class__ is int:  # the common case first (a bool's class is bool, not int)
        return value
    if isinstance(value, bool):
        raise ValueError(f"{str(value).lower()} is a boolean, not an integer")
    if isinstance(value, float):
        if value.is_integer() and abs(value) <= _EXACT_FLOAT:
            return int(value)
        raise ValueError(f"{value!r} is not an integer (a whole number up to 2**53 as a float)")
    if isinstance(value, str):
        if _DECIMAL.fullmatch(value):
            return int(value)
        raise ValueError(f"{value[:40]!r} is not a decimal integer (ASCII digits, optional '-')")
    return value  # int passes; anything else fails the strict int check with pydantic's message


def _unix_seconds(value: Any) -> Any:
    """Like ``_integer``, and also an RFC 3339 date-time with an offset (QQ message events)."""
    if not isinstance(value, str) or _DECIMAL.fullmatch(value):
        return _integer(value)
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise ValueError(f"{value[:40]!r} is neither Unix seconds nor an RFC 3339 date-time with an offset")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    sign, off_hours, off_minutes = match.groups()[6:]
    offset = 0
    if sign:
        if int(off_hours) > 23 or int(off_minutes) > 59:
            raise ValueError(f"{value!r} has an impossible UTC offset")
        offset = (int(off_hours) * 3600 + int(off_minutes) * 60) * (1 if sign == "+" else -1)
    try:  # second 60 is a leap second: count it as :59
        utc = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a date-time: {exc}") from None
    return int(utc.timestamp()) - offset


def _plausible(seconds: int) -> int:
    if seconds < EARLIEST_EVENT_TIME:
        raise ValueError(f"event time {seconds} is before 2010-01-01 (Unix seconds expected)")
    now = int(time.time())
    if seconds > now + MAX_CLOCK_AHEAD_SECONDS:
        raise ValueError(f"event time {seconds} is more than a day ahead of now ({now})")
    return seconds


#: A QQ number, group number or message id. Real ``message_id``s are negative or above
#: int32, so every id is a signed 64-bit integer (a JSON integer or a numeric string).
Int64 = Annotated[int, Strict(), Field(ge=INT64_MIN, le=INT64_MAX), BeforeValidator(_integer)]

#: When an event happened, in Unix seconds: an integer (or numeric string) from 2010-01-01 up
#: to a day ahead of now. Replays stay valid: an event only gets older.
EventTime = Annotated[int, Strict(), AfterValidator(_plausible), BeforeValidator(_integer)]

#: ``EventTime`` that also reads RFC 3339 (QQ message events send ``2023-11-06T13:37:18+08:00``);
#: a date-time without an offset is refused, since its instant is unknown.
UnixSeconds = Annotated[int, Strict(), AfterValidator(_plausible), BeforeValidator(_unix_seconds)]
