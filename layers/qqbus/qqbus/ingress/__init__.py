"""The ingress functions: HTTP requests from the platforms, verified, onto the bus.

``function_url`` translates Lambda Function URL events to ``Request``/``Response`` and back (the only
Lambda-specific part) and reads JSON bodies; ``qq_webhook`` and ``onebot_http`` are the two
endpoints; ``replay`` is the window a signed request must be dated in; ``bus`` puts one
verified event on the bus in the contract's shape and says what to answer when it fails.
"""
