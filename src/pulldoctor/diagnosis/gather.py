"""Build each failing container's ``Evidence`` from the cluster's report: parse the reference, pick the
best failure text, classify it, look up the keyring; the cluster's own timeline, secrets and node go in as
they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pulldoctor.cloud import ecrtoken
from pulldoctor.cloud.providers import Provider, provider_failure, provider_for
from pulldoctor.cluster.context import NodeInfo, node_info
from pulldoctor.cluster.failing import FailingContainer
from pulldoctor.cluster.owners import OwnerLink
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
#: A Job created by a CronJob is named ``<cronjob>-<scheduled time in minutes>`` (cronjob controller v2).
_CRON_JOB = re.compile(r"^(?P<cron>.+)-\d{8,}$")


@dataclass(frozen=True, slots=True)
class OwnerView:
    """The owner to patch as diagnosis sees it, and, when an object of the chain was not read, what it was
    inferred from and how."""

    owner: tuple[str, str] | None = None
    api_version: str = ""
    inferred_from: tuple[str, str] | None = None
    note: str = ""


def _guess(kind: str, name: str) -> tuple[str, str]:
    """What usually owns an unread controller, by the names the controllers give (a guess, said so)."""
    if kind == "ReplicaSet" and "-" in name:
        base, suffix = name.rsplit("-", 1)
        if _TEMPLATE_HASH.match(suffix):
            return ("Deployment", base)
    if kind == "Job" and (m := _CRON_JOB.match(name)):
        return ("CronJob", m["cron"])
    return (kind, name)


def owner_view(fc: FailingContainer) -> OwnerView:
    """The top of the pod's owner chain when it was read (or named by a child that was read); else the
    pod's controller, not read, and what its name suggests owns it (inferred, said so)."""
    chain = fc.owners.chain if fc.owners is not None else ()
    why = fc.owners.unread if fc.owners is not None else "not read"
    if not chain:
        if fc.owner is None:
            return OwnerView()
        chain = (OwnerLink(*fc.owner),)
    top = chain[-1]
    if top.read or len(chain) > 1:
        return OwnerView((top.kind, top.name), top.api_version)
    guess = _guess(top.kind, top.name)
    unread = f"{top.kind} {top.name} was not read" + (f" ({why})" if why and why != "not read" else "")
    note = (f"{unread}: {guess[0]} {guess[1]} is inferred from its name" if guess != (top.kind, top.name) else
            f"{unread}: whether something owns it is not known")
    return OwnerView(guess, top.api_version if guess[0] == top.kind else "", (top.kind, top.name), note)


def node_platforms(snapshot: Snapshot) -> dict[str, list[str]] | None:
    """Every node platform of the cluster (for a nodeSelector that some node can satisfy); None when the
    snapshot holds no node."""
    if not snapshot.nodes:
        return None
    out: dict[str, list[str]] = {}
    for name in sorted(snapshot.nodes):
        p = node_info(snapshot, name)
        if p is not None and p.platform:
            out.setdefault(p.platform, []).append(name)
    return out


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


def _ecr_tokens(lookup: Lookup | None, ref: ImageRef | None) -> list[tuple[str, ecrtoken.EcrToken]]:
    """The expiry of every ECR token (user ``AWS``) the kubelet would send for an ECR image, decoded offline."""
    if lookup is None or ref is None or ecrtoken.ecr_host(ref.registry) is None:
        return []
    return [(e.source, ecrtoken.decode(e.credential.password)) for e in lookup.matches
            if e.credential is not None and e.credential.username == "AWS"]


def evidence_for(fc: FailingContainer, *, secrets_by_name: Mapping[str, list[str]] | None = None,
                 now: datetime | None = None, nodes_by_image: Mapping[str, list[str]] | None = None,
                 platforms: dict[str, list[str]] | None = None,
                 providers: Sequence[Provider] | None = None, at_snapshot: bool = False) -> Evidence:
    """The evidence of one ``cluster.FailingContainer``; ``providers`` replaces the kubelet's default
    credential providers (None: the defaults of the node's cloud)."""
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
    ov = owner_view(fc)
    if node is None and fc.node:
        node = NodeInfo(name=fc.node)
    lookup = _lookup(list(fc.keyring_entries), ref) if ref is not None else None
    return Evidence(
        namespace=fc.namespace, pod=fc.pod, container=fc.container, image=fc.image,
        waiting_reason=fc.waiting_reason, container_type=fc.container_type,
        waiting_message=fc.waiting_message or None, pull_policy=fc.pull_policy or None,
        owner=ov.owner, owner_api_version=ov.api_version, owner_inferred=ov.inferred_from, owner_note=ov.note,
        ref=ref, ref_error=ref_error,
        message=message, message_source=source,
        classification=_classify(message) if message else None,
        timeline=timeline,
        secrets=fc.pull_secrets,
        secrets_elsewhere=_elsewhere_secrets(fc.pull_secrets.missing, fc.namespace, secrets_by_name or {}),
        lookup=lookup,
        provider=provider_for(ref.name, node.provider_id if node else None, providers) if ref else None,
        provider_failure=provider_failure(message),
        ecr_tokens=_ecr_tokens(lookup, ref),
        entry_keys=[(e.key, e.source) for e in fc.keyring_entries],
        node=node, now=now, at_snapshot=at_snapshot,
        nodes_with_image=_elsewhere(nodes_by_image or {}, fc.image, ref, fc.node),
        cluster_platforms=platforms,
    )


def _elsewhere(nodes_by_image: Mapping[str, list[str]], image: str, ref: ImageRef | None, node: str) -> list[str]:
    """Other nodes that list the image (as written or normalised): where a Never-pull pod could run."""
    names = {image, ref.normalized if ref else image}
    return sorted({n for name in names for n in nodes_by_image.get(name, []) if n != node})
