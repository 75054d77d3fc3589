"""Benchmark: ``load_snapshot`` + ``find_failing`` (with timelines) vs a bare ``json.load`` of the same files;
with ``--process``, the whole ``pulldoctor diagnose --from DIR --no-probe`` process vs a whole
``python -c "import json; json.load(…)"`` process.

Generates a cluster as ``kubectl get pods -A -o json`` (and events, nodes) writes it: by default 10,000
pods (~4 KB each, managedFields included), 100,000 events, 300 pods that cannot get their image (init
containers among them) with unschedulable pods and CrashLoopBackOff mixed in. Each measurement runs in a
fresh interpreter (so peak RSS is its own); the best time of ``--repeat`` runs is kept.

    python bench/bench_cluster.py [--pods N] [--events N] [--failing N] [--repeat N]
    python bench/bench_cluster.py --process [--output FORMAT] [--keep DIR] [--as-is] [--baseline-src SRC]

In-process (the default): the load alone, target ≤ 0.5× json.load.

``--process`` is the figure users feel: interpreter start, imports, reading, finding, deciding and
rendering. The data is generated in a child process so that this one stays small; each measured process
runs under ``/usr/bin/time -v`` (its peak RSS is its own, not a forking parent's; without it,
``os.wait4``'s ``ru_maxrss``), and the commands take turns. Bytecode: a pip-installed pulldoctor has its
``.pyc`` files, while an editable one under ``PYTHONDONTWRITEBYTECODE=1`` compiles every module at every
start (~70 ms), so the processes get a private ``PYTHONPYCACHEPREFIX`` and one untimed warm-up run each
(``--as-is`` keeps the environment). The json baseline keeps every document alive to the end, as the
snapshot does. ``--baseline-src SRC`` also times the command with another checkout's ``src`` first on
PYTHONPATH, in the same run (``git archive main src | tar -x -C /tmp/base``, then ``--baseline-src
/tmp/base/src``). Targets: time < 0.4× json.load, peak RSS < 0.5× json.load's.

Prints one line per measurement and the ratios. Not a timed test: figures vary by machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from kubeapi import objects as o

TIME = "/usr/bin/time"
REASONS = ["ImagePullBackOff", "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"]


def generate(directory: Path, pods: int, events: int, failing: int, seed: int = 7) -> dict[str, int]:
    rnd = random.Random(seed)
    pod_objs, ev_objs = [], []
    n_unsched, n_crash = failing * 2 // 3, failing
    for i in range(pods):
        ns = f"team-{i % 40}"
        name = f"svc{i % 500}-{i:05d}-x{rnd.randrange(16**5):05x}"
        image = f"registry.example.com/team-{i % 40}/svc{i % 500}:{rnd.randrange(100)}"
        kw: dict = {"node": f"node-{i % 100}", "owner": ("ReplicaSet", f"svc{i % 500}-7d9f"), "bulky": True}
        if i < failing:
            reason = REASONS[i % len(REASONS)]
            msg = f'Back-off pulling image "{image}": ErrImagePull: failed to pull and unpack image: 401 Unauthorized'
            if i % 3 == 0:  # an init container cannot get its image
                p = o.pod(name, ns, init_containers=[o.container("init", image)],
                          containers=[o.container("app", image)],
                          init_statuses=[o.waiting("init", image, reason, msg)],
                          statuses=[o.waiting("app", image, "PodInitializing")], **kw)
                section, cname = "initContainers", "init"
            else:
                p = o.pod(name, ns, containers=[o.container("app", image)],
                          statuses=[o.waiting("app", image, reason, msg)], **kw)
                section, cname = "containers", "app"
            ev_objs += [
                o.event(p, "Pulling", f'Pulling image "{image}"', container=cname, section=section, count=6,
                        first=0, last=900),
                o.event(p, "Failed", f'Failed to pull image "{image}": 401 Unauthorized', container=cname,
                        section=section, count=6, first=1, last=901),
                o.event(p, "Failed", "Error: ErrImagePull", container=cname, section=section, count=6, first=1,
                        last=901),
                o.event(p, "BackOff", f'Back-off pulling image "{image}"', container=cname, section=section,
                        count=40, first=2, last=1000),
            ]
        elif i < failing + n_unsched:
            p = o.pod(name, ns, unschedulable=True, node=None, bulky=True)
        elif i < failing + n_unsched + n_crash:
            p = o.pod(name, ns, phase="Running", containers=[o.container("app", image)],
                      statuses=[o.waiting("app", image, "CrashLoopBackOff", "back-off 5m0s", restarts=30)], **kw)
        else:
            p = o.pod(name, ns, phase="Running", containers=[o.container("app", image)],
                      statuses=[o.running("app", image)], **kw)
        pod_objs.append(p)
    normal = [("Scheduled", "Successfully assigned to node"), ("Pulled", 'Container image "x" already present'),
              ("Created", "Created container app"), ("Started", "Started container app")]
    while len(ev_objs) < events:
        p = pod_objs[rnd.randrange(failing, pods)]
        reason, msg = normal[len(ev_objs) % len(normal)]
        ev_objs.append(o.event(p, reason, msg, container=None if reason == "Scheduled" else "app",
                               first=rnd.randrange(3600)))
    nodes = [o.node(f"node-{i}", images=[f"registry.example.com/base/img{j}:1" for j in range(30)])
             for i in range(100)]
    sizes = {}
    for fname, objs in (("pods.json", pod_objs), ("events.json", ev_objs[:events]), ("nodes.json", nodes)):
        data = json.dumps(o.as_list(objs), indent=4)  # kubectl indents with 4 spaces
        (directory / fname).write_text(data)
        sizes[fname] = len(data)
        if fname == "pods.json":
            sizes["pod_compact"] = len(json.dumps(pod_objs[-1]))
    return sizes


_MEASURE = r"""
import gc, json, resource, sys, time
from pathlib import Path
d = Path(sys.argv[1]); mode = sys.argv[2]
import pulldoctor.cluster as c  # imported in both modes: the same baseline
def hwm():  # VmHWM resets at exec, unlike ru_maxrss which keeps the parent's peak across fork+exec
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
base = hwm()
t = time.perf_counter()
if mode == "json":
    docs = [json.load(open(f, "rb")) for f in sorted(d.glob("*.json"))]
    n = sum(len(x["items"]) for x in docs)
