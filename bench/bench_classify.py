"""Benchmark: ``classify`` messages per second on one core, against baselines measured in the same run.

The mix is realistic: the 37 real messages of the corpus (tests/data/corpus/dev.jsonl; ``--corpus public`` or
``both`` measures the larger public set instead or as well, ``all`` every corpus file) plus the exact
texts containerd 1.6 produces against the test lab (research/real-components.md §4, wrapped as the kubelet's
``Failed to pull image "X": …`` event) and CRI-O/skopeo's (§5). Baselines over the same messages:

- ``re.search`` of one simple pattern (``not found``): the floor of "looking at the text at all";
- ``json.loads`` of each message's JSON line: what reading the message from a JSON Lines file costs.

    python bench/bench_classify.py [--repeat N] [--seconds S] [--corpus dev|public|both|all]

Rates are CPU time of this process (``time.process_time``), best of N rounds, so other work on the machine
disturbs them less than wall-clock time would. Prints msg/s for each and the ratios. The aim is ≥ 50,000
msg/s. Not a timed test: numbers depend on the machine; the ratios are the comparable part.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from pulldoctor.messages import classify

CORPUS_DIR = ROOT / "tests" / "data" / "corpus"
CORPORA = {"dev": ("dev.jsonl",), "public": ("public.jsonl",), "both": ("dev.jsonl", "public.jsonl"),
           "all": ("dev.jsonl", "public.jsonl", "pages.jsonl", "trackers.jsonl")}


def _failed(image: str, err: str) -> str:
    return f'Failed to pull image "{image}": {err}'


def _ctrd(ref: str, inner: str) -> str:
    return f'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": {inner}'


LAB_FORMATS: list[str] = [
    _failed("127.0.0.1:5000/demo/hello:nope", "rpc error: code = NotFound desc = " + _ctrd(
        "127.0.0.1:5000/demo/hello:nope", "127.0.0.1:5000/demo/hello:nope: not found")),
    _failed("127.0.0.1:5001/private/hello:v1", _ctrd("127.0.0.1:5001/private/hello:v1",
            "pulling from host 127.0.0.1:5001 failed with status code [manifests v1]: 401 Unauthorized")),
    _failed("127.0.0.1:8080/tokenfail/app:v1", _ctrd("127.0.0.1:8080/tokenfail/app:v1",
            "failed to authorize: failed to fetch anonymous token: unexpected status: 401 Unauthorized")),
    _failed("127.0.0.1:8080/bearer/app:v1", _ctrd("127.0.0.1:8080/bearer/app:v1",
            "failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized")),
    _failed("127.0.0.1:8080/hubmissing/app:latest", _ctrd("127.0.0.1:8080/hubmissing/app:latest",
            "pull access denied, repository does not exist or may require authorization: server message: "
            "insufficient_scope: authorization failed")),
    _failed("127.0.0.1:8080/denied/hello:v1", _ctrd("127.0.0.1:8080/denied/hello:v1",
            "pulling from host 127.0.0.1:8080 failed with status code [manifests v1]: 403 Forbidden")),
    _failed("127.0.0.1:8080/toomany/hello:v1", _ctrd("127.0.0.1:8080/toomany/hello:v1",
            "pulling from host 127.0.0.1:8080 failed with status code [manifests v1]: 429 Too Many Requests")),
    _failed("127.0.0.1:5000/demo/armonly:v1", 'rpc error: code = NotFound desc = failed to pull and unpack image '
            '"127.0.0.1:5000/demo/armonly:v1": no match for platform in manifest: not found'),
    _failed("127.0.0.1:5999/demo/hello:v1", _ctrd("127.0.0.1:5999/demo/hello:v1",
            'failed to do request: Head "http://127.0.0.1:5999/v2/demo/hello/manifests/v1": dial tcp '
            "127.0.0.1:5999: connect: connection refused")),
    _failed("nonexistent.invalid/demo/hello:v1", _ctrd("nonexistent.invalid/demo/hello:v1",
            'failed to do request: Head "https://nonexistent.invalid/v2/demo/hello/manifests/v1": dial tcp: '
            "lookup nonexistent.invalid on 10.255.255.53:53: no such host")),
    _failed("127.0.0.1:8443/demo/hello:v1", _ctrd("127.0.0.1:8443/demo/hello:v1",
            'failed to do request: Head "https://127.0.0.1:8443/v2/demo/hello/manifests/v1": x509: '
            "certificate signed by unknown authority")),
    _failed("localhost:5000/demo/hello:v1", _ctrd("localhost:5000/demo/hello:v1",
            'failed to do request: Head "https://localhost:5000/v2/demo/hello/manifests/v1": http: server gave '
            "HTTP response to HTTPS client")),
    _failed("localhost:8443/demo/hello:v1", _ctrd("localhost:8443/demo/hello:v1",
            "pulling from host localhost:8443 failed with status code [manifests v1]: 400 Bad Request")),
    _failed("127.0.0.1:5998/demo/hello:v1", "rpc error: code = DeadlineExceeded desc = context deadline exceeded"),
    _failed("127.0.0.1:5000/demo/hello:nope", "initializing source docker://127.0.0.1:5000/demo/hello:nope: "
            "reading manifest nope in 127.0.0.1:5000/demo/hello: manifest unknown: manifest unknown"),
    _failed("127.0.0.1:5999/demo/hello:v1", 'RegistryUnavailable: pinging container registry 127.0.0.1:5999: '
            'Get "http://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection refused'),
]


def load_mix(corpus: str = "dev") -> tuple[list[str], list[str]]:
    lines = [line for name in CORPORA[corpus]
             for line in (CORPUS_DIR / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    messages = [json.loads(line)["message"] for line in lines] + LAB_FORMATS
    json_lines = lines + [json.dumps({"message": m}) for m in LAB_FORMATS]
    return messages, json_lines


def rate(fn: Callable[[str], object], items: list[str], repeat: int, seconds: float) -> float:
    """Best items/s over ``repeat`` rounds of at least ``seconds`` each (best = least disturbed by load)."""
    best = 0.0
    for _ in range(repeat):
        done = 0
        t0 = time.process_time()
        while True:
            for item in items:
                fn(item)
            done += len(items)
            elapsed = time.process_time() - t0
            if elapsed >= seconds:
                break
        best = max(best, done / elapsed)
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5, help="rounds per measurement (best kept)")
    ap.add_argument("--seconds", type=float, default=0.5, help="minimum duration of one round")
    ap.add_argument("--corpus", choices=sorted(CORPORA), default="dev",
                    help="real messages in the mix: dev.jsonl (the reference mix), public.jsonl, or both")
    args = ap.parse_args()

    messages, json_lines = load_mix(args.corpus)
    for m in messages:  # warm up (regex compilation is done at import; this warms caches)
        classify(m)
    pattern = re.compile("not found")
    measures = {
        "classify": rate(classify, messages, args.repeat, args.seconds),
        "re.search (one pattern)": rate(pattern.search, messages, args.repeat, args.seconds),
        "json.loads (one line)": rate(json.loads, json_lines, args.repeat, args.seconds),
    }
    corpus = len(messages) - len(LAB_FORMATS)
    print(f"mix: {len(messages)} messages ({corpus} {args.corpus} corpus + {len(LAB_FORMATS)} "
          f"lab-format), mean {sum(map(len, messages)) / len(messages):.0f} chars; one core, best of {args.repeat}")
    for name, value in measures.items():
        print(f"{name:26s} {value:12,.0f} msg/s   {1e6 / value:8.2f} µs/msg")
    c = measures["classify"]
    print(f"classify / re.search : {c / measures['re.search (one pattern)']:.3f}  (cost of one classify = "
          f"{measures['re.search (one pattern)'] / c:.1f} bare searches)")
    print(f"classify / json.loads: {c / measures['json.loads (one line)']:.3f}")
    print(f"target ≥ 50,000 msg/s: {'met' if c >= 50_000 else 'NOT met'} on this machine")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
