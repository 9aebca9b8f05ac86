"""The test kit (qqbus_dev.testing) on this repository's own handlers and template."""

from __future__ import annotations

import re
import statistics
import time
from pathlib import Path

import pytest
from qqbus.events.message import Segment
from qqbus_dev.testing import Bot, NoHandler, event_from

from tests.support import EVENTS, SAMPLES


def test_onebot_group_and_private_ping(bot: Bot) -> None:
    result = bot.receive(bot.onebot.group_message("/ping", group_id=555, user_id=42))
    assert result.functions == ["OnebotGroupMessageFunction"] and result.status == "handled"
    reply = result.should_reply("pong", group_id=555)
    assert reply.segments == [{"type": "text", "data": {"text": "pong"}}]
    assert reply.passive and reply.outcome.outcome == "sent"
    assert result.texts == ["pong"]
    result.should_call("send_group_msg", group_id=555)
    private = bot.receive(bot.onebot.private_message("/ping", user_id=42))
    private.should_reply("pong", user_id=42)
    private.should_call("onebot.send_private_msg", user_id="42")  # ids compare as text


def test_qq_group_and_c2c_ping(bot: Bot) -> None:
    group = bot.receive(bot.qq.group_at_message(" /ping"))
    assert group.functions == ["QqGroupAtMessageCreateFunction"]
    assert group.should_reply("pong", group_id=bot.qq.group_openid).action.reply_to is not None
    group.should_be_sent()
    c2c = bot.receive(bot.qq.c2c_message("/ping", user_openid="U1"))
    assert c2c.replies[0].user_id == "U1" and c2c.texts == ["pong"]


def test_segments_patterns_and_quotes(bot: Bot) -> None:
    result = bot.receive(bot.onebot.group_message(["/echo ", Segment.text("hi there")], at_bot=True))
    result.should_reply("hi there")
    result.should_reply(re.compile(r"^hi"))
    result.should_reply([Segment.text("hi there")])
    with pytest.raises(AssertionError, match="quoting the message"):
        result.should_reply("hi there", quote=True)


def test_a_failed_expectation_shows_what_was_asked_for_instead(bot: Bot) -> None:
    result = bot.receive(bot.onebot.group_message("/ping"))
    with pytest.raises(AssertionError) as failed:
        result.should_reply("PONG")
    text = str(failed.value)
    assert "expected the reply 'PONG'" in text
    assert "asked 1. onebot.send_group_msg to group 987654321: 'pong' (sent)" in text
    with pytest.raises(AssertionError, match=r"expected a call set_group_ban\(group_id=1\)"):
        result.should_call("set_group_ban", group_id=1)
    with pytest.raises(AssertionError, match="expected no reply"):
        result.should_not_reply()
    silent = bot.receive(bot.onebot.group_message("just chatting"))
    silent.should_not_reply()
    silent.should_not_call()
    with pytest.raises(AssertionError, match="asked for nothing"):
        silent.should_reply()


def test_onebot_api_calls_with_params_and_template_parameters(bot: Bot) -> None:
    pending = bot.receive(bot.onebot.request("friend", comment="hi", flag="f-1"))
    pending.should_not_call("set_friend_add_request")  # the template's default policy: pending
    bot.set_parameters(FriendRequestPolicy="approve")
    approved = bot.receive(bot.onebot.request("friend", comment="hi", flag="f-2"))
    call = approved.should_call("set_friend_add_request", flag="f-2", approve=True)
    assert call.params == {"flag": "f-2", "approve": True}
    with pytest.raises(ValueError, match="AllowedValues"):
        bot.set_parameters(FriendRequestPolicy="maybe")


