"""op 13: QQ checks a webhook URL before it sends events there."""

from typing import Literal

from qqbus.events.qq_envelope import QQPayload, Wire


class ValidationData(Wire):
    plain_token: str
    event_ts: str


class UrlValidation(QQPayload):
    """op 13: the platform checks a webhook URL by asking it to sign ``event_ts + plain_token``."""

    op: Literal[13]
    d: ValidationData
