"""Which namespaces exist: those an input's objects name, or those a live cluster lists.

``diagnose -n shpo`` (a typo) must not read as "nothing is failing": the command names the scope that had no
pods and the closest namespace that does exist. Live, listing namespaces needs ``list`` on ``namespaces``;
without it the command says it could not check.
"""

from __future__ import annotations

import msgspec

from pulldoctor.cluster.model import DocumentError, check_object_count
from pulldoctor.cluster.snapshot import Snapshot, SourceSpec
from pulldoctor.errors import ClusterAccessError

MAX_NAMESPACES = 100_000
_PAGE_CAP = 16 << 20


class _Meta(msgspec.Struct, gc=False):
    name: str = ""


class _Item(msgspec.Struct, gc=False):
    metadata: _Meta = msgspec.field(default_factory=_Meta)


class _ListMeta(msgspec.Struct, gc=False, rename={"resource_version": "resourceVersion", "continue_": "continue"}):
    resource_version: str = ""
    continue_: str = ""


class _List(msgspec.Struct, gc=False):
    items: list[_Item] = []
    metadata: _ListMeta = msgspec.field(default_factory=_ListMeta)


_DECODER = msgspec.json.Decoder(_List)


def in_snapshot(snapshot: Snapshot) -> set[str]:
    """Every namespace an object of the input names (pods, events, secrets, service accounts)."""
    names = {p.metadata.namespace for p in snapshot.pods}
    names |= {(e.involved_object or e.regarding or e.metadata).namespace for e in snapshot.events}
    names |= {ns for ns, _ in snapshot.secrets} | {ns for ns, _ in snapshot.service_accounts}
    return {n for n in names if n}


def live(spec: SourceSpec) -> list[str]:
    """The cluster's namespaces (``GET /api/v1/namespaces``, paged and bounded). Raises ``ClusterAccessError``
    (a 403 is an ``ApiForbidden``) when they cannot be listed."""
    from pulldoctor.kubeapi import connect, list_all

    api = connect(kubeconfig=spec.kubeconfig, context=spec.context, request_timeout=spec.request_timeout)

    def decode(body: bytes) -> tuple[list[_Item], str, str]:
        try:
            check_object_count(body)
            page = _DECODER.decode(body)
        except (DocumentError, msgspec.MsgspecError) as err:
            raise ClusterAccessError(f"the Kubernetes API at {api.host} sent a namespace list pulldoctor "
                                     f"cannot read ({err})") from None
        return page.items, page.metadata.resource_version, page.metadata.continue_

    try:
        items = list_all(api, "/api/v1/namespaces", [], decode, page_size=max(1, spec.page_size), cap=_PAGE_CAP,
                         max_pages=1000, max_objects=MAX_NAMESPACES, what="namespaces")
    finally:
        api.close()
    return sorted({i.metadata.name for i in items if i.metadata.name})


def nothing_seen(snapshot: Snapshot, spec: SourceSpec) -> str:
    """One line for a scope without a single pod: which scope, and for a namespace whether it exists and the
    closest one that does ("no pods in namespace shpo: no such namespace in the input (did you mean shop?)")."""
    from pulldoctor.similar import closest

    if spec.paths:
        where = "the input"
        ns = None if spec.all_namespaces else spec.namespace
        if ns is None:
            return "no pods in the input"
        known = in_snapshot(snapshot)
        exists = ns in known
    else:
        listed = snapshot.complete.get("Pod", set())
        ns = next((n for n in sorted(listed) if n != "*"), None)
        where = snapshot.source.split(" (", 1)[0] or "the cluster"
        if ns is None:
            return f"no pods in any namespace of {where}"
        try:
            known = set(live(spec))
        except ClusterAccessError as err:
            return f"no pods in namespace {ns} of {where} (could not list namespaces to check its name: {err})"
        exists = ns in known
    if exists:
        return f"no pods in namespace {ns} of {where}"
    near = closest(ns, sorted(known))
    hint = f" (did you mean {' or '.join(near)}?)" if near else (
        f" (it has {', '.join(sorted(known)[:8])}{', …' if len(known) > 8 else ''})" if known else "")
    return f"no pods in namespace {ns}: {where} has no namespace {ns}{hint}"