def test_state_rows_written_and_read(bot: Bot) -> None:
    joined = bot.receive(bot.qq.group_add_robot(group_openid="G1"))
    joined.should_write("groups", group_id="G1", member=True, protocol="qq")
    joined.should_not_reply()
    state = bot.groups.get("G1")
    assert state is not None and state.member is True and state.reply_event_id == joined.event.event_id
    again = bot.receive(bot.qq.group_msg_reject(group_openid="G1"))
    write = again.should_write("groups", group_id="G1", proactive=False)
    assert write.before is not None and write.before["member"] is True
    with pytest.raises(AssertionError, match="expected a groups row with group_id='G2'"):
        again.should_write("groups", group_id="G2")
    bot.receive(bot.onebot.group_message("hello")).should_not_write()


def test_refusals_are_what_the_senders_gate_decides(bot: Bot) -> None:
    muted = bot.receive(
        bot.onebot.notice("group_ban", sub_type="ban", user_id=bot.onebot.self_id, duration=600)
    )
    muted.should_write("groups", muted_until=muted.event.payload["time"] + 600)
    ping = bot.receive(bot.onebot.group_message("/ping"))
    ping.should_reply("pong")  # asked for ...
    action, outcome = ping.should_be_refused("muted")  # ... and the sender would not send it
    assert outcome.outcome == "refused" and action.action == "send_group_msg"
    with pytest.raises(AssertionError, match="expected actions that the sender sends"):
        ping.should_be_sent()
    # QQ: the bot was removed from the group after the message was written
    t = int(time.time())
    bot.receive(bot.qq.group_del_robot(timestamp=t))
    late = bot.receive(bot.qq.group_at_message("/ping", timestamp=t - 1))
    late.should_be_refused("not_member")


def test_state_can_be_arranged_before_an_event(bot: Bot) -> None:
    bot.groups.put(987654321, member=False, member_at=int(time.time()) + 60)
    bot.receive(bot.onebot.group_message("/ping")).should_be_refused("not_member")
    assert bot.groups.get(987654321).member is False  # type: ignore[union-attr]
    assert [row["group_id"] for row in bot.groups.items()] == ["987654321"]


def test_invalid_and_repeated_events(bot: Bot) -> None:
    event = bot.onebot.group_message("/ping")
    first, second = bot.receive(event), bot.receive(event)
    assert first.status == "handled" and first.actions
    # a repeat asks again with the same action id (the sender sends it once), or is a duplicate
    assert [a.action_id for a in second.actions] in ([], [a.action_id for a in first.actions])
    with pytest.raises(AssertionError, match="expected a duplicate"):
        first.should_be_duplicate()
    broken = dict(bot.onebot.group_message("/ping").payload)
    del broken["user_id"]
    result = bot.receive(broken)
    result.should_be_invalid("user_id")
    result.should_not_reply()
    assert result.metrics["InvalidEvents"] == 1
    with pytest.raises(AssertionError, match=r"invalid \(group_id\)"):
        result.should_be_invalid("group_id")


def test_real_payloads_events_files_and_logs(bot: Bot) -> None:
    sample = SAMPLES / "onebot" / "group_message_array__napcatdocs_basic_event.json"
    from_sample = bot.receive(sample)
    assert from_sample.functions == ["OnebotGroupMessageFunction"] and from_sample.status == "handled"
    from_file = bot.receive(EVENTS / "onebot_group_message.json")  # an EventBridge event, as sam sends
    from_file.should_reply("pong")
    log = next(line for line in from_file.logs if line.get("message") == "group message; command /ping")
    assert log["correlation_id"] == from_file.event.event_id and log["mentions_bot"] is True
    assert from_file.value == {
        "segments": [{"type": "at", "data": {"qq": 123456789}}, {"type": "text", "data": {"text": " /ping"}}],
        "mentions_bot": True,
    }


def test_an_event_no_function_takes_says_how_to_add_one(bot: Bot) -> None:
    with pytest.raises(NoHandler, match=r"qqbus new handler notice\.notify\.lucky_king"):
        bot.receive(bot.onebot.notice("notify", sub_type="lucky_king", target_id=42))
    with pytest.raises(NoHandler, match="no function 'nope'"):
        bot.receive(bot.onebot.group_message("/ping"), handler="nope")
    direct = bot.receive(bot.onebot.group_message("/ping"), handler="onebot_group_message")
    direct.should_reply("pong")


