"""What a node's own logs and settings say about its image pulls: the lines found (``Hit``), the settings
read (``Settings``) and, per node, both with where they came from (``NodeLog``). Plain data, no reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Kind(StrEnum):
    """Which line a hit is (the runtimes' and the kubelet's own wording; scan.py cites each source)."""

    DOCKERSHIM_CANCEL = "dockershim_cancel"     # Cancel pulling image %q because of no progress for %v, …
    CONTAINERD_CANCEL = "containerd_cancel"     # cancel pulling image %s because of no progress in %v
    CONTAINERD_STOP = "containerd_stop"         # stop pulling image %s: active requests=%v, bytes read=%v
    CRIO_TIMEOUT = "crio_timeout"               # Timed out on waiting up to %s for image pull progress updates
    PULL_FAILED = "pull_failed"                 # the kubelet's PullImage … from image service failed: ERROR
    QPS = "qps"                                 # pull QPS exceeded
    NO_SPACE = "no_space"                       # no space left on device
    CREDENTIAL_PROVIDER = "credential_provider"  # the kubelet's credential provider plugin failed


#: Bytes of log tail read per node, all its logs together.
MAX_TAIL_BYTES = 64 << 20

#: The kinds that show a no-progress deadline cancelling a pull. containerd's "stop pulling image" is not
#: one: it ends every pull, cancelled or not; it says how many bytes were read.
DEADLINE_KINDS = frozenset({Kind.DOCKERSHIM_CANCEL, Kind.CONTAINERD_CANCEL, Kind.CRIO_TIMEOUT})


@dataclass(frozen=True, slots=True)
class Hit:
    """One log line that says something about a pull. ``text`` is the line's message as read (escape it
    before printing); ``error`` the kubelet's full runtime error for PULL_FAILED."""

    kind: Kind
    node: str
    unit: str                     # kubelet, containerd, docker, crio
    at: datetime | None           # the journal's time of the line (UTC); None when the line has none
    image: str | None             # the image the line names, as written there
    text: str
    source: str                   # "eks_i-0abc….tar.gz:kubelet/kubelet.log", "node-a=journal.txt"
    error: str | None = None
    deadline: str | None = None   # "1m0s", "5m0s"
    bytes_read: int | None = None
    progress: str | None = None   # dockershim's latest progress


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting of the node as read: its name, its value (None: not set, the default applies) and where
    it lives (file and section, or the flag's unit file)."""

    name: str
    value: str | None
    where: str


@dataclass(slots=True)
class DiskFree:
    """The filesystem of the image store, from ``df``: mount point, size, available, use% (and inodes)."""

    mount: str
    size: str
    avail: str
    use_percent: int
    inode_use_percent: int | None = None


@dataclass(slots=True)
class Settings:
    """The node's settings that decide a pull. Every field None when the source did not carry it."""

    runtime: str | None = None                 # "containerd 1.7.11" (containerd-version.txt)
    progress_timeout: Setting | None = None    # image_pull_progress_timeout / pull_progress_timeout
    max_concurrent_downloads: Setting | None = None
    registry_config_path: Setting | None = None
    kubelet: dict[str, Setting] = field(default_factory=dict)  # flag or config name -> setting
    disk: DiskFree | None = None


@dataclass(slots=True)
class NodeLog:
    """Everything read for one node: its hits, settings, the time range of the lines read and how much."""

    node: str
    sources: list[str] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    settings: Settings = field(default_factory=Settings)
    first_at: datetime | None = None
    last_at: datetime | None = None
    bytes_read: int = 0
    cut: bool = False                          # a log was longer than the cap: only its tail was read

    def covers(self, start: datetime, end: datetime) -> bool:
        """Whether the lines read overlap [start, end] (True when their times are unknown)."""
        if self.first_at is None or self.last_at is None:
            return True
        return self.first_at <= end and start <= self.last_at


@dataclass(slots=True)
class NodeLogs:
    """The node logs of one run: per node name, and the notes about what could not be used."""

    nodes: dict[str, NodeLog] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def node(self, name: str) -> NodeLog:
        log = self.nodes.get(name)
        if log is None:
            log = self.nodes[name] = NodeLog(name)
        return log


_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_seconds(text: str | None) -> float | None:
    """A Go duration (``1m0s``, ``5m``, ``1h30m``, ``0s``) in seconds; None when it is not one."""
    raw = (text or "").strip().strip('"')
    if raw == "0":
        return 0.0
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", raw)
    if not parts or "".join(n + u for n, u in parts) != raw:
        return None
    return sum(float(n) * _GO_UNITS[u] for n, u in parts)
