"""A pod's owner chain, followed through the objects that were read (``ownerReferences``), never guessed from
names: ReplicaSet → Deployment (or an Argo Rollout, or any controller), Job → CronJob, StatefulSet, DaemonSet.

Where an owner was not read, the chain stops there and says why; diagnosis then says the next step is
inferred and gives a command that reads it first.
"""

from __future__ import annotations

from dataclasses import dataclass

from pulldoctor.cluster.model import OwnerReference, Pod, controller_of
from pulldoctor.cluster.snapshot import Snapshot

MAX_DEPTH = 8  # real chains are 1–3 long (Pod ← ReplicaSet ← Deployment ← a CR); a cycle stops here too


@dataclass(frozen=True, slots=True)
class OwnerLink:
    """One owner: its kind, name and apiVersion (from the child's ownerReference) and whether the object
    itself was read (so that its own owner is known)."""

    kind: str
    name: str
    api_version: str = ""
    read: bool = False

    @property
    def group(self) -> str:
        """The API group ("" for core/v1): ``argoproj.io`` of ``argoproj.io/v1alpha1``."""
        return self.api_version.split("/", 1)[0] if "/" in self.api_version else ""


@dataclass(frozen=True, slots=True)
class Owners:
    """The pod's controller first, the object nobody controls last (as far as it was read)."""

    chain: tuple[OwnerLink, ...] = ()
    unread: str = ""   # why the last link was not read: "not in the input", "forbidden", "not found"

    @property
    def top(self) -> OwnerLink | None:
        return self.chain[-1] if self.chain else None

    @property
    def complete(self) -> bool:
        """The top object was read and has no controller: the chain is known to its end."""
        return not self.chain or self.chain[-1].read


def _link(ref: OwnerReference, snapshot: Snapshot, ns: str) -> tuple[OwnerLink, OwnerReference | None, str]:
    key = (ns, ref.kind, ref.name)
    obj = snapshot.owners.get(key)
    if obj is None:
        # Files name their paths as the source; a live read records why (403, 404) or ran out of budget; the
        # exporter (no source) does not read owners.
        files = bool(snapshot.source) and not snapshot.source.startswith("cluster ")
        why = snapshot.unread_owners.get(key) or ("not in the input" if files else "not read")
        return OwnerLink(ref.kind, ref.name, ref.api_version), None, why
    return OwnerLink(ref.kind, ref.name, ref.api_version or obj.api_version, True), obj.controller_ref(), ""


def owner_chain(snapshot: Snapshot, pod: Pod) -> Owners:
    """Follow the pod's controller reference through ``snapshot.owners`` (bounded; a cycle ends it)."""
    ref = controller_of(pod.metadata.owner_references)
    ns = pod.metadata.namespace
    chain: list[OwnerLink] = []
    seen: set[tuple[str, str]] = set()
    why = ""
    while ref is not None and len(chain) < MAX_DEPTH and (ref.kind, ref.name) not in seen:
        seen.add((ref.kind, ref.name))
        link, ref, why = _link(ref, snapshot, ns)
        chain.append(link)
    return Owners(tuple(chain), why)
