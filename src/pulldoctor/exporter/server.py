"""The exporter's HTTP endpoints: /metrics, /healthz, /readyz and, when asked for, /findings.

aiohttp's server on one event loop thread, not a thread per connection: an idle or slow connection costs
a few kilobytes, not a thread. What bounds it (``Limits``):

- a connection must deliver its whole request head within ``header_timeout`` seconds of connecting
  (slowloris), and its whole exchange within ``header_timeout + response_timeout``; then it is aborted;
- at most ``max_connections`` are open. At the cap a new connection displaces the oldest one that has not
  sent its request yet (so idle connections cannot lock out a liveness probe); if every one is being
  answered, the new one gets ``503`` and is closed at once;
- one request per connection (``Connection: close``), so a kept-alive connection cannot dodge the above;
- /metrics and /findings are rendered on one worker thread through ``ScrapeCache``: concurrent scrapes
  share one rendering. At most ``max_inflight`` of their bodies are being written at once (the others wait
  up to ``queue_timeout``, then get ``503``), in 256 KiB pieces that each wait for the client to drain, so
  the memory they hold is bounded;
- /healthz and /readyz are answered on the loop itself and never wait for a rendering; a plain
  ``GET /healthz`` (what the kubelet sends) is answered as soon as its bytes are read, ahead of any queue.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from pulldoctor.exporter.scrape import Rendered, ScrapeCache, negotiated

Health = Callable[[], tuple[bool, str]]
log = logging.getLogger("pulldoctor.exporter")

CHUNK = 256 * 1024
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
         b"Retry-After: 1\r\nConnection: close\r\n\r\nbusy\n")


#: Request heads answered without aiohttp (exactly these bytes first, and the whole head in one read).
_PROBES = (b"GET /healthz HTTP/1.0\r\n", b"GET /healthz HTTP/1.1\r\n", b"GET /readyz HTTP/1.0\r\n",
           b"GET /readyz HTTP/1.1\r\n")


def _probe_answer(ok: bool, text: str) -> bytes:
    body = (text + "\n").encode()
    status = b"200 OK" if ok else b"503 Service Unavailable"
    return (b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n" + body)


@dataclass(frozen=True, slots=True)
class Limits:
    header_timeout: float = 5.0      # connect → complete request head
    response_timeout: float = 30.0   # complete head → last byte written (Prometheus' scrape_timeout is 10 s)
    max_connections: int = 1024
    max_inflight: int = 8            # /metrics and /findings bodies being written at once
    queue_timeout: float = 5.0       # how long one more waits for a slot before 503
    max_line: int = 8190             # request line and each header line, in bytes
    backlog: int = 512


@dataclass(frozen=True, slots=True)
class Endpoints:
    """What the routes read; every callable is cheap except the two renderers, which run off the loop."""

    healthy: Health
    ready: Health
    render_metrics: Callable[[str, bool], tuple[bytes, str]]
    findings_json: Callable[[], bytes] | None   # None: /findings is off (404)


class _Guard(asyncio.Protocol):
    """Wraps aiohttp's protocol for one connection with the two deadlines of ``Limits``."""

    def __init__(self, inner: Any, server: HttpServer) -> None:
        self._inner = inner
        self._server = server
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.started = False
        server._conns[self] = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._server._guards[transport] = self
        self._timer = asyncio.get_running_loop().call_later(self._server.limits.header_timeout, self._expire)
        self._inner.connection_made(transport)

    def request_started(self) -> None:
        self.started = True
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self._server.limits.response_timeout, self._expire)

    def _expire(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def displace(self) -> bool:
        """Abort this connection if it is still waiting for its request head; say whether it was."""
        if self.started or self._transport is None:
            return False
        self._transport.abort()
        self._server._conns.pop(self, None)  # counted out now; connection_lost follows on the next turn
        return True

    def data_received(self, data: bytes) -> None:
        if not self.started and self._transport is not None and data.startswith(_PROBES) and b"\r\n\r\n" in data:
            # A liveness or readiness probe answered right here, not one loop turn later behind whatever
            # burst of requests aiohttp has queued: its answer time must not depend on the scrapers.
            self.request_started()
            path = data.split(b" ", 2)[1].decode("ascii")
            ok, text = (self._server.endpoints.healthy if path == "/healthz" else self._server.endpoints.ready)()
            self._transport.write(_probe_answer(ok, text))
            self._transport.close()
            return
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return bool(self._inner.eof_received())

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._transport is not None:
            self._server._guards.pop(self._transport, None)
        self._server._conns.pop(self, None)
        self._inner.connection_lost(exc)


class _Busy(asyncio.Protocol):
    """Over the connection cap: a canned 503 once the request head is read (closing on unread bytes would
    reset the connection and lose the answer), or after one second, then close."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._seen = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        asyncio.get_running_loop().call_later(1.0, self._answer)

    def data_received(self, data: bytes) -> None:
        self._seen = (self._seen + data)[-4:]
        if b"\r\n\r\n" in self._seen or b"\r\n\r\n" in data:
            self._answer()

    def _answer(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(_BUSY)
            self._transport.close()


class HttpServer:
    """Binds at construction (so the caller learns the real port of ``:0``, or an OSError, at once)."""

    def __init__(self, host: str, port: int, endpoints: Endpoints, cache: ScrapeCache,
                 limits: Limits | None = None) -> None:
        self.endpoints = endpoints
        self.cache = cache
        limits = limits or Limits()
        self.limits = replace(limits, max_connections=min(limits.max_connections, _fd_room()))
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.create_server((host, port), family=family, backlog=self.limits.backlog)
        self._sock.setblocking(False)
        self._guards: dict[asyncio.Transport, _Guard] = {}
        self._conns: dict[_Guard, None] = {}   # open connections, oldest first
        self._slots: asyncio.Semaphore | None = None
        self._flights: dict[tuple[str, bool], asyncio.Future[Rendered]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._render = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pulldoctor-render")
        self.rejected = 0    # connections turned away at the cap
        self.displaced = 0   # connections without a request dropped at the cap for a new one

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pulldoctor-http", daemon=True)
        self._thread.start()
        self._started.wait(10)

    def stop(self, timeout: float = 5.0) -> None:
        loop, stopping = self._loop, self._stopping
        if self._thread is not None and loop is not None and stopping is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:  # the loop closed in between
                pass
            self._thread.join(timeout)
        self._render.shutdown(wait=False, cancel_futures=True)
        self._sock.close()

    # -- the loop thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        finally:
            loop.close()

    async def _serve(self) -> None:
        from aiohttp import web

        loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._slots = asyncio.Semaphore(self.limits.max_inflight)
        # access_log=None: Prometheus scrapes every 15–30 s for ever; a client's bytes never reach a log line.
        web_server = web.Server(self._handle, access_log=None, max_line_size=self.limits.max_line,
                                max_field_size=self.limits.max_line, keepalive_timeout=self.limits.header_timeout,
                                logger=_http_log())

        def factory() -> asyncio.Protocol:
            if len(self._conns) >= self.limits.max_connections:
                if any(g.displace() for g in list(self._conns)):  # stops at the first one displaced
                    self.displaced += 1
                else:
                    self.rejected += 1
                    return _Busy()
            return _Guard(web_server(), self)

        server = await loop.create_server(factory, sock=self._sock, backlog=self.limits.backlog)
        self._started.set()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            for transport in list(self._guards):
                transport.abort()
            await web_server.shutdown(1.0)

    async def _handle(self, request: Any) -> Any:
        from aiohttp import web

        guard = self._guards.get(request.transport)
        if guard is not None:
            guard.request_started()
        ep = self.endpoints
        path = request.path
        if request.method not in ("GET", "HEAD"):
            return _plain(web, 405, "method not allowed")
        if path in ("/healthz", "/readyz"):
            ok, text = (ep.healthy if path == "/healthz" else ep.ready)()
            return _plain(web, 200 if ok else 503, text)
        if path == "/metrics":
            accept, content_type = negotiated(request.headers.get("Accept", ""))
            gz = _gzip_accepted(request.headers.get("Accept-Encoding", ""))
            return await self._send(web, request, (content_type, gz), lambda: ep.render_metrics(accept, gz))
        if path == "/findings" and ep.findings_json is not None:
            findings_json = ep.findings_json
            return await self._send(web, request, ("findings", False), lambda: (findings_json(), "application/json"))
        if path == "/":
            paths = "/metrics /healthz /readyz" + (" /findings" if ep.findings_json is not None else "")
            return _plain(web, 200, f"pulldoctor exporter: {paths}")
        return _plain(web, 404, "not found")

    async def _send(self, web: Any, request: Any, key: tuple[str, bool],
                    render: Callable[[], tuple[bytes, str]]) -> Any:
        assert self._slots is not None
        try:
            await asyncio.wait_for(self._slots.acquire(), self.limits.queue_timeout)
        except TimeoutError:
            return _plain(web, 503, "busy")
        try:
            return await self._send_body(web, request, key, render)
        finally:
            self._slots.release()

    async def _render_once(self, key: tuple[str, bool], asked_at: float,
                           render: Callable[[], tuple[bytes, str]]) -> Rendered:
        """Render on the render thread; requests that come while it runs wait for the same rendering."""
        flight = self._flights.get(key)
        if flight is None:
            loop = asyncio.get_running_loop()
            flight = self._flights[key] = loop.run_in_executor(self._render, self.cache.get, key, asked_at, render)
            flight.add_done_callback(lambda _: self._flights.pop(key, None))
        return await asyncio.shield(flight)

    async def _send_body(self, web: Any, request: Any, key: tuple[str, bool],
                         render: Callable[[], tuple[bytes, str]]) -> Any:
        asked_at = self.cache.now()
        try:
            rendered = self.cache.fresh(key, asked_at) or await self._render_once(key, asked_at, render)
        except Exception as err:  # a bug in a collector: one log line, a 500, and the server goes on
            name = "/findings" if key[0] == "findings" else "/metrics"
            log.error("rendering %s failed: %s", name, type(err).__name__)
            return _plain(web, 500, "internal error")
        resp = web.StreamResponse(status=200, headers={"Content-Type": rendered.content_type,
                                                       "Cache-Control": "no-store"})
        if rendered.gzipped:
            resp.headers["Content-Encoding"] = "gzip"
        resp.content_length = len(rendered.body)
        resp.force_close()
        await resp.prepare(request)
        if request.method != "HEAD":
            view = memoryview(rendered.body)
            for start in range(0, len(view), CHUNK):
                await resp.write(view[start:start + CHUNK])  # waits while the client's window is full
        await resp.write_eof()
        return resp


def _plain(web: Any, status: int, text: str) -> Any:
    resp = web.Response(status=status, text=text + "\n", content_type="text/plain", charset="utf-8",
                        headers={"Cache-Control": "no-store"})
    resp.force_close()
    return resp


class _OneLine(logging.Filter):
    """aiohttp logs a malformed request with a traceback quoting the client's bytes, at ERROR for some: any
    client could fill the log with them. A request the parser refused is the client's problem and is not
    logged; anything else becomes one line naming the exception type, with no text from the request."""

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import HttpProcessingError

        err = record.exc_info[1] if record.exc_info else None
        if isinstance(err, HttpProcessingError | ConnectionError):
            return False
        record.msg, record.args = "HTTP request failed: %s", (type(err).__name__ if err else "error",)
        record.exc_info = record.exc_text = None
        return record.levelno >= logging.WARNING


def _http_log() -> logging.Logger:
    logger = logging.getLogger("pulldoctor.exporter.http")
    if not any(isinstance(f, _OneLine) for f in logger.filters):
        logger.addFilter(_OneLine())
    return logger


def _fd_room() -> int:
    """Connections the process can hold: its soft file descriptor limit less some for the watches and files."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 1 << 20 if soft == resource.RLIM_INFINITY else max(16, soft - 64)


def _gzip_accepted(header: str) -> bool:
    return any(part.split(";")[0].strip().lower() == "gzip" for part in header.split(","))
