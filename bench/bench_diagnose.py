"""Benchmark: the whole ``pulldoctor diagnose --from DIR --no-probe`` process vs a whole ``python -c
"import json; json.load(…)"`` process over the same files, in the same run.

This is the figure users feel: interpreter start, imports, reading, finding, deciding and rendering, not
just the in-process load that ``bench_cluster.py`` times. The cluster is ``bench_cluster.generate``'s
(10,000 pods of ~4 KB, 100,000 events, 300 pods that cannot get their image). The data is generated in a
child process so that this process stays small; each measured process is started under ``/usr/bin/time -v``
(its peak RSS is the process's own, not inherited from a forking parent; without it, ``os.wait4``'s
``ru_maxrss``). The best wall time of ``--repeat`` runs is kept, and the peak RSS of that run.

Bytecode: a pip-installed pulldoctor has its ``.pyc`` files, an editable one run with
``PYTHONDONTWRITEBYTECODE=1`` compiles every module at every start (~70 ms here). So the measured processes
get a private ``PYTHONPYCACHEPREFIX`` and one untimed warm-up run each; ``--as-is`` keeps the environment.

    python bench/bench_diagnose.py [--pods N] [--events N] [--failing N] [--repeat N] [--output FORMAT]
                                   [--keep DIR] [--as-is] [--baseline-src SRC]

``--baseline-src`` times the same command with another checkout's ``src`` first on PYTHONPATH (before and
after a change, in one run): ``git archive main src | tar -x -C /tmp/base`` then ``--baseline-src /tmp/base/src``.

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
from typing import NamedTuple

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


class Run(NamedTuple):
    wall: float   # seconds, start to exit
    cpu: float    # user + system seconds (steadier than wall on a shared machine)
    peak: int     # peak RSS, KiB


def run_once(argv: list[str], expect: set[int], env: dict[str, str]) -> Run:
    """One whole process; its output goes to a file, as to a pager."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        if os.access(TIME, os.X_OK):
            t = time.perf_counter()
            proc = subprocess.run([TIME, "-v", *argv], stdout=out, stderr=err, timeout=600, check=False, env=env)
            elapsed = time.perf_counter() - t
            err.seek(0)
            text = err.read().decode("utf-8", "replace")
            fields = dict(re.findall(r"^\s*([^:\n]+): (\S+)$", text, re.M))
            assert "Maximum resident set size (kbytes)" in fields, text[-2000:]
            peak, rc = int(fields["Maximum resident set size (kbytes)"]), proc.returncode
            cpu = float(fields["User time (seconds)"]) + float(fields["System time (seconds)"])
        else:  # ru_maxrss may include this (small) process's peak: see the module docstring
            t = time.perf_counter()
            child = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
            _, status, usage = os.wait4(child.pid, 0)
            elapsed = time.perf_counter() - t
            child.returncode = rc = os.waitstatus_to_exitcode(status)
            peak, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
        if rc not in expect:
            err.seek(0)
            raise SystemExit(f"{argv[0]} exited {rc}: {err.read().decode('utf-8', 'replace')[-2000:]}")
        if out.tell() == 0 and expect != {0}:
            raise SystemExit(f"{argv[0]} wrote nothing")
    return Run(elapsed, cpu, peak)


Command = tuple[str, list[str], set[int], dict[str, str]]  # label, argv, exit codes expected, environment


def best_of(commands: list[Command], repeat: int, warm: bool) -> list[Run]:
    """The fastest run of each command; the commands take turns, so a busy moment hits them alike."""
    if warm:
        for _, argv, expect, env in commands:
            run_once(argv, expect, env)
    runs: list[list[Run]] = [[] for _ in commands]
    for _ in range(repeat):
        for i, (_, argv, expect, env) in enumerate(commands):
            runs[i].append(run_once(argv, expect, env))
    return [min(r) for r in runs]


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--pods", type=int, default=10_000)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--failing", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--output", choices=("text", "json", "markdown"), default="text")
    ap.add_argument("--keep", metavar="DIR", help="generate into DIR (or reuse it when it has pods.json)")
    ap.add_argument("--as-is", action="store_true", help="no private bytecode cache and no warm-up run")
    ap.add_argument("--baseline-src", metavar="SRC", help="also time pulldoctor imported from SRC (PYTHONPATH)")
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
              f"best of {args.repeat}, peak RSS by {how}, "
              f"{'environment as is' if args.as_is else 'bytecode cached, after a warm-up run'}")
        env = dict(os.environ)
        if not args.as_is:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp or tempfile.gettempdir(), "pulldoctor-bench-pycache"))
        label = f"pulldoctor diagnose --from DIR --no-probe -o {args.output}"
        commands: list[Command] = [
            ("python -c pass", [sys.executable, "-c", "pass"], {0}, env),
            ("python -c json.load(…)", [sys.executable, "-c", _JSON_LOAD, *files], {0}, env),
            (label, pulldoctor_argv(d, args.output), {0, 1}, env),
        ]
        if args.baseline_src:  # the same command on other sources (say, main's), in the same run
            base_env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, (args.baseline_src,
                                                                           env.get("PYTHONPATH"))))}
            commands.append((f"  … with {args.baseline_src}", pulldoctor_argv(d, args.output), {0, 1}, base_env))
        results = best_of(commands, args.repeat, not args.as_is)
        js = results[1]
        for (name, *_), r in zip(commands, results, strict=True):
            print(f"{name:<58}: {r.wall:.3f} s (cpu {r.cpu:.2f} s), peak RSS {r.peak / 1024:.0f} MiB")
        for (name, *_), r in list(zip(commands, results, strict=True))[2:]:
            print(f"{name.strip()}: time {r.wall / js.wall:.2f}x json.load, cpu {r.cpu / js.cpu:.2f}x "
                  f"(target < 0.4x); peak RSS {r.peak / js.peak:.2f}x (target < 0.5x)")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
