"""The console in a real headless Chromium: a newcomer's first minutes, click by click.

Each test opens the page served by `qqbus dev`, drives it only through its controls (labels,
buttons, the keyboard) and checks what a person would see: the bot's answer in the chat, the
trace row with the handler and the action, the group row changing, a refusal with its reason,
a failed send parked and replayed. Console messages and page errors are collected: there must
be none. Screenshots go to the test's tmp dir.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.console.conftest import CHROMIUM_ARGS, require_browser
from tests.local.stacks import Stack

CHROMIUM = require_browser()  # or the whole module is skipped, with one line saying why
TIMEOUT_MS = 20_000


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
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
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


def _add_user_and_group(page: Any, user: str, group: str) -> None:
    from playwright.sync_api import expect

    page.get_by_label("New user").fill(user)
    page.get_by_role("button", name="Add user").click()
    expect(page.locator("#users")).to_contain_text(f"{user} (private)")
    page.get_by_label("New group").fill(group)
    page.get_by_role("button", name="Add group").click()
    expect(page.locator("#conv-title")).to_have_text(f"Group: {group}")


def _group_row(page: Any) -> Any:
    """The only row of the groups table that belongs to the conversation's group."""
    group_id = page.locator("#groups button[aria-pressed='true']").get_attribute("data-id")
    return page.locator(f"section[data-table='GroupsTable'] article[data-key$='/{group_id}']")


def test_qq_chat_trace_state_refusal_and_replay(wide: Session) -> None:
    from playwright.sync_api import expect

    page = wide.page
    expect(page.locator("#bot")).to_have_value("qq:102000001")
    _add_user_and_group(page, "Alice", "Test group")

    # The bot joins the group: the group row appears.
    page.get_by_role("button", name="Add bot to group", exact=True).click()
    expect(page.locator("#messages")).to_contain_text("Alice added the bot to the group")
    page.get_by_role("tab", name="State").click()
    row = _group_row(page)
    expect(row.locator("dd[data-col='member']")).to_have_text("true")
    expect(row.locator("dd[data-col='reply_event_id']")).to_contain_text("GROUP_ADD_ROBOT:")
    joined = row.inner_text()

    # /ping -> pong, and the trace row names the handler and the sent action.
    page.get_by_label("Message", exact=True).fill("/ping")
    page.get_by_label("Message", exact=True).press("Enter")
    pong = page.locator("#messages li.msg.bot", has_text="pong")
    expect(pong).to_have_attribute("data-status", "sent")
    expect(pong).to_contain_text("passive")
    page.get_by_role("tab", name="Trace").click()
    trace = page.locator("#traces li", has=page.locator(".type", has_text="GROUP_AT_MESSAGE_CREATE")).first
    expect(trace.locator(".chip", has_text="QqGroupAtMessageCreateFunction ok")).to_be_visible()
    expect(trace.locator(".chip", has_text='qq.group_message "pong" → sent (passive)')).to_be_visible()
    trace.locator(".trace-row").click()
    detail = trace.locator(".trace-detail")
    expect(detail).to_contain_text(
        "rule QqGroupAtMessageCreateFunctionBus → function QqGroupAtMessageCreateFunction"
    )
    for step, says in (
        ("<- POST /qq/webhook", "INFO published qq.official GROUP_AT_MESSAGE_CREATE"),  # the ingress
        ("-> QqGroupAtMessageCreateFunction", "INFO group @-message"),  # the handler
    ):
        lines = detail.locator("ol.steps > li", has_text=step)
        lines.get_by_text("log line", exact=False).click()
        expect(lines.locator("pre.logs")).to_contain_text(says)
    expect(detail.locator("details.payload pre")).to_contain_text('"content": " /ping"')
    wide.shot("01-ping-pong-trace")
    join_trace = page.locator("#traces li", has=page.locator(".type", has_text="GROUP_ADD_ROBOT")).first
    expect(join_trace.locator(".chip", has_text="state changed")).to_be_visible()

    # The group refuses proactive messages: the row changes, a later unprompted post is refused.
    page.get_by_role("button", name="Group refuses proactive messages", exact=True).click()
    expect(page.locator("#messages")).to_contain_text("Alice turned the bot's proactive messages off")
    page.get_by_role("tab", name="State").click()
    expect(row.locator("dd[data-col='proactive']")).to_have_text("false")
    assert row.inner_text() != joined
    expect(row.locator("dd.changed[data-col='proactive']")).to_have_count(1)  # highlighted
    expect(row.locator("dd[data-col='reply_event_id']")).to_have_count(0)
    expect(row).to_contain_text("removed: reply_event_id")  # nothing left to cite
    wide.shot("02-state-after-reject")
    page.get_by_label("Bot posts unprompted").fill("the daily news")
    page.get_by_role("button", name="Post as the bot").click()
    refused = page.locator("#messages li.msg.bot", has_text="the daily news")
    expect(refused).to_have_attribute("data-status", "refused")
    expect(refused).to_contain_text("proactive_off")
    page.get_by_role("tab", name="Trace").click()
    posted = page.locator("#traces li", has=page.locator(".type", has_text="console.bot_posts")).first
    expect(posted.locator(".chip", has_text="refused: proactive_off")).to_be_visible()

    # The QQ API fails every attempt: the reply is parked; "Replay" puts it back and it is sent.
    page.get_by_role("tab", name="Failures").click()
    page.get_by_label("Make the fake").select_option("qq")
    page.get_by_label("answer").fill("503")
    page.get_by_label("to the next").fill("12")  # 4 tries per invocation, 3 invocations
    page.get_by_role("button", name="Inject fault").click()
    page.get_by_label("Message", exact=True).fill("/ping")
    page.get_by_label("Message", exact=True).press("Enter")
    failed = page.locator("#messages li.msg.bot[data-status='failed']", has_text="pong")
    expect(failed).to_contain_text("unavailable", timeout=90_000)
    parked = page.locator("section[data-queue='HandlerFailureQueue'] li", has_text="QqSenderFunction")
    expect(parked).to_have_count(1, timeout=TIMEOUT_MS)
    expect(parked.locator(".error")).to_contain_text("Unavailable")
    expect(page.locator("#failure-count")).to_have_text(re.compile(r"[1-9]"))
    wide.shot("03-failure-parked")
    parked.get_by_role("button", name="Replay").click()
    expect(parked).to_have_count(0)
    expect(failed).to_have_count(0)
    expect(page.locator("#messages li.msg.bot[data-status='sent']", has_text="pong")).to_have_count(2)
    wide.shot("04-replayed")


