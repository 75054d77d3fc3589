"""The objects a cluster holds while a container cannot get its image, as ``kubectl get -o json`` shows them.

Formats follow the kubelet (research/kubelet-semantics.md §3): the waiting state (``ErrImagePull`` with the
runtime's error; ``ImagePullBackOff`` with ``Back-off pulling image "X": ErrImagePull: <error>`` since 1.32),
and the events ``Pulling``, ``Failed`` ("Failed to pull image "X": <error>", then "Error: ErrImagePull"),
``BackOff`` and ``Failed`` "Error: ImagePullBackOff". Used by ``generate.py`` (the bundled example) and by
the end-to-end tests, so both write exactly the same shapes.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

Obj = dict[str, Any]


def ts(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(ns: str, name: str, container: str, image: str, *, reason: str, message: str, node: str,
        policy: str | None = None, pull_secrets: tuple[str, ...] = (), service_account: str = "default",
        init: bool = False, owner: tuple[str, str] | None = None, created: datetime | None = None,
        uid: str | None = None) -> Obj:
    """A pending pod whose (only) container waits with ``reason``/``message``."""
    spec_c: Obj = {"name": container, "image": image}
    if policy:
        spec_c["imagePullPolicy"] = policy
    status_c = {"name": container, "image": image, "imageID": "", "ready": False, "restartCount": 0,
                "state": {"waiting": {"reason": reason, "message": message}}}
    meta: Obj = {"name": name, "namespace": ns, "uid": uid or str(uuid.uuid4()),
                 "creationTimestamp": ts(created or datetime.now(UTC))}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1],
                                    "controller": True, "uid": str(uuid.uuid4())}]
    spec: Obj = {"nodeName": node, "serviceAccountName": service_account}
    if pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in pull_secrets]
    key, skey = ("initContainers", "initContainerStatuses") if init else ("containers", "containerStatuses")
    spec[key] = [spec_c]
    if init:
        spec["containers"] = [{"name": "main", "image": "registry.k8s.io/pause:3.9"}]
    status: Obj = {"phase": "Pending", skey: [status_c],
                   "conditions": [{"type": "PodScheduled", "status": "True"}]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def backoff_message(image: str, error: str) -> str:
    """The waiting message of ImagePullBackOff on 1.32+ kubelets (kubernetes PR #127918)."""
    return f'Back-off pulling image "{image}": ErrImagePull: {error}'


def _event(p: Obj, reason: str, etype: str, message: str, count: int, first: datetime, last: datetime,
           container: str, init: bool) -> Obj:
    m = p["metadata"]
    section = "initContainers" if init else "containers"
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{m['name']}.{uuid.uuid4().hex[:16]}", "namespace": m["namespace"]},
        "involvedObject": {"kind": "Pod", "namespace": m["namespace"], "name": m["name"], "uid": m["uid"],
                           "apiVersion": "v1", "fieldPath": f"spec.{section}{{{container}}}"},
        "reason": reason, "type": etype, "message": message, "count": count,
        "firstTimestamp": ts(first), "lastTimestamp": ts(last),
        "source": {"component": "kubelet", "host": p["spec"].get("nodeName", "")},
    }


def pull_failure_events(p: Obj, error: str, *, attempts: int, last: datetime) -> list[Obj]:
    """The kubelet's events after ``attempts`` failed pulls: back-off 10 s doubling to 300 s."""
    c = (p["spec"].get("initContainers") or p["spec"]["containers"])[0]
    init = bool(p["spec"].get("initContainers"))
    name, image = c["name"], c["image"]
    total = sum(min(10 * 2 ** i, 300) for i in range(attempts - 1))
    first = last - timedelta(seconds=total)
    ev = [
        _event(p, "Pulling", "Normal", f'Pulling image "{image}"', attempts, first, last, name, init),
        _event(p, "Failed", "Warning", f'Failed to pull image "{image}": {error}', attempts, first, last, name, init),
        _event(p, "Failed", "Warning", "Error: ErrImagePull", attempts, first, last, name, init),
    ]
    if attempts > 1:
        backoffs = attempts * 3
        ev += [
            _event(p, "BackOff", "Normal", f'Back-off pulling image "{image}"', backoffs, first, last, name, init),
            _event(p, "Failed", "Warning", "Error: ImagePullBackOff", backoffs, first, last, name, init),
        ]
    return ev


def never_pull_events(p: Obj, *, count: int, last: datetime) -> list[Obj]:
    c = p["spec"]["containers"][0]
    msg = f'Container image "{c["image"]}" is not present with pull policy of Never'
    return [_event(p, "ErrImageNeverPull", "Warning", msg, count, last - timedelta(minutes=count), last,
                   c["name"], False),
            _event(p, "Failed", "Warning", "Error: ErrImageNeverPull", count, last - timedelta(minutes=count), last,
                   c["name"], False)]


