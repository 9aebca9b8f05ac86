"""INTERACTION_CREATE: a user clicked a callback button. Acknowledge it, then run its data as
that user's command, answered in the chat where it was clicked (citing this event's id)."""

from qqbus.actions import current_outbox
from qqbus.events.qq import InteractionCreate
from qqbus.example_commands import commands
from qqbus.handler import Delivered, handler
from qqbus.observability import note


@handler(InteractionCreate, once=False)
def lambda_handler(ev: Delivered[InteractionCreate], context: object) -> None:
    d = ev.payload.d
    # QQ shows the click as failed unless it is acknowledged: the QQ sender PUTs /interactions/{id}
    current_outbox().ask("qq", "ack_interaction", params={"interaction_id": d.id, "code": 0})
    note("button clicked", scene=d.scene, button_id=d.data.resolved.button_id)
    if ev.payload.chat() is not None:
        commands.handle(ev)
