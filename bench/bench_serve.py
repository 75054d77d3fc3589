"""Benchmark of `pulldoctor serve` against the fake API server: memory and event-to-metric latency.

    python bench/bench_serve.py [--pods 10000] [--failing 100] [--changes 40]

Starts tests/kubeapi's fake API server on 127.0.0.1 with PODS realistic pods (managedFields, env, volumes;
FAILING of them failing to pull) and one image event per pod, runs the exporter as a subprocess
(`python -m pulldoctor serve -A --no-probe`), and prints:
- time to ready (the first full list of pods and events) and the exporter's RSS (now and peak);
- event-to-metric latency: a pod starts failing (or recovers) on the API server → the series appears in
  (or leaves) /metrics, polled every 5 ms;
- baselines measured in the same run: the RSS of a bare interpreter that imports the same libraries, the
  peak RSS of `json.load` of the same pod list, and the line splitter against kubernetes.watch's.
Aims: under 200 MB RSS and under 1 s latency with 10 000 pods. Not a timed test: figures vary by machine.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from kubeapi import FakeKubeAPI
from kubeapi import objects as o

NOT_FOUND = ('failed to pull and unpack image "docker.io/library/nginx:1.99": failed to resolve reference '
             '"docker.io/library/nginx:1.99": docker.io/library/nginx:1.99: not found')
IMPORTS = "import kubernetes.client, kubernetes.config, prometheus_client, msgspec, pulldoctor.exporter.app"


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in KiB from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def child_peak(code: str) -> tuple[int, float]:
    """Peak RSS (KiB) and wall time of ``python -c code`` (the code prints its own peak)."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    return int(out.stdout.strip().splitlines()[-1]), time.perf_counter() - t0


# VmHWM, not ru_maxrss: ru_maxrss keeps the forking parent's peak across exec, and the parent here holds
# the fake API server's 10 000 pods.
PEAK = ("import re; print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))")


def failing_pod(name: str) -> dict:
    return o.pod(name, "bench", containers=[o.container("app", "nginx:1.99")],
                 statuses=[o.waiting("app", "nginx:1.99", "ErrImagePull", NOT_FOUND)], bulky=True)


def build_cluster(api: FakeKubeAPI, pods: int, failing: int) -> None:
    for i in range(pods):
        ns = f"team-{i % 50}"
        if i < failing:
            p = o.pod(f"broken-{i}", ns, containers=[o.container("app", "nginx:1.99")],
                      statuses=[o.waiting("app", "nginx:1.99", "ImagePullBackOff",
                                          'Back-off pulling image "nginx:1.99"')], bulky=True)
            api.add(p, notify=False)
            api.add(o.event(p, "Failed", f'Failed to pull image "nginx:1.99": {NOT_FOUND}', container="app",
                            count=4), notify=False)
        else:
            p = o.pod(f"web-{i}", ns, containers=[o.container("app", f"nginx:1.{i % 30}")],
                      statuses=[o.running("app", f"nginx:1.{i % 30}")], phase="Running", bulky=True)
            api.add(p, notify=False)
            api.add(o.event(p, "Pulled", f'Successfully pulled image "nginx:1.{i % 30}" in 1.2s', container="app"),
                    notify=False)


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def measure_latency(api: FakeKubeAPI, port: int, changes: int) -> tuple[list[float], list[float]]:
    appear: list[float] = []
    leave: list[float] = []
    for i in range(changes):
        name = f"lat-{i}"
        marker = f'pod="{name}"'
        pod = failing_pod(name)
        t0 = time.perf_counter()
        api.add(pod)
        while marker not in scrape(port):
            if time.perf_counter() - t0 > 10:
                raise SystemExit(f"{name} did not appear within 10 s")
            time.sleep(0.005)
        appear.append(time.perf_counter() - t0)
        pod["status"]["containerStatuses"] = [o.running("app", "nginx:1.99")]
        t0 = time.perf_counter()
        api.update(pod)
        while marker in scrape(port):
            if time.perf_counter() - t0 > 10:
                raise SystemExit(f"{name} did not leave within 10 s")
            time.sleep(0.005)
        leave.append(time.perf_counter() - t0)
    return appear, leave


