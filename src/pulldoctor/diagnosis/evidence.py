"""Everything known about one failing container, in one place, in the shape the rules read.

The rules never look at the cluster model, the keyring or the probe directly: ``build`` copies what they
need into these small views, so a rule can be unit-tested with a hand-made ``Evidence``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pulldoctor.causes import Cause
from pulldoctor.cluster.context import NodeInfo


@dataclass(slots=True)
class TimelineView:
    """The kubelet's events about this container's image, reduced to what a verdict cites."""

    failed: int = 0                       # Warning Failed "Failed to pull image" (sum of event counts)
    backoff: int = 0                      # Normal BackOff "Back-off pulling image"
    last_failure_message: str | None = None
    last_failure_at: datetime | None = None
    attempts: int | None = None           # pulls the kubelet really made
    backoff_seconds: int | None = None    # current back-off step (10, 20, … 300)
    next_attempt: datetime | None = None  # when the kubelet pulls again
    events_expired: bool = False          # the pod is old but its events are gone (default TTL 1h)
    secret_warnings: list[str] = field(default_factory=list)  # FailedToRetrieveImagePullSecret messages

    def to_json(self) -> dict[str, Any]:
        return {
            "failed": self.failed,
            "backoff": self.backoff,
            "attempts": self.attempts,
            "backoff_seconds": self.backoff_seconds,
            "last_failure_at": _iso(self.last_failure_at),
            "next_attempt": _iso(self.next_attempt),
            "events_expired": self.events_expired,
        }


@dataclass(slots=True)
class SecretsView:
    """The pull secrets the kubelet would use for this pod, and what is wrong with them."""

    names: list[str] = field(default_factory=list)     # in effect, in order
    source: str = "none"                               # "pod", "service account NAME" or "none"
    service_account: str = "default"
    missing: list[str] = field(default_factory=list)   # named but not found in the namespace
    wrong_type: list[tuple[str, str]] = field(default_factory=list)  # (name, type)
    problems: list[str] = field(default_factory=list)  # one line each, no values
    elsewhere: dict[str, list[str]] = field(default_factory=dict)  # missing name -> namespaces that have it

    def to_json(self) -> dict[str, Any]:
        return {
            "secrets": list(self.names),
            "source": self.source,
            "service_account": self.service_account,
            "missing": list(self.missing),
            "wrong_type": [{"name": n, "type": t} for n, t in self.wrong_type],
            "problems": list(self.problems),
        }


@dataclass(frozen=True, slots=True)
class RuntimeDeadline:
    """The pull deadline of one container runtime version (research/kubelet-semantics.md §3 "Deadlines").

    Every one of these is a NO-PROGRESS timeout: it fires when no byte arrives for that long, not when a
    pull takes longer in total. The kubelet itself sets no deadline on PullImage (cri-client uses
    ``context.WithCancel``)."""

    runtime: str                 # "containerd 1.7.2"
    setting: str | None          # "image_pull_progress_timeout"; None: this version has none
    default: str | None          # "5m"; None: off by default
    where: str = ""              # where to set it
    note: str = ""

    def describe(self) -> str:
        if self.setting is None:
            return f"{self.runtime} has no pull progress deadline{'; ' + self.note if self.note else ''}"
        default = f"default {self.default}" if self.default else "off by default: 0"
        text = (f"{self.runtime}: {self.setting} ({default}) cancels a pull after that long without a new byte; "
                "it does not limit the total pull time")
        return text + (f"; {self.note}" if self.note else "")


_VERSION = re.compile(r"^([a-z0-9.-]+)://v?(\d+)\.(\d+)(?:\.(\d+))?")


def runtime_deadline(runtime_version: str | None) -> RuntimeDeadline | None:
    """The pull deadline of the node's ``containerRuntimeVersion`` (``containerd://1.7.2``); None if unknown."""
    m = _VERSION.match((runtime_version or "").strip().lower())
    if m is None:
        return None
    name, major, minor, patch = m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4) or 0)
    version = (major, minor, patch)
    shown = f"{major}.{minor}.{patch}"
    if name == "containerd":
        if version < (1, 7, 0):
            # containerd 1.6's CRI config has no pull progress option (research/real-components.md §5).
            return RuntimeDeadline(f"containerd {shown}", None, None,
                                   note="image_pull_progress_timeout arrived in 1.7, so a cancel comes from "
                                        "outside the runtime (pod deleted, kubelet restarted, a client deadline)")
        section = ('[plugins."io.containerd.cri.v1.images"]' if major >= 2
                   else '[plugins."io.containerd.grpc.v1.cri"]')
        return RuntimeDeadline(f"containerd {shown}", "image_pull_progress_timeout", "5m",
                               f"{section} in /etc/containerd/config.toml")
    if name == "cri-o":
        where = "[crio.image] in /etc/crio/crio.conf (or a drop-in under /etc/crio/crio.conf.d/)"
        if version < (1, 32, 0):
            return RuntimeDeadline(f"CRI-O {shown}", None, None, note="pull_progress_timeout arrived in 1.32")
        if version < (1, 32, 6):
            return RuntimeDeadline(f"CRI-O {shown}", "pull_progress_timeout", "10s", where,
                                   "1.32.6 and 1.33 turn it off by default")
        return RuntimeDeadline(f"CRI-O {shown}", "pull_progress_timeout", None, where,
                               "only a value set on the node can fire")
    if name == "docker":
        return RuntimeDeadline(f"Docker {shown} via cri-dockerd", "--image-pull-progress-deadline", "1m",
                               "cri-dockerd's command line (its systemd unit)")
    return None


