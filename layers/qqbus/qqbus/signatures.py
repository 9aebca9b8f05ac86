"""Signing and verifying, for both platforms, in one place (tests sign with the same code).

QQ official: Ed25519. The private key's 32-byte seed is the bot secret repeated until it is at
least 32 bytes long, then cut to 32. A webhook dispatch is signed over
``X-Signature-Timestamp + raw body bytes`` (the exact bytes sent, never re-serialised JSON);
an op 13 URL validation is answered with a signature over ``event_ts + plain_token``.

OneBot v11: ``X-Signature: sha1=<hex HMAC-SHA1(secret, raw body)>``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # cryptography is imported where Ed25519 is used: HMAC users do without it
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

#: What op 13 may ask us to sign: the endpoint signs whatever it is sent, so only the shapes
#: the platform uses (a short alphanumeric token, a digits-only timestamp) are accepted.
PLAIN_TOKEN = re.compile(r"[A-Za-z0-9]{1,64}")
EVENT_TS = re.compile(r"[0-9]{1,20}")


class SignatureError(ValueError):
    """A signature or a value to sign is malformed."""


def qq_seed(secret: str) -> bytes:
    """The Ed25519 seed of a QQ bot secret: the secret repeated to >= 32 bytes, first 32."""
    raw = secret.encode()
    if not raw:
        raise SignatureError("the bot secret is empty")
    return (raw * (32 // len(raw) + 1))[:32]


@functools.lru_cache(maxsize=64)
def _qq_key(secret: str) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(qq_seed(secret))


def qq_sign(secret: str, message: bytes) -> str:
    """Hex Ed25519 signature of ``message`` with the bot's key."""
    return _qq_key(secret).sign(message).hex()


def qq_sign_request(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Signature-Ed25519`` the platform sends with ``body`` at ``timestamp``."""
    return qq_sign(secret, timestamp.encode() + body)


def qq_verify(secret: str, timestamp: str, body: bytes, signature_hex: str) -> bool:
    """Whether ``signature_hex`` signs ``timestamp + body`` with the bot's key.

    Raises
    ------
    SignatureError
        When the signature is not 64 bytes of hex.
    """
    try:
        signature = bytes.fromhex(signature_hex)
    except ValueError as exc:
        raise SignatureError("X-Signature-Ed25519 is not hex") from exc
    if len(signature) != 64:
        raise SignatureError(f"X-Signature-Ed25519 is {len(signature)} bytes, not 64")
    from cryptography.exceptions import InvalidSignature

    try:
        _qq_key(secret).public_key().verify(signature, timestamp.encode() + body)
    except InvalidSignature:
        return False
    return True


def qq_validation_answer(secret: str, plain_token: str, event_ts: str) -> dict[str, str]:
    """The answer to an op 13 URL validation: ``{"plain_token", "signature"}``.

    Raises
    ------
    SignatureError
        When ``plain_token`` is not short and alphanumeric or ``event_ts`` not digits only.
    """
    if not PLAIN_TOKEN.fullmatch(plain_token):
        raise SignatureError("plain_token must be 1-64 letters or digits")
    if not EVENT_TS.fullmatch(event_ts):
        raise SignatureError("event_ts must be 1-20 digits")
    return {"plain_token": plain_token, "signature": qq_sign(secret, (event_ts + plain_token).encode())}


def onebot_signature(secret: str, body: bytes) -> str:
    """The ``X-Signature`` header value for ``body``: ``sha1=<hex HMAC-SHA1>``."""
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def onebot_verify(secret: str, body: bytes, header: str) -> bool:
    """Whether ``header`` is the right ``X-Signature`` for ``body`` (constant-time)."""
    return hmac.compare_digest(onebot_signature(secret, body).encode(), header.strip().lower().encode())
