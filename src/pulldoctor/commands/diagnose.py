"""``pulldoctor diagnose``: read the cluster (or files), find failing containers, probe, decide, render.

Exit codes: 0 no container fails to get its image, 1 at least one does, 2 bad usage or unreadable input
(an empty scope too: nothing was judged, most often a mistyped namespace).
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pulldoctor.commands.progress import Progress

if TYPE_CHECKING:
    from pulldoctor.diagnosis import Evidence, Prober
    from pulldoctor.registry.models import ProbeRequest


def _want_color() -> bool:
    # https://no-color.org: any non-empty NO_COLOR disables colour.
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _live(args: argparse.Namespace, progress: Progress | None = None) -> Prober:
    """Probe the registries now. The options (a malformed --hosts-dir is bad input) are read only when there
    is something to probe; an install without the registry part diagnoses from the cluster's evidence."""
    from pulldoctor.diagnosis import ProbeAnswers, probing

    def probe(wanted: Sequence[tuple[Evidence, ProbeRequest]]) -> ProbeAnswers:
        cap = probing.BATCH_DEADLINE
        tick = None
        if progress is not None:
            progress.step(f"probing registries for {len(wanted)} container(s) (at most {cap:.0f}s)")

            def tick(done: int, total: int) -> None:
                progress.count("probing registries", done, total, cap)
        try:
            opts = probing.options(args.insecure_registry, args.ca_file, getattr(args, "hosts_dir", None),
                                   getattr(args, "registries_conf", None))
            return probing.live(opts, cap, progress=tick)(wanted)
        except ImportError as err:  # the registry part is missing from this install
            return ProbeAnswers([None] * len(wanted), "not probed (the registry client is not available)",
                                notes=[f"registries not probed: {err}"])
    return probe


def run(args: argparse.Namespace) -> int:
    progress = Progress()
    try:
        return _run(args, progress)
    finally:
        progress.done()   # the output, or an error line, starts at the left margin


def _run(args: argparse.Namespace, progress: Progress) -> int:
    from pulldoctor.cluster import SourceSpec, find_failing, load_snapshot
    from pulldoctor.diagnosis import run as diagnose
    from pulldoctor.errors import InputError

    providers = None
    if args.credential_provider_config:
        from pulldoctor.cloud.providers import load_config

        providers = load_config(args.credential_provider_config)
    spec = SourceSpec.from_args(args)
    progress.step(f"reading {args.from_path}" if args.from_path else
                  f"reading the cluster (each request at most {spec.request_timeout:.0f}s)")
    snapshot = load_snapshot(spec)
    progress.step(f"finding the failing containers of {len(snapshot.pods)} pod(s)")
    namespace = None if args.all_namespaces else args.namespace
    report = find_failing(snapshot, args.pod, namespace=namespace) if args.from_path else \
        find_failing(snapshot, args.pod)
    # What was read (a million objects for 100,000 events) lives until the command ends and holds no
    # reference cycles: frozen, it is not walked again by every collection while deciding and rendering
    # (70 ms for 100,000 events). ``cli.main`` unfreezes it when the command is over.
    gc.freeze()
    if args.pod and not report.pods_seen:
        where = f"namespace {namespace}" if namespace else ("the input" if args.from_path else "the cluster")
        raise InputError(f"no pod named {args.pod} in {where}")
    if not report.pods_seen:
        # Nothing was judged: neither "nothing is wrong" (0) nor "problems found" (1). Like an absent pod, an
        # empty scope is most often a mistyped namespace or the wrong input: exit 2, saying what was not seen.
        from pulldoctor.cluster.namespaces import nothing_seen

        raise InputError(nothing_seen(snapshot, spec))
    as_of = snapshot.taken_at if args.from_path else None
    notes = [f"judged as of {as_of.strftime('%Y-%m-%d %H:%M:%SZ')} ({snapshot.taken_how}), not now: ages and "
             "back-offs are the snapshot's"] if as_of is not None else []
    probe = None if args.no_probe else _live(args, progress)
    cloud = None
    if not args.no_cloud:
        from pulldoctor.diagnosis import cloudstep

        cloud = cloudstep.aws()
    node_logs = None
    if args.node_logs or snapshot.attachments:
        from datetime import UTC, datetime

        from pulldoctor.nodelogs import read_for

        node_logs = read_for(args.node_logs, snapshot.nodes, report.failing, now=as_of or datetime.now(UTC),
                             attachments=snapshot.attachments, bundle=os.path.basename(args.from_path or ""),
                             kubeconfig=args.kubeconfig, context=args.context,
                             request_timeout=args.request_timeout)
    diagnosis = diagnose(report, snapshot, probe=probe, notes=notes, as_of=as_of, providers=providers, cloud=cloud,
                         node_logs=node_logs)
    progress.step(f"writing the diagnosis of {len(diagnosis.findings)} container(s)")

    if args.output == "json":
        from pulldoctor.render.json import render as as_json

        out = as_json(diagnosis)
    elif args.output == "markdown":
        from pulldoctor.render.markdown import render as as_markdown

        out = as_markdown(diagnosis)
    else:
        width = min(shutil.get_terminal_size((80, 24)).columns, 100) if sys.stdout.isatty() else 80
        # The whole story of every container with -v, or when one pod is asked for; else what fits a screen.
        brief = not (getattr(args, "verbose", False) or args.pod)
        from pulldoctor.render.text import render as as_text

        out = as_text(diagnosis, color=_want_color(), width=width, brief=brief)
    progress.done()
    sys.stdout.write(out)
    return 1 if diagnosis.findings else 0
