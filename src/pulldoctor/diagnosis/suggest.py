"""Did you mean …? Repositories close to one the registry may not have (Deployment ``cart`` pulling ``shop/crat``).

The candidates are names pulldoctor read: the repositories other pods of the input pull from the same registry
(those of the same owner first, then the same namespace, then the rest), those the registry's ``/v2/_catalog``
lists (one bounded page, read by the probe when the repository is missing), and the workload's own name put in
place of the repository's last component (``shop/crat`` of Deployment ``cart`` → ``shop/cart``). They are
ranked by edit distance (a swap of two neighbours counts as one), and suggested only while the repository
itself is not known to exist (a probe that lists its tags settles that).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pulldoctor.causes import Cause
from pulldoctor.cluster.model import controller_of
from pulldoctor.diagnosis.evidence import Evidence
from pulldoctor.diagnosis.kubectl import set_image
from pulldoctor.diagnosis.model import EvidenceLine, Fix
from pulldoctor.errors import InvalidReference
from pulldoctor.reference import parse
from pulldoctor.similar import closest

if TYPE_CHECKING:
    from pulldoctor.cluster import Snapshot

SOURCE = "similar names"        # the evidence line's source (the brief text view shows it on the container's line)
FIX_PREFIX = "Did you mean "
MAX_PULLED = 20_000             # distinct (registry, repository, namespace, owner) read from the input
MAYBE_MISSING = frozenset({Cause.TAG_NOT_FOUND, Cause.REPO_NOT_FOUND, Cause.REPO_NOT_FOUND_OR_NO_ACCESS})


# A Deployment's ReplicaSets are named NAME-<pod-template hash> (apimachinery rand.SafeEncodeString)
_TEMPLATE_HASH = re.compile(r"^[bcdfghjklmnpqrstvwxz2456789]{1,10}$")


def _owner(kind: str, name: str) -> tuple[str, str]:
    """Who a pod's controller reference names, as a user sees it: a ReplicaSet's Deployment (for ranking only:
    the owner is not patched here, so a name is enough)."""
    base, _, suffix = name.rpartition("-")
    if kind == "ReplicaSet" and base and _TEMPLATE_HASH.match(suffix):
        return ("Deployment", base)
    return (kind, name)


@dataclass(frozen=True, slots=True)
class Pulled:
    """A repository that a pod of the input pulls, and who pulls it."""

    registry: str
    repository: str
    namespace: str
    owner: str          # "deployment/web", or "pod/NAME" without an owner


def pulled(snapshot: Snapshot) -> dict[str, list[Pulled]]:
    """Every repository the input's pods pull (containers, init and ephemeral containers), once each, by
    registry. Each distinct image is parsed once (a Deployment's replicas share theirs)."""
    seen: dict[Pulled, None] = {}
    parsed: dict[str, tuple[str, str] | None] = {}
    for p in snapshot.pods:
        meta = p.metadata
        ref0 = controller_of(meta.owner_references)
        o = _owner(ref0.kind, ref0.name) if ref0 is not None and ref0.name else None
        who = f"{o[0].lower()}/{o[1]}" if o else f"pod/{meta.name}"
        for c in (*p.spec.containers, *p.spec.init_containers, *p.spec.ephemeral_containers):
            if c.image not in parsed:
                try:
                    ref = parse(c.image)
                    parsed[c.image] = (ref.registry, ref.repository)
                except InvalidReference:
                    parsed[c.image] = None
            where = parsed[c.image]
            if where is not None:
                seen[Pulled(where[0], where[1], meta.namespace, who)] = None
        if len(seen) >= MAX_PULLED:
            break
    out: dict[str, list[Pulled]] = {}
    for k in seen:
        out.setdefault(k.registry, []).append(k)
    return out


def candidates(ev: Evidence, known: dict[str, list[Pulled]],
               memo: dict[tuple[str, str], set[str]] | None = None) -> list[tuple[str, str]]:
    """(repository, why) close to ``ev``'s repository on its registry, nearest first, at most three. ``memo``
    keeps the close names per (registry, repository) across the containers of one diagnosis."""
    ref = ev.ref
    if ref is None:
        return []
    key = (ref.registry, ref.repository)
    if memo is None or key not in memo:
        close = set(closest(ref.repository, (k.repository for k in known.get(ref.registry, [])), limit=8))
        if memo is not None:
            memo[key] = close
    else:
        close = memo[key]
    mine = f"{ev.owner[0].lower()}/{ev.owner[1]}" if ev.owner else f"pod/{ev.pod}"
    why: dict[str, str] = {}
    rank: dict[str, int] = {}
    for k in known.get(ref.registry, []):
        if k.repository not in close:
            continue
        r = 0 if k.owner == mine and k.namespace == ev.namespace else (1 if k.namespace == ev.namespace else 2)
        if k.repository not in rank or r < rank[k.repository]:
            rank[k.repository] = r
            why[k.repository] = f"{k.owner} in {k.namespace} pulls it" if r else f"{k.owner}'s other pods pull it"
    if ev.owner and ev.owner_inferred is None and not ev.owner_note:   # a name read, not inferred from a name
        head, _, last = ref.repository.rpartition("/")
        named = f"{head}/{ev.owner[1]}" if head else ev.owner[1]
        if last != ev.owner[1] and named not in why:
            why[named] = f"the {ev.owner[0]} is named {ev.owner[1]}"
            rank[named] = 0
    near = closest(ref.repository, why, limit=8)
    order = {name: i for i, name in enumerate(near)}
    near.sort(key=lambda n: (order[n], rank[n]))   # distance first (closest's order), then who pulls it
    return [(n, why[n]) for n in near[:3]]


def with_catalog(ev: Evidence) -> list[tuple[str, str]]:
    """``ev.similar_repositories`` (from the input) and the names the registry's ``/v2/_catalog`` lists close to
    the repository (the probe reads them once it found the repository missing), nearest first, at most three."""
    ref = ev.ref
    found = dict(ev.similar_repositories)
    if ref is None or ev.probe is None or not ev.probe.similar_repositories:
        return list(found.items())[:3]
    for name in ev.probe.similar_repositories:
        if name != ref.repository:
            found.setdefault(name, f"{ref.registry}'s catalog lists it")
    ours = list(found)
    near = closest(ref.repository, ours, limit=len(ours))
    near += [n for n in ours if n not in near]   # the workload's name may be further than the cut-off
    return [(n, found[n]) for n in near[:3]]


def repository_exists(ev: Evidence) -> bool:
    """A probe found the tag missing by listing the repository's tags: the repository is there."""
    return ev.probe is not None and ev.probe.cause is Cause.TAG_NOT_FOUND


def lines_and_fix(ev: Evidence, found: list[tuple[str, str]]) -> tuple[EvidenceLine, Fix]:
    """The evidence line and the first fix step for the closest names."""
    ref = ev.ref
    assert ref is not None
    names = " or ".join(n for n, _ in found)
    reasons = "; ".join(f"{n}: {w}" for n, w in found)
    line = EvidenceLine(SOURCE, f"did you mean {names}? ({reasons})")
    best = f"{ref.registry}/{found[0][0]}"
    tag = ref.tag if ref.tag and not ref.digest else "TAG"
    fix = Fix(f"{FIX_PREFIX}{best}? ({found[0][1]}.) pulldoctor has not seen it in the registry: list its tags, "
              "then point the container at it:", (f"skopeo list-tags docker://{best}", set_image(ev, f"{best}:{tag}")))
    return line, fix
