"""Benchmark: ``pulldoctor preflight`` on 200 workloads over 40 images vs a ``skopeo inspect`` loop over the
40 images, in the same run, against the lab registry (real docker-registry behind nginx on 127.0.0.1).

Pushes 40 distinct multi-platform images, writes one rendered manifest with 200 Deployments that use them
(each image in five workloads, as a chart's services share base images), then times:

- ``preflight()`` in-process (best of ``--repeat``), and the real CLI end to end (Python start-up included);
- the same without the registry (``--no-probe``: reading and checking only), and ``probe_many`` on the 40
  images with HEADs only (``fetch_manifest=False``: what the probe costs without reading platforms);
- 40 manifest HEADs one after another with http.client (the floor: "about the time of 40 HEADs");
- ``skopeo inspect --tls-verify=false docker://REF`` over the 40 images, one after another;
- the requests each costs, from nginx's access log.

    python bench/bench_preflight.py [--images 40] [--workloads 200] [--repeat 3]

Prints one line per measurement and the ratios. Not a timed test.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from bench_probe import kinds, settle  # type: ignore[import-not-found]

from lab import start_lab
from pulldoctor.preflight import preflight
from pulldoctor.preflight.probes import options
from pulldoctor.registry import ProbeOptions, ProbeRequest, probe_many
from pulldoctor.registry.manifest import parse_platform

ACCEPT = ", ".join(["application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json",
                    "application/vnd.docker.distribution.manifest.v2+json"])


def manifest(refs: list[str], workloads: int) -> str:
    docs = []
    for i in range(workloads):
        docs.append(f"""---
# Source: big/templates/svc-{i}.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-{i}
  namespace: bench
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: app
          image: {refs[i % len(refs)]}
          imagePullPolicy: IfNotPresent
""")
    return "".join(docs)


def heads(registry: str, paths: list[str]) -> float:
    """One manifest HEAD per path, one after another, on one kept-alive connection."""
    host, port = registry.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    t = time.monotonic()
    try:
        for path in paths:
            conn.request("HEAD", path, headers={"Accept": ACCEPT})
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                raise SystemExit(f"HEAD {path}: HTTP {resp.status}")
    finally:
        conn.close()
    return time.monotonic() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--workloads", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        raise SystemExit("skopeo is not installed (apt-get install skopeo)")

    lab = start_lab()
    tmp = Path(tempfile.mkdtemp(prefix="bench-preflight-"))
    try:
        t = time.monotonic()
        pushed = [lab.push(lab.nginx, f"bench/img{i}", "1.0.0", platforms=("linux/amd64", "linux/arm64"))
                  for i in range(args.images)]
        refs = [p.ref for p in pushed]
        path = tmp / "rendered.yaml"
        path.write_text(manifest(refs, args.workloads))
        print(f"setup: {args.images} images (amd64+arm64 indexes) pushed, {args.workloads} workloads written "
              f"in {time.monotonic() - t:.1f} s")
        platforms = [parse_platform("linux/amd64"), parse_platform("linux/arm64")]

        best, rows = float("inf"), []
        for i in range(args.repeat):
            before = len(lab.nginx_requests())
            t = time.monotonic()
            report = preflight([str(path)], platforms=platforms, probe_options=options())
            elapsed = time.monotonic() - t
            if report.findings or report.probed != args.images:
                raise SystemExit(f"preflight: unexpected result: {report.to_json()['summary']}, "
                                 f"{[f.summary for f in report.findings[:3]]}")
            if i == 0:
                rows = settle(lab, before)
            best = min(best, elapsed)
            print(f"preflight (in-process) run {i + 1}: {elapsed:.3f} s for {report.workloads} workloads, "
                  f"{report.probed} distinct images probed")
        c = kinds(rows)
        print(f"preflight requests: {len(rows)} ({len(rows) / args.images:.2f}/image); "
              + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))

        cli_best = float("inf")
        for _ in range(args.repeat):
            t = time.monotonic()
            out = subprocess.run([sys.executable, "-m", "pulldoctor", "preflight", str(path), "--platform",
                                  "linux/amd64,linux/arm64", "-o", "json"], capture_output=True, text=True, timeout=120)
            cli_best = min(cli_best, time.monotonic() - t)
            if out.returncode != 0:
                raise SystemExit(f"preflight CLI exited {out.returncode}: {out.stderr[:300]}")
        print(f"preflight (CLI, Python start-up included): {cli_best:.3f} s (best of {args.repeat})")

        offline = float("inf")
        for _ in range(args.repeat):
            t = time.monotonic()
            preflight([str(path)], platforms=platforms, probe_options=None)
            offline = min(offline, time.monotonic() - t)
        print(f"of which reading and checking the {args.workloads} workloads (--no-probe): {offline:.3f} s")
        heads_only = float("inf")
        for _ in range(args.repeat):
            t = time.monotonic()
            asyncio.run(probe_many([ProbeRequest(r) for r in refs], ProbeOptions(fetch_manifest=False)))
            heads_only = min(heads_only, time.monotonic() - t)
        print(f"probe_many of the {len(refs)} images, HEAD only (fetch_manifest=False, no platforms): "
              f"{heads_only:.3f} s")

        head_paths = [f"/v2/{p.repo}/manifests/{p.tag}" for p in pushed]
        head_best = min(heads(lab.nginx, head_paths) for _ in range(args.repeat))
        print(f"{len(head_paths)} manifest HEADs one after another (one connection): {head_best:.3f} s")

        before = len(lab.nginx_requests())
        t = time.monotonic()
        for ref in refs:
            r = subprocess.run([skopeo, "inspect", "--tls-verify=false", f"docker://{ref}"],
                               capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                raise SystemExit(f"skopeo inspect {ref} failed: {r.stderr.strip()[:200]}")
        skopeo_elapsed = time.monotonic() - t
        srows = settle(lab, before)
        print(f"skopeo inspect loop over the {len(refs)} images: {skopeo_elapsed:.2f} s "
              f"({skopeo_elapsed / len(refs) * 1000:.1f} ms/image; {len(srows) / len(refs):.1f} requests/image)")
        print(f"ratio: preflight is {skopeo_elapsed / best:.1f}x faster than the skopeo loop in-process "
              f"({best:.3f} s vs {skopeo_elapsed:.2f} s), {skopeo_elapsed / cli_best:.1f}x through the CLI; "
              f"{best / head_best:.1f}x the time of {len(head_paths)} sequential HEADs")
    finally:
        lab.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
