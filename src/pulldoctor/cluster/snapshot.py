"""``Snapshot``: the engine's view of a cluster, the same whichever source filled it.

It also remembers *what was read*: a secret that is absent from a snapshot is only "missing" if secrets
of that namespace were listed at all (files without secrets, or a 403, must never turn into "your secret
is missing"). ``listed(kind, namespace)`` answers that.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from pulldoctor.cluster.model import (
    Event,
    EventMeta,
    KubeObject,
    Node,
    ObjectMeta,
    Pod,
    Secret,
    ServiceAccount,
    Workload,
)

ALL_NAMESPACES = "*"
_T = TypeVar("_T", Pod, Event)


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """Where to read from: files/directories/bundles (``paths``), or the live cluster when empty."""

    paths: tuple[str, ...] = ()
    pod: str | None = None              # live: only this pod (a field selector), when given
    namespace: str | None = None        # live: None = the context's namespace
    all_namespaces: bool = False
    context: str | None = None
    kubeconfig: str | None = None
    request_timeout: float = 30.0       # seconds, per API request as a whole (connect at most 5 of them)
    page_size: int = 500                # live list pages (``limit``)

    @classmethod
    def from_args(cls, args: object) -> SourceSpec:
        """From the CLI's ``diagnose``/``collect``/``serve`` arguments (``--from``, ``-n``, ``-A``,
        ``--context``...): the one place where ``-n`` with ``-A``, and ``--from`` with ``--context`` or
        ``--kubeconfig``, are refused (``UsageError``)."""
        from pulldoctor.errors import UsageError

        if getattr(args, "all_namespaces", False) and getattr(args, "namespace", None):
            raise UsageError("use either -n NAMESPACE or -A, not both")
        path = getattr(args, "from_path", None)
        live_only = [flag for flag, attr in (("--context", "context"), ("--kubeconfig", "kubeconfig"))
                     if getattr(args, attr, None)]
        # --node-logs api reads the nodes' logs from a cluster: there, --context/--kubeconfig name that cluster.
        asks_cluster = "api" in (getattr(args, "node_logs", None) or [])
        # Otherwise silently ignoring them would diagnose other data than the user meant.
        if path and live_only and not asks_cluster:
            verb = "choose" if len(live_only) > 1 else "chooses"
            raise UsageError(f"{' and '.join(live_only)} {verb} a live cluster; --from reads files: "
                             "use one or the other")
        return cls(
            paths=(path,) if path else (),
            pod=getattr(args, "pod", None),
            namespace=getattr(args, "namespace", None),
            all_namespaces=bool(getattr(args, "all_namespaces", False)),
            context=getattr(args, "context", None),
            kubeconfig=getattr(args, "kubeconfig", None),
            request_timeout=float(getattr(args, "request_timeout", None) or 30.0),
        )


def _key(namespace: str, name: str) -> tuple[str, str]:
    return (namespace, name)


@dataclass(slots=True)
class Snapshot:
    """Decoded objects plus ``notes`` (what could not be read) and what was listed, by kind."""

    pods: list[Pod] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    nodes: dict[str, Node] = field(default_factory=dict)
    secrets: dict[tuple[str, str], Secret] = field(default_factory=dict)
    service_accounts: dict[tuple[str, str], ServiceAccount] = field(default_factory=dict)
    #: the objects of pods' owner chains that were read, by (namespace, kind, name)
    owners: dict[tuple[str, str, str], Workload] = field(default_factory=dict)
    #: owners that could not be read (live: forbidden, gone), by (namespace, kind, name): why
    unread_owners: dict[tuple[str, str, str], str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    ignored_kinds: dict[str, int] = field(default_factory=dict)
    source: str = ""
    #: When an offline source was taken (a bundle's creation time, else its newest event), and how that is known:
    #: ages and back-offs are judged at that time, not the wall clock's. None for a live read.
    taken_at: datetime | None = None
    taken_how: str = ""
    #: kind -> namespaces whose objects of that kind were read in full ("*" = all; nodes use "*").
    complete: dict[str, set[str]] = field(default_factory=dict)
    #: Bundle members that are not cluster objects, by name (``nodelogs/…``: the nodes' logs, read by nodelogs).
    attachments: dict[str, bytes] = field(default_factory=dict)

    def add(self, objects: Iterable[KubeObject | Workload], *, mark_listed: bool = True) -> None:
        """Add decoded objects; with ``mark_listed`` (files) a kind counts as listed in every namespace
        where at least one object of that kind appeared."""
        pods, events = self.pods, self.events
        for obj in objects:
            if type(obj) is Event:
                events.append(obj)
                ns = (obj.involved_object or obj.regarding or obj.metadata).namespace
                kind = "Event"
            elif type(obj) is Pod:
                pods.append(obj)
                ns, kind = obj.metadata.namespace, "Pod"
            elif type(obj) is Node:
                self.nodes[obj.metadata.name] = obj
                ns, kind = ALL_NAMESPACES, "Node"
            elif type(obj) is Secret:
                self.secrets[_key(obj.metadata.namespace, obj.metadata.name)] = obj
                ns, kind = obj.metadata.namespace, "Secret"
            elif type(obj) is Workload:
                self.owners[(obj.metadata.namespace, obj.kind, obj.metadata.name)] = obj
                continue
            elif type(obj) is ServiceAccount:
                self.service_accounts[_key(obj.metadata.namespace, obj.metadata.name)] = obj
                ns, kind = obj.metadata.namespace, "ServiceAccount"
            else:  # pragma: no cover - the decoder only yields the kinds above
                continue
            if mark_listed:
                seen = self.complete.setdefault(kind, set())
                if ns not in seen:
                    seen.add(ns)

    def mark_listed(self, kind: str, namespace: str | None) -> None:
        """Record that every ``kind`` in ``namespace`` (None = all namespaces) was read."""
        self.complete.setdefault(kind, set()).add(namespace or ALL_NAMESPACES)

    def listed(self, kind: str, namespace: str) -> bool:
        seen = self.complete.get(kind, ())
        return ALL_NAMESPACES in seen or namespace in seen

    def count_ignored(self, ignored: dict[str, int]) -> None:
        for kind, n in ignored.items():
            self.ignored_kinds[kind] = self.ignored_kinds.get(kind, 0) + n

    def dedupe(self) -> None:
        """The same pod or event read twice (overlapping files, concatenated lists, one uid twice in a
        list) is kept once: the copy with the highest resourceVersion, else the last one read. Without
        this each copy of a pod got every copy's events (quadratic) and was reported once per copy."""
        self.pods = _newest(self.pods)
        self.events = _newest(self.events)


