"""Find the containers that cannot get their image, and count apart everything else that is stuck.

A container fails for pulldoctor when its waiting reason is one of ``causes.IMAGE_WAITING_REASONS``
(init, regular and ephemeral containers alike). Pods pending for other reasons (unschedulable, volumes,
sandbox) and other waiting reasons (CrashLoopBackOff, CreateContainerConfigError…) are counted in
``FailingReport.not_image`` by reason and never reported as image failures.
"""

from __future__ import annotations

import gc
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pulldoctor.causes import IMAGE_WAITING_REASONS, ContainerType
from pulldoctor.cluster.context import NodeInfo, PullSecrets, node_info, pull_secrets
from pulldoctor.cluster.model import Container, ContainerStatus, ObjectMeta, Pod, Volume, controller_of
from pulldoctor.cluster.owners import Owners, owner_chain
from pulldoctor.cluster.snapshot import Snapshot
from pulldoctor.cluster.timeline import EventIndex, Timeline, build
from pulldoctor.keyring import Entry
from pulldoctor.reference import default_pull_policy


@dataclass(slots=True)
class FailingContainer:
    """One container that cannot get its image, with the evidence the cluster holds about it."""

    namespace: str
    pod: str
    pod_uid: str
    container: str
    container_type: str                    # causes.ContainerType value: "init" | "regular" | "ephemeral"
    image: str                             # as written in the pod spec
    waiting_reason: str
    waiting_message: str
    pull_policy: str                       # effective: the spec's, else the API server's default
    node: str                              # "" when not scheduled
    timeline: Timeline
    pull_secrets: PullSecrets
    keyring_entries: list[Entry] = field(default_factory=list)
    status_image: str = ""                 # the image the status reports (may be normalised)
    pull_policy_defaulted: bool = False    # the spec had none (manifests); the default was applied
    owner: tuple[str, str] | None = None   # (kind, name) of the controlling owner, e.g. ReplicaSet
    owners: Owners | None = None           # the owner chain as read (ReplicaSet → Deployment …)
    node_info: NodeInfo | None = None
    restart_count: int = 0


@dataclass(slots=True)
class FailingReport:
    failing: list[FailingContainer] = field(default_factory=list)
    #: pods/containers stuck for other reasons, by reason: "Unschedulable" (pods), "CrashLoopBackOff"
    #: (containers), "Pending" (pods with nothing more specific)…
    not_image: dict[str, int] = field(default_factory=dict)
    #: the first few ``namespace/pod`` of each reason of ``not_image`` (a count alone names nothing to look at)
    not_image_pods: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    pods_seen: int = 0


#: pods named per reason of ``FailingReport.not_image``; the count says how many more
NOT_IMAGE_NAMED = 5


_SECTIONS = (
    (ContainerType.INIT.value, "init_containers", "init_container_statuses"),
    (ContainerType.REGULAR.value, "containers", "container_statuses"),
    (ContainerType.EPHEMERAL.value, "ephemeral_containers", "ephemeral_container_statuses"),
)


def is_image_failing(pod: Pod) -> bool:
    """True when an init, regular or ephemeral container waits for an image-pull reason (the live
    reader and the exporter's store keep only such pods)."""
    st = pod.status
    for statuses in (st.init_container_statuses, st.container_statuses, st.ephemeral_container_statuses):
        for cs in statuses:
            w = cs.state.waiting
            if w is not None and w.reason in IMAGE_WAITING_REASONS:
                return True
    return False


def _owner(pod: Pod) -> tuple[str, str] | None:
    ref = controller_of(pod.metadata.owner_references)
    return (ref.kind, ref.name) if ref else None


def _pod_pending_reason(pod: Pod) -> str | None:
    """Why a pod is Pending when no container is waiting on an image (None when it is not pending)."""
    if pod.status.phase != "Pending":
        return None
    for c in pod.status.conditions:
        if c.type == "PodScheduled" and c.status == "False":
            return c.reason or "Unschedulable"
    return None


def _failing_image_volume(p: Pod, message: str, container_image: str) -> Volume | None:
    """The image volume a container's waiting message names, when it is not the container's own image: the
    kubelet pulls image volumes before the containers and reports their pull failure on the container."""
    if not message or not p.spec.volumes:
        return None
    for v in p.spec.volumes:
        ref = v.image.reference if v.image is not None else ""
        if ref and ref != container_image and f'"{ref}"' in message:
            return v
    return None


