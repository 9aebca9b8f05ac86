"""request.group: someone asks to join a group (add), or invites the bot (invite); the policy answers."""

from qqbus.events.onebot import GroupRequest
from qqbus.handler import Delivered, handler
from qqbus.observability import note
from qqbus.request_policy import decide_from_env


@handler(GroupRequest, once=False)
def lambda_handler(ev: Delivered[GroupRequest], context: object) -> None:
    e = ev.payload
    approve = decide_from_env("QQBUS_GROUP_REQUEST_POLICY", e.comment)
    note("group request", group_id=e.group_id, sub_type=e.sub_type, approve=approve)
    if approve is not None:
        params = {"flag": e.flag, "sub_type": e.sub_type, "approve": approve}
        ev.call("set_group_add_request", **params, **({} if approve else {"reason": "declined by policy"}))
