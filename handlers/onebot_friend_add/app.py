"""notice.friend_add: someone became the bot's friend: the users table says so."""

from qqbus.events.onebot import FriendAdd
from qqbus.handler import Delivered, handler
from qqbus.observability import note
from qqbus.state import Written, users


@handler(FriendAdd, once=False)
def lambda_handler(ev: Delivered[FriendAdd], context: object) -> Written | None:
    e = ev.payload
    note("friend added", user_id=e.user_id)
    store = users()
    return store.write(
        ev.bot_id, str(e.user_id), "onebot", store.friend(True, at=e.time, tiebreak=ev.event_id)
    )