def _rv(meta: ObjectMeta | EventMeta) -> int | None:
    rv = meta.resource_version
    return int(rv) if rv.isdigit() and len(rv) < 30 else None  # etcd's revision; opaque otherwise


def _newest(objects: list[_T]) -> list[_T]:
    """``objects`` without repeats (by uid, else namespace/name), in first-seen order, newest copy kept."""
    uids = {obj.metadata.uid for obj in objects}  # the common case, a tenth of the loop below: no repeats
    if len(uids) == len(objects) and "" not in uids:
        return objects
    kept: dict[object, _T] = {}
    for obj in objects:
        meta = obj.metadata
        key = meta.uid or ((meta.namespace, meta.name) if meta.name else id(obj))
        old = kept.get(key)
        if old is not None:
            new_rv, old_rv = _rv(meta), _rv(old.metadata)
            if new_rv is not None and old_rv is not None and new_rv < old_rv:
                continue
        kept[key] = obj
    return objects if len(kept) == len(objects) else list(kept.values())


def newest_event_time(events: Iterable[Event]) -> datetime | None:
    """The newest time any event records (either event API): the latest moment an offline input saw."""
    newest: datetime | None = None
    for e in events:
        for t in (e.last_timestamp, e.event_time, e.deprecated_last_timestamp,
                  e.series.last_observed_time if e.series is not None else None):
            if t is not None and t.tzinfo is not None and (newest is None or t > newest):
                newest = t
    return newest
