"""Benchmark: scanning node logs (``diagnose --node-logs``) against ``grep -E`` of the same patterns over
the same files, in the same run.

Generates 20 nodes' ``journalctl -u kubelet -u containerd`` exports (default short format), 1 GiB in all,
under a temporary directory in /tmp (deleted at the end, also on failure): the kubelet's and containerd's
usual chatter (sync loops, probes, volume mounts, pulls that succeed) with a few failing pulls per node
(containerd's progress-timeout cancel and stop lines, the kubelet's PullImage failure, pull QPS exceeded).
Then measures, each best of N rounds, the files in the page cache:

- ``pulldoctor``: ``nodelogs.load`` of the 20 ``NODE=FILE`` sources with a cap above their size, so every
  byte is scanned (the prefilter, then header and pattern parsing of each candidate line, then the settings);
- ``grep -E -c`` with the prefilter's patterns as one alternation, over the same 20 files, in the
  environment's locale and with ``LC_ALL=C``;
- ``python re`` alternation: the same alternation as one compiled Python regex, ``finditer`` over each tail
  (the design not taken), for comparison.

    python bench/bench_nodelogs.py [--gib 1.0] [--nodes 20] [--repeat 3]

Prints wall and CPU time of each (CPU: this process plus its finished children, so grep's own; steadier
than wall time on a shared machine), MiB/s of CPU, the ratios, and checks that pulldoctor's candidate lines
equal grep's count.
Not a timed test: the numbers depend on the machine; the ratios are the comparable part.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from pulldoctor.cluster.model import Node, NodeMeta
from pulldoctor.nodelogs import load
from pulldoctor.nodelogs.scan import ANCHORS, candidates

T0 = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
CHATTER = (
    'kubelet[2301]: I1204 {hms}.{us}    2301 kubelet.go:2468] "SyncLoop (PLEG): event for pod" pod="shop/web-{n}" '
    'event={{"ID":"9f0c{n}","Type":"ContainerStarted","Data":"4b1e{n}"}}',
    'kubelet[2301]: I1204 {hms}.{us}    2301 prober.go:107] "Probe failed" probeType="Readiness" pod="shop/api-{n}" '
    'podUID="1c2d{n}" containerName="api" probeResult="failure" output="Get \\"http://10.0.1.{m}:8080/ready\\": '
    'context deadline exceeded (Client.Timeout exceeded while awaiting headers)"',
    'kubelet[2301]: I1204 {hms}.{us}    2301 reconciler_common.go:258] '
    '"operationExecutor.VerifyControllerAttachedVolume started for volume \\"kube-api-access-{n}\\"" '
    'pod="shop/web-{n}"',
    'containerd[2100]: time="2026-12-04T{hms}.{us}000Z" level=info msg="ImageCreate event name:\\"docker.io/library/'
    'nginx:1.{m}\\" labels:{{key:\\"io.cri-containerd.image\\" value:\\"managed\\"}}"',
    'containerd[2100]: time="2026-12-04T{hms}.{us}000Z" level=info msg="StartContainer for \\"4b1e{n}\\" returns '
    'successfully"',
    'kubelet[2301]: I1204 {hms}.{us}    2301 kubelet_getters.go:187] "Pod status updated" pod="kube-system/'
    'kube-proxy-{n}" status="Running"',
)
FAILURES = (
    'containerd[2100]: time="2026-12-04T{hms}.{us}000Z" level=error msg="cancel pulling image registry.example.com/'
    'team/big:{n} because of no progress in 1m0s"',
    'containerd[2100]: time="2026-12-04T{hms}.{us}000Z" level=info msg="stop pulling image registry.example.com/'
    'team/big:{n}: active requests=0, bytes read=31457{m}"',
    'kubelet[2301]: E1204 {hms}.{us}    2301 remote_image.go:180] "PullImage from image service failed" err="rpc '
    'error: code = Canceled desc = context canceled" image="registry.example.com/team/big:{n}"',
    'kubelet[2301]: E1204 {hms}.{us}    2301 kuberuntime_image.go:53] "Failed to pull image" err="pull QPS '
    'exceeded." image="registry.example.com/team/other:{n}"',
)
FAILURE_EVERY = 5_000  # one failing pull's lines per this many lines of chatter


def generate(directory: Path, nodes: int, total: int) -> list[Path]:
    """``nodes`` journal files of ``total`` bytes in all. Each node's block of lines (about 4 MiB, a few
    failing pulls in it) is built once and written until the file is full."""
    paths = []
    per_node = total // nodes
    lines = []
    for n in range(20_000):
        now = T0 + timedelta(milliseconds=n * 97)
        hms, us = now.strftime("%H:%M:%S"), f"{now.microsecond:06d}"
        stamp = now.strftime("%b %d %H:%M:%S")
        lines.append(f"{stamp} HOST " + CHATTER[n % len(CHATTER)].format(hms=hms, us=us, n=n, m=n % 250))
        if n % FAILURE_EVERY == FAILURE_EVERY // 2:
            lines += [f"{stamp} HOST " + f.format(hms=hms, us=us, n=n, m=n % 100) for f in FAILURES]
    template = ("\n".join(lines) + "\n").encode()
    for i in range(nodes):
        path = directory / f"node-{i:02d}.journal"
        block = template.replace(b" HOST ", f" ip-10-0-{i}-{i + 10} ".encode())
        with open(path, "wb") as fh:
            written = 0
            while written < per_node:  # bounded: each write adds a whole block or the rest
                part = block[: per_node - written]
                fh.write(part)
                written += len(part)
        paths.append(path)
    return paths


def best(fn, repeat: int) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    """(best wall seconds, best CPU seconds, result) of ``repeat`` runs. CPU time counts this process and
    its finished children (grep), so other work on a shared machine disturbs it less than wall time."""
    out, walls, cpus = None, [], []
    for _ in range(repeat):
        c0 = resource.getrusage(resource.RUSAGE_SELF)
        k0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - start)
        c1 = resource.getrusage(resource.RUSAGE_SELF)
        k1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime
                    + k1.ru_utime + k1.ru_stime - k0.ru_utime - k0.ru_stime)
    return min(walls), min(cpus), out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--nodes", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    total = int(args.gib * (1 << 30))
    grep = shutil.which("grep")
    if grep is None:
        print("grep not found", file=sys.stderr)
        return 2
    directory = Path(tempfile.mkdtemp(prefix="pulldoctor-bench-nodelogs-", dir="/tmp"))
    try:
        start = time.perf_counter()
        paths = generate(directory, args.nodes, total)
        size = sum(p.stat().st_size for p in paths)
        print(f"generated {len(paths)} journals, {size / (1 << 20):.0f} MiB, in {time.perf_counter() - start:.1f}s "
              f"under {directory}")
        nodes = {f"node-{i:02d}": Node(metadata=NodeMeta(name=f"node-{i:02d}")) for i in range(len(paths))}
        specs = [f"node-{i:02d}={p}" for i, p in enumerate(paths)]
        cap = max(p.stat().st_size for p in paths) + 1

        def ours() -> int:
            logs = load(specs, nodes, cap=cap, now=T0 + timedelta(days=1))
            return sum(len(log.hits) for log in logs.nodes.values())

        pattern = "|".join(re.escape(a.decode()) for a in ANCHORS)

        def grep_count(env: dict[str, str]) -> int:
            r = subprocess.run([grep, "-E", "-c", "-h", pattern, *map(str, paths)], capture_output=True,
                               text=True, env=env, timeout=600, check=False)
            return sum(int(x) for x in r.stdout.split())

        one = re.compile(pattern.encode())

        def python_alternation() -> int:
            n = 0
            for p in paths:
                data = p.read_bytes()
                last = -1
                for m in one.finditer(data):
                    ls = data.rfind(b"\n", 0, m.start())
                    if ls != last:
                        n, last = n + 1, ls
            return n

        for p in paths:  # into the page cache, for every contender alike
            p.read_bytes()
        t_ours, c_ours, hits = best(ours, args.repeat)
        env = dict(os.environ)
        t_grep, c_grep, counted = best(lambda: grep_count(env), args.repeat)
        t_grep_c, c_grep_c, counted_c = best(lambda: grep_count({**env, "LC_ALL": "C"}), args.repeat)
        t_py, c_py, py_count = best(python_alternation, 1)
        cands = sum(len(candidates(p.read_bytes())[0]) for p in paths)
        mib = size / (1 << 20)
        locale = env.get("LC_ALL") or env.get("LANG") or "default locale"
        rows = [("pulldoctor nodelogs.load", t_ours, c_ours, f"{hits} hits, {cands} candidate lines"),
                (f"grep -E -c ({locale})", t_grep, c_grep, f"{counted} lines"),
                ("grep -E -c (LC_ALL=C)", t_grep_c, c_grep_c, f"{counted_c} lines"),
                ("python re alternation", t_py, c_py, f"{py_count} lines")]
        for name, wall, cpu, what in rows:
            print(f"{name:26s}: wall {wall:6.2f}s  cpu {cpu:6.2f}s  {mib / cpu:6.0f} MiB/s of CPU  {what}")
        print(f"CPU time, pulldoctor / grep: {c_ours / c_grep:.2f}x ({locale}), {c_ours / c_grep_c:.2f}x (LC_ALL=C); "
              f"python alternation / pulldoctor: {c_py / c_ours:.1f}x")
        if not (cands == counted == counted_c == py_count):
            print("MISMATCH: the candidate lines differ from grep's count", file=sys.stderr)
            return 1
        return 0
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
