"""The ingress functions: HTTP requests from the platforms, verified, onto the bus.

``http`` translates Lambda Function URL events to ``Request``/``Response`` and back (the only
Lambda-specific part); ``qq_webhook`` and ``onebot_http`` are the two endpoints; ``bus`` puts
one verified event on the bus in the contract's shape.
"""
