"""Node evidence: the kubelet's and the runtime's own logs and settings (``diagnose --node-logs``).

``load(specs, snapshot.nodes)`` (its readers load on first use, so importing the types costs nothing)
reads EKS log collector archives, directories of them and ``NODE=FILE``
journal exports into ``NodeLogs`` (per node: the lines that say something about a pull, and the settings
that decide one); ``for_container`` picks a failing container's lines, by image and by the time of its pull
attempts. The diagnosis reads them as a second, independent source (docs/node-logs.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pulldoctor.nodelogs.model import (
    DEADLINE_KINDS,
    MAX_TAIL_BYTES,
    DiskFree,
    Hit,
    Kind,
    NodeLog,
    NodeLogs,
    Setting,
    Settings,
    go_seconds,
)

if TYPE_CHECKING:
    from pulldoctor.cluster.bundle import TarLimits
    from pulldoctor.cluster.failing import FailingContainer
    from pulldoctor.cluster.model import Node

__all__ = ["DEADLINE_KINDS", "MAX_TAIL_BYTES", "DiskFree", "Hit", "Kind", "NodeLog", "NodeLogs", "Setting",
           "Settings", "for_container", "go_seconds", "load", "read_for", "same_image"]

#: A line naming the image counts from this long before the first attempt (a slow pull began earlier) …
NAMED_BEFORE = timedelta(hours=1)
#: … a line naming none (CRI-O's timeout, ENOSPC) only this close to an attempt.
UNNAMED_SLACK = timedelta(minutes=2)
AFTER = timedelta(minutes=5)


def _norm(image: str) -> str:
    """``docker.io/library/nginx`` and ``nginx:latest`` alike: how runtimes and pod specs write one image."""
    image = image.strip().strip('"')
    for prefix in ("docker.io/", "index.docker.io/", "registry-1.docker.io/"):
        if image.startswith(prefix):
            image = image[len(prefix):]
            if image.startswith("library/"):
                image = image[len("library/"):]
            break
    last = image.rsplit("/", 1)[-1]
    if "@" not in image and ":" not in last:
        image += ":latest"
    return image


def same_image(a: str, b: str) -> bool:
    return _norm(a) == _norm(b)


def for_container(log: NodeLog, images: Iterable[str], start: datetime | None, end: datetime | None) -> list[Hit]:
    """The hits of ``log`` about a container's pull: lines naming one of ``images`` in the window of its
    attempts ([start, end]; any time when the events are gone), and lines naming no image close to an
    attempt. Oldest first."""
    wanted = {_norm(i) for i in images}
    out = []
    for h in log.hits:
        if h.image is not None:
            if _norm(h.image) not in wanted:
                continue
            if start is not None and end is not None and h.at is not None \
                    and not start - NAMED_BEFORE <= h.at <= end + AFTER:
                continue
        elif start is None or end is None or h.at is None \
                or not start - UNNAMED_SLACK <= h.at <= end + UNNAMED_SLACK:
            continue
        out.append(h)
    return out


def load(specs: Iterable[str], nodes: Mapping[str, Node], *, now: datetime | None = None,
         cap: int = MAX_TAIL_BYTES, limits: TarLimits | None = None) -> NodeLogs:
    """``sources.load``: read every ``--node-logs`` path and ``NODE=FILE``. The readers (tarfile, TOML,
    YAML, the bundle's guards) load here, not when the diagnosis imports this package's types."""
    from pulldoctor.nodelogs.sources import ARCHIVE_LIMITS
    from pulldoctor.nodelogs.sources import load as read

    return read(list(specs), nodes, now=now, cap=cap, limits=limits or ARCHIVE_LIMITS)


def read_for(specs: Iterable[str], snapshot_nodes: Mapping[str, Node], failing: Iterable[FailingContainer], *,
             now: datetime, attachments: Mapping[str, bytes] | None = None, bundle: str = "bundle",
             kubeconfig: str | None = None, context: str | None = None,
             request_timeout: float = 30.0) -> NodeLogs:
    """Every node-log source of one run, as ``diagnose`` and ``collect`` take them: ``--node-logs`` paths and
    ``NODE=FILE``s, ``api`` (the node log query, for the nodes of the failing containers, from an hour before
    their first attempt), and the ``nodelogs/`` members a bundle carried."""
    from pulldoctor.nodelogs.carry import from_members
    from pulldoctor.nodelogs.live import read_live

    specs = list(specs)
    logs = load([s for s in specs if s != "api"], snapshot_nodes, now=now)
    if attachments:
        from_members(attachments, logs, now=now, bundle=bundle)
    if "api" in specs:
        windows: dict[str, datetime | None] = {}
        for fc in failing:
            if not fc.node:
                continue
            w = fc.timeline.attempt_window
            old = windows.get(fc.node)
            windows[fc.node] = w[0] if w is not None and (old is None or w[0] < old) else old
        read_live(windows, logs, now=now, kubeconfig=kubeconfig, context=context, request_timeout=request_timeout)
    return logs
