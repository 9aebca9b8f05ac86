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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.local.stacks import Stack, running_stack

TIMEOUT_MS = 20_000
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


@dataclass
class Session:
    page: Any
    shots: Path
    errors: list[str] = field(default_factory=list)

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=False)
        return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module (a module that uses it calls ``require_browser()``
    first, so that it is skipped as a whole when there is none)."""
    from playwright.sync_api import expect, sync_playwright

    executable = require_browser()
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


def _open(browser: Any, stack: Stack, tmp_path: Path, width: int, height: int) -> Iterator[Session]:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    session = Session(page, tmp_path)
    page.on(
        "console",
        lambda m: (
            session.errors.append(f"console.{m.type}: {m.text}") if m.type in ("error", "warning") else None
        ),
    )
    page.on("pageerror", lambda e: session.errors.append(f"pageerror: {e}"))
    page.goto(stack.http + "/")
    expect(page.locator("#live")).to_have_text("live")
    yield session
    context.close()
    assert session.errors == [], session.errors


@pytest.fixture
def wide(browser: Any, console_stack: Stack, tmp_path: Path) -> Iterator[Session]:
    yield from _open(browser, console_stack, tmp_path, 1280, 800)


@pytest.fixture
def narrow(browser: Any, console_stack: Stack, tmp_path: Path) -> Iterator[Session]:
    yield from _open(browser, console_stack, tmp_path, 400, 800)


@pytest.fixture(scope="session")
def console_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`qqbus dev` with the OneBot reverse-WebSocket relay, shared by the console tests; its QQ
    bot may send markdown (``QqMarkdown=true``: /help answers with markdown and buttons)."""
    tmp = tmp_path_factory.mktemp("console-stack")
    relay = ("--relay-onebot", "127.0.0.1:0")
    with running_stack(tmp, *relay, "--parameter-overrides", "QqMarkdown=true") as stack:
        yield stack
