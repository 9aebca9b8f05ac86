"""notice.group_upload: a member uploaded a file to a group; logged and counted."""

from qqbus.events.onebot import GroupUpload
from qqbus.handler import Delivered, handler
from qqbus.observability import note


@handler(GroupUpload, once=False)
def lambda_handler(ev: Delivered[GroupUpload], context: object) -> None:
    e = ev.payload
    note(
        "group file uploaded",
        group_id=e.group_id,
        user_id=e.user_id,
        file=e.file.model_dump(exclude_none=True),
    )
