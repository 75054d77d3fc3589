"""Diagnosis: one root cause per failing container, with confidence, evidence and the fix; then groups.

``diagnose(report, probes)`` is the contract (architecture.md). The CLI uses the two halves:
``gather`` (evidence from the cluster report) and ``conclude`` (each rule family's verdict and fixes, then
groups), with the registry probes attached in between by ``probing.attach``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from pulldoctor.diagnosis.evidence import Evidence, secrets_json, timeline_json
from pulldoctor.diagnosis.gather import evidence_for, image_nodes, secret_namespaces
from pulldoctor.diagnosis.groups import group
from pulldoctor.diagnosis.model import (
    Confidence,
    Diagnosis,
    EvidenceLine,
    Finding,
    Fix,
    Group,
    Verdict,
)
from pulldoctor.diagnosis.rules import RULES, decide, fixes

if TYPE_CHECKING:
    from pulldoctor.cluster import FailingReport, Snapshot
    from pulldoctor.registry.models import ProbeResult

__all__ = [
    "RULES", "Confidence", "Diagnosis", "Evidence", "EvidenceLine", "Finding", "Fix", "Group", "Verdict",
    "conclude", "decide", "diagnose", "fixes", "gather", "group",
]


def gather(report: FailingReport, snapshot: Snapshot | None = None, now: datetime | None = None) -> list[Evidence]:
    """Evidence for every failing container of a ``cluster.FailingReport``."""
    by_name = secret_namespaces(snapshot) if snapshot is not None else {}
    by_image = image_nodes(snapshot) if snapshot is not None else {}
    return [evidence_for(fc, secrets_by_name=by_name, now=now, nodes_by_image=by_image) for fc in report.failing]


def finding(ev: Evidence) -> Finding:
    """Decide one container: the rule's verdict and the fix for it."""
    verdict = decide(ev)
    probe = ev.probe.to_json() if ev.probe is not None else None
    if probe is None and ev.probe_note:
        probe = {"skipped": ev.probe_note}
    return Finding(
        namespace=ev.namespace, pod=ev.pod, container=ev.container, container_type=ev.container_type,
        image=ev.image, waiting_reason=ev.waiting_reason, verdict=verdict, fixes=fixes(verdict, ev),
        message=ev.message, node=ev.node.name if ev.node else None, registry=ev.registry,
        timeline=timeline_json(ev.timeline) if ev.timeline else None, probe=probe,
        credentials=secrets_json(ev.secrets),
    )


def conclude(evidences: Sequence[Evidence], *, not_image: Mapping[str, int] | None = None,
             notes: Sequence[str] = (), probed: bool = False) -> Diagnosis:
    findings = [finding(ev) for ev in evidences]
    return Diagnosis(findings, group(findings), dict(not_image or {}), list(notes), probed)


def diagnose(report: FailingReport, probes: Mapping[int, ProbeResult] | Sequence[ProbeResult] | None = None, *,
             snapshot: Snapshot | None = None, now: datetime | None = None) -> Diagnosis:
    """Diagnose a ``FailingReport``; ``probes`` gives a ``ProbeResult`` per failing container (by index),
    or None for a diagnosis from the cluster's evidence alone."""
    evs = gather(report, snapshot, now)
    if probes is not None:
        items = probes.items() if isinstance(probes, Mapping) else enumerate(probes)
        for i, p in items:
            evs[i].probe = p
    else:
        for ev in evs:
            ev.probe_note = "not probed"
    return conclude(evs, not_image=report.not_image, notes=report.notes,
                    probed=probes is not None)
