"""OneBot v11 HTTP POST (Function URL): checked events onto the bus, answered 204."""

from qqbus.ingress import onebot_http
from qqbus.ingress.function_url import function_url_handler

lambda_handler = function_url_handler(onebot_http.handle)
