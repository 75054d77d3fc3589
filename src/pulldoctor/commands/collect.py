"""``pulldoctor collect -o BUNDLE.tar.gz``: a support bundle of what the diagnosis uses, safe to share.

Secrets are reduced to their type and the registries they cover; no credential value is written.
``pulldoctor diagnose --from BUNDLE.tar.gz`` reads it back. See ``cluster/bundle.py`` for the contents.
"""

from __future__ import annotations

import argparse
import sys


def run(args: argparse.Namespace) -> int:
    from pulldoctor.cli import error_line
    from pulldoctor.cluster import SourceSpec, load_snapshot
    from pulldoctor.cluster.bundle import write_bundle

    spec = SourceSpec.from_args(args)
    snapshot = load_snapshot(spec)
    scope = {"source": snapshot.source, "namespace": None if spec.all_namespaces else spec.namespace,
             "all_namespaces": spec.all_namespaces, "context": spec.context}
    attachments = None
    if args.node_logs:
        from datetime import UTC, datetime

        from pulldoctor.cluster import find_failing
        from pulldoctor.nodelogs import read_for
        from pulldoctor.nodelogs.carry import to_members

        logs = read_for(args.node_logs, snapshot.nodes, find_failing(snapshot).failing, now=datetime.now(UTC),
                        kubeconfig=args.kubeconfig, context=args.context, request_timeout=args.request_timeout)
        attachments = to_members(logs)
        snapshot.notes.extend(logs.notes)
    manifest = write_bundle(snapshot, args.output, scope, attachments)
    c = manifest["counts"]
    sys.stdout.write(
        f"wrote {args.output}: {c['pods']} pods, {c['events']} image events, {c['nodes']} nodes, "
        f"{c['service_accounts']} service accounts, {c['secrets']} pull secrets (registry names only)"
        + (f", {c['node_logs']} nodes' log lines and settings" if "node_logs" in c else "") + "\n"
    )
    for note in snapshot.notes:  # notes quote the API server's messages: one safe line each
        sys.stderr.write(f"note: {error_line(note)}\n")
    return 0
