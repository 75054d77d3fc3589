"""Build each failing container's ``Evidence`` from the cluster's report: parse the reference, pick the
best failure text, classify it, look up the keyring; the cluster's own timeline, secrets and node go in as
they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from pulldoctor.cluster.context import NodeInfo
from pulldoctor.cluster.failing import FailingContainer
from pulldoctor.cluster.snapshot import Snapshot
from pulldoctor.diagnosis.evidence import Evidence, ago
from pulldoctor.errors import InvalidReference
from pulldoctor.keyring import Entry, Keyring, Lookup
from pulldoctor.messages import Classification, classify
from pulldoctor.reference import ImageRef, parse

# "Back-off pulling image "x"" alone (kubelets before 1.32, and the BackOff event) carries no reason;
# 1.32+ appends ": <Reason>: <message>" (kubernetes PR #127918).
_BARE_BACKOFF = re.compile(r'^Back-off pulling image "[^"]*"\s*$')


def _parse(image: str) -> tuple[ImageRef | None, InvalidReference | None]:
    try:
        return parse(image), None
    except InvalidReference as err:
        return None, err


_CLASSIFIED: dict[str, Classification] = {}
_CACHE_MAX = 4096


def _classify(message: str) -> Classification:
    """``messages.classify``, once per distinct text: a Deployment's replicas share their message."""
    hit = _CLASSIFIED.get(message)
    if hit is not None:
        return hit
    if len(_CLASSIFIED) >= _CACHE_MAX:  # bounded: a long-running ``serve`` must not grow without end
        _CLASSIFIED.clear()
    _CLASSIFIED[message] = result = classify(message)
    return result


def _lookup(entries: list[Entry], ref: ImageRef) -> Lookup:
    return Keyring(entries).lookup(ref)


# The pod-template hash a Deployment appends to its ReplicaSets' names: rand.SafeEncodeString of a
# 32-bit hash (apimachinery util/rand: consonants and digits without vowels, 0, 1 and 3).
_TEMPLATE_HASH = re.compile(r"^[bcdfghjklmnpqrstvwxz2456789]{1,10}$")


def _owner(owner: tuple[str, str] | None) -> tuple[str, str] | None:
    """The controller a user edits: a ReplicaSet's Deployment is its name minus the pod-template hash (a
    ReplicaSet whose name does not end in such a hash is its own controller)."""
    if owner and owner[0] == "ReplicaSet" and "-" in owner[1]:
        base, suffix = owner[1].rsplit("-", 1)
        if _TEMPLATE_HASH.match(suffix):
            return ("Deployment", base)
    return owner


def _elsewhere_secrets(missing: list[str], namespace: str, others: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Missing secret name -> the other namespaces that hold a secret of that name."""
    return {n: [ns for ns in others.get(n, []) if ns != namespace] for n in missing if others.get(n)}


def secret_namespaces(snapshot: Snapshot) -> dict[str, list[str]]:
    """Secret name -> namespaces holding a secret of that name (to say "it is in namespace X")."""
    out: dict[str, list[str]] = {}
    for ns, name in snapshot.secrets:
        out.setdefault(name, []).append(ns)
    return out


def image_nodes(snapshot: Snapshot) -> dict[str, list[str]]:
    """Image name -> the nodes listing it (node status; the kubelet lists at most 50 images per node)."""
    out: dict[str, list[str]] = {}
    for name, node in sorted(snapshot.nodes.items()):
        for img in node.status.images:
            for n in img.names:
                out.setdefault(n, []).append(name)
    return out


def evidence_for(fc: FailingContainer, *, secrets_by_name: Mapping[str, list[str]] | None = None,
                 now: datetime | None = None, nodes_by_image: Mapping[str, list[str]] | None = None,
                 at_snapshot: bool = False) -> Evidence:
    """The evidence of one ``cluster.FailingContainer``, judged at ``now`` (``at_snapshot``: an offline input's
    time, which the wording then does not call "now")."""
    now = now or datetime.now(UTC)
    ref, ref_error = _parse(fc.image)
    timeline = fc.timeline
    message: str | None = (fc.waiting_message or "").strip() or None
    source = "waiting message"
    newest = timeline.last_failure_message
    if (message is None or _BARE_BACKOFF.match(message)) and newest:
        message = newest
        source = f"event Failed x{timeline.failed} (last {ago(timeline.last_failure_at, now)})" \
            if timeline.failed else "newest event"
    node = fc.node_info
    if node is None and fc.node:
        node = NodeInfo(name=fc.node)
    return Evidence(
        namespace=fc.namespace, pod=fc.pod, container=fc.container, image=fc.image,
        waiting_reason=fc.waiting_reason, container_type=fc.container_type,
        waiting_message=fc.waiting_message or None, pull_policy=fc.pull_policy or None,
        owner=_owner(fc.owner), ref=ref, ref_error=ref_error,
        message=message, message_source=source,
        classification=_classify(message) if message else None,
        timeline=timeline,
        secrets=fc.pull_secrets,
        secrets_elsewhere=_elsewhere_secrets(fc.pull_secrets.missing, fc.namespace, secrets_by_name or {}),
        lookup=_lookup(list(fc.keyring_entries), ref) if ref is not None else None,
        entry_keys=[(e.key, e.source) for e in fc.keyring_entries],
        node=node, now=now, at_snapshot=at_snapshot,
        nodes_with_image=_elsewhere(nodes_by_image or {}, fc.image, ref, fc.node),
    )


def _elsewhere(nodes_by_image: Mapping[str, list[str]], image: str, ref: ImageRef | None, node: str) -> list[str]:
    """Other nodes that list the image (as written or normalised): where a Never-pull pod could run."""
    names = {image, ref.normalized if ref else image}
    return sorted({n for name in names for n in nodes_by_image.get(name, []) if n != node})
