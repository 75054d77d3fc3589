"""Everything known about one failing container, in one place, in the shape the rules read.

Every field has its real type: the cluster's ``Timeline``, ``PullSecrets`` and ``NodeInfo``, the parsed
``ImageRef``, the message's ``Classification``, the keyring's ``Lookup`` and the registry's ``ProbeResult``,
so a renamed field fails the type check instead of making a rule fall back silently. A rule is unit-tested
with an ``Evidence`` built from those real objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pulldoctor.causes import Cause
from pulldoctor.cluster.context import NodeInfo, PullSecrets
from pulldoctor.cluster.pullwaits import PullWait
from pulldoctor.cluster.timeline import Timeline
from pulldoctor.errors import InvalidReference

if TYPE_CHECKING:  # the registry part is imported only where a probe runs
    from pulldoctor.cloud.aws import AwsEvidence
    from pulldoctor.cloud.ecrtoken import EcrToken
    from pulldoctor.cloud.providers import Provider
    from pulldoctor.keyring import Lookup
    from pulldoctor.messages.classifier import Classification
    from pulldoctor.nodelogs import Hit, NodeLog
    from pulldoctor.reference import ImageRef
    from pulldoctor.registry.models import ProbeResult


def timeline_json(t: Timeline) -> dict[str, Any]:
    """The timeline as a finding's JSON shows it (the documented ``timeline`` field)."""
    return {
        "failed": t.failed,
        "backoff": t.backoff,
        "attempts": t.attempts,
        "backoff_seconds": t.backoff_seconds,
        "last_failure_at": _iso(t.last_failure_at),
        "next_attempt": _iso(t.next_attempt),
        "events_expired": t.events_expired,
    }


def secrets_json(s: PullSecrets) -> dict[str, Any]:
    """The pull secrets as a finding's JSON shows them (the documented ``credentials`` field); names only."""
    return {
        "secrets": list(s.names),
        "source": s.source,
        "service_account": s.service_account,
        "missing": list(s.missing),
        "wrong_type": [{"name": n, "type": t} for n, t in s.wrong_type],
        "problems": list(s.problems),
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
    owner_api_version: str = ""                     # its apiVersion ("argoproj.io/v1alpha1" for a Rollout)
    owner_inferred: tuple[str, str] | None = None   # the unread object the owner was inferred from, if it was
    owner_note: str = ""                            # how the owner is known, when it was not read
    ref: ImageRef | None = None                     # reference.parse(image); None when it is invalid
    ref_error: InvalidReference | None = None       # why reference.parse refused it
    message: str | None = None                      # the best failure text (waiting message or newest event)
    message_source: str = "waiting message"
    classification: Classification | None = None    # messages.classify(message)
    timeline: Timeline | None = None                # the cluster's timeline of this container's image events
    secrets: PullSecrets = field(default_factory=PullSecrets)
    secrets_elsewhere: dict[str, list[str]] = field(default_factory=dict)  # missing name -> namespaces having it
    lookup: Lookup | None = None                    # what the kubelet's keyring sends for this image
    entry_keys: list[tuple[str, str]] = field(default_factory=list)  # (registry key, source) of every entry
    node: NodeInfo | None = None
    nodes_with_image: list[str] = field(default_factory=list)  # other nodes whose image list has it
    #: every node platform of the cluster (os/arch[/variant] -> node names); None when nodes were not read
    cluster_platforms: dict[str, list[str]] | None = None
    probe: ProbeResult | None = None                # the registry probe of the node's pull
    probe_note: str | None = None                   # why there is no probe ("--no-probe", …)
    provider: Provider | None = None                # the node's kubelet credential provider for this image
    provider_failure: tuple[str, str | None] | None = None  # (text, plugin named) of a failed provider
    ecr_tokens: list[tuple[str, EcrToken]] = field(default_factory=list)  # (source, expiry) of ECR entries
    cloud: AwsEvidence | None = None                # what AWS said about this pull (pulldoctor[aws])
    cloud_note: str | None = None                   # why there is none ("--no-cloud", …)
    node_log: NodeLog | None = None                 # the node's own logs and settings (--node-logs)
    log_hits: list[Hit] = field(default_factory=list)  # this container's lines in them, oldest first
    message_hit: Hit | None = None                  # the kubelet's logged error when it is ``message``
    replaced_cause: Cause | None = None             # what the message it replaced (cut, or saying nothing) said
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    at_snapshot: bool = False                       # ``now`` is an offline input's time, not the wall clock's
    similar_repositories: list[tuple[str, str]] = field(default_factory=list)  # (repository, why): did you mean?
    pull_waits: list[PullWait] = field(default_factory=list)  # other pulls on the node: queued in the kubelet?

    @property
    def message_cause(self) -> Cause | None:
        return self.classification.cause if self.classification is not None else None

    @property
    def registry(self) -> str | None:
        return self.ref.registry if self.ref is not None else None

    def expired_ecr_token(self) -> tuple[str, EcrToken] | None:
        """The first ECR token the kubelet would send that has expired (source, token)."""
        return next(((src, t) for src, t in self.ecr_tokens if t.expired(self.now)), None)

    @property
    def kubelet_sends_credentials(self) -> bool:
        """Whether the kubelet's keyring has at least one entry for this image."""
        return self.lookup is not None and bool(self.lookup.matches)


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
