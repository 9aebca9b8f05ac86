"""The console in a real headless Chromium: a newcomer's first minutes, click by click.

Each test opens the page served by `qqbus dev`, drives it only through its controls (labels,
buttons, the keyboard) and checks what a person would see: the bot's answer in the chat, the
trace row with the handler and the action, the group row changing, a refusal with its reason,
a failed send parked and replayed. Console messages and page errors are collected: there must
be none. Screenshots go to the test's tmp dir.
"""

from __future__ import annotations

import re
from typing import Any

from tests.console.conftest import TIMEOUT_MS, Session, require_browser
from tests.local.stacks import Stack

CHROMIUM = require_browser()  # or the whole module is skipped, with one line saying why


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


# --- the console findings of #21 ------------------------------------------------------------


def _api(page: Any, stack: Stack, path: str, body: dict[str, Any]) -> Any:
    """``POST /console/api/<path>`` as another tab would (the page learns of it from the feed)."""
    response = page.request.post(f"{stack.http}/console/api/{path}", data=body)
    assert response.ok, (path, body, response.status, response.text())
    return response.json()


def _pick(page: Any, kind: str, item_id: str) -> None:
    from playwright.sync_api import expect

    button = page.locator(f"#{kind}s button[data-id='{item_id}']")
    button.click()
    expect(button).to_have_attribute("aria-pressed", "true")


def _joined_qq_group(page: Any, user: str, group: str) -> None:
    """A QQ user and group, picked, with the bot added to it (so the composer takes messages)."""
    from playwright.sync_api import expect

    _add_user_and_group(page, user, group)
    page.get_by_role("button", name="Add bot to group", exact=True).click()
    expect(page.locator("#messages")).to_contain_text(f"{user} added the bot to the group")
    expect(page.get_by_label("Message", exact=True)).to_be_enabled()


def _say(page: Any, text: str) -> Any:
    """Say ``text`` through the composer; the bot's answer once sent (or failed)."""
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_label("Message", exact=True).press("Enter")
    return page.locator("#messages li.msg.bot")


def test_nothing_picked_hides_the_composer_and_throws_nothing(wide: Session) -> None:
    """Before a conversation is picked there is nothing to send to: the composer is hidden (its
    ``hidden`` attribute wins over the class's ``display: flex``), and the page throws nothing even
    when its forms are submitted anyway (as a script or an old bookmarklet might)."""
    from playwright.sync_api import expect

    page = wide.page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    expect(page.locator("#conv-title")).to_have_text("Pick a group or a user")
    for control in (
        page.get_by_label("Message", exact=True),
        page.get_by_role("button", name="Send", exact=True),
        page.get_by_label("@bot"),
        page.get_by_label("Bot posts unprompted"),
        page.get_by_role("button", name="Post as the bot"),
        page.get_by_label("As", exact=True),
    ):
        expect(control).to_be_hidden()
    for form, box in (("#compose", "#text"), ("#bot-post", "#post-text")):
        page.locator(form).evaluate(
            "(form, box) => { form.querySelector(box).value = 'hello'; form.requestSubmit(); }", box
        )
    page.get_by_label("Bot", exact=True).select_option("onebot:123456789")
    page.get_by_label("Bot", exact=True).select_option("qq:102000001")
    expect(page.locator("#compose")).to_be_hidden()
    page.evaluate("() => new Promise((done) => setTimeout(done))")  # a turn for a rejected handler
    assert errors == []
    assert wide.errors == []


def test_a_long_chat_keeps_the_composer_below_the_newest_reply(wide: Session, console_stack: Stack) -> None:
    """60 lines and more than the panel holds: the messages scroll inside the chat, and the bot's
    newest reply is fully visible above the composer, not under it."""
    from playwright.sync_api import expect

    page = wide.page
    erin = _api(page, console_stack, "users", {"protocol": "qq", "name": "Erin"})
    group = _api(page, console_stack, "groups", {"protocol": "qq", "name": "Long chat"})
    join = {"bot": "qq:102000001", "group": group["id"], "kind": "join", "user": erin["id"]}
    _api(page, console_stack, "notice", join)
    for n in range(58):  # not @-mentioning the bot: QQ keeps them, each a line of the chat
        said = {"bot": "qq:102000001", "user": erin["id"], "group": group["id"], "text": f"line {n}"}
        _api(page, console_stack, "say", {**said, "mention": False})
    _pick(page, "group", group["id"])
    expect(page.locator("#messages li.msg")).to_have_count(59)
    _say(page, "/ping")
    pong = page.locator("#messages li.msg.bot[data-status='sent']", has_text="pong")
    expect(pong).to_have_count(1)
    expect(page.locator("#messages li.msg")).to_have_count(61)
    expect(pong).to_be_in_viewport(ratio=1)
    reply, composer, messages = (
        x.bounding_box() for x in (pong, page.locator("#compose"), page.locator("#messages"))
    )
    assert reply and composer and messages
    assert reply["y"] + reply["height"] <= composer["y"], (reply, composer)
    assert messages["y"] <= reply["y"], (reply, messages)
    assert messages["y"] + messages["height"] <= composer["y"] + 0.5, (messages, composer)
    middle = (reply["x"] + reply["width"] / 2, reply["y"] + reply["height"] / 2)
    on_top = page.evaluate("([x, y]) => document.elementFromPoint(x, y).closest('li')?.textContent", middle)
    assert on_top is not None and "pong" in on_top  # nothing painted over the reply
    wide.shot("06-long-chat")


