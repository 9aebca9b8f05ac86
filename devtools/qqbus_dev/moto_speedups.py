"""Optional speed-ups for the dev stack's embedded moto (and botocore), none changing an answer.

Each is declared with what it replaces and the moto versions it was checked on, and is applied
only while that target exists: a moto that moved it gets one warning and the speed-up is
skipped, never a failure. ``QQBUS_MOTO_SPEEDUPS=off`` turns them all off. They are pure caches
of pure functions (no moto logic is re-implemented here); the dev stack applies them
(``qqbus dev``), the test suite's own AWS does not (it runs on moto as released), except the
botocore loader cache, which only spares re-reading JSON files (``share_botocore_loader``).

- ``jsonpath_parse``: moto parses the same eight JSONPath expressions (its default input
  template) for every event it delivers to a target; jsonpath_ng builds a parser table each time,
  about 6 ms an event.
- ``moto_module_list``: moto's server finds the backend of each request by listing its package
  folder and testing every entry with ``isdir`` (about 150): several ms a request from another
  process (``qqbus groups``, the AWS CLI, a relay with ``--local``).
- ``method_names``: for every request moto lists the methods of the service's response class
  with ``inspect.getmembers``; they are fixed per class.
- ``botocore_loader``: ``mock_aws`` sets boto3's default session aside, so each mock's first
  client makes a new botocore session that reads endpoints.json and the service models again
  (about 140 ms for three clients); one loader per data path reads each file once.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("qqbus_dev")

OFF_ENV = "QQBUS_MOTO_SPEEDUPS"


@dataclass(frozen=True)
class SpeedUp:
    """One cache over a pure function of a library: ``target`` (``module:attribute``) is replaced
    by ``wrap(target)`` once; ``checked_on`` names the versions its tests ran against."""

    name: str
    target: str
    checked_on: str
    wrap: Callable[[Any], Any]

    def locate(self) -> tuple[Any, str, Any] | None:
        """(owner, attribute, current value) of the target, or None when it is gone."""
        module_name, _, path = self.target.partition(":")
        try:
            owner: Any = importlib.import_module(module_name)
        except ImportError:
            return None
        *parents, attribute = path.split(".")
        for name in parents:
            owner = getattr(owner, name, None)
            if owner is None:
                return None
        current = getattr(owner, attribute, None)
        return None if current is None else (owner, attribute, current)

    def apply(self) -> str:
        """``applied``, ``already`` or ``missing`` (warned about once)."""
        found = self.locate()
        if found is None:
            _warn_missing(self.name, self.target, self.checked_on)
            return "missing"
        owner, attribute, current = found
        if getattr(current, "qqbus_speedup", None) == self.name:
            return "already"
        replacement = self.wrap(current)
        replacement.qqbus_speedup = self.name
        setattr(owner, attribute, replacement)
        return "applied"


@functools.cache
def _warn_missing(name: str, target: str, checked_on: str) -> None:
    log.warning(
        "moto speed-up %s skipped: %s is not there (checked on %s); the dev stack is only slower",
        name,
        target,
        checked_on,
    )


def _cached(fn: Any) -> Any:
    return functools.lru_cache(maxsize=512)(fn)


def _cached_listing(listing: Any) -> Any:
    """A directory listing read once (the package folder does not change while we run)."""

    @functools.cache
    def list_once() -> tuple[str, ...]:
        return tuple(listing())

    return list_once


JSONPATH_PARSE = SpeedUp("jsonpath_parse", "jsonpath_ng.ext:parse", "jsonpath-ng 1.17", _cached)
MOTO_MODULE_LIST = SpeedUp(
    "moto_module_list", "moto.backends:list_of_moto_modules", "moto 5.2.6", _cached_listing
)
METHOD_NAMES = SpeedUp(
    "method_names", "moto.core.responses:method_names_from_class", "moto 5.2.6", functools.cache
)
BOTOCORE_LOADER = SpeedUp("botocore_loader", "botocore.session:create_loader", "botocore 1.44", _cached)

#: What ``qqbus dev`` applies.
DEV_STACK = (JSONPATH_PARSE, MOTO_MODULE_LIST, METHOD_NAMES, BOTOCORE_LOADER)


def enabled() -> bool:
    return os.environ.get(OFF_ENV, "").strip().lower() not in ("0", "off", "false", "no")


def apply(speedups: tuple[SpeedUp, ...] = DEV_STACK) -> dict[str, str]:
    """Apply ``speedups`` (unless ``QQBUS_MOTO_SPEEDUPS=off``): name -> what happened."""
    if not enabled():
        return dict.fromkeys((s.name for s in speedups), "off")
    return {s.name: s.apply() for s in speedups}


def share_botocore_loader() -> None:
    """Every botocore session of this process reads the service models once (the suite uses it)."""
    apply((BOTOCORE_LOADER,))
