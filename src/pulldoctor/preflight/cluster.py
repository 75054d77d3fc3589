"""``--context``: what the manifests' pods would find in the cluster they are deployed to — the service
accounts and pull secrets the inputs name but do not define, and the nodes' platforms.

Why only those: a deploy replaces what its manifests define, so the inputs win; what they only *name*
(``imagePullSecrets: [{name: regcred}]`` created out of band, a service account made by another chart) is
read from the cluster, by name, through ``cluster.live.ByName`` — the kubeconfig rules, bounds and error
lines of ``diagnose``. Nothing is listed but nodes; no secret is read that no template names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pulldoctor.preflight.inputs import Location
from pulldoctor.preflight.workloads import Inventory, SecretDef, ServiceAccountDef

if TYPE_CHECKING:
    from pulldoctor.cluster.snapshot import SourceSpec
    from pulldoctor.registry.manifest import Platform

MAX_GETS = 500  # service accounts and secrets read by name, in all


@dataclass
class ClusterView:
    where: str  # "cluster https://…"
    secrets: dict[tuple[str, str], SecretDef] = field(default_factory=dict)
    service_accounts: dict[tuple[str, str], ServiceAccountDef] = field(default_factory=dict)
    unreadable: set[str] = field(default_factory=set)  # namespaces whose secrets answered 403
    platforms: list[Platform] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_cluster(spec: SourceSpec, inv: Inventory, *, platforms: bool) -> ClusterView:
    """Read what ``inv`` names and does not define; ``platforms``: also the nodes' OS/architectures.
    Raises ClusterAccessError (one line) when the cluster cannot be reached at all."""
    from pulldoctor.cluster.live import ByName

    session = ByName(spec)
    try:
        view = ClusterView(where=f"cluster {session.host}")
        budget = [MAX_GETS]
        _service_accounts(session, inv, view, budget)
        _secrets(session, inv, view, budget)
        if platforms:
            view.platforms = _node_platforms(session, view)
        return view
    finally:
        session.close()


def _get(read: Any, ns: str, name: str, view: ClusterView, budget: list[int]) -> Any:
    """``read(ns, name)``: the object, None when absent (404); raises PermissionError on 403 (the caller notes
    it); at most ``MAX_GETS`` reads in all."""
    from pulldoctor.errors import ApiForbidden

    if budget[0] <= 0:
        view.notes.append(f"read {MAX_GETS} objects from the {view.where}; the rest were not checked")
        return None
    budget[0] -= 1
    try:
        return read(ns, name)
    except ApiForbidden:
        raise PermissionError(name) from None


def _service_accounts(session: Any, inv: Inventory, view: ClusterView, budget: list[int]) -> None:
    """The service accounts of templates without their own pull secrets (only theirs count), when the
    inputs do not define them."""
    wanted = sorted({(w.namespace, w.service_account) for w in inv.workloads
                     if not w.pull_secrets and (w.namespace, w.service_account) not in inv.service_accounts})
    forbidden: set[str] = set()
    for ns, name in wanted:
        if ns in forbidden:
            continue
        try:
            sa = _get(session.service_account, ns, name, view, budget)
        except PermissionError:
            forbidden.add(ns)
            view.notes.append(f"could not read service accounts in namespace {ns} of the {view.where}: forbidden; "
                              "the pull secrets they add were not checked")
            continue
        if sa is not None:
            names = [r.name for r in sa.image_pull_secrets if r.name]
            view.service_accounts[(ns, name)] = ServiceAccountDef(ns, name, names, Location(view.where, None))


def _secrets(session: Any, inv: Inventory, view: ClusterView, budget: list[int]) -> None:
    """The pull secrets in effect that the inputs name and do not define; each located where it is named."""
    wanted: dict[tuple[str, str], Location] = {}
    for w in inv.workloads:
        if w.pull_secrets:
            named = w.pull_secrets
        else:
            sa = inv.service_accounts.get((w.namespace, w.service_account)) or \
                view.service_accounts.get((w.namespace, w.service_account))
            named = [(n, w.location) for n in (sa.pull_secrets if sa else [])]
        for name, loc in named:
            if (w.namespace, name) not in inv.secrets:
                wanted.setdefault((w.namespace, name), loc)
    for (ns, name), loc in sorted(wanted.items(), key=lambda kv: kv[0]):
        if ns in view.unreadable:
            continue
        try:
            s = _get(session.secret, ns, name, view, budget)
        except PermissionError:
            view.unreadable.add(ns)
            view.notes.append(f"could not read secrets in namespace {ns} of the {view.where}: forbidden; pull "
                              "secrets the inputs do not define were not checked there")
            continue
        if s is not None and not s.redacted:
            view.secrets[(ns, name)] = SecretDef(ns, name, s.type or "Opaque", dict(s.data or {}), loc)


def _node_platforms(session: Any, view: ClusterView) -> list[Platform]:
    from pulldoctor.errors import ApiForbidden
    from pulldoctor.registry.manifest import normalize

    try:
        nodes = session.nodes()
    except ApiForbidden:
        view.notes.append(f"could not list the nodes of the {view.where}: forbidden; platforms default to "
                          "--platform's")
        return []
    found: list[Platform] = []
    for n in nodes:
        info = n.status.node_info
        labels = n.metadata.labels
        os_ = info.operating_system or labels.get("kubernetes.io/os", "")
        arch = info.architecture or labels.get("kubernetes.io/arch", "")
        if not os_ or not arch:
            continue
        p = normalize(os_, arch)
        if p not in found:
            found.append(p)
    if not found:
        view.notes.append(f"the {view.where} has no nodes that say their platform; platforms default to "
                          "--platform's")
    return sorted(found, key=str)


def merge(inv: Inventory, view: ClusterView) -> None:
    """The cluster's objects under the inputs' (a deploy replaces what its manifests define)."""
    for key, s in view.secrets.items():
        inv.secrets.setdefault(key, s)
    for key, sa in view.service_accounts.items():
        inv.service_accounts.setdefault(key, sa)


def platform_list(given: Sequence[Platform] | None, view: ClusterView | None) -> list[Platform]:
    """``--platform`` if given, else the cluster nodes', else linux/amd64."""
    from pulldoctor.registry.manifest import parse_platform

    if given:
        return list(given)
    if view is not None and view.platforms:
        return list(view.platforms)
    return [parse_platform("linux/amd64")]
