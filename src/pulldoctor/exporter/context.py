"""The objects a diagnosis needs besides pods and events: service accounts, pull secrets, nodes.

Fetched one by one with GET, only for failing pods, and cached for ``ttl`` seconds: a 10 000-pod
cluster with three failing pods reads three service accounts, not every secret of the cluster (which
would also hold every Helm release). A 403 (secrets are optional in deploy/) or a 404 is remembered
too, and ``fill`` marks a kind as read in a namespace only when every name it needed was answered,
so a secret we could not read is never reported as missing.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

import msgspec

from pulldoctor.cluster.model import Node, Pod, Secret, ServiceAccount
from pulldoctor.cluster.snapshot import Snapshot
from pulldoctor.errors import ApiError, ApiNotFound, ApiStatusError, ApiUnavailable
from pulldoctor.kubeapi import KubeApi

MAX_OBJECT_BYTES = 8 * 1024 * 1024   # a node with many images is the biggest (~1 MiB); secrets cap at 1 MiB
MAX_CACHED = 10_000

_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    "serviceaccounts": msgspec.json.Decoder(ServiceAccount),
    "secrets": msgspec.json.Decoder(Secret),
    "nodes": msgspec.json.Decoder(Node),
}


Answer = Any  # a decoded object, or the ApiError it gave (ApiNotFound: it does not exist; others: unknown)


class ContextCache:
    """GET-with-TTL cache for service accounts, secrets and nodes. Thread-safe."""

    def __init__(self, api: KubeApi | None, ttl: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._api = api
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, str, str], tuple[float, Answer]] = OrderedDict()
        self.gets = 0

    def _get(self, kind: str, namespace: str, name: str) -> Answer:
        key = (kind, namespace, name)
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < self._ttl:
                return hit[1]
        answer = self._fetch(kind, namespace, name)
        with self._lock:
            self._cache.pop(key, None)
            self._cache[key] = (now, answer)
            while len(self._cache) > MAX_CACHED:
                self._cache.popitem(last=False)
        return answer

    def _fetch(self, kind: str, namespace: str, name: str) -> Answer:
        if self._api is None:
            return ApiUnavailable("no API access")
        path = (f"/api/v1/namespaces/{quote(namespace, safe='')}/{kind}/{quote(name, safe='')}"
                if namespace else f"/api/v1/{kind}/{quote(name, safe='')}")
        self.gets += 1
        try:
            data = self._api.get(path, cap=MAX_OBJECT_BYTES, timeout=min(15.0, self._api.request_timeout))
            return _DECODERS[kind].decode(data)
        except ApiError as err:
            return err
        except Exception as err:  # an object that does not decode: unknown, as an unreachable server
            return ApiUnavailable(type(err).__name__)

    def fill(self, snapshot: Snapshot, pods: Iterable[Pod]) -> None:
        """Add to ``snapshot`` the service accounts, pull secrets and nodes ``pods`` need."""
        sa_ok: dict[str, bool] = {}
        secret_ok: dict[str, bool] = {}
        nodes_ok = True
        notes: set[str] = set()
        for pod in pods:
            ns = pod.metadata.namespace
            names = [r.name for r in pod.spec.image_pull_secrets if r.name]
            if not names:
                sa_name = pod.spec.service_account_name or "default"
                sa = self._get("serviceaccounts", ns, sa_name)
                if isinstance(sa, ServiceAccount):
                    snapshot.service_accounts[(ns, sa_name)] = sa
                    names = [r.name for r in sa.image_pull_secrets if r.name]
                sa_ok[ns] = sa_ok.get(ns, True) and not _unreadable(sa)
                if _unreadable(sa):
                    notes.add(f"could not read service account {ns}/{sa_name} ({_why(sa)})")
            for name in names:
                secret = self._get("secrets", ns, name)
                if isinstance(secret, Secret):
                    snapshot.secrets[(ns, name)] = secret
                secret_ok[ns] = secret_ok.get(ns, True) and not _unreadable(secret)
                if _unreadable(secret):
                    notes.add(f"could not read secret {ns}/{name} ({_why(secret)}); pull secrets not checked")
            node_name = pod.spec.node_name
            if node_name and node_name not in snapshot.nodes:
                node = self._get("nodes", "", node_name)
                if isinstance(node, Node):
                    snapshot.nodes[node_name] = node
                elif _unreadable(node):
                    nodes_ok = False
        for ns, ok in sa_ok.items():
            if ok:
                snapshot.mark_listed("ServiceAccount", ns)
        for ns, ok in secret_ok.items():
            if ok:
                snapshot.mark_listed("Secret", ns)
        if nodes_ok:
            snapshot.mark_listed("Node", None)
        snapshot.notes.extend(sorted(notes))


def _unreadable(answer: Answer) -> bool:
    """An error other than 404: whether the object exists is unknown."""
    return isinstance(answer, ApiError) and not isinstance(answer, ApiNotFound)


def _why(err: ApiError) -> str:
    """Short, and with no text the server chose beyond its Status reason: "403 Forbidden", "ApiTimeout"."""
    if isinstance(err, ApiStatusError):
        return f"{err.status} {err.reason}"
    return type(err).__name__ if err.host else str(err)
