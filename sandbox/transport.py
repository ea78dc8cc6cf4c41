"""A requests transport that hands a request to this process's Django app, without a socket.

The app's calls to its own sandbox go through here (settings ``CLEVER_HTTP_ADAPTER``): no
second server thread is needed for the demo, and tests exercise the real URL routing, views and
middleware of the sandbox.
"""

import io
from contextlib import contextmanager
from urllib.parse import urlsplit

import requests
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict


@contextmanager
def _connections_kept_open():
    """Django closes "old" connections when a request starts and when its response closes; a
    nested in-process request must not close the caller's connection (or its transaction),
    as django.test.Client also avoids."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


class InProcessAdapter(BaseAdapter):
    def __init__(self):
        super().__init__()
        self._handler = WSGIHandler()

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        url = urlsplit(request.url)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        environ = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": url.path,
            "QUERY_STRING": url.query,
            "SERVER_NAME": url.hostname or "localhost",
            "SERVER_PORT": str(url.port or (443 if url.scheme == "https" else 80)),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": url.scheme,
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(body)),
        }
        for name, value in request.headers.items():
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = value
            elif key != "CONTENT_LENGTH":
                environ[f"HTTP_{key}"] = value
        environ.setdefault("HTTP_HOST", url.netloc)

        status_holder = {}

        def start_response(status, headers, exc_info=None):
            status_holder["status"] = status
            status_holder["headers"] = headers

        with _connections_kept_open():
            chunks = self._handler(environ, start_response)
            try:
                content = b"".join(chunks)
            finally:
                # Closing the response sends request_finished: still inside the guard.
                close = getattr(chunks, "close", None)
                if close:
                    close()

        response = requests.Response()
        code, _, reason = status_holder["status"].partition(" ")
        response.status_code = int(code)
        response.reason = reason
        response.headers = CaseInsensitiveDict(status_holder["headers"])
        response._content = content
        response.url = request.url
        response.request = request
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        return response

    def close(self):
        pass
