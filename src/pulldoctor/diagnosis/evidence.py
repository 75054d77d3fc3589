"""Everything known about one failing container, in one place, in the shape the rules read.

The rules never look at the cluster model, the keyring or the probe directly: ``build`` copies what they
need into these small views, so a rule can be unit-tested with a hand-made ``Evidence``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pulldoctor.causes import Cause


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


@dataclass(slots=True)
class NodeView:
    """The node the pod is on, as far as image pulls care."""

    name: str
    os: str | None = None
    arch: str | None = None
    variant: str | None = None
    images: frozenset[str] | None = None   # every name the node lists (None: unknown)
    disk_pressure: bool | None = None
    runtime_version: str | None = None     # "containerd://1.7.2"

    @property
    def platform(self) -> str | None:
        if not (self.os and self.arch):
            return None
        return f"{self.os}/{self.arch}" + (f"/{self.variant}" if self.variant else "")


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
