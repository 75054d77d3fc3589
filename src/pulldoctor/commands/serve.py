"""``pulldoctor serve``: run the Prometheus exporter until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from pulldoctor.errors import UsageError


def config_from_args(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from pulldoctor.cluster.snapshot import SourceSpec
    from pulldoctor.exporter.config import ExporterConfig, parse_duration, parse_listen

    scope = SourceSpec.from_args(args)  # -n/-A/--context/--kubeconfig/--request-timeout as diagnose reads them
    host, port = parse_listen(args.listen)
    if args.ca_file and not os.path.isfile(args.ca_file):
        raise UsageError(f"--ca-file {args.ca_file}: no such file")
    if args.hosts_dir:
        # Read now, so a malformed hosts.toml is one line and exit 2 before anything connects.
        from pulldoctor.registry.hosts import load

        load(args.hosts_dir)
    return ExporterConfig(
        listen_host=host,
        listen_port=port,
        namespace=scope.namespace,
        all_namespaces=scope.all_namespaces,
        context=scope.context,
        kubeconfig=scope.kubeconfig,
        probe_interval=parse_duration(args.probe_interval),
        probe=not args.no_probe,
        insecure_registries=tuple(args.insecure_registry or ()),
        ca_file=args.ca_file,
        hosts_dir=args.hosts_dir,
        request_timeout=scope.request_timeout,
        findings_endpoint=bool(args.findings_endpoint),
    )


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    from pulldoctor.logfmt import configure

    configure(sys.stderr, logging.INFO)  # messages quote the API server: masked, escaped, one line each
    from pulldoctor.exporter import Exporter

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        logging.getLogger("pulldoctor.exporter").info("signal %d: shutting down", signum)
        stop.set()

    try:
        exporter = Exporter(config)
    except OSError as err:  # the listen address is taken or not ours
        raise UsageError(f"cannot listen on {args.listen}: {err.strerror or err}") from None
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        exporter.start()
        exporter.wait(stop)
    finally:
        exporter.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0
