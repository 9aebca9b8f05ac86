"""The console's tests: one `qqbus dev` for them all, and a real headless Chromium for the page.

The browser tests need Debian's ``chromium`` (or ``QQBUS_CHROMIUM``) and the ``playwright``
package (the ``dev`` extra), which drives that executable; no browser is downloaded. Without a
Chromium their module is skipped, one line in the summary, except under CI (``CI`` set),
where .ci/run installs it and its absence is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.local.stacks import Stack, running_stack

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str | None:
    """``QQBUS_CHROMIUM``, else Debian's chromium on the PATH or in /usr/bin."""
    for candidate in (
        os.environ.get("QQBUS_CHROMIUM"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        "/usr/bin/chromium",
    ):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def require_browser() -> str:
    """The Chromium to drive; else skip the calling test module (one line in the summary).

    Under CI (``CI`` set) a missing browser fails the run instead: .ci/run installs it.
    """
    path = find_chromium()
    problem = None
    if path is None:
        problem = "no Chromium found (apt-get install chromium, or set QQBUS_CHROMIUM)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is missing (pip install -e './devtools[test]')"
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI runs the browser tests, but {problem}: .ci/run installs it", pytrace=False)
        pytest.skip(f"browser tests skipped: {problem}", allow_module_level=True)
    assert path is not None
    return path


@pytest.fixture(scope="session")
def console_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`qqbus dev` with the OneBot reverse-WebSocket relay, shared by the console tests."""
    tmp = tmp_path_factory.mktemp("console-stack")
    with running_stack(tmp, "--relay-onebot", "127.0.0.1:0") as stack:
        yield stack
