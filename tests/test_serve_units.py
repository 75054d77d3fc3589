"""The exporter's small parts on their own: option parsing, line splitting, back-off, the store, probe gates."""

from __future__ import annotations

import threading
import time
from typing import Any

import msgspec
import pytest

from kubeapi import objects as o
from pulldoctor.causes import Cause
from pulldoctor.cluster.model import Event, Pod
from pulldoctor.errors import ApiLineTooLong, UsageError
from pulldoctor.exporter.config import parse_duration, parse_listen
from pulldoctor.exporter.probes import ProbeScheduler
from pulldoctor.exporter.store import EVENTS_PER_POD, Store
from pulldoctor.exporter.watch import Backoff
from pulldoctor.kubeapi import KubeApi, lines
from pulldoctor.registry.models import (
    ProbeOptions,
    ProbeRequest,
    ProbeResult,
    RateLimit,
)


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("5m", 300), ("1h30m", 5400), ("90", 90), ("250ms", 0.25)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "0s", "5 m", "m5", "5d", "-1s", "1w"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)


@pytest.mark.parametrize("text, want", [("0.0.0.0:9754", ("0.0.0.0", 9754)), ("127.0.0.1:0", ("127.0.0.1", 0)),
                                        ("[::1]:9754", ("::1", 9754)), (":9754", ("0.0.0.0", 9754))])
def test_parse_listen(text: str, want: tuple[str, int]) -> None:
    assert parse_listen(text) == want


@pytest.mark.parametrize("text", ["9754", "host:80", "127.0.0.1:65536", "127.0.0.1:x"])
def test_parse_listen_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_listen(text)


