"""Benchmark: ``probe_many`` over 500 distinct references vs a ``skopeo inspect`` loop over the same ones.

Starts the test lab (real docker-registry behind nginx on 127.0.0.1), pushes a few repositories and points
many tags at their images (distinct references, shared content, as in a real cluster where many pods run a
handful of images), then:

- times ``probe_many`` on all references (best of ``--repeat`` runs, each with a fresh session);
- times ``skopeo inspect --tls-verify=false docker://REF`` one after the other on a random sample
  (``--sample``, default 50) and extrapolates the per-reference time to all of them — said so in the output;
- counts the requests each costs from nginx's access log.

    python bench/bench_probe.py [--refs 500] [--repos 10] [--sample 50] [--repeat 3]

Prints one line per measurement and the ratio (target ≥ 20×, at most one manifest request by reference
per reference). Not a timed test.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import http.client
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from lab import start_lab
from pulldoctor.registry import ProbeOptions, ProbeRequest, probe_many


def retag(registry: str, repo: str, digest: str, media_type: str, tags: list[str]) -> None:
    """PUT the same manifest under more tags, straight to the registry (not through nginx)."""
    host, port = registry.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("GET", f"/v2/{repo}/manifests/{digest}", headers={"Accept": media_type})
        body = conn.getresponse().read()
        for tag in tags:
            conn.request("PUT", f"/v2/{repo}/manifests/{tag}", body=body, headers={"Content-Type": media_type})
            resp = conn.getresponse()
            resp.read()
            if resp.status != 201:
                raise SystemExit(f"retag {repo}:{tag} failed with HTTP {resp.status}")
    finally:
        conn.close()


def settle(lab: object, before: int) -> list[tuple[str, str, int]]:
    rows = lab.nginx_requests()[before:]  # type: ignore[attr-defined]
    for _ in range(50):
        time.sleep(0.05)
        again = lab.nginx_requests()[before:]  # type: ignore[attr-defined]
        if len(again) == len(rows):
            return again
        rows = again
    return rows


def kinds(rows: list[tuple[str, str, int]]) -> collections.Counter[str]:
    c: collections.Counter[str] = collections.Counter()
    for method, path, _status in rows:
        if "/manifests/sha256:" in path:
            c[f"{method} manifest by digest"] += 1
        elif "/manifests/" in path:
            c[f"{method} manifest by tag"] += 1
        elif "/blobs/" in path:
            c[f"{method} blob"] += 1
        elif path.endswith("/tags/list"):
            c[f"{method} tags/list"] += 1
        elif method == "-":
            c["no request line (an HTTPS attempt on the HTTP port)"] += 1
        else:
            c[f"{method} {path}"] += 1
    return c


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--refs", type=int, default=500)
    ap.add_argument("--repos", type=int, default=10)
    ap.add_argument("--sample", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        raise SystemExit("skopeo is not installed (apt-get install skopeo)")

    lab = start_lab()
    try:
        per_repo = -(-args.refs // args.repos)
        refs: list[str] = []
        t = time.monotonic()
        for r in range(args.repos):
            repo = f"bench/app{r}"
            pushed = lab.push(lab.nginx, repo, "t0", layer_bytes=2048)
            tags = [f"1.{r}.{i}" for i in range(per_repo)]
            retag(lab.open_registry, repo, pushed.digest, pushed.media_type, tags)
            refs += [f"{lab.nginx}/{repo}:{tag}" for tag in tags]
        refs = refs[: args.refs]
        assert len(set(refs)) == len(refs)
        print(f"setup: {len(refs)} distinct references over {args.repos} repositories "
              f"({args.repos} distinct images) in {time.monotonic() - t:.1f} s")

        options = ProbeOptions()
        best = float("inf")
        rows: list[tuple[str, str, int]] = []
        for i in range(args.repeat):
            before = len(lab.nginx_requests())
            t, cpu = time.monotonic(), time.process_time()
            results = asyncio.run(probe_many([ProbeRequest(r) for r in refs], options))
            elapsed, cpu = time.monotonic() - t, time.process_time() - cpu
            bad = [r for r in results if r.cause is not None]
            if bad:
                raise SystemExit(f"probe_many: {len(bad)} references not pullable, e.g. {bad[0].summary()}")
            if i == 0:
                rows = settle(lab, before)
            best = min(best, elapsed)
            print(f"probe_many run {i + 1}: {elapsed:.3f} s ({len(refs) / elapsed:.0f} references/s; "
                  f"client CPU {cpu:.3f} s, the rest is the registry and nginx)")
        c = kinds(rows)
        by_tag = c["HEAD manifest by tag"] + c["GET manifest by tag"]
        print(f"probe_many requests: {len(rows)} for {len(refs)} references = {len(rows) / len(refs):.3f}/reference; "
              + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
        print(f"probe_many manifest requests by reference: {by_tag / len(refs):.3f}/reference; "
              f"by digest (content cache, once per image): {c['GET manifest by digest']}")

        sample = random.Random(1).sample(refs, min(args.sample, len(refs)))
        before = len(lab.nginx_requests())
        t = time.monotonic()
        for ref in sample:
            out = subprocess.run([skopeo, "inspect", "--tls-verify=false", f"docker://{ref}"],
                                 capture_output=True, text=True, timeout=60)
            if out.returncode != 0:
                raise SystemExit(f"skopeo inspect {ref} failed: {out.stderr.strip()[:200]}")
        skopeo_elapsed = time.monotonic() - t
        srows = settle(lab, before)
        per_ref = skopeo_elapsed / len(sample)
        extrapolated = per_ref * len(refs)
        sc = kinds(srows)
        print(f"skopeo inspect loop: {len(sample)} sampled references in {skopeo_elapsed:.2f} s = "
              f"{per_ref * 1000:.1f} ms/"
              f"reference; extrapolated to {len(refs)}: {extrapolated:.1f} s")
        print(f"skopeo requests: {len(srows) / len(sample):.2f}/reference; "
              + ", ".join(f"{k} {v}" for k, v in sorted(sc.items())))
        print(f"ratio: probe_many is {extrapolated / best:.0f}x faster than the skopeo loop "
              f"({best:.3f} s vs {extrapolated:.1f} s extrapolated from {len(sample)} references)")
    finally:
        lab.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