def test_onebot_group_without_mention_mute_and_keyboard_at_400px(narrow: Session) -> None:
    from playwright.sync_api import expect

    page = narrow.page
    page.get_by_label("Bot", exact=True).select_option("onebot:123456789")
    _add_user_and_group(page, "Bob", "Dev chat")
    page.get_by_role("button", name="Add bot to group", exact=True).click()
    expect(page.locator("#messages")).to_contain_text("Bob invited the bot into the group")

    # No @-mention: OneBot delivers every group message, and /ping still answers.
    page.get_by_label("@bot").uncheck()
    page.get_by_label("Message", exact=True).fill("/ping")
    page.keyboard.press("Enter")
    expect(page.locator("#messages li.msg.user").last).to_have_text(re.compile(r"^Bob/ping"))
    expect(page.locator("#messages li.msg.bot[data-status='sent']", has_text="pong")).to_have_count(1)

    # Mute the bot: the row shows until when; an unprompted post is refused as muted.
    page.get_by_role("button", name="Mute bot", exact=True).click()
    expect(page.locator("#messages")).to_contain_text("Bob muted the bot")
    tab = page.get_by_role("tab", name="Trace")
    tab.focus()
    page.keyboard.press("ArrowRight")  # tabs move with the arrow keys
    expect(page.get_by_role("tab", name="State")).to_have_attribute("aria-selected", "true")
    muted = _group_row(page).locator("dd[data-col='muted_until']")
    expect(muted).to_contain_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"))
    expect(muted.locator(".note")).to_have_text(re.compile(r"^in (9|10) min$"))
    page.get_by_label("Bot posts unprompted").fill("hello while muted")
    page.get_by_role("button", name="Post as the bot").click()
    refused = page.locator("#messages li.msg.bot", has_text="hello while muted")
    expect(refused).to_have_attribute("data-status", "refused")
    expect(refused).to_contain_text("muted")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the page scrolls sideways at 400 px ({width} px wide)"
    narrow.shot("05-onebot-narrow")


def test_a_reply_refused_for_the_ip_whitelist_is_parked_and_replayed(wide: Session) -> None:
    """QQ refuses the sender's address (11298): the reply fails with ip_not_whitelisted at once (no
    retries), waits in the failure queue, and is sent once replayed."""
    from playwright.sync_api import expect

    page = wide.page
    _add_user_and_group(page, "Carol", "Whitelist group")
    page.get_by_role("button", name="Add bot to group", exact=True).click()
    expect(page.locator("#messages")).to_contain_text("Carol added the bot to the group")
    page.get_by_role("tab", name="Failures").click()
    page.get_by_label("Make the fake").select_option("qq")
    page.get_by_label("fail with").select_option("ip_not_whitelisted")
    expect(page.get_by_label("answer")).to_be_disabled()
    page.get_by_label("to the next").fill("1")
    page.get_by_role("button", name="Inject fault").click()
    page.get_by_label("Message", exact=True).fill("/ping")
    page.get_by_label("Message", exact=True).press("Enter")
    failed = page.locator("#messages li.msg.bot[data-status='failed']", has_text="pong")
    expect(failed).to_contain_text("ip_not_whitelisted")
    parked = page.locator("section[data-queue='HandlerFailureQueue'] li", has_text="ip_not_whitelisted")
    expect(parked).to_have_count(1)
    parked.get_by_role("button", name="Replay").click()
    expect(parked).to_have_count(0)
    expect(page.locator("#messages li.msg.bot[data-status='sent']", has_text="pong")).to_have_count(1)


def test_the_page_needs_no_other_host(wide: Session) -> None:
    """Everything the page loads comes from the stack itself (no CDN: no internet at run time)."""
    page = wide.page
    urls = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    assert urls, "the page loaded its styles and script"
    origin = page.evaluate("location.origin")
    assert all(url.startswith(origin) for url in urls), urls
