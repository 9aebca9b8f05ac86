"""The bot secrets, from the environment (local use) or SSM / Secrets Manager (in AWS).

QQ: ``QQ_BOT_SECRET`` is one secret, or a JSON object ``{"<AppID>": "<secret>", ...}`` for
several bots in one deployment; otherwise ``QQ_BOT_SECRET_PARAMETER`` names where the same
value is stored. ``X-Bot-Appid`` is not covered by the signature, so a secret answers only
for the AppID it belongs to: the map names its AppIDs, a single secret belongs to
``QQ_BOT_APPID``; any other AppID has no secret (and a single secret without ``QQ_BOT_APPID``
belongs to none). OneBot: ``ONEBOT_SECRET`` or ``ONEBOT_SECRET_PARAMETER``; with neither set,
OneBot requests are not signed (the OneBot default). A parameter name is an SSM parameter
(a SecureString, decrypted), or ``secretsmanager:<id>`` for a Secrets Manager secret. Values
are cached by Powertools Parameters for ``SECRETS_MAX_AGE`` seconds.
"""

from __future__ import annotations

import os
from typing import Any

from qqbus.aws import cached, client
from qqbus.config import value_or_map
from qqbus.observability import logger

SECRETS_MAX_AGE = 300
QQ_APPID_ENV = "QQ_BOT_APPID"


class SecretUnavailable(RuntimeError):
    """The secret store could not be read (the request should be retried, not refused)."""


@cached
def _ssm() -> Any:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    return SSMProvider(boto3_client=client("ssm"))


@cached
def _secrets_manager() -> Any:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=client("secretsmanager"))


def _read(env_value: str, env_parameter: str) -> str | None:
    value = os.environ.get(env_value)
    if value is not None and value != "":
        return value
    name = os.environ.get(env_parameter, "").strip()
    if not name:
        return None
    try:
        if name.startswith("secretsmanager:"):
            return str(_secrets_manager().get(name.removeprefix("secretsmanager:"), max_age=SECRETS_MAX_AGE))
        return str(_ssm().get(name, decrypt=True, max_age=SECRETS_MAX_AGE))
    except Exception as exc:  # any failure of the store: the caller answers 5xx, the sender retries
        raise SecretUnavailable(f"cannot read secret {name!r}: {exc}") from exc


def qq_secret(app_id: str | None) -> str | None:
    """The secret of QQ bot ``app_id``, or None when no secret is configured for that AppID."""
    if not app_id:
        return None
    value = _read("QQ_BOT_SECRET", "QQ_BOT_SECRET_PARAMETER")
    if value is None:
        return None
    try:
        secrets = value_or_map(value, "the QQ bot secret map")
    except ValueError as exc:
        raise SecretUnavailable(str(exc)) from exc
    if isinstance(secrets, dict):
        found = secrets.get(app_id)
        return str(found) if found else None
    owner = os.environ.get(QQ_APPID_ENV, "").strip()
    if not owner:
        logger.error(
            f"the QQ bot secret is a single secret and {QQ_APPID_ENV} is not set: it belongs to no AppID, "
            'so every request is refused (set QqBotAppId, or store {"<AppID>": "<secret>"})'
        )
        return None
    return value if app_id == owner else None


def onebot_secret() -> str | None:
    """The OneBot HTTP POST secret, or None when OneBot requests are not signed."""
    return _read("ONEBOT_SECRET", "ONEBOT_SECRET_PARAMETER")


def onebot_access_token() -> str | None:
    """The OneBot API access token the sender presents (``Authorization: Bearer``), if any."""
    return _read("ONEBOT_ACCESS_TOKEN", "ONEBOT_ACCESS_TOKEN_PARAMETER")
