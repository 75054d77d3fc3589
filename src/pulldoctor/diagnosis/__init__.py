"""Diagnosis: one root cause per failing container, with confidence, evidence and the fix; then groups.

``run(report, snapshot, probe=…)`` is the contract (architecture.md) and the one pipeline both front ends
call: ``diagnose`` with ``probing.live`` (probe now), ``serve`` with a prober that answers from its cache.
Inside it: ``gather`` (evidence from the cluster report), ``probing.attach`` (the probe's answers),
``conclude`` (each rule family's verdict and fixes, then groups).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from pulldoctor.causes import Cause
from pulldoctor.diagnosis import suggest
from pulldoctor.diagnosis.cloudstep import CloudReader
from pulldoctor.diagnosis.evidence import Evidence, secrets_json, timeline_json
from pulldoctor.diagnosis.gather import evidence_for, image_nodes, log_notes, node_platforms, secret_namespaces
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
from pulldoctor.diagnosis.probing import ProbeAnswers, Prober, attach
from pulldoctor.diagnosis.rules import RULES, decide, fixes

if TYPE_CHECKING:
    from pulldoctor.cloud.providers import Provider
    from pulldoctor.cluster import FailingReport, Snapshot
    from pulldoctor.nodelogs import NodeLogs

__all__ = [
    "RULES",
    "Confidence",
    "Diagnosis",
    "Evidence",
    "EvidenceLine",
    "Finding",
    "Fix",
    "Group",
    "ProbeAnswers",
    "Prober",
    "Verdict",
    "conclude",
    "decide",
    "fixes",
    "gather",
    "group",
    "run",
]


def gather(report: FailingReport, snapshot: Snapshot | None = None, now: datetime | None = None,
           providers: Sequence[Provider] | None = None, node_logs: NodeLogs | None = None, *,
           at_snapshot: bool = False) -> list[Evidence]:
    """Evidence for every failing container of a ``cluster.FailingReport`` (with its node's logs, if read)."""
    by_name = secret_namespaces(snapshot) if snapshot is not None else {}
    by_image = image_nodes(snapshot) if snapshot is not None else {}
    platforms = node_platforms(snapshot) if snapshot is not None else None
    evidences = [evidence_for(fc, secrets_by_name=by_name, now=now, nodes_by_image=by_image, platforms=platforms,
                              providers=providers, node_logs=node_logs, at_snapshot=at_snapshot)
                 for fc in report.failing]
    cancelled = [ev for ev in evidences if ev.message_cause is Cause.PULL_TIMEOUT_OR_PROGRESS_DEADLINE and ev.node]
    if snapshot is not None and cancelled:  # did the node's other pulls wait in the kubelet's queue?
        from pulldoctor.cluster.pullwaits import by_node

        waits = by_node(snapshot)
        for ev in cancelled:
            ev.pull_waits = waits.get(ev.node.name, []) if ev.node else []
    maybe_missing = [ev for ev in evidences if ev.message_cause in suggest.MAYBE_MISSING]
    if snapshot is not None and maybe_missing:
        known = suggest.pulled(snapshot)
        memo: dict[tuple[str, str], set[str]] = {}
        for ev in maybe_missing:
            ev.similar_repositories = suggest.candidates(ev, known, memo)
    return evidences


def finding(ev: Evidence) -> Finding:
    """Decide one container: the rule's verdict and the fix for it."""
    verdict = decide(ev)
    steps = fixes(verdict, ev)
    near = suggest.with_catalog(ev) if verdict.cause in suggest.MAYBE_MISSING else []
    if near and not suggest.repository_exists(ev):
        line, first = suggest.lines_and_fix(ev, near)
        verdict.evidence.append(line)
        # after a first step that checks an inferred owner: the printed command patches that owner
        steps.insert(1 if ev.owner_inferred is not None and steps else 0, first)
    probe = ev.probe.to_json() if ev.probe is not None else None
    if probe is None and ev.probe_note:
        probe = {"skipped": ev.probe_note}
    return Finding(
        namespace=ev.namespace, pod=ev.pod, container=ev.container, container_type=ev.container_type,
        image=ev.image, waiting_reason=ev.waiting_reason, verdict=verdict, fixes=steps,
        message=ev.message, node=ev.node.name if ev.node else None, registry=ev.registry,
        timeline=timeline_json(ev.timeline) if ev.timeline else None, probe=probe,
        credentials=secrets_json(ev.secrets),
    )


def conclude(evidences: Sequence[Evidence], *, not_image: Mapping[str, int] | None = None,
             notes: Sequence[str] = (), probed: bool = False) -> Diagnosis:
    findings = [finding(ev) for ev in evidences]
    return Diagnosis(findings, group(findings), dict(not_image or {}), list(notes), probed)


def run(report: FailingReport, snapshot: Snapshot | None = None, *, probe: Prober | None = None,
        skipped: str = "not probed (--no-probe)", notes: Sequence[str] = (), now: datetime | None = None,
        providers: Sequence[Provider] | None = None, cloud: CloudReader | None = None,
        node_logs: NodeLogs | None = None, as_of: datetime | None = None) -> Diagnosis:
    """The pipeline every front end calls: gather the evidence of ``report``'s failing containers, ask
    ``probe`` about those a probe can settle (None: nothing is probed, ``skipped`` says why), ask ``cloud``
    (``cloudstep.aws``) about cloud registry pulls, let each container's rule family decide and fix it,
    group the findings. ``notes`` are added to the report's; ``providers`` replaces the kubelet's default
    credential providers (``--credential-provider-config``). ``as_of``: an offline input's time
    (``Snapshot.taken_at``); ages and back-offs are judged at it. ``node_logs``: the nodes' own logs and
    settings (``--node-logs``)."""
    evidences = gather(report, snapshot, as_of or now, providers, node_logs, at_snapshot=as_of is not None)
    extra = list(notes)
    if node_logs is not None:
        extra += [*node_logs.notes, *log_notes(evidences, node_logs)]
    if probe is None:
        for ev in evidences:
            ev.probe_note = skipped
    else:
        extra += attach(evidences, probe)
    if cloud is not None:
        extra += cloud(evidences)
    d = conclude(evidences, not_image=report.not_image, notes=[*report.notes, *extra],
                 probed=probe is not None and bool(evidences))
    d.as_of = as_of
    d.not_image_pods = {r: list(pods) for r, pods in report.not_image_pods.items()}
    return d
