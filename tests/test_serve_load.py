"""The exporter's HTTP server under hostile load (issue 13), with smaller numbers than bench/bench_serve_load.py.

Idle connections, a slowloris trickle, request-line-only connections and concurrent scrapes against a real
exporter on the fake API server; the connection cap, the body slots and the protocol edges against the
HTTP server alone with a static body. Only 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import gzip
import logging
import re
import selectors
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from test_serve import failing_pod, http_get, wait_for

from kubeapi import FakeKubeAPI
from kubeapi import objects as o
from pulldoctor.exporter import Exporter, ExporterConfig

if TYPE_CHECKING:
    from pulldoctor.exporter.server import HttpServer

HEALTHZ_BOUND = 0.2   # seconds; the benchmark's aim is 0.1 on a quiet machine


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[Exporter]:
    with FakeKubeAPI([o.service_account("default", "default"), o.node("node-1")]) as api:
        for i in range(300):
            api.add(failing_pod(f"checkout-{i:04d}", f"registry.example.com/shop/checkout:{i}", namespace=f"t{i % 7}"),
                    notify=False)
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        ex = Exporter(ExporterConfig(listen_host="127.0.0.1", listen_port=0, kubeconfig=str(kubeconfig),
                                     all_namespaces=True, probe=False))
        ex.start()
        try:
            wait_for(lambda: ex.ready, 20)
            yield ex
        finally:
            ex.stop(timeout=5)


def healthz_seconds(port: int) -> float:
    t0 = time.perf_counter()
    code, body = http_get(port, "/healthz")
    assert (code, body) == (200, "ok\n")
    return time.perf_counter() - t0


def connect(port: int, n: int, payload: bytes = b"") -> list[socket.socket]:
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if payload:
            s.sendall(payload)
        socks.append(s)
    return socks


def closed_by_server(socks: list[socket.socket], within: float) -> int:
    """How many of ``socks`` the server closes (EOF or reset) within ``within`` seconds."""
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    closed, deadline = 0, time.monotonic() + within
    while closed < len(socks) and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.1):
            s = key.fileobj
            assert isinstance(s, socket.socket)
            try:
                data = s.recv(65536)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                data = b""
            if not data:
                sel.unregister(s)
                closed += 1
    sel.close()
    return closed


def close_all(socks: list[socket.socket]) -> None:
    for s in socks:
        s.close()


# --- against the exporter -------------------------------------------------------------------------------


def test_idle_connections_hold_no_thread_and_are_closed_at_the_head_deadline(exporter: Exporter) -> None:
    port = exporter.port
    healthz_seconds(port)
    threads_before = threading.active_count()
    socks = connect(port, 100)
    try:
        time.sleep(0.3)
        assert threading.active_count() <= threads_before + 2   # a thread per connection was +100
        assert max(healthz_seconds(port) for _ in range(10)) < HEALTHZ_BOUND
        t0 = time.monotonic()
        assert closed_by_server(socks, 10) == 100                # the old server kept them for ever
        assert time.monotonic() - t0 < 7
    finally:
        close_all(socks)


def test_a_slowloris_trickle_is_closed_after_a_few_seconds(exporter: Exporter) -> None:
    s = socket.create_connection(("127.0.0.1", exporter.port), timeout=5)
    try:
        s.sendall(b"GET /metrics HTTP/1.1\r\n")
        t0 = time.monotonic()
        closed = False
        for i in range(40):   # one header byte every 0.25 s: no single read ever times out
            try:
                s.sendall(b"X-a: b\r\n"[i % 8:i % 8 + 1])
            except OSError:
                closed = True
                break
            time.sleep(0.25)
        elapsed = time.monotonic() - t0
        assert closed or closed_by_server([s], 1) == 1
        assert elapsed < 8
    finally:
        s.close()


def test_request_line_only_connections_are_dropped_then_healthz_and_scrapes_work(exporter: Exporter) -> None:
    port = exporter.port
    threads_before = threading.active_count()
    socks = connect(port, 100, b"GET /metrics HTTP/1.1\r\n")
    try:
        time.sleep(0.3)
        assert threading.active_count() <= threads_before + 2
        assert max(healthz_seconds(port) for _ in range(10)) < HEALTHZ_BOUND
        assert closed_by_server(socks, 10) == 100
    finally:
        close_all(socks)
    assert http_get(port, "/metrics")[0] == 200


def test_concurrent_scrapes_share_one_rendering_and_healthz_stays_fast(exporter: Exporter) -> None:
    port = exporter.port
    time.sleep(2.1)  # past the cache lifetime
    renders_before = exporter.http.cache.renders
    threads_before = threading.active_count()
    bodies: list[str] = []
    errors: list[BaseException] = []

    def scrape() -> None:
        try:
            code, text = http_get(port, "/metrics")
            assert code == 200
            bodies.append(text)
        except BaseException as err:  # reported below
            errors.append(err)

    scrapers = [threading.Thread(target=scrape, daemon=True) for _ in range(30)]
    for t in scrapers:
        t.start()
    worst = max(healthz_seconds(port) for _ in range(5))
    for t in scrapers:
        t.join(30)
    assert not errors and len(bodies) == 30
    assert all('pod="checkout-0299"' in b for b in bodies)
    assert exporter.http.cache.renders - renders_before <= 3   # one per cache lifetime, not one per scrape
    assert threading.active_count() <= threads_before + 30 + 2  # the scrapers themselves, and no more
    assert worst < HEALTHZ_BOUND


def test_a_change_is_shown_at_once_despite_the_cache(tmp_path: Path) -> None:
    with FakeKubeAPI([o.service_account("default", "default"), o.node("node-1")]) as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        ex = Exporter(ExporterConfig(listen_host="127.0.0.1", listen_port=0, kubeconfig=str(kubeconfig),
                                     all_namespaces=True, probe=False, metrics_ttl=3600.0))
        ex.start()
        try:
            wait_for(lambda: ex.ready, 10)
            assert 'pod="web"' not in http_get(ex.port, "/metrics")[1]
            api.add(failing_pod("web"))
            wait_for(lambda: 'pod="web"' in http_get(ex.port, "/metrics")[1], 2)
        finally:
            ex.stop()


# --- against the HTTP server alone -------------------------------------------------------------------------


@pytest.fixture
def static_server() -> Iterator[Callable[..., HttpServer]]:
    from pulldoctor.exporter.scrape import ScrapeCache
    from pulldoctor.exporter.server import Endpoints, HttpServer, Limits

    started: list[HttpServer] = []

    def start(body: bytes = b"x" * 1000, **limits: Any) -> HttpServer:
        endpoints = Endpoints(lambda: (True, "ok"), lambda: (False, "not ready"),
                              lambda accept, gz: (gzip.compress(body) if gz else body, "text/plain; version=0.0.4"),
                              None)
        srv = HttpServer("127.0.0.1", 0, endpoints, ScrapeCache(lambda: 0), Limits(**limits))
        srv.start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


def test_at_the_cap_an_idle_connection_makes_room_for_healthz(static_server: Callable[..., HttpServer]) -> None:
    srv = static_server(max_connections=10)
    socks = connect(srv.port, 10)
    try:
        wait_for(lambda: srv.open_connections == 10, 2)
        assert http_get(srv.port, "/healthz") == (200, "ok\n")
        assert srv.displaced == 1 and srv.rejected == 0
        assert closed_by_server(socks, 2) >= 1
    finally:
        close_all(socks)


def test_at_the_cap_with_every_connection_answering_one_more_gets_503(
        static_server: Callable[..., HttpServer]) -> None:
    srv = static_server(body=b"x" * (64 << 20), max_connections=3, max_inflight=3)
    socks = []
    try:
        for _ in range(3):  # each asks for 64 MB and reads nothing: its answer stays in flight
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(5)
            s.connect(("127.0.0.1", srv.port))
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            socks.append(s)
        wait_for(lambda: srv.open_connections == 3 and srv.cache.renders == 1, 5)
        time.sleep(0.2)
        code, body = http_get(srv.port, "/healthz")
        assert (code, body) == (503, "busy\n") and srv.rejected == 1
    finally:
        close_all(socks)
    wait_for(lambda: http_get(srv.port, "/healthz")[0] == 200, 5)


def test_bodies_wait_for_a_slot_then_get_503(static_server: Callable[..., HttpServer]) -> None:
    srv = static_server(body=b"x" * (64 << 20), max_inflight=1, queue_timeout=0.5)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(5)
    try:
        s.connect(("127.0.0.1", srv.port))
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_for(lambda: srv.cache.renders == 1, 5)
        t0 = time.monotonic()
        assert http_get(srv.port, "/metrics") == (503, "busy\n")
        assert 0.4 < time.monotonic() - t0 < 3
        assert http_get(srv.port, "/healthz")[0] == 200   # probes take no slot
    finally:
        s.close()


def raw(port: int, request: bytes) -> bytes:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(request)
        out = b""
        while len(out) < 1 << 20 and (chunk := s.recv(65536)):
            out += chunk
        return out
    finally:
        s.close()


def test_protocol_edges(static_server: Callable[..., HttpServer], caplog: pytest.LogCaptureFixture) -> None:
    srv = static_server()
    port = srv.port
    assert http_get(port, "/readyz") == (503, "not ready\n")
    head = raw(port, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"Content-Length: 1000" in head and head.endswith(b"\r\n\r\n")
    assert raw(port, b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").startswith(b"HTTP/1.1 405")
    assert raw(port, b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 200")
    with caplog.at_level(logging.DEBUG):
        bad = raw(port, b"\x1b]0;pwned\x07 /\x00 HTTP/9\r\n\r\n")
        long = raw(port, b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert re.match(rb"HTTP/1\.[01] 400 ", bad) and re.match(rb"HTTP/1\.[01] 4\d\d ", long)
    assert "\x1b" not in caplog.text and "pwned" not in caplog.text and "aaaa" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.headers["Content-Encoding"] == "gzip" and gzip.decompress(r.read()) == b"x" * 1000
    assert http_get(port, "/findings")[0] == 404
    odd = raw(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text; version=abc\r\n\r\n")
    assert odd.startswith(b"HTTP/1.1 200") and b"Content-Type: text/plain; version=0.0.4" in odd
