"""A test kit for bot authors: events from a few fields, the real handlers, assertions on replies.

Installed with the dev tools (never in the Lambda layer), it is a pytest plugin: the ``bot``
fixture runs your ``handlers/<name>/app.py`` as the deployed stack would (the template's rules
choose the function, its Environment comes from template.yaml, AWS is moto), and tells you what
it asked for::

    def test_ping(bot):
        result = bot.receive(bot.onebot.group_message("/ping"))
        result.should_reply("pong")

See README, "Test your bot".
"""

from qqbus_dev.testing.bot import Bot, Groups, NoHandler, Users
from qqbus_dev.testing.events import Event, OneBotEvents, QQEvents, event_from
from qqbus_dev.testing.received import Call, Outcome, Received, Reply, Write
from qqbus_dev.testing.stack import KitStack

__all__ = [
    "Bot",
    "Call",
    "Event",
    "Groups",
    "KitStack",
    "NoHandler",
    "OneBotEvents",
    "Outcome",
    "QQEvents",
    "Received",
    "Reply",
    "Users",
    "Write",
    "event_from",
]
