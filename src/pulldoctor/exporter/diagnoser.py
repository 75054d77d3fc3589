"""Turn a few failing pods into findings: the same pipeline as ``pulldoctor diagnose``, per batch.

cluster.find_failing → diagnosis.run, whose prober answers from the scheduler's cache, and whose cloud step
(ECR IAM evidence) answers from a per-node/role/repository cache with a TTL, within a budget per batch.
Probes never block here: a container whose image has not been probed yet is diagnosed from the cluster's
evidence now, and again when its probe result arrives (the scheduler marks the pod dirty).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pulldoctor.cluster import find_failing
from pulldoctor.cluster.model import Event, Pod
from pulldoctor.cluster.snapshot import Snapshot
from pulldoctor.exporter.context import ContextCache
from pulldoctor.exporter.probes import ProbeKey, ProbeScheduler, probe_key
from pulldoctor.exporter.store import PodKey

if TYPE_CHECKING:
    from pulldoctor.diagnosis import Evidence, Finding, Prober
    from pulldoctor.diagnosis.cloudstep import CloudReader
    from pulldoctor.registry.models import ProbeRequest


class Diagnoser:
    """Stateless apart from its caches; called from the diagnosis worker thread only."""

    def __init__(self, context: ContextCache, probes: ProbeScheduler | None, namespaces: Sequence[str] | None,
                 events_listed: Callable[[], bool] = lambda: True, cloud: CloudReader | None = None) -> None:
        self.context = context
        self.cloud = cloud             # diagnosis.cloudstep.aws with a cache: the same AWS evidence as diagnose
        self.probes = probes
        self.namespaces = namespaces   # None: all namespaces are watched
        self.events_listed = events_listed

    def diagnose(self, pods: Sequence[Pod],
                 events: Sequence[Event]) -> tuple[dict[PodKey, list[Finding]], dict[PodKey, set[ProbeKey]]]:
        """Findings per pod, and the probe keys each pod depends on (to re-diagnose when they land)."""
        from pulldoctor.diagnosis import run

        snapshot = Snapshot(pods=list(pods), events=list(events))
        events_listed = self.events_listed()
        scopes: list[str | None] = list(self.namespaces) if self.namespaces else [None]
        for ns in scopes:
            snapshot.mark_listed("Pod", ns)
            if events_listed:
                snapshot.mark_listed("Event", ns)
        self.context.fill(snapshot, pods)
        depends: dict[PodKey, set[ProbeKey]] = {}
        diagnosis = run(find_failing(snapshot), snapshot,
                        probe=self._cached(depends) if self.probes is not None else None, cloud=self.cloud)
        out: dict[PodKey, list[Finding]] = {(p.metadata.namespace, p.metadata.name): [] for p in pods}
        for f in diagnosis.findings:
            out.setdefault((f.namespace, f.pod), []).append(f)
        return out, depends

    def _cached(self, depends: dict[PodKey, set[ProbeKey]]) -> Prober:
        """A prober that answers from the scheduler's cache (scheduling what is due) and records, per pod,
        the probe keys it depends on. The requests come from the diagnosis (``probing.request_for``), so
        that `serve` and `diagnose` probe alike."""
        from pulldoctor.diagnosis import ProbeAnswers

        probes = self.probes
        assert probes is not None

        def probe(wanted: Sequence[tuple[Evidence, ProbeRequest]]) -> ProbeAnswers:
            results = probes.lookup([req for _, req in wanted])
            found = []
            for ev, req in wanted:
                key = probe_key(req)
                depends.setdefault((ev.namespace, ev.pod), set()).add(key)
                found.append(results.get(key))
            return ProbeAnswers(found, missing="probe pending")
        return probe