def test_an_injected_fault_can_be_cleared(wide: Session) -> None:
    """Inject 12 failures into the fake QQ API, see them pending, clear them: the next reply is sent."""
    from playwright.sync_api import expect

    page = wide.page
    _joined_qq_group(page, "Frank", "Fault group")
    page.get_by_role("tab", name="Failures").click()
    pending = page.locator("#fault-pending")
    expect(pending).to_have_text("No fault pending: the fake APIs answer normally.")
    page.get_by_label("Make the fake").select_option("qq")
    page.get_by_label("answer").fill("503")
    page.get_by_label("to the next").fill("12")
    page.get_by_role("button", name="Inject fault").click()
    expect(pending).to_have_text("Pending: the fake QQ API fails its next 12 requests.")
    page.get_by_role("button", name="Clear faults").click()
    expect(pending).to_have_text("No fault pending: the fake APIs answer normally.")
    replies = _say(page, "/ping")
    expect(replies.filter(has_text="pong")).to_have_attribute("data-status", "sent")
    expect(page.locator("#messages li.msg.bot[data-status='failed']")).to_have_count(0)


def test_each_replay_button_says_which_message_it_replays(wide: Session) -> None:
    """Two replies parked: each Replay button's accessible name says which one it puts back."""
    from playwright.sync_api import expect

    page = wide.page
    _joined_qq_group(page, "Grace", "Two parked")
    page.get_by_role("tab", name="Failures").click()
    page.get_by_label("fail with").select_option("ip_not_whitelisted")
    page.get_by_label("to the next").fill("2")
    page.get_by_role("button", name="Inject fault").click()
    expect(page.locator("#fault-pending")).to_contain_text("fails its next 2 requests")
    for text in ("first to park", "second to park"):
        replies = _say(page, f"/echo {text}")
        expect(replies.filter(has_text=text)).to_have_attribute("data-status", "failed")
    queue = page.locator("section[data-queue='HandlerFailureQueue']")
    expect(queue.get_by_role("button", name="Replay", exact=True)).to_have_count(0)  # none unnamed
    for text in ("first to park", "second to park"):
        name = re.compile(rf'^Replay qq\.group_message "{text}" \(QqSenderFunction, \d')
        button = queue.get_by_role("button", name=name)
        expect(button).to_have_count(1)
        expect(button).to_have_text("Replay")  # what shows stays short; the name says the rest
        button.click()
        expect(button).to_have_count(0)
        expect(page.locator("#messages li.msg.bot", has_text=text)).to_have_attribute("data-status", "sent")


def test_a_chat_line_keeps_speaker_and_text_apart_for_assistive_tech(wide: Session) -> None:
    """A screen reader hears "Hana: @bot /ping", not "Hana@bot /ping": in Chromium's own
    accessibility tree the speaker and the text are separated."""
    from playwright.sync_api import expect

    page = wide.page
    _joined_qq_group(page, "Hana", "Spoken chat")
    _say(page, "/ping")
    line = page.locator("#messages li.msg.user").last
    expect(line).to_contain_text("/ping")
    expect(line).to_match_aria_snapshot("- listitem: /^Hana:\\s@bot \\/ping/")
    expect(page.locator("#messages li.msg.bot", has_text="pong")).to_match_aria_snapshot(
        "- listitem: /^bot:\\spong/"
    )
    assert _line_ax_text(page).startswith("Hana: @bot /ping")


def _line_ax_text(page: Any) -> str:
    """The spoken text of the user's /ping line. The list is drawn again as the trace streams in,
    so the node can be replaced between the DOM lookup and the accessibility tree: look again."""
    for _ in range(40):
        nth = page.locator("#messages > li").evaluate_all(
            "items => items.findIndex("
            "(li) => li.classList.contains('user') && li.textContent.includes('/ping'))"
        )
        text = _ax_text(page, f"#messages > li:nth-child({nth + 1})")
        if text is not None:
            return text
        page.wait_for_timeout(250)
    raise AssertionError("the /ping line never held still long enough to read its accessibility text")


def _ax_text(page: Any, selector: str) -> str | None:
    """The static text Chromium's accessibility tree holds under the element, in order."""
    from playwright.sync_api import Error

    cdp = page.context.new_cdp_session(page)
    try:
        root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        backend = cdp.send("DOM.describeNode", {"nodeId": node})["node"]["backendNodeId"]
        nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    except Error:  # the node was replaced between two of these calls ("Could not find node")
        return None
    finally:
        cdp.detach()
    by_id = {n["nodeId"]: n for n in nodes}
    start = next((n for n in nodes if n.get("backendDOMNodeId") == backend), None)
    if start is None:  # replaced meanwhile
        return None

    def texts(n: dict[str, Any]) -> list[str]:
        if n.get("role", {}).get("value") == "StaticText":
            return [n.get("name", {}).get("value", "")]
        return [t for child in n.get("childIds", []) if child in by_id for t in texts(by_id[child])]

    return "".join(texts(start))


