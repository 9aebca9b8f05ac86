"""Ed25519 (QQ) and HMAC-SHA1 (OneBot), against the public vector and their own output."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from qqbus.signatures import (
    SignatureError,
    onebot_signature,
    onebot_verify,
    qq_seed,
    qq_sign_request,
    qq_validation_answer,
    qq_verify,
)

PUBLIC_SIGNATURE = (
    "87befc99c42c651b3aac0278e71ada338433ae26fcb24307bdc5ad38c1adc2d0"
    "1bcfcadc0842edac85e85205028a1132afe09280305f13aa6909ffc2d652c706"
)


def test_public_op13_vector() -> None:
    answer = qq_validation_answer("DG5g3B4j9X2KOErG", "Arq0D5A61EgUu4OxUvOp", "1725442341")
    assert answer == {"plain_token": "Arq0D5A61EgUu4OxUvOp", "signature": PUBLIC_SIGNATURE}


@pytest.mark.parametrize(
    "secret, seed",
    [
        ("abc", b"abc" * 10 + b"ab"),
        ("x" * 40, b"x" * 32),
        ("DG5g3B4j9X2KOErG", b"DG5g3B4j9X2KOErGDG5g3B4j9X2KOErG"),
    ],
)
def test_seed_is_the_secret_repeated_to_32_bytes(secret: str, seed: bytes) -> None:
    assert qq_seed(secret) == seed and len(seed) == 32


def test_empty_secret_is_refused() -> None:
    with pytest.raises(SignatureError):
        qq_seed("")


def test_request_signatures_verify_over_the_exact_bytes() -> None:
    body = b'{"op":0,"t":"X"}'
    sig = qq_sign_request("secret", "1700000000", body)
    assert qq_verify("secret", "1700000000", body, sig)
    assert not qq_verify("secret", "1700000001", body, sig)
    assert not qq_verify("secret", "1700000000", body + b" ", sig)
    assert not qq_verify("other", "1700000000", body, sig)


def test_signature_matches_an_independent_ed25519_signer() -> None:
    key = Ed25519PrivateKey.from_private_bytes(b"0123456789abcdef0123456789abcdef")
    sig = key.sign(b"1" + b"body").hex()
    assert qq_verify("0123456789abcdef", "1", b"body", sig)


@pytest.mark.parametrize("bad", ["zz" * 64, "ab" * 63, "", "ab" * 65])
def test_malformed_signatures_raise(bad: str) -> None:
    with pytest.raises(SignatureError):
        qq_verify("secret", "1", b"x", bad)


@pytest.mark.parametrize(
    "token, ts", [("a b", "1"), ("x" * 65, "1"), ("tok", "1.5"), ("tok", "-1"), ("tok", ""), ("tök", "1")]
)
def test_the_signing_oracle_signs_only_platform_shaped_values(token: str, ts: str) -> None:
    with pytest.raises(SignatureError):
        qq_validation_answer("secret", token, ts)


def test_onebot_hmac() -> None:
    body = b'{"post_type":"notice"}'
    expected = "sha1=" + hmac.new(b"k", body, hashlib.sha1).hexdigest()
    assert onebot_signature("k", body) == expected
    assert onebot_verify("k", body, expected)
    assert onebot_verify("k", body, expected.upper().replace("SHA1=", "sha1="))
    assert not onebot_verify("k", body + b" ", expected)
    assert not onebot_verify("other", body, expected)
    assert not onebot_verify("k", body, "md5=" + expected[5:])
