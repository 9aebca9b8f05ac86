"""qqbus.action onebot.*: any OneBot v11 action, gated, over HTTP or through the relay."""

from qqbus.senders import onebot
from qqbus.senders.delivery import sender

lambda_handler = sender(onebot.perform)
