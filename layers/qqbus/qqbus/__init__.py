"""qqbus: QQ bot events (QQ official platform and OneBot v11) on Amazon EventBridge.

Modules, each named for what it holds:

- ``qqbus.events.qq`` / ``qqbus.events.onebot``: pydantic models of the wire payloads.
- ``qqbus.events.message``: OneBot message segments and CQ codes.
- ``qqbus.events.parse``: raw payload -> (source, detail-type, model).
- ``qqbus.events.chat``: the conversation a message belongs to and whether the bot is addressed.
- ``qqbus.detail``: the EventBridge detail contract and the PutEvents entry builder.
- ``qqbus.handler``: the ``@handler`` decorator every event Lambda uses, and ``Delivered``.
- ``qqbus.pipeline``: the Lambda pipeline of every bus function (handlers and senders).
- ``qqbus.state``: the groups-state store (DynamoDB and in-memory).
- ``qqbus.publish``: publishers to the bus (EventBridge and in-memory).
- ``qqbus.json_body``: the one reader of untrusted JSON bodies (ingress and relay).
- ``qqbus.config`` / ``qqbus.backoff``: env values that are a URL or a JSON map; retry delays.

The relay (``qqbus_relay``) and the dev tools (``qqbus_dev``) are separate packages above this one.

Nothing is imported here so that a Lambda pays only for the modules it uses.
"""

__version__ = "0.1.0"
