"""Hypothesis profiles of the ingress fuzz suite.

``make test`` runs the default profile (a few thousand cases in all); ``QQBUS_FUZZ=long``
selects the long one, which CI runs as its own step. The profiles are applied per test
(``fuzz_settings()``), never loaded globally, so other suites keep their own settings.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

DEFAULT_PROFILE = "qqbus-ingress"
LONG_PROFILE = "qqbus-ingress-long"
LONG = os.environ.get("QQBUS_FUZZ", "").strip().lower() == "long"
#: Seconds a fuzz test may run (pytest-timeout): the long profile takes minutes per test.
TIMEOUT = 3600 if LONG else 300

_common = settings(
    deadline=None,  # one case runs moto's PutEvents and SQS: its time varies with the machine's load
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(DEFAULT_PROFILE, _common, max_examples=400)
settings.register_profile(LONG_PROFILE, _common, max_examples=6_000)  # CI: minutes, not an hour


def fuzz_settings() -> settings:
    """The profile that ``QQBUS_FUZZ`` selects: ``long``, or the default."""
    return settings.get_profile(LONG_PROFILE if LONG else DEFAULT_PROFILE)
