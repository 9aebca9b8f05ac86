"""How much the typed models cost over plain JSON decoding, per event, on this machine.

Run: .venv/bin/python bench/bench_parsing.py. Each line is a ratio against a baseline measured
in the same run (json.loads of the same bytes), so numbers compare across machines.
"""

from __future__ import annotations

import json
import timeit
from pathlib import Path

from qqbus.events import parse_event
from qqbus.events.message import parse_cq, to_cq

EVENTS = Path(__file__).resolve().parents[1] / "events"


def per_call(fn, number: int) -> float:  # type: ignore[no-untyped-def]
    return min(timeit.repeat(fn, number=number, repeat=5)) / number


def main() -> None:
    payloads = [
        json.loads(p.read_text())["detail"]["payload"]
        for p in sorted(EVENTS.glob("*.json"))
        if "payload" in json.loads(p.read_text()).get("detail", {})
    ]
    raws = [json.dumps(p, ensure_ascii=False).encode() for p in payloads]
    n = 2000
    baseline = per_call(lambda: [json.loads(r) for r in raws], n)
    parsed = per_call(lambda: [parse_event(json.loads(r)) for r in raws], n)
    print(f"{len(raws)} events: json.loads {baseline / len(raws) * 1e6:.1f} us/event (baseline)")
    each = parsed / len(raws) * 1e6
    print(f"  json.loads + parse_event: {parsed / baseline:.1f}x baseline ({each:.1f} us/event)")

    cq = (
        "hi &amp; [CQ:at,qq=123456789] look "
        "[CQ:image,file=a&#44;b.jpg,url=https://x/y?a=1&amp;b=2] &#91;ok&#93;"
    ) * 4
    base_split = per_call(lambda: cq.split("["), 20000)
    parse = per_call(lambda: parse_cq(cq), 20000)
    segments = parse_cq(cq)
    printing = per_call(lambda: to_cq(segments), 20000)
    print(f"CQ string of {len(cq)} chars: str.split {base_split * 1e6:.2f} us (baseline)")
    print(f"  parse_cq: {parse / base_split:.1f}x baseline")
    print(f"  to_cq: {printing / base_split:.1f}x baseline")


if __name__ == "__main__":
    main()
