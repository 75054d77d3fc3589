"""Turn a few failing pods into findings: the same pipeline as ``pulldoctor diagnose``, per batch.

cluster.find_failing → diagnosis.gather → probe results from the scheduler's cache → diagnosis.conclude.
Probes never block here: a container whose image has not been probed yet is diagnosed from the cluster's
evidence now, and again when its probe result arrives (the scheduler marks the pod dirty).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pulldoctor.cluster import find_failing
from pulldoctor.cluster.model import Event, Pod
from pulldoctor.cluster.snapshot import Snapshot
from pulldoctor.exporter.context import ContextCache
from pulldoctor.exporter.probes import ProbeKey, ProbeScheduler, probe_key
from pulldoctor.exporter.store import PodKey


class Diagnoser:
    """Stateless apart from its caches; called from the diagnosis worker thread only."""

    def __init__(self, context: ContextCache, probes: ProbeScheduler | None, namespaces: Sequence[str] | None,
                 events_listed: Callable[[], bool] = lambda: True) -> None:
        self.context = context
        self.probes = probes
        self.namespaces = namespaces   # None: all namespaces are watched
        self.events_listed = events_listed

    def diagnose(self, pods: Sequence[Pod],
                 events: Sequence[Event]) -> tuple[dict[PodKey, list[Any]], dict[PodKey, set[ProbeKey]]]:
        """Findings per pod, and the probe keys each pod depends on (to re-diagnose when they land)."""
        from pulldoctor.diagnosis import conclude, gather

        snapshot = Snapshot(pods=list(pods), events=list(events))
        events_listed = self.events_listed()
        scopes: list[str | None] = list(self.namespaces) if self.namespaces else [None]
        for ns in scopes:
            snapshot.mark_listed("Pod", ns)
            if events_listed:
                snapshot.mark_listed("Event", ns)
        self.context.fill(snapshot, pods)
        report = find_failing(snapshot)
        evidences = gather(report, snapshot)
        depends: dict[PodKey, set[ProbeKey]] = {}
        if self.probes is None:
            for ev in evidences:
                ev.probe_note = "not probed (--no-probe)"
        else:
            depends = self._attach_probes(evidences)
        diagnosis = conclude(evidences, notes=report.notes, probed=self.probes is not None)
        out: dict[PodKey, list[Any]] = {(p.metadata.namespace, p.metadata.name): [] for p in pods}
        for f in diagnosis.findings:
            out.setdefault((f.namespace, f.pod), []).append(f)
        return out, depends

    def _attach_probes(self, evidences: Sequence[Any]) -> dict[PodKey, set[ProbeKey]]:
        # The diagnosis part decides which containers a probe can tell anything about, and with which
        # credentials and platform (probing.request_for), so that `serve` and `diagnose` probe alike.
        from pulldoctor.diagnosis.probing import request_for

        assert self.probes is not None
        wanted: list[tuple[Any, Any]] = []
        for ev in evidences:
            request = request_for(ev)
            if request is None:
                ev.probe_note = "not probed (a node-side failure)"
                continue
            wanted.append((ev, request))
        results = self.probes.lookup([req for _, req in wanted])
        depends: dict[PodKey, set[ProbeKey]] = {}
        for ev, req in wanted:
            key = probe_key(req)
            depends.setdefault((ev.namespace, ev.pod), set()).add(key)
            result = results.get(key)
            if result is not None:
                ev.probe = result
            else:
                ev.probe_note = "probe pending"
        return depends