def test_the_fault_form_has_full_labels(wide: Session) -> None:
    """Each control of the fault form is named by a label that says what it is on its own."""
    from playwright.sync_api import expect

    page = wide.page
    page.get_by_role("tab", name="Failures").click()
    form = page.get_by_role("form", name="Inject a fault")
    for label, control in (
        ("Make the fake of this API fail", "fault-api"),
        ("Kind of fault to fail with", "fault-kind"),
        ("HTTP status to answer with", "fault-status"),
        ("Number of requests to fail (applies to the next ones)", "fault-times"),
    ):
        expect(form.get_by_label(label, exact=True)).to_have_id(control)
        expect(page.locator(f"label[for='{control}']")).to_have_text(label)


def test_a_reload_keeps_the_picked_conversation(wide: Session) -> None:
    """The pick (bot and group, or a private chat) is in the URL: a reload shows the same chat."""
    from playwright.sync_api import expect

    page = wide.page
    page.get_by_label("Bot", exact=True).select_option("onebot:123456789")
    _add_user_and_group(page, "Ivan", "Kept group")
    group_id = page.locator("#groups button[aria-pressed='true']").get_attribute("data-id")
    page.reload()
    expect(page.locator("#live")).to_have_text("live")
    expect(page.get_by_label("Bot", exact=True)).to_have_value("onebot:123456789")
    expect(page.locator("#conv-title")).to_have_text("Group: Kept group")
    expect(page.locator(f"#groups button[data-id='{group_id}']")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_label("Message", exact=True)).to_be_visible()

    ivan = page.locator("#users button", has_text="Ivan (private)")
    ivan.click()
    expect(page.locator("#conv-title")).to_have_text("Private chat with Ivan")
    page.reload()
    expect(page.locator("#live")).to_have_text("live")
    expect(page.locator("#conv-title")).to_have_text("Private chat with Ivan")


def test_as_is_the_user_just_added(wide: Session, console_stack: Stack) -> None:
    """ "As" follows the newest user (added here or in another tab), unless one was picked."""
    from playwright.sync_api import expect

    page = wide.page
    page.get_by_label("Bot", exact=True).select_option("onebot:123456789")
    _add_user_and_group(page, "Judy", "Who speaks")
    as_user = page.get_by_label("As", exact=True)
    for name in ("Ken", "Liz"):
        page.get_by_label("New user").fill(name)
        page.get_by_role("button", name="Add user").click()
        expect(as_user.locator("option:checked")).to_have_text(name)
    page.get_by_role("button", name="Add bot to group", exact=True).click()
    expect(page.locator("#messages")).to_contain_text("Liz invited the bot into the group")
    page.reload()
    expect(page.locator("#live")).to_have_text("live")
    expect(as_user.locator("option:checked")).to_have_text("Liz")  # the newest, not the first
    mo = _api(page, console_stack, "users", {"protocol": "onebot", "name": "Mo"})  # another tab
    expect(as_user).to_have_value(mo["id"])
    as_user.select_option(label="Ken")  # a pick stays
    _api(page, console_stack, "users", {"protocol": "onebot", "name": "Ned"})
    expect(page.locator("#users")).to_contain_text("Ned (private)")
    expect(as_user.locator("option:checked")).to_have_text("Ken")


def test_a_qq_group_without_the_bot_cannot_be_chatted_in(wide: Session, console_stack: Stack) -> None:
    """QQ delivers a group's messages only to a bot added to it: until then the composer says so
    and takes nothing; the console's API refuses to deliver such a message too."""
    from playwright.sync_api import expect

    page = wide.page
    _add_user_and_group(page, "Olga", "No bot here")
    message = page.get_by_label("Message", exact=True)
    expect(message).to_be_disabled()
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_disabled()
    why = page.locator("#compose-why")
    expect(why).to_be_visible()
    expect(why).to_contain_text("add the bot to this group first")
    expect(message).to_have_accessible_description(re.compile("add the bot to this group first"))
    group_id = page.locator("#groups button[aria-pressed='true']").get_attribute("data-id")
    olga = page.get_by_label("As", exact=True).input_value()
    said = _api(
        page, console_stack, "say", {"bot": "qq:102000001", "user": olga, "group": group_id, "text": "/ping"}
    )
    assert said["status"] == "not_delivered" and "not in this group" in said["note"], said
    expect(page.locator("#messages li.msg.user[data-status='not_delivered']")).to_contain_text(
        "not in this group"
    )

    page.get_by_role("button", name="Add bot to group", exact=True).click()
    expect(message).to_be_enabled()
    expect(why).to_be_hidden()
    expect(_say(page, "/ping").filter(has_text="pong")).to_have_attribute("data-status", "sent")
    page.get_by_role("button", name="Remove bot", exact=True).click()
    expect(message).to_be_disabled()
    expect(why).to_be_visible()
