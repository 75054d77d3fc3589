"""Benchmark: the whole ``pulldoctor diagnose --from DIR --no-probe`` process vs a whole ``python -c
"import json; json.load(…)"`` process over the same files, in the same run.

This is the figure users feel: interpreter start, imports, reading, finding, deciding and rendering, not
just the in-process load that ``bench_cluster.py`` times. The cluster is ``bench_cluster.generate``'s
(10,000 pods of ~4 KB, 100,000 events, 300 pods that cannot get their image). The data is generated in a
child process so that this process stays small; each measured process is started under ``/usr/bin/time -v``
(its peak RSS is the process's own, not inherited from a forking parent; without it, ``os.wait4``'s
``ru_maxrss``). The best wall time of ``--repeat`` runs is kept, and the peak RSS of that run.

    python bench/bench_diagnose.py [--pods N] [--events N] [--failing N] [--repeat N] [--output FORMAT]

The json baseline keeps every file's document alive to the end, as pulldoctor's snapshot does.
Aims: time ≤ 0.4× json.load, peak RSS < 0.5× json.load's. Not a timed test: figures vary by machine.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIME = "/usr/bin/time"

_GENERATE = r"""
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from bench_cluster import generate
print(json.dumps(generate(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))))
"""

_JSON_LOAD = "import json, sys; docs = [json.load(open(f, 'rb')) for f in sys.argv[1:]]"


def pulldoctor_argv(directory: Path, output: str) -> list[str]:
    """The console script next to this interpreter when it is installed, as a user runs it."""
    script = Path(sys.executable).with_name("pulldoctor")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "pulldoctor"]
    return [*head, "diagnose", "--from", str(directory), "--no-probe", "-o", output]


def run_once(argv: list[str], expect: set[int]) -> tuple[float, int]:
    """(wall seconds, peak RSS KiB) of one whole process; its output goes to a file, as to a pager."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        if os.access(TIME, os.X_OK):
            t = time.perf_counter()
            proc = subprocess.run([TIME, "-v", *argv], stdout=out, stderr=err, timeout=600, check=False)
            elapsed = time.perf_counter() - t
            err.seek(0)
            text = err.read().decode("utf-8", "replace")
            found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
            assert found, text[-2000:]
            peak, rc = int(found.group(1)), proc.returncode
        else:  # ru_maxrss may include this (small) process's peak: see the module docstring
            t = time.perf_counter()
            child = subprocess.Popen(argv, stdout=out, stderr=err)
            _, status, usage = os.wait4(child.pid, 0)
            elapsed = time.perf_counter() - t
            child.returncode = rc = os.waitstatus_to_exitcode(status)
            peak = usage.ru_maxrss
        if rc not in expect:
            err.seek(0)
            raise SystemExit(f"{argv[0]} exited {rc}: {err.read().decode('utf-8', 'replace')[-2000:]}")
        if out.tell() == 0 and expect != {0}:
            raise SystemExit(f"{argv[0]} wrote nothing")
    return elapsed, peak


def best(argv: list[str], expect: set[int], repeat: int) -> tuple[float, int]:
    runs = [run_once(argv, expect) for _ in range(repeat)]
    return min(runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--pods", type=int, default=10_000)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--failing", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--output", choices=("text", "json", "markdown"), default="text")
    ap.add_argument("--keep", metavar="DIR", help="generate into DIR (or reuse it when it has pods.json)")
    args = ap.parse_args()
    tmp = None
    if args.keep:
        d = Path(args.keep)
        d.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.mkdtemp(prefix="pulldoctor-bench-")
        d = Path(tmp)
    try:
        if not (d / "pods.json").exists():
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", _GENERATE, str(ROOT / "bench"), str(d), str(args.pods),
                            str(args.events), str(args.failing)], check=True, timeout=1200, stdout=subprocess.DEVNULL)
            print(f"generated in {time.perf_counter() - t:.1f} s", flush=True)
        files = sorted(str(f) for f in d.glob("*.json"))
        total = sum(Path(f).stat().st_size for f in files)
        how = "/usr/bin/time -v" if os.access(TIME, os.X_OK) else "os.wait4 ru_maxrss"
        print(f"{len(files)} files, {total / 2**20:.1f} MiB ({args.pods} pods, {args.events} events); "
              f"best of {args.repeat}, peak RSS by {how}")
        empty = best([sys.executable, "-c", "pass"], {0}, args.repeat)
        js = best([sys.executable, "-c", _JSON_LOAD, *files], {0}, args.repeat)
        argv = pulldoctor_argv(d, args.output)
        pd = best(argv, {0, 1}, args.repeat)
        print(f"python -c pass            : {empty[0]:.3f} s, peak RSS {empty[1] / 1024:.0f} MiB")
        print(f"python -c json.load(...)  : {js[0]:.3f} s, peak RSS {js[1] / 1024:.0f} MiB")
        print(f"pulldoctor diagnose --from DIR --no-probe -o {args.output}: {pd[0]:.3f} s, "
              f"peak RSS {pd[1] / 1024:.0f} MiB")
        print(f"ratio (time)  : {pd[0] / js[0]:.2f}x json.load  (target < 0.4x)")
        print(f"ratio (memory): {pd[1] / js[1]:.2f}x json.load  (target < 0.5x)")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