def find_failing(snapshot: Snapshot, pod: str | None = None, *, namespace: str | None = None) -> FailingReport:
    """Every container of the snapshot (or of pod ``pod``) that cannot get its image, with its timeline,
    pull secrets and node; other stuck pods/containers counted in ``not_image``."""
    # As in load_snapshot: a cyclic-GC pass over a large snapshot finds nothing and costs more than the scan.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _find_failing(snapshot, pod, namespace)
    finally:
        if gc_was_enabled:
            gc.enable()


def _find_failing(snapshot: Snapshot, pod: str | None, namespace: str | None) -> FailingReport:
    report = FailingReport(notes=list(snapshot.notes))
    not_image: Counter[str] = Counter()
    named = report.not_image_pods

    def stuck(reason: str, meta: ObjectMeta) -> None:
        not_image[reason] += 1
        pods = named.setdefault(reason, [])
        who = f"{meta.namespace}/{meta.name}"
        if len(pods) < NOT_IMAGE_NAMED and who not in pods:
            pods.append(who)

    hits: list[tuple[Pod, str, Container | None, ContainerStatus]] = []
    for p in snapshot.pods:
        meta = p.metadata
        if pod is not None and meta.name != pod:
            continue
        if namespace is not None and meta.namespace != namespace:
            continue
        report.pods_seen += 1
        image_hit = other_hit = False
        status = p.status
        for ctype, spec_attr, status_attr in _SECTIONS:
            statuses: list[ContainerStatus] = getattr(status, status_attr)
            if not statuses:
                continue
            specs: list[Container] | None = None
            for cs in statuses:
                waiting = cs.state.waiting
                if waiting is None or not waiting.reason:
                    continue
                if waiting.reason in IMAGE_WAITING_REASONS:
                    if specs is None:
                        specs = getattr(p.spec, spec_attr)
                    spec = next((c for c in specs if c.name == cs.name), None)
                    hits.append((p, ctype, spec, cs))
                    image_hit = True
                else:
                    stuck(waiting.reason, meta)
                    other_hit = True
        if not image_hit:
            reason = _pod_pending_reason(p)
            if reason:
                stuck(reason, meta)
            elif status.phase == "Pending" and not other_hit:
                stuck("Pending", meta)
    report.not_image = dict(not_image)
    if pod is not None and report.pods_seen == 0:
        report.notes.append(f"no pod named {pod} in the input")
    if not hits:
        return report

    index = EventIndex(snapshot.events, {(p.metadata.uid, p.metadata.namespace, p.metadata.name,
                                          p.metadata.resource_version): None for p, *_ in hits})
    secrets_cache: dict[str, tuple[PullSecrets, list[Any]]] = {}
    nodes_cache: dict[str, NodeInfo | None] = {}
    for p, ctype, spec, cs in hits:
        meta = p.metadata
        waiting = cs.state.waiting
        assert waiting is not None
        image = spec.image if spec and spec.image else cs.image
        policy = spec.image_pull_policy if spec else ""
        name, volume = cs.name, _failing_image_volume(p, waiting.message, image)
        if volume is not None:  # the container waits because one of the pod's image volumes cannot be pulled
            assert volume.image is not None
            ctype, name, image, policy = ContainerType.IMAGE_VOLUME.value, volume.name, volume.image.reference, \
                volume.image.pull_policy
        defaulted = not policy
        if defaulted:
            policy = default_pull_policy(image).value  # SetDefaults_Container's rule
        events_read = snapshot.listed("Event", meta.namespace)
        timeline = build(index.for_pod(meta.uid, meta.namespace, meta.name), ctype, cs.name,
                         events_read=events_read, waiting_reason=waiting.reason)
        key = meta.uid or f"{meta.namespace}/{meta.name}"
        if key not in secrets_cache:
            secrets_cache[key] = pull_secrets(snapshot, p)
        ps, entries = secrets_cache[key]
        node = p.spec.node_name
        if node not in nodes_cache:
            nodes_cache[node] = node_info(snapshot, node)
        report.failing.append(FailingContainer(
            namespace=meta.namespace, pod=meta.name, pod_uid=meta.uid, container=name,
            container_type=ctype, image=image, waiting_reason=waiting.reason,
            waiting_message=waiting.message, pull_policy=policy, node=node, timeline=timeline,
            pull_secrets=ps, keyring_entries=list(entries), status_image=cs.image,
            pull_policy_defaulted=defaulted, owner=_owner(p), owners=owner_chain(snapshot, p),
            node_info=nodes_cache[node],
            restart_count=cs.restart_count,
        ))
    return report
