"""``pulldoctor diagnose``: read the cluster (or files), find failing containers, probe, decide, render.

Exit codes: 0 no container fails to get its image, 1 at least one does, 2 bad usage or unreadable input.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pulldoctor.diagnosis import Evidence, Prober
    from pulldoctor.registry.models import ProbeRequest


def _want_color() -> bool:
    # https://no-color.org: any non-empty NO_COLOR disables colour.
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _live(args: argparse.Namespace) -> Prober:
    """Probe the registries now. The options (a malformed --hosts-dir is bad input) are read only when there
    is something to probe; an install without the registry part diagnoses from the cluster's evidence."""
    from pulldoctor.diagnosis import ProbeAnswers, probing

    def probe(wanted: Sequence[tuple[Evidence, ProbeRequest]]) -> ProbeAnswers:
        try:
            opts = probing.options(args.insecure_registry, args.ca_file, getattr(args, "hosts_dir", None))
            return probing.live(opts)(wanted)
        except ImportError as err:  # the registry part is missing from this install
            return ProbeAnswers([None] * len(wanted), "not probed (the registry client is not available)",
                                notes=[f"registries not probed: {err}"])
    return probe


def run(args: argparse.Namespace) -> int:
    from pulldoctor.cluster import SourceSpec, find_failing, load_snapshot
    from pulldoctor.diagnosis import run as diagnose
    from pulldoctor.errors import InputError

    spec = SourceSpec.from_args(args)
    snapshot = load_snapshot(spec)
    namespace = None if args.all_namespaces else args.namespace
    report = find_failing(snapshot, args.pod, namespace=namespace) if args.from_path else \
        find_failing(snapshot, args.pod)
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
    diagnosis = diagnose(report, snapshot, probe=None if args.no_probe else _live(args), notes=notes, as_of=as_of)

    from pulldoctor import render

    if args.output == "json":
        sys.stdout.write(render.json(diagnosis))
    elif args.output == "markdown":
        sys.stdout.write(render.markdown(diagnosis))
    else:
        width = min(shutil.get_terminal_size((80, 24)).columns, 100) if sys.stdout.isatty() else 80
        sys.stdout.write(render.text(diagnosis, color=_want_color(), width=width))
    return 1 if diagnosis.findings else 0
