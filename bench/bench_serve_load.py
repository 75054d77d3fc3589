"""Benchmark of `pulldoctor serve`'s HTTP server under hostile load, against the fake API server.

    python bench/bench_serve_load.py [--failing 6000] [--idle 300] [--partial 500] [--scrapes 100]

Starts tests/kubeapi's fake API server on 127.0.0.1 with FAILING failing pods (long names and digest
references, so that /metrics is about 2 MB, as in issue 13), runs the exporter as a subprocess
(`python -m pulldoctor serve -A --no-probe`) and, one phase after the other:

- baseline (same run): /healthz alone, one /metrics scrape alone, RSS and threads;
- IDLE connections that send nothing: /healthz while they are open, threads, RSS, and how long until the
  server has closed them (watched for at most 15 s);
- PARTIAL connections that send only a request line (`GET /metrics HTTP/1.1`): /healthz, RSS and threads
  while they hang, then the rest of their headers, and the time until every one is answered or closed;
- SCRAPES concurrent /metrics scrapes: the time until all are done, /healthz meanwhile, peak RSS.

/healthz is polled every 50 ms (timeout 10 s) on its own connection throughout. Aim: /healthz under 100 ms
and RSS bounded in every phase. Only 127.0.0.1; every wait is bounded. Not a timed test.
"""

from __future__ import annotations

import argparse
import json
import re
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from kubeapi import FakeKubeAPI
from kubeapi import objects as o

HEALTH_TIMEOUT = 10.0


def failing_pod(i: int) -> dict:
    image = f"registry.example.com:5000/shop/checkout-service-{i % 40}@sha256:{i:064x}"
    msg = f'failed to pull and unpack image "{image}": failed to resolve reference "{image}": not found'
    return o.pod(f"checkout-service-{i:05d}-7d9f8b6c4-x2k9p", f"team-{i % 50}",
                 containers=[o.container("app", image)],
                 statuses=[o.waiting("app", image, "ImagePullBackOff", msg)])


def proc_stats(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (KiB) and the thread count, from /proc."""
    text = Path(f"/proc/{pid}/status").read_text()
    get = lambda key: int(re.search(rf"^{key}:\s+(\d+)", text, re.MULTILINE).group(1))  # noqa: E731
    return {"rss": get("VmRSS"), "hwm": get("VmHWM"), "threads": get("Threads")}


def get(port: int, path: str, timeout: float = HEALTH_TIMEOUT, headers: dict[str, str] | None = None) -> bytes:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read()


# The /healthz poller runs in its own interpreter, so the load generator's threads (same process as the
# fake API server) cannot delay it: what it measures is the exporter's answer time.
POLLER = r"""
import json, select, sys, time, urllib.request
port, out, failures = int(sys.argv[1]), [], 0
while len(out) < 100_000:
    t0 = time.perf_counter()
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10).read()
    except OSError:
        failures += 1
    out.append(time.perf_counter() - t0)
    if select.select([sys.stdin], [], [], 0.05)[0]:
        break
