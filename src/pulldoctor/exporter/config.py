"""The exporter's settings, parsed once from the command line into one frozen value.

Kept apart from the command so that tests and the benchmark can build an exporter without argparse.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from pulldoctor.errors import UsageError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """``"90s"``, ``"5m"``, ``"1h30m"`` or a bare number of seconds → seconds (> 0).

    Go-style units because the people who run this also write ``kubectl --request-timeout=30s``.
    """
    raw = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", raw):
        seconds = float(raw)
    else:
        pos, seconds = 0, 0.0
        for m in _DURATION.finditer(raw):
            if m.start() != pos:
                break
            seconds += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
            pos = m.end()
        if pos != len(raw) or not raw:
            raise UsageError(f"invalid duration {text!r}: use e.g. 30s, 5m, 1h")
    if seconds <= 0 or seconds > 7 * 24 * 3600:
        raise UsageError(f"invalid duration {text!r}: must be more than 0 and at most a week")
    return seconds


def parse_listen(text: str) -> tuple[str, int]:
    """``"0.0.0.0:9754"``, ``"127.0.0.1:0"``, ``"[::1]:9754"`` or ``":9754"`` → (host, port)."""
    raw = text.strip()
    host, sep, port_text = raw.rpartition(":")
    if not sep or not port_text.isdigit():
        raise UsageError(f"invalid --listen {text!r}: expected ADDR:PORT, e.g. 0.0.0.0:9754")
    port = int(port_text)
    if port > 65535:
        raise UsageError(f"invalid --listen {text!r}: port must be 0-65535")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host == "":
        host = "0.0.0.0"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            raise UsageError(f"invalid --listen {text!r}: ADDR must be an IP address or localhost") from None
    return host, port


@dataclass(frozen=True, slots=True)
class ExporterConfig:
    """What ``pulldoctor serve`` was asked to do."""

    listen_host: str = "0.0.0.0"
    listen_port: int = 9754
    namespace: str | None = None          # None with all_namespaces False: the context's namespace
    all_namespaces: bool = False
    context: str | None = None
    kubeconfig: str | None = None
    probe_interval: float = 300.0
    probe: bool = True
    # ECR IAM evidence (pulldoctor[aws], docs/cloud.md): on when the extra and AWS credentials are there;
    # answers are cached per node, role and repository for ``probe_interval``.
    cloud: bool = True
    cloud_budget: float = 10.0              # seconds of AWS reads per diagnosis batch, at most
    insecure_registries: tuple[str, ...] = ()
    ca_file: str | None = None
    request_timeout: float = 30.0           # one list page or object GET as a whole (watches are long-lived)
    hosts_dir: str | None = None            # the nodes' containerd certs.d, as for diagnose/probe
    # Watch tuning. Defaults follow client-go's reflector: a server-side watch timeout so a silent
    # connection is renewed, and a bounded exponential back-off on errors (1 s doubling to 30 s).
    watch_timeout: float = 300.0
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    page_size: int = 500
    # The HTTP server (exporter/server.py). /findings quotes the cluster's messages, so it is opt-in.
    findings_endpoint: bool = False
    header_timeout: float = 5.0             # connect → complete request head, else the connection is dropped
    max_connections: int = 1024             # open at once (and at most the fd limit less 64)
    metrics_ttl: float = 2.0                # a /metrics rendering is reused this long while nothing changed