def test_builders_make_what_the_ingress_would_put_on_the_bus(bot: Bot) -> None:
    poke = bot.onebot.poke()
    assert (poke.detail_type, poke.payload["sub_type"], poke.payload["target_id"]) == (
        "notice.notify",
        "poke",
        bot.onebot.self_id,
    )
    assert (
        poke.payload["group_id"] == bot.onebot.group_id
        and "group_id" not in bot.onebot.poke(private=True).payload
    )
    assert event_from(poke.payload).event_id == poke.event_id  # OneBot: a hash of the body
    at = bot.qq.group_at_message("/ping")
    assert at.bot_id == "102000001" and at.event_id == at.payload["id"] and at.source == "qq.official"
    friend = bot.receive(bot.qq.friend_add(openid="U9"))
    friend.should_write("users", user_id="U9", friend=True, reply_event_id=friend.event.event_id)
    assert bot.users.get("U9").friend is True  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="not a QQ or OneBot event"):
        event_from({"hello": 1})


def test_a_receive_takes_well_under_a_second(bot: Bot) -> None:
    bot.receive(bot.onebot.group_message("/ping"))  # the function's module loads once per test
    took = []
    for n in range(5):
        start = time.perf_counter()
        bot.receive(bot.onebot.group_message(f"/echo {n}")).should_reply(str(n))
        took.append(time.perf_counter() - start)
    assert statistics.median(took) < 0.5, took


def test_the_plugin_is_registered_by_the_dev_tools(pytestconfig: pytest.Config) -> None:
    plugin = pytestconfig.pluginmanager.get_plugin("qqbus_dev.testing.plugin")
    assert plugin is not None and Path(plugin.__file__).name == "plugin.py"


def test_a_query_gets_the_answer_the_platform_gives(bot: Bot) -> None:
    asked = bot.receive(bot.onebot.group_message("/whois 42", group_id=555))
    call = asked.should_call("get_group_member_info", group_id=555, user_id=42)
    asked.should_not_reply()  # not yet: the answer comes back as the call's result
    member = {"group_id": 555, "user_id": 42, "nickname": "Ann", "card": "", "role": "admin"}
    answered = bot.answer(call, member)
    assert answered.event.source == "qqbus.action.result" and answered.event.detail_type == "sent"
    answered.should_reply(re.compile(r"\bAnn\b.*admin"), group_id=555)
    without_step = call.action.model_copy(update={"then": None})  # nobody waits for its result
    with pytest.raises(NoHandler, match="no function"):
        bot.answer(without_step)


@pytest.mark.parametrize("qqbus_parameters", [{"FriendRequestPolicy": "reject"}])
def test_template_parameters_from_the_fixture(bot: Bot) -> None:
    result = bot.receive(bot.onebot.request("friend", flag="f-3"))
    result.should_call("set_friend_add_request", flag="f-3", approve=False)


def test_events_the_rules_tell_apart_are_routed_apart(bot: Bot) -> None:
    paths = bot.stack._pattern_paths()
    assert ("source",) in paths and ("detail-type",) in paths  # (and a sub_type, once a rule names one)
    ban = bot.onebot.notice("group_ban", sub_type="ban", user_id=42, duration=60)
    admin = bot.onebot.notice("group_admin", sub_type="set", user_id=42)
    assert bot.receive(ban).functions == ["OnebotGroupBanFunction"]
    assert bot.receive(admin).functions == ["OnebotGroupAdminFunction"]
    again = bot.onebot.notice("group_ban", sub_type="ban", user_id=43, duration=60)
    assert bot.stack.route_key(again.source, again.detail_type, again.detail) == bot.stack.route_key(
        ban.source, ban.detail_type, ban.detail
    )
    assert bot.receive(again).functions == ["OnebotGroupBanFunction"]