print(json.dumps({"latencies": out, "failures": failures}))
"""


class Watch:
    """Polls /healthz every 50 ms (in a child process) and samples the exporter's RSS and threads."""

    def __init__(self, port: int, pid: int) -> None:
        self.port, self.pid = port, pid
        self.latencies: list[float] = []
        self.failures = 0
        self.max_rss = 0
        self.max_threads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._poller: subprocess.Popen[str] | None = None

    def __enter__(self) -> Watch:
        self._poller = subprocess.Popen([sys.executable, "-c", POLLER, str(self.port)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        self._thread.start()
        time.sleep(0.2)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        assert self._poller is not None
        out, _ = self._poller.communicate("stop\n", timeout=HEALTH_TIMEOUT + 10)
        doc = json.loads(out)
        self.latencies, self.failures = doc["latencies"], doc["failures"]

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            st = proc_stats(self.pid)
            self.max_rss = max(self.max_rss, st["rss"])
            self.max_threads = max(self.max_threads, st["threads"])

    def summary(self) -> str:
        xs = sorted(self.latencies) or [float("nan")]
        p95 = xs[min(len(xs) - 1, int(len(xs) * 0.95))]
        return (f"/healthz median {statistics.median(xs) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
                f"max {xs[-1] * 1000:.0f} ms ({len(xs)} polls, {self.failures} failed); "
                f"peak RSS {self.max_rss / 1024:.0f} MiB, peak threads {self.max_threads}")


def open_conns(port: int, n: int, payload: bytes) -> list[socket.socket]:
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if payload:
            s.sendall(payload)
        socks.append(s)
    return socks


def drain_until_closed(socks: list[socket.socket], limit: float) -> tuple[int, float, dict[str, int]]:
    """Read every socket until the server closes it or ``limit`` s pass: (closed, seconds, status counts)."""
    sel = selectors.DefaultSelector()
    heads: dict[socket.socket, bytes] = {}
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        heads[s] = b""
    open_n, closed, t0 = len(socks), 0, time.perf_counter()
    statuses: dict[str, int] = {}
    while open_n and time.perf_counter() - t0 < limit:
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            assert isinstance(s, socket.socket)
            try:
                data = s.recv(256 * 1024)
            except (ConnectionResetError, BlockingIOError) as err:
                data = b"" if isinstance(err, ConnectionResetError) else b"?"
            if data == b"?":
                continue
            if len(heads[s]) < 64:
                heads[s] += data[:64]
            if not data:
                sel.unregister(s)
                open_n -= 1
                closed += 1
                m = re.match(rb"HTTP/1\.[01] (\d{3})", heads[s])
                code = m.group(1).decode() if m else "closed without an answer"
                statuses[code] = statuses.get(code, 0) + 1
    sel.close()
    return closed, time.perf_counter() - t0, statuses


def close_all(socks: list[socket.socket]) -> None:
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def start_exporter(api: FakeKubeAPI, tmp: Path, extra: list[str]) -> tuple[subprocess.Popen[str], int]:
    kubeconfig = api.write_kubeconfig(tmp / "kubeconfig")
    proc = subprocess.Popen([sys.executable, "-m", "pulldoctor", "serve", "-A", "--no-probe", "--kubeconfig",
                             str(kubeconfig), "--listen", "127.0.0.1:0", *extra],
                            stderr=subprocess.PIPE, text=True)
    port_box: list[int] = []
    ready = threading.Event()
    lines: list[str] = []

    def drain() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if m := re.search(r"listening on 127\.0\.0\.1:(\d+)", line):
                port_box.append(int(m.group(1)))
            if "first full list done" in line:
                ready.set()

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(300):
        proc.kill()
        print("".join(lines[-20:]), file=sys.stderr)
        raise SystemExit("exporter not ready within 300 s")
    return proc, port_box[0]


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--failing", type=int, default=6000)
    ap.add_argument("--idle", type=int, default=300)
    ap.add_argument("--partial", type=int, default=500)
    ap.add_argument("--scrapes", type=int, default=100)
    ap.add_argument("--hold", type=float, default=3.0, help="seconds the partial connections hang")
    ap.add_argument("serve_args", nargs="*", help="extra `pulldoctor serve` options (after --)")
    args = ap.parse_args()

    api = FakeKubeAPI(token="bench-token")
    for i in range(args.failing):
        api.add(failing_pod(i), notify=False)
    api.start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-load-"))
    t0 = time.perf_counter()
    proc, port = start_exporter(api, tmp, args.serve_args)
    print(f"exporter ready with {args.failing} failing pods in {time.perf_counter() - t0:.1f}s (port {port})")
    ok = True
    try:
        # -- baseline -------------------------------------------------------------------------------
        health = sorted(timed(lambda: get(port, "/healthz")) for _ in range(20))
        time.sleep(3)  # past any cache lifetime: the first scrape renders
        t0 = time.perf_counter()
        size = len(get(port, "/metrics", timeout=120))
        first = time.perf_counter() - t0
        again = timed(lambda: get(port, "/metrics", timeout=120))
        st = proc_stats(proc.pid)
        print(f"baseline: /healthz alone median {statistics.median(health) * 1000:.1f} ms; one /metrics scrape "
              f"alone {first:.2f}s ({size / 1e6:.1f} MB), right after it {again:.2f}s; RSS {st['rss'] / 1024:.0f} "
              f"MiB; threads {st['threads']}")

        # -- idle connections -----------------------------------------------------------------------
        with Watch(port, proc.pid) as w:
            socks = open_conns(port, args.idle, b"")
            time.sleep(2)
            closed, secs, _ = drain_until_closed(socks, 15)
        close_all(socks)
        print(f"{args.idle} idle connections: {w.summary()}; the server closed {closed}/{args.idle} "
              f"within {secs:.1f}s")
        ok &= max(w.latencies) < 0.1 and not w.failures

        # -- request line only, then the rest of the headers -----------------------------------------
        with Watch(port, proc.pid) as w:
            t0 = time.perf_counter()
            socks = open_conns(port, args.partial, b"GET /metrics HTTP/1.1\r\n")
            opened = time.perf_counter() - t0
            time.sleep(args.hold)
            st = proc_stats(proc.pid)
            for s in socks:
                try:
                    s.sendall(b"Host: 127.0.0.1\r\n\r\n")
                except OSError:
                    pass
            closed, secs, statuses = drain_until_closed(socks, 120)
        close_all(socks)
        print(f"{args.partial} connections sending only a request line (opened in {opened:.1f}s), hanging "
              f"{args.hold:.0f}s: RSS {st['rss'] / 1024:.0f} MiB, threads {st['threads']}; then the rest of the "
              f"headers: {closed}/{args.partial} done in {secs:.1f}s ({statuses}); over the phase: {w.summary()}")
        ok &= max(w.latencies) < 0.1 and not w.failures

        # -- concurrent scrapes ----------------------------------------------------------------------
        times: list[float] = []
        errors: list[str] = []

        def scrape() -> None:
            try:
                times.append(timed(lambda: get(port, "/metrics", timeout=120)))
            except OSError as err:
                errors.append(type(err).__name__)

        with Watch(port, proc.pid) as w:
            t0 = time.perf_counter()
            threads = [threading.Thread(target=scrape, daemon=True) for _ in range(args.scrapes)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(180)
            wall = time.perf_counter() - t0
        print(f"{args.scrapes} concurrent /metrics scrapes: all done in {wall:.1f}s (slowest {max(times):.1f}s, "
              f"{len(errors)} errors); {w.summary()}")
        ok &= max(w.latencies) < 0.1 and not w.failures
        st = proc_stats(proc.pid)
        print(f"after the load: RSS {st['rss'] / 1024:.0f} MiB (peak {st['hwm'] / 1024:.0f} MiB), "
              f"threads {st['threads']}")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        api.stop()
    print(f"aim (/healthz < 100 ms in every phase): {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
