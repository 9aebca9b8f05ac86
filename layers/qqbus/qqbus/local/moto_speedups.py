"""Make moto's EventBridge quicker for long local runs.

moto parses the same eight JSONPath expressions (its default input template) for every event
it delivers to a target; ``jsonpath_ng`` builds a parser table each time, about 6 ms an event.
The parse is a pure function of the expression, so caching it changes nothing but the time.
"""

from __future__ import annotations

import functools


def cache_jsonpath_parsing() -> None:
    try:
        import jsonpath_ng.ext
    except ImportError:  # moto without its events extra: nothing to speed up
        return
    if not hasattr(jsonpath_ng.ext.parse, "cache_info"):
        jsonpath_ng.ext.parse = functools.lru_cache(maxsize=512)(jsonpath_ng.ext.parse)
