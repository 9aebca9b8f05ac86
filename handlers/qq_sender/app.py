"""qqbus.action qq.*: QQ group and C2C messages, gated on group state, sent once."""

from qqbus.senders import qq
from qqbus.senders.delivery import sender

lambda_handler = sender(qq.perform, locked=qq.needs_lock_record)
