"""Read a live cluster for ``diagnose`` and ``collect``, through ``pulldoctor.kubeapi`` (the one API
client: configuration, bounded GETs, pages, typed errors); the raw bytes are decoded by ``model``.

What is read, and why so little: pods in scope (paged with ``limit``/``continue``); then, only if some
container cannot get its image, the image events of those namespaces, and exactly the nodes, service
accounts and pull secrets those pods use (GET by name: no secret of the namespace is downloaded that the
kubelet would not use). Least privilege: a 403 on anything but pods is a note, not an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

import msgspec

from pulldoctor.cluster.failing import is_image_failing
from pulldoctor.cluster.model import (
    LIST_DECODER_FOR_KIND,
    MAX_OBJECTS_PER_DOCUMENT,
    DocumentError,
    Node,
    OwnerReference,
    Pod,
    Secret,
    ServiceAccount,
    Workload,
    check_object_count,
    controller_of,
    decode_object,
    decode_with,
    decode_workload,
)
from pulldoctor.cluster.owners import MAX_DEPTH
from pulldoctor.cluster.snapshot import Snapshot, SourceSpec
from pulldoctor.errors import ApiForbidden, ApiNotFound, ApiUnauthorized, ClusterAccessError
from pulldoctor.kubeapi import KubeApi, Page, connect, list_all

MAX_RESPONSE_BYTES = 512 << 20     # one page or object; real pages of 500 pods are a few MB
MAX_PAGES = 10_000                 # bounds a listing (5 M objects at 500 a page)
MAX_GETS = 500                     # nodes + service accounts + secrets fetched by name
ALL_NAMESPACE_EVENTS_ABOVE = 20    # failing namespaces above which events are listed cluster-wide
EVENTS_V1 = "/apis/events.k8s.io/v1"


class _Reader:
    """The calls ``diagnose``/``collect`` make with one ``KubeApi``: lists decoded by kind, GETs by name."""

    def __init__(self, api: KubeApi, page_size: int) -> None:
        self.api = api
        self.host = api.host
        self.page_size = max(1, page_size)

    def list(self, kind: str, path: str, field_selector: str | None = None) -> list[Any]:
        """Every item of a listing, page by page; lists again once on 410 Gone (``kubeapi.list_all``)."""
        decoder = LIST_DECODER_FOR_KIND[kind]

        def decode(body: bytes) -> Page[Any]:
            try:
                check_object_count(body)  # a page of 500 asked for; a server may send millions
                page = decode_with(decoder, body)
            except DocumentError as err:
                raise ClusterAccessError(f"the Kubernetes API at {self.host} sent a {kind} list of {err}") from None
            except msgspec.MsgspecError as err:
                raise ClusterAccessError(f"the Kubernetes API at {self.host} sent a {kind} list "
                                         f"pulldoctor cannot read ({err})") from None
            return page.items, page.metadata.resource_version, page.metadata.continue_

        query = [("fieldSelector", field_selector)] if field_selector else []
        return list_all(self.api, path, query, decode, page_size=self.page_size, cap=MAX_RESPONSE_BYTES,
                        max_pages=MAX_PAGES, max_objects=MAX_OBJECTS_PER_DOCUMENT, what=f"{kind}s")

    def get(self, kind: str, path: str) -> Any:
        body = self.api.get(path, cap=MAX_RESPONSE_BYTES)
        try:
            return decode_object(body, kind)
        except msgspec.MsgspecError as err:
            raise ClusterAccessError(f"the Kubernetes API at {self.host} sent a {kind} pulldoctor cannot read "
                                     f"({err})") from None


class ByName:
    """Reads by name for a caller other than ``diagnose`` (``preflight --context``): one connection with the
    kubeconfig rules, bounds and typed errors of ``diagnose``. An absent object is None; a 403 raises
    ``ApiForbidden`` for the caller to note (least privilege: it decides what a refusal means)."""

    def __init__(self, spec: SourceSpec) -> None:
        self.api = connect(kubeconfig=spec.kubeconfig, context=spec.context, request_timeout=spec.request_timeout)
        self._reader = _Reader(self.api, spec.page_size)
        self.host = self.api.host

    def _get(self, kind: str, resource: str, ns: str, name: str) -> Any:
        try:
            return self._reader.get(kind, _object(resource, ns, name))
        except ApiNotFound:
            return None

    def secret(self, ns: str, name: str) -> Secret | None:
        found: Secret | None = self._get("Secret", "secrets", ns, name)
        return found

    def service_account(self, ns: str, name: str) -> ServiceAccount | None:
        found: ServiceAccount | None = self._get("ServiceAccount", "serviceaccounts", ns, name)
        return found

    def nodes(self) -> list[Node]:
        return self._reader.list("Node", "/api/v1/nodes")

    def close(self) -> None:
        self.api.close()


def _collection(prefix: str, resource: str, ns: str | None) -> str:
    return f"{prefix}/namespaces/{quote(ns, safe='')}/{resource}" if ns else f"{prefix}/{resource}"


def _object(resource: str, ns: str | None, name: str) -> str:
    return f"{_collection('/api/v1', resource, ns)}/{quote(name, safe='')}"


def _scope(spec: SourceSpec, api: KubeApi) -> str | None:
    return None if spec.all_namespaces else (spec.namespace or api.namespace)


def _where(ns: str | None) -> str:
    return f"namespace {ns}" if ns else "all namespaces"


def load_live(spec: SourceSpec, snapshot: Snapshot) -> None:
    """Fill ``snapshot`` from the cluster ``spec`` points at (see the module docstring for what is read)."""
    api = connect(kubeconfig=spec.kubeconfig, context=spec.context, request_timeout=spec.request_timeout)
    try:
        _load(spec, _Reader(api, spec.page_size), snapshot)
    finally:
        api.close()


def _load(spec: SourceSpec, s: _Reader, snap: Snapshot) -> None:
    ns = _scope(spec, s.api)
    snap.source = f"cluster {s.host} ({_where(ns)})"
    try:
        pods = s.list("Pod", _collection("/api/v1", "pods", ns), f"metadata.name={spec.pod}" if spec.pod else None)
    except ApiForbidden as err:
        what = "unauthorized" if isinstance(err, ApiUnauthorized) else "forbidden"
        raise ClusterAccessError(f"cannot list pods in {_where(ns)}: {what} ({err.message})") from None
    snap.add(pods, mark_listed=False)
    snap.mark_listed("Pod", ns)
    failing = [p for p in pods if is_image_failing(p)]
    if not failing:
        return
    namespaces = sorted({p.metadata.namespace for p in failing})
    _load_events(s, snap, ns, namespaces)
    budget = [MAX_GETS]
    _load_nodes(s, snap, sorted({p.spec.node_name for p in failing if p.spec.node_name}), budget)
    sa_secrets = _load_service_accounts(s, snap, failing, budget)
    wanted: dict[str, set[str]] = {}
    for p in failing:
        names = [r.name for r in p.spec.image_pull_secrets if r.name] or \
            sa_secrets.get((p.metadata.namespace, p.spec.service_account_name or "default"), [])
        wanted.setdefault(p.metadata.namespace, set()).update(names)
    _load_secrets(s, snap, wanted, budget)
    _load_owners(s, snap, failing, budget)


def _load_events(s: _Reader, snap: Snapshot, scope: str | None, namespaces: list[str]) -> None:
    """core/v1 events about pods; events.k8s.io/v1 if core/v1 is forbidden. Per failing namespace, or
    cluster-wide when there are many."""
    targets: Iterable[str | None] = [None] if scope is None and len(namespaces) > ALL_NAMESPACE_EVENTS_ABOVE \
        else namespaces
    for ns in targets:
        try:
            items = s.list("Event", _collection("/api/v1", "events", ns), "involvedObject.kind=Pod")
        except ApiForbidden:
            try:
                items = s.list("Event", _collection(EVENTS_V1, "events", ns), "regarding.kind=Pod")
            except ApiForbidden:
                snap.notes.append(f"could not list events in {_where(ns)}: forbidden; "
                                  "timelines come from waiting messages only")
                continue
        snap.add(items, mark_listed=False)
        snap.mark_listed("Event", ns)


def _spend(budget: list[int], snap: Snapshot, what: str) -> bool:
    if budget[0] <= 0:
        if not any(n.startswith("more than") for n in snap.notes):
            snap.notes.append(f"more than {MAX_GETS} objects to fetch by name; {what} and later were not read")
        return False
    budget[0] -= 1
    return True


def _load_nodes(s: _Reader, snap: Snapshot, names: list[str], budget: list[int]) -> None:
    for name in names:
        if not _spend(budget, snap, f"node {name}"):
            return
        try:
            snap.add([s.get("Node", _object("nodes", None, name))], mark_listed=False)
        except ApiForbidden:
            snap.notes.append("could not read nodes: forbidden; node images, platform and disk were not checked")
            return
        except ApiNotFound:
            snap.notes.append(f"node {name} no longer exists")


def _load_service_accounts(s: _Reader, snap: Snapshot, failing: list[Pod],
                           budget: list[int]) -> dict[tuple[str, str], list[str]]:
    """The service accounts of pods without their own pull secrets (the only ones whose secrets count)."""
    wanted: dict[str, set[str]] = {}
    for p in failing:
        if not any(r.name for r in p.spec.image_pull_secrets):
            wanted.setdefault(p.metadata.namespace, set()).add(p.spec.service_account_name or "default")
    sas = _get_by_name(s, snap, "ServiceAccount", wanted, budget,
                       "could not read service accounts in namespace {ns}: forbidden; "
                       "pull secrets they add were not checked")
    return {(ns, name): [r.name for r in sa.image_pull_secrets if r.name] for ns, name, sa in sas}


def _load_secrets(s: _Reader, snap: Snapshot, wanted: dict[str, set[str]], budget: list[int]) -> None:
    """GET exactly the pull secrets in effect; a 404 is a missing secret, a 403 leaves them unchecked."""
    for _ in _get_by_name(s, snap, "Secret", wanted, budget,
                          "could not read secrets in namespace {ns}: forbidden; pull secrets were not checked"):
        pass


_WHAT = {"ServiceAccount": "service account", "Secret": "secret"}
_RESOURCE = {"ServiceAccount": "serviceaccounts", "Secret": "secrets"}


def _get_by_name(s: _Reader, snap: Snapshot, kind: str, wanted: dict[str, set[str]], budget: list[int],
                 forbidden: str) -> Iterator[tuple[str, str, Any]]:
    """GET each wanted name of ``kind``, namespace by namespace, adding what exists to ``snap``; yields
    (namespace, name, object). A 404 is an absent object; a 403 notes ``forbidden`` and leaves the rest of
    that namespace unread. A namespace counts as read (so that absent means missing) only when every name
    was answered."""
    for ns, names in sorted(wanted.items()):
        complete = True
        for name in sorted(names):
            if not _spend(budget, snap, f"{_WHAT[kind]} {ns}/{name}"):
                return
            try:
                obj = s.get(kind, _object(_RESOURCE[kind], ns, name))
            except ApiForbidden:
                snap.notes.append(forbidden.format(ns=ns))
                complete = False
                break
            except ApiNotFound:
                continue
            snap.add([obj], mark_listed=False)
            yield ns, name, obj
        if complete and names:
            snap.mark_listed(kind, ns)


#: Where the built-in owners live: kind -> (API prefix, resource).
_OWNER_PATHS = {
    "ReplicaSet": ("/apis/apps/v1", "replicasets"), "Deployment": ("/apis/apps/v1", "deployments"),
    "StatefulSet": ("/apis/apps/v1", "statefulsets"), "DaemonSet": ("/apis/apps/v1", "daemonsets"),
    "Job": ("/apis/batch/v1", "jobs"), "CronJob": ("/apis/batch/v1", "cronjobs"),
    "ReplicationController": ("/api/v1", "replicationcontrollers"),
}  # fmt: skip


class _Discovery(msgspec.Struct, gc=False):
    class Resource(msgspec.Struct, gc=False):
        name: str = ""
        kind: str = ""
        namespaced: bool = True

    resources: list[Resource] = []


def _owner_path(s: _Reader, ref: OwnerReference, ns: str, plurals: dict[str, dict[str, str]]) -> str | None:
    """The GET path of an owner: built-in kinds by table, a custom resource (an Argo Rollout) through the
    discovery document of its apiVersion (read once per group/version). None when it cannot be found."""
    if ref.kind in _OWNER_PATHS and ref.api_version in ("", "v1", "apps/v1", "batch/v1"):
        prefix, resource = _OWNER_PATHS[ref.kind]
    else:
        if "/" not in ref.api_version:
            return None
        if ref.api_version not in plurals:
            body = s.api.get(f"/apis/{ref.api_version}", cap=MAX_RESPONSE_BYTES)
            try:
                doc = msgspec.json.decode(body, type=_Discovery)
            except msgspec.MsgspecError:
                doc = _Discovery()
            plurals[ref.api_version] = {r.kind: r.name for r in doc.resources if "/" not in r.name and r.namespaced}
        found = plurals[ref.api_version].get(ref.kind)
        if found is None:
            return None
        prefix, resource = f"/apis/{ref.api_version}", found
    return f"{_collection(prefix, resource, ns)}/{quote(ref.name, safe='')}"


def _load_owners(s: _Reader, snap: Snapshot, failing: list[Pod], budget: list[int]) -> None:
    """Read each failing pod's owner chain (ReplicaSet → Deployment, Job → CronJob, a custom resource…),
    GET by name, at most ``MAX_DEPTH`` deep; a 403 or 404 is remembered in ``snap.unread_owners`` (diagnosis
    then says the owner is inferred) and noted once per kind."""
    plurals: dict[str, dict[str, str]] = {}
    forbidden: set[str] = set()
    for p in failing:
        ns = p.metadata.namespace
        ref = controller_of(p.metadata.owner_references)
        for _ in range(MAX_DEPTH):
            if ref is None:
                break
            key = (ns, ref.kind, ref.name)
            if key in snap.owners:
                ref = snap.owners[key].controller_ref()
                continue
            if key in snap.unread_owners or not _spend(budget, snap, f"{ref.kind} {ns}/{ref.name}"):
                break
            try:
                path = _owner_path(s, ref, ns, plurals)
                if path is None:
                    snap.unread_owners[key] = f"no API for {ref.api_version or '?'} {ref.kind}"
                    break
                obj: Workload = decode_workload(s.api.get(path, cap=MAX_RESPONSE_BYTES))
            except ApiForbidden:
                snap.unread_owners[key] = "forbidden"
                if ref.kind not in forbidden:
                    forbidden.add(ref.kind)
                    snap.notes.append(f"could not read {ref.kind} objects in namespace {ns}: forbidden; owners "
                                      "above them are inferred")
                break
            except ApiNotFound:
                snap.unread_owners[key] = "not found"
                break
            except msgspec.MsgspecError as err:
                raise ClusterAccessError(f"the Kubernetes API at {s.host} sent a {ref.kind} pulldoctor cannot "
                                         f"read ({err})") from None
            if not obj.kind:
                obj.kind = ref.kind
            if not obj.metadata.namespace:
                obj.metadata.namespace = ns
            snap.add([obj], mark_listed=False)
            ref = obj.controller_ref()