else:
    snap = c.load_snapshot(d)
    rep = c.find_failing(snap)
    n = len(rep.failing)
    assert all(f.timeline.attempts for f in rep.failing), "timelines missing"
elapsed = time.perf_counter() - t
peak = hwm() - base
print(json.dumps({"seconds": elapsed, "peak_kib": peak, "n": n}))
"""


def measure(directory: Path, mode: str, repeat: int) -> dict:
    best: dict | None = None
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", _MEASURE, str(directory), mode], capture_output=True,
                             text=True, check=True, timeout=600)
        r = json.loads(out.stdout)
        if best is None or r["seconds"] < best["seconds"]:
            best = r
    assert best is not None
    return best


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


def process_main(args: argparse.Namespace) -> int:
    """``--process``: whole processes, pulldoctor's against json.load's (see the module docstring)."""
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
            subprocess.run([sys.executable, __file__, "--generate-into", str(d), "--pods", str(args.pods),
                            "--events", str(args.events), "--failing", str(args.failing)],
                           check=True, timeout=1200, stdout=subprocess.DEVNULL)
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pods", type=int, default=10_000)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--failing", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--process", action="store_true", help="time whole processes: pulldoctor diagnose vs json.load")
    ap.add_argument("--output", choices=("text", "json", "markdown"), default="text", help="with --process")
    ap.add_argument("--keep", metavar="DIR", help="with --process: generate into DIR (or reuse it)")
    ap.add_argument("--as-is", action="store_true", help="with --process: no bytecode cache, no warm-up run")
    ap.add_argument("--baseline-src", metavar="SRC", help="with --process: also time pulldoctor from SRC")
    ap.add_argument("--generate-into", metavar="DIR", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate_into:
        generate(Path(args.generate_into), args.pods, args.events, args.failing)
        return 0
    if args.process:
        return process_main(args)
    with tempfile.TemporaryDirectory(prefix="pulldoctor-bench-") as tmp:
        d = Path(tmp)
        t = time.perf_counter()
        sizes = generate(d, args.pods, args.events, args.failing)
        total = sum(v for k, v in sizes.items() if k.endswith(".json"))
        print(f"generated {args.pods} pods ({sizes['pod_compact'] / 1024:.1f} KiB each compact, "
              f"{sizes['pods.json'] / args.pods / 1024:.1f} KiB as kubectl indents it), "
              f"{args.events} events, 100 nodes: {total / 2**20:.1f} MiB in {time.perf_counter() - t:.1f} s")
        js = measure(d, "json", args.repeat)
        pd = measure(d, "pulldoctor", args.repeat)
        print(f"json.load                     : {js['seconds']:.3f} s, peak RSS +{js['peak_kib'] / 1024:.0f} MiB "
              f"({js['n']} objects)")
        print(f"load_snapshot + find_failing  : {pd['seconds']:.3f} s, peak RSS +{pd['peak_kib'] / 1024:.0f} MiB "
              f"({pd['n']} failing containers, with timelines)")
        print(f"ratio (time)  : {pd['seconds'] / js['seconds']:.2f}x json.load  (target <= 0.5x)")
        print(f"ratio (memory): {pd['peak_kib'] / max(js['peak_kib'], 1):.2f}x json.load")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
