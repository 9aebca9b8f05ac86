"""What every door refuses: raw JSON values and event types the bus cannot carry.

HTTP ingress answers them 400; the relay drops the frame (``refused``). Both fuzz suites
(``tests/ingress/test_fuzz.py``, ``tests/relay/test_fuzz_frames.py``) draw from these lists, so
the two doors are held to the same cases.
"""

from __future__ import annotations

import json

from qqbus.json_body import MAX_JSON_DEPTH

#: A string put where raw JSON goes: serialise, then replace ``MARK_JSON`` with the raw value.
MARK = "\x00INJECT\x00"
MARK_JSON = json.dumps(MARK).encode()

#: Raw JSON values that once broke ingress, and whether the bus can take them.
INJECTIONS: list[tuple[bytes, bool]] = [
    (b"NaN", False),
    (b"Infinity", False),
    (b"-Infinity", False),
    (b"1e999", False),
    (b"-1e400", False),
    (b"9223372036854775808", False),
    (b"-9223372036854775809", False),
    (b"1" * 30, False),
    (b"9223372036854775807", True),
    (b"-9223372036854775808", True),
    (b"1e308", True),
    (b"-1e-400", True),
    (b'"\\ud83d"', True),
    (b'"a\\udc00\\ud83d\\ude00b"', True),
    (b'"[[[[{{{{\\"\\\\"', True),
]

#: Depths of nested arrays to put at a field (accepted while the whole body nests at most
#: ``MAX_JSON_DEPTH`` deep).
DEPTHS = [1, MAX_JSON_DEPTH - 2, MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 20_000]

#: Types that once broke a door, and whether they can be a detail-type: too long, a lone
#: surrogate, control characters (the bus failed the entry: a 503 for ever), and line separators
#: that are no control characters (routed; ``str.splitlines`` broke their log line).
TYPES: list[tuple[str, bool]] = [
    ("x" * 129, False),
    ("x" * 128, True),
    ("\ud83d", False),
    ("A\x00B", False),
    ("A\nB", False),
    ("A\tB", False),
    ("A\x7fB", False),
    ("A\x85B", False),
    ("A\u2028B", True),
    ("A\u2029B", True),
]
ODD_TYPES = [t for t, _ in TYPES]


def nested(depth: int) -> bytes:
    """``depth`` nested empty arrays."""
    return b"[" * depth + b"]" * depth
