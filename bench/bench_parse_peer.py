"""OneBot parsing against a peer: qqbus ``parse_event`` vs nonebot-adapter-onebot ``Adapter.json_to_event``.

Run: make bench (it makes bench/.venv with nonebot2 and nonebot-adapter-onebot; they never enter
the Lambda layer). Both parse the same real OneBot payloads (events/ and ../shared/samples), from
the same dicts, interleaved in one process; printed as events/s, ours / theirs (goal >= 5x).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def payloads() -> list[dict[str, Any]]:
    found = []
    for path in sorted((ROOT / "events").glob("onebot_*.json")):
        detail = json.loads(path.read_text()).get("detail", {})
        if isinstance(detail.get("payload"), dict) and "post_type" in detail["payload"]:
            found.append(detail["payload"])
    for path in sorted((ROOT.parent / "shared" / "samples" / "onebot").glob("*.json")):
        found.append(json.loads(path.read_text()))
    return found


def rate(parse: Any, items: list[dict[str, Any]], seconds: float = 0.5) -> float:
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for item in items:
            parse(item)
        n += len(items)
    return n / (time.perf_counter() - started)


def main() -> None:
    import logging

    import nonebot
    from nonebot.adapters.onebot.v11 import Adapter
    from qqbus.events.parse import parse_event

    logging.disable(logging.WARNING)
    nonebot.init(driver="~none")
    items = payloads()
    theirs_all = [Adapter.json_to_event(dict(p)) for p in items]
    usable = [p for p, e in zip(items, theirs_all, strict=True) if e is not None]
    ours, theirs = [], []
    for _ in range(7):
        ours.append(rate(lambda p: parse_event(p), usable))
        theirs.append(rate(lambda p: Adapter.json_to_event(dict(p)), usable))
    o, t = statistics.median(ours), statistics.median(theirs)
    print(
        f"OneBot parse, {len(usable)} payloads: nonebot {t:,.0f} events/s (peer), qqbus {o:,.0f} events/s"
        f" = {o / t:.2f}x (goal >= 5x)"
    )


if __name__ == "__main__":
    main()
