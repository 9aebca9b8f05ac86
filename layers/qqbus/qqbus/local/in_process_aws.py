"""The dev stack's own AWS calls answered by its embedded moto in this process, without a socket.

``qqbus dev`` serves moto on 127.0.0.1 so that other processes (``qqbus groups``, the AWS CLI)
see the same tables and queues; its own functions, queue readers and relay live in the same
process as that server. Over HTTP each of their calls paid for a connection, a server thread,
HTTP on both sides and urllib3: about half of a PutItem's time. Here botocore's HTTP send, for
an endpoint registered below, hands the request to the moto handler the server would route it
to, called as the server's view calls it (moto's mocks call the same handlers the same way):
the same backends, so the answers are the same (the server goes on answering everyone else). A
request this module cannot route (unsigned) goes through the server's WSGI application whole.

``read_item`` goes one step further for the console's before/after view of a group row: a
peek at moto's table, with no request at all (two GetItems an event were a sixth of the
stack's CPU in a burst).
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ClientError
from botocore.httpsession import URLLib3Session
from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.base_backend import BackendDict
from moto.core.botocore_stubber import MockRawResponse
from moto.core.exceptions import HTTPException
from moto.core.request import normalize_request
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.test import EnvironBuilder, run_wsgi_app

#: netloc ("127.0.0.1:4566") -> the WSGI application answering it in this process.
_APPS: dict[str, Any] = {}
_LOCK = threading.Lock()
_http_send = URLLib3Session.send
#: (the signature's region and service, X-Amz-Target, path) -> moto's handler (None: the server's).
_ROUTES: dict[tuple[Any, str, str], Any] = {}
_UNKNOWN = object()


def answer_in_process(endpoint: str) -> None:
    """Calls from this process to ``endpoint`` (a moto server's URL) skip the socket from now on."""
    with _LOCK:
        _APPS[urlsplit(endpoint).netloc] = DomainDispatcherApplication(create_backend_app)
        URLLib3Session.send = _send  # type: ignore[method-assign]


def stop_answering(endpoint: str) -> None:
    """Calls to ``endpoint`` go over HTTP again (and fail like any call to a stopped server)."""
    with _LOCK:
        _APPS.pop(urlsplit(endpoint).netloc, None)
        if not _APPS:
            URLLib3Session.send = _http_send  # type: ignore[method-assign]


def _send(session: URLLib3Session, request: AWSPreparedRequest) -> AWSResponse:
    url = urlsplit(request.url)
    app = _APPS.get(url.netloc)
    if app is None:
        return _http_send(session, request)
    handler = _route(app, request, url.path or "/")
    if handler is None:
        return _through_wsgi(app, request, url)
    normalized = normalize_request(request)
    try:  # what the server's view (moto's convert_to_flask_response) does around the handler
        result = handler(normalized, normalized.raw_url, normalized.headers)
    except HTTPException as exc:
        result = exc.code, exc.get_headers(), exc.get_body()
    except ClientError as exc:
        result = 400, {}, exc.response["Error"]["Message"]
    status, headers, content = result if len(result) == 3 else (200, {}, result)
    return _response(request, int(status), headers, content)


def _route(app: DomainDispatcherApplication, request: AWSPreparedRequest, path: str) -> Any:
    """The moto handler the server routes this signed request to; None: let the server route it.

    The server finds the service by the signature's scope (or ``X-Amz-Target``) and the handler
    by the path, the same for every call of one operation: kept per (scope, target, path)."""
    auth, target = request.headers.get("Authorization"), request.headers.get("X-Amz-Target")
    if not auth:
        return None
    key = (tuple(_text(auth).split(",", 1)[0].rsplit("/", 3)[-3:-1]), _text(target or ""), path)
    handler = _ROUTES.get(key, _UNKNOWN)
    if handler is not _UNKNOWN:
        return handler
    environ = {"HTTP_AUTHORIZATION": _text(auth), "PATH_INFO": path, "HTTP_HOST": ""}
    if target:
        environ["HTTP_X_AMZ_TARGET"] = _text(target)
    handler = None
    try:
        backends = get_backend(app.get_backend_for_host(app.infer_service_region_host(environ, path)))
    except Exception:  # a request the server would route some other way (or refuse)
        backends = None
    if isinstance(backends, BackendDict):  # as moto's create_backend_app picks its backend
        regions = backends[DEFAULT_ACCOUNT_ID]
        backend = regions["us-east-1"] if "us-east-1" in regions else regions["aws"]
        handler = next((h for p, h in backend.url_paths.items() if re.match(p, path)), None)
    _ROUTES[key] = handler
    return handler


def _through_wsgi(app: DomainDispatcherApplication, request: AWSPreparedRequest, url: Any) -> AWSResponse:
    """The request through the server's own WSGI application (routing and all)."""
    body = request.body
    if hasattr(body, "read"):
        body = body.read()
    environ = EnvironBuilder(
        method=request.method,
        base_url=f"{url.scheme}://{url.netloc}",
        path=url.path or "/",
        query_string=url.query,
        headers=[(k, _text(v)) for k, v in request.headers.items()],
        data=body or b"",
    ).get_environ()
    chunks, status, headers = run_wsgi_app(app, environ, buffered=True)
    try:
        content = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    return _response(request, int(status.split(" ", 1)[0]), headers, content)


def _response(request: AWSPreparedRequest, status: int, headers: Any, content: str | bytes) -> AWSResponse:
    http_headers = HTTPHeaders()
    for name, value in headers.items() if hasattr(headers, "items") else headers:
        http_headers[name] = str(value)
    return AWSResponse(request.url, status, http_headers, MockRawResponse(content))


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def read_item(region: str, table: str, key: dict[str, dict[str, str]]) -> dict[str, Any] | None:
    """The item a consistent GetItem of ``key`` would return from this process's moto, or None.

    The account is the one moto gives this process's calls (their access key is no IAM user's).
    A missing table is None too: the stack may be stopping.
    """
    account = os.environ.get("MOTO_ACCOUNT_ID") or DEFAULT_ACCOUNT_ID
    backend = get_backend("dynamodb")[account][region]  # type: ignore[index]
    if table not in backend.tables:
        return None
    item = backend.get_item(table, key)
    return None if item is None else dict(item.to_json()["Attributes"])
