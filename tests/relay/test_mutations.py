"""A small mutation check of the relay's spool and publisher (``make test-slow``).

Each mutant is one deliberate bug in a copy of the module, a bug a user would notice (an entry
lost or sent twice, a close that never returns, a call the bus refuses, an outage reported once
or at every retry). The copy is run in a fresh interpreter in place of the module (the file in
the tree is never touched), against the tests written to catch that bug: each must fail. A
mutant that passes means the tests no longer guard that behaviour.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import pytest

from tests.support import REPO

SPOOL = "qqbus_relay.spool"
PUBLISHER = "qqbus_relay.publisher"
SPOOL_TESTS = "tests/relay/test_spool.py"
PUBLISHER_TESTS = "tests/relay/test_publisher.py"


class Mutant(NamedTuple):
    module: str
    old: str  # found exactly once in the module's source
    new: str
    tests: str  # what must fail
    why: str


MUTANTS = [
    Mutant(
        SPOOL,
        'log.warning("unreadable spool offset %r: sending the spool from its start", text[:40])\n'
        "            return 0",
        'log.warning("unreadable spool offset %r: sending the spool from its start", text[:40])\n'
        "            return 1",
        f"{SPOOL_TESTS}::test_an_unreadable_offset_sends_the_spool_again_from_its_start",
        "an unreadable offset skips into the first entry (lost)",
    ),
    Mutant(
        SPOOL,
        "                    if not out:\n                        self._move_to(fh.tell(), 0)\n",
        "",
        f"{SPOOL_TESTS}::test_blank_lines_are_passed_over_at_the_head_and_between_entries",
        "a blank line at the head is never passed",
    ),
    Mutant(
        SPOOL,
        "self.full = self.full or not all(kept)",
        "self.full = self.full or not any(kept)",
        f"{SPOOL_TESTS}::test_full_stays_set_after_a_partial_write_until_something_drains",
        "a partial write does not say the spool is full",
    ),
    Mutant(
        SPOOL,
        "if self._pending <= 0:",
        "if self._pending < 0:",
        f"{SPOOL_TESTS}::test_draining_everything_resets_both_files",
        "a drained spool is never emptied",
    ),
    Mutant(
        SPOOL,
        "                    if out:\n                        break\n",
        "",
        f"{SPOOL_TESTS}::test_a_bad_line_after_a_good_entry_waits_until_that_entry_is_sent",
        "the offset passes an entry not yet sent",
    ),
    Mutant(
        PUBLISHER,
        "                    return\n                await self._land(0)\n",
        "                    return\n",
        f"{PUBLISHER_TESTS}::test_close_with_one_call_still_out_waits_for_it_and_returns",
        "a close with a call out spins for ever",
    ),
    Mutant(
        PUBLISHER,
        "if size + item.size > self.max_request_bytes:",
        "if size + item.size >= self.max_request_bytes:",
        f"{PUBLISHER_TESTS}::test_a_call_fills_up_to_exactly_the_request_limit",
        "a call stops one entry short of the request limit",
    ),
    Mutant(
        PUBLISHER,
        "while len(batch) < self.max_entries:",
        "while len(batch) <= self.max_entries:",
        f"{PUBLISHER_TESTS}::test_a_call_takes_ten_entries_and_no_more",
        "a call of eleven entries, which PutEvents refuses",
    ),
    Mutant(
        PUBLISHER,
        "        self._last_complaint = now\n        since",
        "        since",
        f"{PUBLISHER_TESTS}::test_an_outage_that_lasts_is_reported_again_every_complain_every",
        "a lasting outage logs an ERROR at every retry",
    ),
]

# Runs in the fresh interpreter: the mutated copy is registered as the module before pytest
# imports anything, so every import of it (the tests', the publisher's) gets the copy.
RUNNER = """
import importlib, importlib.util, sys
name, old, new = sys.argv[1:4]
spec = importlib.util.find_spec(name)
source = open(spec.origin, encoding="utf-8").read()
if source.count(old) != 1:
    sys.exit(90)
module = importlib.util.module_from_spec(spec)
sys.modules[name] = module
exec(compile(source.replace(old, new), spec.origin, "exec"), module.__dict__)
parent, _, child = name.rpartition(".")
setattr(importlib.import_module(parent), child, module)
import pytest
sys.exit(pytest.main(sys.argv[4:]))
"""
NOT_FOUND = 90


def _run(mutant: Mutant) -> int:
    args = [sys.executable, "-c", RUNNER, mutant.module, mutant.old, mutant.new]
    args += ["-x", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-m", "not slow", mutant.tests]
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120)
    return done.returncode


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_the_relays_tests_catch_each_planted_bug() -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        codes = list(pool.map(_run, MUTANTS))
    stale = [m.why for m, code in zip(MUTANTS, codes, strict=True) if code == NOT_FOUND]
    assert not stale, f"the code these mutants change has moved (update MUTANTS): {stale}"
    errors = [m.why for m, code in zip(MUTANTS, codes, strict=True) if code in (2, 3, 4, 5)]
    assert not errors, f"the tests could not run against these mutants: {errors}"
    survived = [m.why for m, code in zip(MUTANTS, codes, strict=True) if code == 0]
    assert not survived, f"no test failed for these planted bugs: {survived}"
    assert all(code == 1 for code in codes), codes
