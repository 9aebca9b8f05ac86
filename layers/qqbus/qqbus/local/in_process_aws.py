"""The dev stack's own AWS calls answered by its embedded moto in this process, without a socket.

``qqbus dev`` serves moto on 127.0.0.1 so that other processes (``qqbus groups``, the AWS CLI)
see the same tables and queues; its own functions, queue readers and relay live in the same
process as that server. Over HTTP each of their calls paid for a connection, a server thread,
HTTP on both sides and urllib3: about half of a PutItem's time. Here botocore's HTTP send, for
an endpoint registered below, hands the request to moto's WSGI application directly: the same
application the server runs, over the same backends, so the answers are the same (the server
goes on answering everyone else).

``read_item`` goes one step further for the console's before/after view of a group row: a
peek at moto's table, with no request at all (two GetItems an event were a sixth of the
stack's CPU in a burst).
"""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.httpsession import URLLib3Session
from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.botocore_stubber import MockRawResponse
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.test import EnvironBuilder, run_wsgi_app

#: netloc ("127.0.0.1:4566") -> the WSGI application answering it in this process.
_APPS: dict[str, Any] = {}
_LOCK = threading.Lock()
_http_send = URLLib3Session.send


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
    body = request.body
    if hasattr(body, "read"):
        body = body.read()
    environ = EnvironBuilder(
        method=request.method,
        base_url=f"{url.scheme}://{url.netloc}",
        path=url.path or "/",
        query_string=url.query,
        headers=[(k, v.decode("latin-1") if isinstance(v, bytes) else v) for k, v in request.headers.items()],
        data=body or b"",
    ).get_environ()
    chunks, status, headers = run_wsgi_app(app, environ, buffered=True)
    try:
        content = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    http_headers = HTTPHeaders()
    for name, value in headers.items():
        http_headers[name] = value
    return AWSResponse(request.url, int(status.split(" ", 1)[0]), http_headers, MockRawResponse(content))


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
