"""The exporter's HTTP endpoints: /metrics, /healthz, /readyz, /findings.

A threaded ``wsgiref`` server (stdlib) with prometheus_client's own WSGI app for /metrics, so content
negotiation (OpenMetrics, gzip) is the library's. Each request gets a thread; a slow scraper cannot
block the watchers, which never touch this code.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

Health = Callable[[], tuple[bool, str]]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr: Prometheus scrapes every 15–30 s for ever."""

    def log_message(self, format: str, *args: Any) -> None:
        return


def make_app(
    metrics_app: Callable[..., Iterable[bytes]],
    healthy: Health,
    ready: Health,
    findings_json: Callable[[], bytes],
) -> Callable[..., Iterable[bytes]]:
    """The WSGI app: routes the four paths, 404 for everything else, GET/HEAD only."""

    def plain(start_response: Callable[..., Any], status: str, body: bytes, ctype: str) -> list[bytes]:
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body))),
                                ("Cache-Control", "no-store")])  # fmt: skip
        return [body]

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        if method not in ("GET", "HEAD"):
            return plain(start_response, "405 Method Not Allowed", b"method not allowed\n", "text/plain")
        if path == "/metrics":
            return metrics_app(environ, start_response)
        if path in ("/healthz", "/readyz"):
            ok, text = (healthy if path == "/healthz" else ready)()
            status = "200 OK" if ok else "503 Service Unavailable"
            return plain(start_response, status, (text + "\n").encode(), "text/plain; charset=utf-8")
        if path == "/findings":
            return plain(start_response, "200 OK", findings_json(), "application/json")
        if path == "/":
            body = b"pulldoctor exporter: /metrics /healthz /readyz /findings\n"
            return plain(start_response, "200 OK", body, "text/plain")
        return plain(start_response, "404 Not Found", b"not found\n", "text/plain")

    return app


class HttpServer:
    """Binds at construction (so the caller learns the real port of ``:0`` at once), serves on a thread."""

    def __init__(self, host: str, port: int, app: Callable[..., Iterable[bytes]]) -> None:
        cls = _Server6 if ":" in host else _Server
        self._httpd = make_server(host, port, app, server_class=cls, handler_class=_QuietHandler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="pulldoctor-http", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout)
        self._httpd.server_close()
