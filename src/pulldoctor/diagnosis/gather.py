"""Build each failing container's ``Evidence`` from the cluster's report: parse the reference, pick the
best failure text, classify it, look up the keyring; the cluster's own timeline, secrets and node go in as
they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pulldoctor.causes import Cause
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
from pulldoctor.nodelogs import Hit, Kind, NodeLog, NodeLogs, for_container
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


def _cut(message: str, error: str) -> bool:
    """Whether ``message`` is ``error`` cut short (an event's message is truncated; the log has it whole)."""
    core = message.rstrip(".… ")[-60:]
    return len(error) > len(message) and bool(core) and core in error and not error.endswith(core)


def log_message(message: str | None, cause: Classification | None, hits: list[Hit]) -> Hit | None:
    """The kubelet's logged runtime error to use instead of ``message``: when there is no message (events
    expired), a bare back-off, one that says nothing (``other``), or one cut short."""
    failed = [h for h in hits if h.kind == Kind.PULL_FAILED and h.error]
    if not failed:
        return None
    newest = failed[-1]
    error = newest.error or ""
    says_nothing = cause is not None and cause.cause.value == "other"
    if message is None or _BARE_BACKOFF.match(message) or says_nothing or _cut(message, error):
        return newest
    return None


def evidence_for(fc: FailingContainer, *, secrets_by_name: Mapping[str, list[str]] | None = None,
                 now: datetime | None = None, nodes_by_image: Mapping[str, list[str]] | None = None,
                 platforms: dict[str, list[str]] | None = None,
                 providers: Sequence[Provider] | None = None, node_logs: NodeLogs | None = None,
                 at_snapshot: bool = False) -> Evidence:
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
    node_log: NodeLog | None = node_logs.nodes.get(fc.node) if node_logs is not None and fc.node else None
    hits: list[Hit] = []
    message_hit = None
    replaced: Cause | None = None
    if node_log is not None:
        window = timeline.attempt_window if timeline is not None else None
        names = {fc.image} | ({ref.normalized} if ref is not None else set())
        hits = for_container(node_log, names, *(window or (None, None)))
        logged = log_message(message, _classify(message) if message else None, hits)
        if logged is not None and logged.error:
            replaced = _classify(message).cause if message else None
            message, source, message_hit = logged.error, "node log", logged
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
        node=node, now=now, node_log=node_log, log_hits=hits, message_hit=message_hit, replaced_cause=replaced,
        at_snapshot=at_snapshot,
        nodes_with_image=_elsewhere(nodes_by_image or {}, fc.image, ref, fc.node),
        cluster_platforms=platforms,
    )


def _elsewhere(nodes_by_image: Mapping[str, list[str]], image: str, ref: ImageRef | None, node: str) -> list[str]:
    """Other nodes that list the image (as written or normalised): where a Never-pull pod could run."""
    names = {image, ref.normalized if ref else image}
    return sorted({n for name in names for n in nodes_by_image.get(name, []) if n != node})


def log_notes(evidences: list[Evidence], node_logs: NodeLogs) -> list[str]:
    """A note per node whose log tail does not reach the time of its failing containers' pull attempts
    (a journal from another time range, or a tail cut before them)."""
    notes = []
    for name, log in sorted(node_logs.nodes.items()):
        windows = [w for ev in evidences if ev.node is not None and ev.node.name == name
                   and ev.timeline is not None for w in [ev.timeline.attempt_window] if w is not None]
        if not windows or log.first_at is None or log.last_at is None:
            continue
        start, end = min(w[0] for w in windows), max(w[1] for w in windows)
        if not log.covers(start, end):
            notes.append(f"node log of {name} covers {_iso(log.first_at)} to {_iso(log.last_at)}, but its pull "
                         f"attempts were from {_iso(start)} to {_iso(end)}: none of its lines are about them")
    return notes


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")
