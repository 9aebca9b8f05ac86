"""A conversation turn by turn with the test kit (``bot`` fixture), as a bot author tests one."""

from __future__ import annotations

from qqbus_dev.testing import Bot


def test_guess_turn_by_turn_on_onebot_and_qq(bot: Bot) -> None:
    bot.receive(bot.onebot.group_message("/guess", user_id=111)).should_reply(
        "I picked a number from 1 to 100. Guess it!"
    )
    low, high, answers = 1, 100, []
    while len(answers) < 8 and (not answers or answers[-1] != "correct"):
        guess = (low + high) // 2
        bot.receive(bot.onebot.group_message(str(guess), user_id=222)).should_not_reply()  # not theirs
        (answer,) = bot.receive(bot.onebot.group_message(str(guess), user_id=111)).texts
        answers.append(answer)
        low, high = (guess + 1, high) if answer == "higher" else (low, guess - 1)
    assert answers[-1] == "correct" and len(answers) <= 7

    bot.receive(bot.qq.c2c_message("/guess")).should_reply("I picked a number from 1 to 100. Guess it!")
    bot.receive(bot.qq.c2c_message("what?")).should_reply("send a number from 1 to 100, or /cancel")
    bot.receive(bot.qq.c2c_message("/cancel")).should_reply("/guess cancelled")
    bot.receive(bot.qq.c2c_message("50")).should_not_reply()
