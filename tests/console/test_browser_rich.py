"""Rich messages, buttons, quotes, recalls, schedules and the bot's data, in a real headless Chromium.

The bot's messages take the real path (handler or console -> bus -> sender -> fake platform API
-> result); a button click is the INTERACTION_CREATE a QQ client makes QQ push, signed and
posted to the stack's ingress like any event. Set ``QQBUS_DOCS_SHOTS=1`` to also write the
README's screenshot (docs/console-help.png) from the /help test.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from typing import Any

from tests.console.conftest import Session, require_browser
from tests.console.test_browser import _api, _joined_qq_group, _say
from tests.local.stacks import Stack
from tests.support import REPO

CHROMIUM = require_browser()  # or the whole module is skipped, with one line saying why
QQ_BOT = "qq:102000001"
ONEBOT_BOT = "onebot:123456789"
#: A 2x2 red PNG: an image that decodes (naturalWidth 2), sent as base64:// like any bot's.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg=="
)


def _group_id(page: Any) -> str:
    return str(page.locator("#groups button[aria-pressed='true']").get_attribute("data-id"))


def test_help_as_markdown_with_buttons_and_a_click_that_runs_the_command(wide: Session) -> None:
    """QqMarkdown=true: /help is markdown (bold title, a list with code) and a keyboard; a
    callback button sends INTERACTION_CREATE through the ingress and the bot answers the
    command; a command button puts its text into the input box, as a QQ client does."""
    from playwright.sync_api import expect

    page = wide.page
    _joined_qq_group(page, "Alice", "Help group")
    _say(page, "/help")
    help_ = page.locator("#messages li.msg.bot", has=page.locator(".keyboard"))
    expect(help_).to_have_attribute("data-status", "sent")
    expect(help_.locator(".md strong", has_text="Commands")).to_be_visible()
    expect(help_.locator(".md li code", has_text="/ping")).to_be_visible()
    expect(help_).not_to_contain_text("**")  # rendered, not shown as source
    ping = help_.get_by_role("button", name="/ping", exact=True)
    expect(ping).to_have_attribute("data-type", "1")
    page.get_by_role("tab", name="Trace").click()
    wide.shot("help-markdown")
    if os.environ.get("QQBUS_DOCS_SHOTS"):  # the README's picture, made the way this test sees it
        shutil.copy(wide.shots / "help-markdown.png", REPO / "docs" / "console-help.png")

    ping.click()
    expect(
        page.locator("#messages li.msg.system", has_text="Alice clicked the button '/ping'")
    ).to_have_attribute("data-status", "delivered")
    expect(page.locator("#messages li.msg.bot[data-status='sent']", has_text="pong")).to_have_count(1)
    click = page.locator("#traces li", has=page.locator(".type", has_text="INTERACTION_CREATE")).first
    expect(click.locator(".chip", has_text="ingress 200")).to_be_visible()
    expect(click.locator(".chip", has_text="QqInteractionCreateFunction ok")).to_be_visible()
    expect(click.locator(".chip", has_text="qq.ack_interaction")).to_contain_text("→ sent")

    help_.get_by_role("button", name="/echo", exact=True).click()  # needs an argument: type 2
    expect(page.get_by_label("Message", exact=True)).to_have_value("/echo ")
    expect(page.get_by_label("Message", exact=True)).to_be_focused()


def test_markdown_is_rendered_and_never_injects_markup(wide: Session, console_stack: Stack) -> None:
    """Headings, emphasis, code, lists, links: rendered. Raw HTML stays text, a javascript: link
    is not a link, and a jump button is a link to its URL."""
    from playwright.sync_api import expect

    page = wide.page
    _joined_qq_group(page, "Bob", "Markdown group")
    source = "\n".join(
        (
            "# Weather",
            "Today is *mild* and **dry**, ~~rain~~ `none`.",
            "- morning: 18°C",
            "- evening: 12°C",
            "1. first",
            "2. second",
            "<img src=x onerror=\"document.title='pwned'\"> <script>document.title='pwned'</script>",
            "[forecast](https://weather.example/today) [bad](javascript:document.title='pwned')",
            '<qqbot-at-user id="NOBODY" />',
        )
    )
    jump = {
        "id": "site",
        "render_data": {"label": "Open site", "visited_label": "Opened", "style": 0},
        "action": {"type": 0, "data": "https://weather.example/", "permission": {"type": 2}},
    }
    message = [
        {"type": "markdown", "data": {"content": source}},
        {"type": "keyboard", "data": {"content": {"rows": [{"buttons": [jump]}]}}},
    ]
    _api(page, console_stack, "post", {"bot": QQ_BOT, "group": _group_id(page), "message": message})
    shown = page.locator("#messages li.msg.bot", has=page.locator(".md"))
    expect(shown).to_have_attribute("data-status", "sent")
    md = shown.locator(".md")
    expect(md.get_by_role("heading", name="Weather")).to_be_visible()
    expect(md.locator("em")).to_have_text("mild")
    expect(md.locator("strong")).to_have_text("dry")
    expect(md.locator("s")).to_have_text("rain")
    expect(md.locator("code")).to_have_text("none")
    expect(md.locator("ul > li")).to_have_count(2)
    expect(md.locator("ol > li")).to_have_count(2)
    expect(md).to_contain_text("<img src=x onerror=")  # shown as the text it is
    expect(md).to_contain_text("<script>")
    expect(shown.locator("img, script")).to_have_count(0)
    expect(md.get_by_role("link", name="forecast")).to_have_attribute("href", "https://weather.example/today")
    expect(md.get_by_role("link", name="bad")).to_have_count(0)
    expect(md.locator(".unsafe-link", has_text="bad")).to_be_visible()
    expect(md.locator(".mention")).to_have_text("@NOBODY")
    site = shown.get_by_role("link", name="Open site")
    expect(site).to_have_attribute("href", "https://weather.example/")
    expect(site).to_have_attribute("target", "_blank")
    assert page.title() == "qqbus dev console"


def test_media_and_onebot_cards_are_shown_never_as_object_object(wide: Session, console_stack: Stack) -> None:
    """A OneBot bot's image, video, voice and file, and its forward nodes, music and share
    cards, json/xml cards, pokes and an unknown segment: each shown as what it is."""
    from playwright.sync_api import expect

    page = wide.page
    page.get_by_label("Bot", exact=True).select_option(ONEBOT_BOT)
    carol = _api(page, console_stack, "users", {"protocol": "onebot", "name": "Carol"})
    page.locator(f"#users button[data-id='{carol['id']}']").click()
    b64 = "base64://" + base64.b64encode(PNG).decode()
    media = [
        {"type": "text", "data": {"text": "here you go "}},
        {"type": "image", "data": {"file": b64}},
        {"type": "video", "data": {"file": "base64://AAAAIGZ0eXBpc29t"}},
        {"type": "record", "data": {"file": "base64://SUQzBAAAAAAA"}},
        {"type": "file", "data": {"file": "https://files.example/report.pdf", "name": "report.pdf"}},
    ]
    _api(page, console_stack, "post", {"bot": ONEBOT_BOT, "user": carol["id"], "message": media})
    shown = page.locator("#messages li.msg.bot", has_text="here you go")
    expect(shown).to_have_attribute("data-status", "sent")
    image = shown.locator("img.seg-image")
    expect(image).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth === 2", arg=image.element_handle())
    expect(shown.locator("video[controls]")).to_have_attribute("src", re.compile(r"^data:video/"))
    expect(shown.locator("audio[controls]")).to_have_attribute("src", re.compile(r"^data:audio/"))
    expect(shown.locator(".file-chip a")).to_have_text("report.pdf")

    # Whatever the OneBot sender makes of each (some go as messages of their own), the chat
    # shows what the bot asked to send.
    said = {"type": "text", "data": {"text": "hi"}}
    cards = [
        [{"type": "node", "data": {"name": "Dave", "uin": "10001", "content": [said]}}],
        [{"type": "forward", "data": {"id": "FWD123"}}],
        [{"type": "music", "data": {"type": "163", "id": "28949129"}}],
        [
            {
                "type": "share",
                "data": {"url": "https://news.example/a", "title": "Big news", "content": "read"},
            }
        ],
        [{"type": "json", "data": {"data": '{"app":"com.tencent.miniapp","prompt":"[mini app] Tea"}'}}],
        [{"type": "xml", "data": {"data": "<msg>card</msg>"}}],
        [{"type": "poke", "data": {"qq": "10001"}}],
        [{"type": "location", "data": {"lat": "39.9", "lon": "116.4", "title": "Beijing"}}],
    ]
    for card in cards:
        _api(page, console_stack, "post", {"bot": ONEBOT_BOT, "user": carol["id"], "message": card})
    bot_lines = page.locator("#messages li.msg.bot")
    expect(bot_lines).to_have_count(1 + len(cards))
    for says in (
        "Dave said",
        "hi",
        "forwarded messages",
        "FWD123",
        "163 song 28949129",
        "share: Big news",
        "json card",
        "[mini app] Tea",
        "xml card",
        "poke",
        "Beijing · 39.9, 116.4",
    ):
        expect(bot_lines.filter(has_text=says).first).to_be_visible()
    expect(page.locator("#messages")).not_to_contain_text("[object Object]")
    expect(page.get_by_role("link", name="https://news.example/a")).to_be_visible()

    # A segment this console does not know (and OneBot v11 neither: the sender refuses it).
    unknown = [{"type": "gift", "data": {"qq": "10001", "extra": {"nested": [1, 2]}}}]
    _api(page, console_stack, "post", {"bot": ONEBOT_BOT, "user": carol["id"], "message": unknown})
    gift = page.locator("#messages li.msg.bot", has=page.locator(".seg-card", has_text="gift"))
    expect(gift).to_have_attribute("data-status", re.compile("^(sent|failed|refused)$"))
    expect(gift).to_contain_text('qq=10001 extra={"nested":[1,2]}')
    expect(gift).not_to_contain_text("[object Object]")


def test_a_quote_shows_the_message_it_quotes_and_a_recall_marks_it(
    wide: Session, console_stack: Stack
) -> None:
    """The bot quotes the user's message (reply segment -> QQ message_reference): a quoted block
    names who said what. Recall (QQ DELETE of the message): the message is marked recalled."""
    from playwright.sync_api import expect

    page = wide.page
    _joined_qq_group(page, "Erin", "Quote group")
    _say(page, "/ping")
    asked = page.locator("#messages li.msg.user", has_text="/ping").last
    expect(asked).to_have_attribute("data-message-id", re.compile(r"^ROBOT1\.0_"))
    message_id = asked.get_attribute("data-message-id")
    message = [
        {"type": "reply", "data": {"id": message_id}},
        {"type": "text", "data": {"text": "answering you"}},
    ]
    _api(page, console_stack, "post", {"bot": QQ_BOT, "group": _group_id(page), "message": message})
    answer = page.locator("#messages li.msg.bot", has_text="answering you")
    expect(answer).to_have_attribute("data-status", "sent")
    quote = answer.locator("blockquote.quote")
    expect(quote).to_contain_text("Erin")
    expect(quote).to_contain_text("@bot /ping")
    sent = [r for r in console_stack.fake("qq") if r["body"] and r["body"].get("message_reference")]
    assert sent and sent[-1]["body"]["message_reference"] == {"message_id": message_id}, sent

    answer.get_by_role("button", name=re.compile("^Recall the bot's message \"answering you")).click()
    expect(answer).to_have_attribute("data-recalled", "true")
    expect(answer.locator(".recalled-badge")).to_have_text("recalled")
    expect(answer).to_contain_text("recalled by the bot")
    expect(answer.get_by_role("button", name=re.compile("^Recall"))).to_have_count(0)
    pong = page.locator("#messages li.msg.bot", has_text="pong")
    expect(pong).not_to_have_attribute("data-recalled", "true")  # only that one


def test_the_schedules_tab_lists_a_reminder_and_the_recurring_jobs(wide: Session) -> None:
    """/remind 1h ...: a one-time schedule, due in an hour, into this chat; the template's
    recurring heartbeat with its rate."""
    from playwright.sync_api import expect

    page = wide.page
    _joined_qq_group(page, "Frank", "Schedule group")
    reply = _say(page, "/remind 1h water the plants")
    expect(reply.filter(has_text="water the plants")).to_have_attribute("data-status", "sent")
    page.get_by_role("tab", name="Schedules").click()
    once = page.locator("section[data-kind='once'] article", has_text="water the plants")
    expect(once).to_have_count(1)
    expect(once.locator("h4")).to_have_text("remind.fire")
    expect(once.locator("dd[data-col='chat']")).to_have_text(f"Schedule group (group {_group_id(page)})")
    expect(once.locator("dd[data-col='due'] .note")).to_have_text(re.compile(r"^in (59|60) min$"))
    recurring = page.locator("section[data-kind='recurring'] article", has_text="heartbeat")
    expect(recurring.locator("dd[data-col='runs']")).to_have_text("rate(1 hour)")
    # it fired when the stack started: its next fire is within the hour
    expect(recurring.locator("dd[data-col='next'] .note")).to_have_text(
        re.compile(r"^in ([1-5]?[0-9]|60) min$")
    )


def test_the_bot_data_tab_shows_values_and_a_conversation(wide: Session, console_stack: Stack) -> None:
    """/guess starts a conversation (a row of the bot data table): the tab lists it, with the
    chat and the user; a stored value shows as `qqbus data` shows it."""
    from playwright.sync_api import expect
    from qqbus.bot_data import BotData

    page = wide.page
    _joined_qq_group(page, "Grace", "Data group")
    expect(_say(page, "/guess").filter(has_text="Guess it")).to_have_attribute("data-status", "sent")
    table = next(
        n for n in console_stack.client("dynamodb").list_tables()["TableNames"] if n.endswith("-bot-data")
    )
    BotData(table, console_stack.client("dynamodb")).bot("102000001").set("motd", {"text": "tea at 4"})
    page.get_by_role("tab", name="Bot data").click()
    group = _group_id(page)
    waiting = page.locator("section[data-kind='conversations'] tr", has_text=f"Data group (group {group})")
    expect(waiting).to_have_count(1)
    expect(waiting.locator("td[data-col='user']")).to_contain_text("Grace")
    expect(waiting.locator("td[data-col='step']")).to_contain_text("guess")
    value = page.locator("section[data-kind='values'] tr", has_text="motd")
    expect(value.locator("td[data-col='value']")).to_have_text('{"text":"tea at 4"}')
    page.get_by_role("tab", name="State").click()
    expect(page.locator("section[data-table='BotDataTable']")).to_have_count(0)  # one place for it
