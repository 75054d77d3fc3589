"""Build each failing container's ``Evidence`` from the cluster's report: parse the reference, pick the
best failure text, classify it, look up the keyring, copy the node and secrets views.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pulldoctor.diagnosis.evidence import (
    Evidence,
    NodeView,
    SecretsView,
    TimelineView,
    ago,
)
from pulldoctor.errors import InvalidReference
from pulldoctor.keyring import Keyring
from pulldoctor.messages import classify
from pulldoctor.reference import parse

# "Back-off pulling image "x"" alone (kubelets before 1.32, and the BackOff event) carries no reason;
# 1.32+ appends ": <Reason>: <message>" (kubernetes PR #127918).
_BARE_BACKOFF = re.compile(r'^Back-off pulling image "[^"]*"\s*$')


def _parse(image: str) -> tuple[Any, Exception | None]:
    try:
        return parse(image), None
    except InvalidReference as err:
        return None, err


_CLASSIFIED: dict[str, Any] = {}
_CACHE_MAX = 4096


def _classify(message: str) -> Any:
    """``messages.classify``, once per distinct text: a Deployment's replicas share their message."""
    hit = _CLASSIFIED.get(message)
    if hit is not None:
        return hit
    if len(_CLASSIFIED) >= _CACHE_MAX:  # bounded: a long-running ``serve`` must not grow without end
        _CLASSIFIED.clear()
    _CLASSIFIED[message] = result = classify(message)
    return result


def _lookup(entries: list[Any], ref: Any, image: str) -> Any:
    return Keyring(entries).lookup(ref if ref is not None else image)


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


def _timeline(t: Any) -> TimelineView | None:
    if t is None:
        return None
    return TimelineView(
        failed=getattr(t, "failed", 0), backoff=getattr(t, "backoff", 0),
        last_failure_message=getattr(t, "last_failure_message", None),
        last_failure_at=getattr(t, "last_failure_at", None), attempts=getattr(t, "attempts", None),
        backoff_seconds=getattr(t, "backoff_seconds", None), next_attempt=getattr(t, "next_attempt", None),
        events_expired=getattr(t, "events_expired", False),
        secret_warnings=list(getattr(t, "secret_warnings", []) or []),
    )


def _secrets(ps: Any, namespace: str, others: Mapping[str, list[str]]) -> SecretsView:
    if ps is None:
        return SecretsView()
    missing = list(getattr(ps, "missing", []) or [])
    return SecretsView(
        names=list(getattr(ps, "names", []) or []), source=getattr(ps, "source", "none"),
        service_account=getattr(ps, "service_account", "default") or "default", missing=missing,
        wrong_type=list(getattr(ps, "wrong_type", []) or []), problems=list(getattr(ps, "problems", []) or []),
        elsewhere={n: [ns for ns in others.get(n, []) if ns != namespace] for n in missing if others.get(n)},
    )


def _node(n: Any) -> NodeView | None:
    if n is None:
        return None
    return NodeView(name=n.name, os=n.os, arch=n.arch, variant=getattr(n, "variant", None), images=n.images,
                    disk_pressure=n.disk_pressure, runtime_version=n.runtime_version)


def secret_namespaces(snapshot: Any) -> dict[str, list[str]]:
    """Secret name -> namespaces holding a secret of that name (to say "it is in namespace X")."""
    out: dict[str, list[str]] = {}
    for ns, name in getattr(snapshot, "secrets", {}) or {}:
        out.setdefault(name, []).append(ns)
    return out


def image_nodes(snapshot: Any) -> dict[str, list[str]]:
    """Image name -> the nodes listing it (node status; the kubelet lists at most 50 images per node)."""
    out: dict[str, list[str]] = {}
    for name, node in sorted((getattr(snapshot, "nodes", None) or {}).items()):
        for img in getattr(getattr(node, "status", None), "images", None) or []:
            for n in getattr(img, "names", None) or []:
                out.setdefault(n, []).append(name)
    return out


def evidence_for(fc: Any, *, secrets_by_name: Mapping[str, list[str]] | None = None,
                 now: datetime | None = None, nodes_by_image: Mapping[str, list[str]] | None = None) -> Evidence:
    """The evidence of one ``cluster.FailingContainer``."""
    now = now or datetime.now(UTC)
    ref, ref_error = _parse(fc.image)
    timeline = _timeline(getattr(fc, "timeline", None))
    message: str | None = (fc.waiting_message or "").strip() or None
    source = "waiting message"
    newest = timeline.last_failure_message if timeline else None
    if (message is None or _BARE_BACKOFF.match(message)) and newest:
        message = newest
        source = f"event Failed x{timeline.failed} (last {ago(timeline.last_failure_at, now)})" \
            if timeline and timeline.failed else "newest event"
    node = _node(getattr(fc, "node_info", None))
    node_name: str = getattr(fc, "node", "")
    if node is None and node_name:
        node = NodeView(name=node_name)
    return Evidence(
        namespace=fc.namespace, pod=fc.pod, container=fc.container, image=fc.image,
        waiting_reason=fc.waiting_reason, container_type=fc.container_type,
        waiting_message=fc.waiting_message or None, pull_policy=fc.pull_policy or None,
        owner=_owner(getattr(fc, "owner", None)), ref=ref, ref_error=ref_error,
        message=message, message_source=source,
        classification=_classify(message) if message else None,
        timeline=timeline,
        secrets=_secrets(getattr(fc, "pull_secrets", None), fc.namespace, secrets_by_name or {}),
        lookup=_lookup(list(getattr(fc, "keyring_entries", []) or []), ref, fc.image) if ref_error is None else None,
        entry_keys=[(getattr(e, "key", ""), getattr(e, "source", ""))
                    for e in getattr(fc, "keyring_entries", []) or []],
        node=node, now=now,
        nodes_with_image=_elsewhere(nodes_by_image or {}, fc.image, ref, getattr(fc, "node", "")),
    )


def _elsewhere(nodes_by_image: Mapping[str, list[str]], image: str, ref: Any, node: str) -> list[str]:
    """Other nodes that list the image (as written or normalised): where a Never-pull pod could run."""
    names = {image, getattr(ref, "normalized", image)}
    return sorted({n for name in names for n in nodes_by_image.get(name, []) if n != node})
