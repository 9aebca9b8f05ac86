"""QQ official webhook (Function URL): op 13 validation, signed dispatches onto the bus."""

from qqbus.ingress import qq_webhook
from qqbus.ingress.function_url import function_url_handler

lambda_handler = function_url_handler(qq_webhook.handle)
