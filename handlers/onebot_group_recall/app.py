"""notice.group_recall: a group message was recalled; logged and counted."""

from qqbus.events.onebot import GroupRecall
from qqbus.handler import Delivered, handler
from qqbus.observability import note


@handler(GroupRecall, once=False)
def lambda_handler(ev: Delivered[GroupRecall], context: object) -> None:
    e = ev.payload
    note(
        "group message recalled",
        group_id=e.group_id,
        user_id=e.user_id,
        operator_id=e.operator_id,
        message_id=e.message_id,
    )