#: The node the pod is on, as far as image pulls care: the cluster's own ``NodeInfo``, not a copy of it.
NodeView = NodeInfo


@dataclass(slots=True)
class Evidence:
    """One failing container and every fact gathered about it."""

    namespace: str
    pod: str
    container: str
    image: str
    waiting_reason: str
    container_type: str = "regular"
    waiting_message: str | None = None
    pull_policy: str | None = None
    owner: tuple[str, str] | None = None            # (kind, name) of the controller to patch, e.g. Deployment
    ref: Any = None                                 # pulldoctor.reference.ImageRef
    ref_error: Exception | None = None              # InvalidReference from reference.parse
    message: str | None = None                      # the best failure text (waiting message or newest event)
    message_source: str = "waiting message"
    classification: Any = None                      # pulldoctor.messages.Classification
    timeline: TimelineView | None = None
    secrets: SecretsView = field(default_factory=SecretsView)
    lookup: Any = None                              # pulldoctor.keyring.Lookup
    entry_keys: list[tuple[str, str]] = field(default_factory=list)  # (registry key, source) of every entry
    node: NodeView | None = None
    nodes_with_image: list[str] = field(default_factory=list)  # other nodes whose image list has it
    probe: Any = None                               # pulldoctor.registry.ProbeResult
    probe_note: str | None = None                   # why there is no probe ("--no-probe", …)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def message_cause(self) -> Cause | None:
        c = getattr(self.classification, "cause", None)
        return Cause(c) if c else None

    @property
    def registry(self) -> str | None:
        return getattr(self.ref, "registry", None)

    @property
    def kubelet_sends_credentials(self) -> bool:
        """Whether the kubelet's keyring has at least one entry for this image."""
        return bool(getattr(self.lookup, "matches", None))


def _iso(t: datetime | None) -> str | None:
    return t.isoformat().replace("+00:00", "Z") if t else None


def ago(t: datetime | None, now: datetime) -> str:
    """``2m ago`` style, for evidence lines."""
    if t is None:
        return "at an unknown time"
    s = int((now - t).total_seconds())
    if s < 0:
        return f"in {_span(-s)}"
    return f"{_span(s)} ago"


def _span(s: int) -> str:
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d"


def span(seconds: float) -> str:
    return _span(int(seconds))


def hostname(host: str) -> str:
    """``registry:5000`` → ``registry``; ``[::1]:5000`` → ``::1`` (what DNS resolves)."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
