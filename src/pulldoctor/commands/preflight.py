"""``pulldoctor preflight PATH… [-f -]``: will these manifests' pods get their images? A gate before deploy.

Exit 0 clean, 1 on errors (or on warnings too with ``--fail-on warning``), 2 on bad input: unreadable or
unrendered manifests, a bad ``--platform`` or ``--docker-config``, a cluster (``--context``) out of reach.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from pulldoctor.errors import UsageError

if TYPE_CHECKING:
    from pulldoctor.keyring import Entry
    from pulldoctor.registry.manifest import Platform

MAX_PLATFORMS = 16


def platforms(text: str) -> list[Platform]:
    """``linux/amd64,linux/arm64`` → platforms, in order, without repeats."""
    from pulldoctor.registry.manifest import parse_platform

    out: list[Platform] = []
    for part in text.split(","):
        if not part.strip():
            continue
        p = parse_platform(part)
        if p not in out:
            out.append(p)
    if not out:
        raise UsageError(f"--platform needs OS/ARCH[,OS/ARCH…], got {text!r}")
    if len(out) > MAX_PLATFORMS:
        raise UsageError(f"--platform lists more than {MAX_PLATFORMS} platforms")
    return out


def node_entries(path: str) -> list[Entry]:
    """The node's own credentials (``--docker-config``): tried after the pod's secrets, as the kubelet does."""
    from pulldoctor.keyring import entries_from_docker_config_file

    return entries_from_docker_config_file(path)


def run(args: argparse.Namespace) -> int:
    from pulldoctor.preflight import preflight
    from pulldoctor.preflight.output import render_json, render_sarif, render_text

    plats = platforms(args.platform) if args.platform is not None else None
    cluster = None
    if args.context or args.kubeconfig:
        from pulldoctor.cluster.snapshot import SourceSpec

        cluster = SourceSpec(context=args.context, kubeconfig=args.kubeconfig, request_timeout=args.request_timeout)
    entries = node_entries(args.docker_config) if args.docker_config else []
    from pulldoctor.preflight.probes import options

    opts = options(args.insecure_registry, args.ca_file, args.hosts_dir)  # checked even with --no-probe
    paths = [*args.paths, *(args.filename or [])]
    report = preflight(paths, platforms=plats, node_entries=entries, probe_options=None if args.no_probe else opts,
                       namespace=args.namespace or "default", cluster=cluster)
    render = {"json": render_json, "sarif": render_sarif}.get(args.output, render_text)
    sys.stdout.write(render(report))
    return report.exit_code(args.fail_on)
