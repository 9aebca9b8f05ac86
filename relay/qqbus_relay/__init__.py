"""The relay: the long-running process that holds the websockets a Lambda cannot.

``qq_gateway`` speaks the QQ websocket gateway, ``onebot_ws`` the OneBot reverse (and forward)
WebSocket; both hand events to ``publisher.RelayPublisher``, which batches them onto the bus,
retries, and spools to disk while the bus is unreachable. ``health`` serves their state.
The ``qqbus-relay`` project (``pip install -e ./relay``): imports the runtime (``qqbus``), never the
dev tools, and is never imported by a Lambda.
"""