def inspect_failed_events(p: Obj, message: str, *, count: int, last: datetime) -> list[Obj]:
    c = p["spec"]["containers"][0]
    return [_event(p, "InspectFailed", "Warning", message, count, last - timedelta(minutes=count), last,
                   c["name"], False),
            _event(p, "Failed", "Warning", "Error: InvalidImageName", count, last - timedelta(minutes=count), last,
                   c["name"], False)]


def missing_secret_event(p: Obj, names: tuple[str, ...], last: datetime) -> Obj:
    """Pod-level (no fieldPath) FailedToRetrieveImagePullSecret, kubelet 1.28+."""
    m = p["metadata"]
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{m['name']}.{uuid.uuid4().hex[:16]}", "namespace": m["namespace"]},
        "involvedObject": {"kind": "Pod", "namespace": m["namespace"], "name": m["name"], "uid": m["uid"],
                           "apiVersion": "v1"},
        "reason": "FailedToRetrieveImagePullSecret", "type": "Warning",
        "message": f"Unable to retrieve some image pull secrets ({', '.join(names)}); attempting to pull the "
                   "image may not succeed.",
        "count": 1, "firstTimestamp": ts(last), "lastTimestamp": ts(last),
        "source": {"component": "kubelet", "host": p["spec"].get("nodeName", "")},
    }


def docker_config(entries: dict[str, tuple[str, str]]) -> str:
    """A ``.dockerconfigjson`` document: host -> (user, password)."""
    auths = {host: {"username": u, "password": pw, "auth": base64.b64encode(f"{u}:{pw}".encode()).decode()}
             for host, (u, pw) in entries.items()}
    return json.dumps({"auths": auths})


def secret(ns: str, name: str, entries: dict[str, tuple[str, str]], *,
           type_: str = "kubernetes.io/dockerconfigjson") -> Obj:
    data = base64.b64encode(docker_config(entries).encode()).decode()
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "type": type_,
            "data": {".dockerconfigjson": data}}


def service_account(ns: str, name: str, pull_secrets: tuple[str, ...] = ()) -> Obj:
    sa: Obj = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns}}
    if pull_secrets:
        sa["imagePullSecrets"] = [{"name": s} for s in pull_secrets]
    return sa


def node(name: str, *, arch: str = "amd64", images: tuple[str, ...] = (), disk_pressure: bool = False,
         runtime: str = "containerd://1.7.22", kubelet: str = "v1.32.3") -> Obj:
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/arch": arch, "kubernetes.io/os": "linux",
                                              "kubernetes.io/hostname": name}},
        "status": {
            "nodeInfo": {"architecture": arch, "operatingSystem": "linux", "containerRuntimeVersion": runtime,
                         "kubeletVersion": kubelet},
            "conditions": [
                {"type": "DiskPressure", "status": "True" if disk_pressure else "False",
                 "reason": "KubeletHasDiskPressure" if disk_pressure else "KubeletHasNoDiskPressure"},
                {"type": "Ready", "status": "True", "reason": "KubeletReady"},
            ],
            "images": [{"names": [i], "sizeBytes": 5_000_000} for i in images],
        },
    }


def owner_objects(pods: list[Obj]) -> list[Obj]:
    """The ReplicaSets the pods name and the Deployments that own them (what `kubectl get rs,deploy -o json`
    gives, cut to metadata): pulldoctor follows ownerReferences instead of guessing from names."""
    out: dict[tuple[str, str, str], Obj] = {}
    for p in pods:
        ns = p["metadata"]["namespace"]
        for ref in p["metadata"].get("ownerReferences", []):
            if ref["kind"] != "ReplicaSet" or (ns, "ReplicaSet", ref["name"]) in out:
                continue
            deploy = ref["name"].rsplit("-", 1)[0]
            duid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"deployment/{ns}/{deploy}"))
            out[(ns, "Deployment", deploy)] = {"apiVersion": "apps/v1", "kind": "Deployment",
                                               "metadata": {"name": deploy, "namespace": ns, "uid": duid}}
            out[(ns, "ReplicaSet", ref["name"])] = {
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": ref["name"], "namespace": ns, "uid": ref["uid"], "ownerReferences": [
                    {"apiVersion": "apps/v1", "kind": "Deployment", "name": deploy, "uid": duid, "controller": True,
                     "blockOwnerDeletion": True}]}}
    return list(out.values())


def as_list(items: list[Obj]) -> Obj:
    return {"apiVersion": "v1", "kind": "List", "items": items}