def line_splitters(pods: int) -> dict[str, float]:
    """Seconds to split and decode a watch stream of ``pods`` MODIFIED events: ours vs kubernetes.watch."""
    import io

    import msgspec
    from kubernetes.watch.watch import iter_resp_lines

    from pulldoctor.cluster.model import Pod
    from pulldoctor.exporter.watch import _ENVELOPE
    from pulldoctor.kubeapi import lines as iter_lines

    data = b"".join(json.dumps({"type": "MODIFIED", "object": o.pod(f"p{i}", bulky=True)}).encode() + b"\n"
                    for i in range(pods))

    class Resp:
        def __init__(self) -> None:
            self.buf = io.BytesIO(data)

        def read1(self, n: int) -> bytes:
            return self.buf.read1(n)

        def stream(self, amt: object = None, decode_content: object = None):  # what iter_resp_lines reads
            while chunk := self.buf.read(64 * 1024):
                yield chunk

    dec = msgspec.json.Decoder(Pod)
    out: dict[str, float] = {"stream MB": len(data) / 1e6}
    t0 = time.perf_counter()
    n = sum(1 for _ in iter_lines(Resp(), max_line=4 << 20))
    out["ours: split"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    n2 = sum(1 for _ in iter_resp_lines(Resp()))
    out["kubernetes.watch.iter_resp_lines: split"] = time.perf_counter() - t0
    assert n == n2 == pods
    t0 = time.perf_counter()
    for line in iter_lines(Resp(), max_line=4 << 20):
        dec.decode(_ENVELOPE.decode(line).object)
    out["ours: split + msgspec Pod"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for line in iter_resp_lines(Resp()):
        json.loads(line)
    out["iter_resp_lines + json.loads (what Watch.stream does before models)"] = time.perf_counter() - t0
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pods", type=int, default=10_000)
    ap.add_argument("--failing", type=int, default=100)
    ap.add_argument("--changes", type=int, default=40)
    args = ap.parse_args()

    api = FakeKubeAPI(token="bench-token")
    t0 = time.perf_counter()
    build_cluster(api, args.pods, args.failing)
    print(f"cluster: {args.pods} pods ({args.failing} failing), {args.pods} events, built in "
          f"{time.perf_counter() - t0:.1f}s")
    api.start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    kubeconfig = api.write_kubeconfig(tmp / "kubeconfig")
    proc = subprocess.Popen([sys.executable, "-m", "pulldoctor", "serve", "-A", "--no-probe", "--kubeconfig",
                             str(kubeconfig), "--listen", "127.0.0.1:0"], stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    port_box: list[int] = []
    ready = threading.Event()

    def drain() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                port_box.append(int(m.group(1)))
            if "first full list done" in line:
                ready.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        started = time.perf_counter()
        if not ready.wait(120):
            print("".join(lines[-20:]), file=sys.stderr)
            raise SystemExit("exporter not ready within 120 s")
        to_ready = time.perf_counter() - started
        port = port_box[0]
        failing_now = scrape(port).count("pulldoctor_image_pull_failing{")
        rss, hwm = rss_kib(proc.pid)
        appear, leave = measure_latency(api, port, args.changes)
        rss2, hwm2 = rss_kib(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    list_url = f"{api.url}/api/v1/pods"
    json_peak, json_time = child_peak(
        "import json, urllib.request\n"
        f"req = urllib.request.Request({list_url!r}, headers={{'Authorization': 'Bearer bench-token'}})\n"
        "data = urllib.request.urlopen(req, timeout=120).read()\n"
        "pods = json.loads(data)\n" + PEAK)
    bare_peak, _ = child_peak(IMPORTS + "\n" + PEAK)
    api.stop()

    def ms(xs: list[float]) -> str:
        xs = sorted(xs)
        p95 = xs[min(len(xs) - 1, int(len(xs) * 0.95))]
        return f"median {statistics.median(xs) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {xs[-1] * 1000:.0f} ms"

    print(f"exporter: ready (first list of pods + events) in {to_ready:.2f}s; {failing_now} failing series")
    print(f"exporter RSS after the first list: {rss / 1024:.0f} MiB (peak {hwm / 1024:.0f} MiB); "
          f"after {args.changes} changes: {rss2 / 1024:.0f} MiB (peak {hwm2 / 1024:.0f} MiB)")
    print(f"event → /metrics, failure appears ({args.changes}x): {ms(appear)}")
    print(f"event → /metrics, recovery leaves  ({args.changes}x): {ms(leave)}")
    print("baselines (same run):")
    print(f"  bare interpreter importing the same libraries: peak RSS {bare_peak / 1024:.0f} MiB")
    print(f"  json.loads of the same {args.pods}-pod list (one GET): peak RSS {json_peak / 1024:.0f} MiB, "
          f"{json_time:.2f}s")
    split = line_splitters(min(args.pods, 5000))
    print(f"watch line splitting over {min(args.pods, 5000)} bulky pod events ({split.pop('stream MB'):.1f} MB):")
    for k, v in split.items():
        print(f"  {k}: {v * 1000:.0f} ms")
    ok = hwm2 / 1024 < 200 and max(appear + leave) < 1.0
    print(f"aims (peak RSS < 200 MiB, every latency < 1 s): {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
