"""The sender functions: actions from the bus, gated on the latest state, performed once.

- ``delivery``: ``sender(perform)`` makes the Lambda handler (parse, once per action id,
  report the result, count, retry policy).
- ``gate``: the rules (member, proactive, passive windows and limits, mute).
- ``ledger``: reply slots (``msg_seq``) and attempt counts in the actions table.
- ``json_http``: JSON over HTTP with retries honouring ``Retry-After``.
- ``qq`` / ``onebot``: the two platforms.
"""
