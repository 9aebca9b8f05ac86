"""The dev tools: template.yaml read as data, an embedded AWS (moto), the local stack, the CLI.

The ``qqbus-dev`` project (``pip install -e ./devtools``); imports the runtime (``qqbus``) and the
relay (``qqbus_relay``), never the other way round, and is never imported by a Lambda.
"""