class _Chunks:
    """A response whose read1 hands out fixed chunks, like a chunked watch stream."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)

    def read1(self, n: int) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""


def test_iter_lines_splits_across_chunks_and_skips_blank_lines() -> None:
    resp = _Chunks([b'{"a":1}\n{"b"', b':2}\n\n{"c":', b"3}"])
    assert list(lines(resp, max_line=100)) == [b'{"a":1}', b'{"b":2}', b'{"c":3}']


def test_iter_lines_caps_a_line() -> None:
    resp = _Chunks([b"x" * 60, b"x" * 60, b"\n"])
    with pytest.raises(ApiLineTooLong):
        list(lines(resp, max_line=100))


def test_backoff_grows_and_stays_bounded() -> None:
    b = Backoff(initial=1.0, maximum=8.0)
    delays = [b.next_delay() for _ in range(12)]
    assert all(0 < d <= 8.0 for d in delays)
    assert max(delays[:1]) <= 1.0 and max(delays[-4:]) > 2.0
    b.reset()
    assert b.next_delay() <= 1.0


def _pod(name: str, failing: bool) -> Pod:
    image = "nginx:1.99"
    status = o.waiting("app", image, "ErrImagePull", "x") if failing else o.running("app", image)
    return msgspec.convert(o.pod(name, statuses=[status], uid=f"uid-{name}"), Pod)


def test_store_keeps_only_failing_pods_and_a_relist_forgets_the_rest() -> None:
    store = Store()
    sink = store.pod_sink()
    sink.begin_list()
    sink.add_listed([_pod("a", True), _pod("b", False), _pod("c", True)])
    sink.end_list()
    assert sorted(store.failing_keys()) == [("default", "a"), ("default", "c")]
    assert sorted(store.take_dirty(10, 0)) == [("default", "a"), ("default", "c")]
    sink.upsert(_pod("a", False))                                  # recovered
    sink.begin_list()
    sink.add_listed([_pod("b", True)])                             # c was deleted while we were away
    sink.end_list()
    assert store.failing_keys() == [("default", "b")]
    assert sorted(store.take_dirty(10, 0)) == [("default", "a"), ("default", "b"), ("default", "c")]
    sink.upsert(_pod("b", True))                                   # unchanged: not dirty again
    assert store.take_dirty(10, 0) == []


def test_store_keeps_a_bounded_number_of_image_events_per_pod() -> None:
    store = Store()
    pod = o.pod("a", statuses=[o.waiting("app", "nginx:1.99", "ErrImagePull", "x")])
    store.pod_sink().upsert(msgspec.convert(pod, Pod))
    store.take_dirty(10, 0)
    events = store.event_sink()
    for i in range(EVENTS_PER_POD + 10):
        events.upsert(msgspec.convert(o.event(pod, "Failed", f"attempt {i}", container="app"), Event))
    events.upsert(msgspec.convert(o.event(pod, "Scheduled", "not about images"), Event))
    assert store.take_dirty(10, 0) == [("default", "a")]
    _, kept = store.get([("default", "a")])
    assert len(kept) == EVENTS_PER_POD
    assert kept[-1].message == f"attempt {EVENTS_PER_POD + 9}"


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


FETCHED: list[bool] = []


def _scheduler(results: dict[str, ProbeResult], clock: _Clock) -> tuple[ProbeScheduler, list[str], threading.Event]:
    calls: list[str] = []
    done = threading.Event()
    FETCHED.clear()

    async def probe_many(requests: Any, options: Any) -> list[ProbeResult]:
        calls.extend(str(r.image) for r in requests)
        FETCHED.extend(options.fetch_manifest for _ in requests)
        return [results[str(r.image)] for r in requests]

    sched = ProbeScheduler(ProbeOptions(), 300.0, on_results=lambda keys: done.set(), probe_many=probe_many, clock=clock)
    return sched, calls, done


def _settle(sched: ProbeScheduler, requests: list[ProbeRequest], done: threading.Event) -> None:
    done.clear()
    sched.lookup(requests)
    done.wait(5)
    time.sleep(0.05)


def test_probe_gate_once_per_interval_and_held_after_a_rate_limit() -> None:
    limited = ProbeResult("docker.io/library/a:1", cause=Cause.RATE_LIMITED, status=429,
                          ratelimit=RateLimit(limit=100, remaining=0))
    ok = ProbeResult("docker.io/library/b:1", cause=Cause.TAG_NOT_FOUND, status=404)
    other = ProbeResult("ghcr.io/x/c:1", cause=Cause.TAG_NOT_FOUND, status=404)
    clock = _Clock()
    sched, calls, done = _scheduler({"docker.io/library/a:1": limited, "docker.io/library/b:1": ok,
                                     "ghcr.io/x/c:1": other}, clock)
    sched.start()
    try:
        _settle(sched, [ProbeRequest("docker.io/library/a:1")], done)
        assert calls == ["docker.io/library/a:1"]
        assert sched.ratelimits() == {"docker.io": 0}
        # Docker Hub said "no more": a new image there waits; another registry does not.
        _settle(sched, [ProbeRequest("docker.io/library/b:1"), ProbeRequest("ghcr.io/x/c:1")], done)
        assert calls == ["docker.io/library/a:1", "ghcr.io/x/c:1"]
        # Within the interval nothing is probed again...
        sched.lookup([ProbeRequest("docker.io/library/a:1"), ProbeRequest("ghcr.io/x/c:1")])
        time.sleep(0.2)
        assert len(calls) == 2
        # ...after it, everything due is.
        clock.now += 301
        _settle(sched, [ProbeRequest("docker.io/library/a:1"), ProbeRequest("docker.io/library/b:1"),
                        ProbeRequest("ghcr.io/x/c:1")], done)
        assert sorted(calls[2:]) == ["docker.io/library/a:1", "docker.io/library/b:1", "ghcr.io/x/c:1"]
        # A first probe may read the manifest; a re-probe only HEADs it (a Docker Hub GET is a pull).
        assert FETCHED[:2] == [True, True]
        assert dict(zip(calls[2:], FETCHED[2:], strict=True)) == {
            "docker.io/library/a:1": False, "docker.io/library/b:1": True, "ghcr.io/x/c:1": False}
    finally:
        sched.stop()


def test_serve_rejects_malformed_hosts_toml_before_connecting(tmp_path) -> None:
    """--hosts-dir is read first: a broken hosts.toml is one line, exit 2, no cluster contacted."""
    import subprocess
    import sys

    bad = tmp_path / "certs.d" / "registry.example"
    bad.mkdir(parents=True)
    (bad / "hosts.toml").write_text("server = [\n")
    out = subprocess.run(
        [sys.executable, "-m", "pulldoctor", "serve", "--listen", "127.0.0.1:0",
         "--hosts-dir", str(tmp_path / "certs.d"), "--kubeconfig", str(tmp_path / "none")],
        capture_output=True, text=True, timeout=30,
    )
    assert out.returncode == 2
    assert "hosts.toml" in out.stderr and out.stderr.count("\n") == 1, out.stderr


def test_serve_request_timeout_reaches_the_transport() -> None:
    """--request-timeout bounds serve's list pages and object reads as it bounds diagnose's requests."""
    from pulldoctor.cli import build_parser
    from pulldoctor.commands.serve import config_from_args

    args = build_parser().parse_args(["serve", "--request-timeout", "7", "--listen", "127.0.0.1:0"])
    config = config_from_args(args)
    assert config.request_timeout == 7.0
    assert KubeApi(object(), request_timeout=config.request_timeout).request_timeout == 7.0
    assert config_from_args(build_parser().parse_args(["serve"])).request_timeout == 30.0


# --- the /metrics cache (exporter/scrape.py) --------------------------------------------------------------


def test_scrape_cache_reuses_a_rendering_until_the_version_moves_or_the_ttl_passes() -> None:
    from pulldoctor.exporter.scrape import ScrapeCache

    clock = _Clock()
    version = [0]
    cache = ScrapeCache(lambda: version[0], ttl=2.0, clock=clock)
    bodies = iter([b"a", b"b", b"c", b"d"])

    def render() -> tuple[bytes, str]:
        return next(bodies), "text/plain"

    key = ("text/plain", False)
    assert cache.get(key, clock(), render).body == b"a"
    clock.now += 1.0
    assert cache.get(key, clock(), render).body == b"a"       # same version, within the TTL
    assert cache.fresh(("text/plain", True), clock()) is None  # gzip is another rendering
    version[0] += 1
    assert cache.get(key, clock(), render).body == b"b"       # the findings changed
    clock.now += 2.5
    assert cache.get(key, clock(), render).body == b"c"       # the TTL passed
    assert cache.get(key, clock.now - 1.0, render).body == b"c"  # asked before it was rendered: current
    assert cache.renders == 3


def test_scrape_cache_keeps_a_bounded_number_of_renderings() -> None:
    from pulldoctor.exporter.scrape import MAX_ENTRIES, ScrapeCache

    cache = ScrapeCache(lambda: 0)
    for i in range(50):
        cache.get((f"type-{i}", False), cache.now(), lambda: (b"x", "text/plain"))
    assert len(cache._entries) == MAX_ENTRIES


@pytest.mark.parametrize("accept", [
    "application/openmetrics-text; version=1.0.0\r\nX-Injected: 1",
    "text/plain; version=1.0.0; escaping=" + "x" * 300,
    "application/openmetrics-text; version=9" + "9" * 400 + ".0.0",
    "application/openmetrics-text; version=1.x.0",
    "text/plain; version=abc",
])
def test_negotiated_content_type_never_echoes_odd_accept_text(accept: str) -> None:
    from pulldoctor.exporter.scrape import MAX_CONTENT_TYPE, negotiated

    _, content_type = negotiated(accept)
    assert content_type.isprintable() and len(content_type) <= MAX_CONTENT_TYPE and "Injected" not in content_type
