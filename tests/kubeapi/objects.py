"""Factories for Kubernetes objects as the API server returns them (dicts), for tests and the fake server.

They produce the real shapes (camelCase, RFC 3339 times, kind/apiVersion) with only what a test sets,
plus realistic filler when ``bulky=True`` (managedFields, env, volumes) to measure decoding.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


def ts(t: datetime | float) -> str:
    """RFC 3339 UTC, as the API writes it; a number is seconds after ``T0``."""
    if not isinstance(t, datetime):
        t = T0 + timedelta(seconds=t)
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro(t: datetime | float) -> str:
    if not isinstance(t, datetime):
        t = T0 + timedelta(seconds=t)
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def container(name: str, image: str, policy: str | None = "IfNotPresent") -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "image": image}
    if policy:
        c["imagePullPolicy"] = policy
    return c


def waiting(name: str, image: str, reason: str, message: str = "", restarts: int = 0) -> dict[str, Any]:
    w: dict[str, Any] = {"reason": reason}
    if message:
        w["message"] = message
    return {"name": name, "image": image, "imageID": "", "ready": False, "restartCount": restarts,
            "started": False, "state": {"waiting": w}}


def running(name: str, image: str) -> dict[str, Any]:
    return {"name": name, "image": image, "imageID": f"{image}@sha256:{'a' * 64}", "ready": True,
            "restartCount": 0, "started": True, "state": {"running": {"startedAt": ts(0)}}}


def pod(name: str, namespace: str = "default", *, containers: list[dict[str, Any]] | None = None,
        init_containers: list[dict[str, Any]] | None = None,
        ephemeral_containers: list[dict[str, Any]] | None = None,
        statuses: list[dict[str, Any]] | None = None, init_statuses: list[dict[str, Any]] | None = None,
        ephemeral_statuses: list[dict[str, Any]] | None = None, phase: str = "Pending",
        node: str | None = "node-1", service_account: str = "default",
        pull_secrets: list[str] | None = None, uid: str | None = None, unschedulable: bool = False,
        owner: tuple[str, str] | None = None, bulky: bool = False) -> dict[str, Any]:
    """A pod as ``kubectl get pod -o json`` prints it."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "uid": uid or str(uuid.uuid4()),
                            "creationTimestamp": ts(0), "resourceVersion": "1",
                            "labels": {"app": name.rsplit("-", 2)[0]}}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1],
                                    "uid": str(uuid.uuid4()), "controller": True, "blockOwnerDeletion": True}]
    spec: dict[str, Any] = {"containers": containers or [container("app", "nginx:1.25")],
                            "serviceAccountName": service_account, "restartPolicy": "Always",
                            "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler"}
    if node:
        spec["nodeName"] = node
    if init_containers:
        spec["initContainers"] = init_containers
    if ephemeral_containers:
        spec["ephemeralContainers"] = ephemeral_containers
    if pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in pull_secrets]
    conditions = [{"type": "PodScheduled", "status": "False" if unschedulable else "True",
                   "lastTransitionTime": ts(0), "lastProbeTime": None}]
    if unschedulable:
        conditions[0].update(reason="Unschedulable",
                             message="0/3 nodes are available: 3 Insufficient cpu.")
    status: dict[str, Any] = {"phase": phase, "conditions": conditions, "qosClass": "BestEffort"}
    if statuses:
        status["containerStatuses"] = statuses
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    if ephemeral_statuses:
        status["ephemeralContainerStatuses"] = ephemeral_statuses
    if bulky:
        _bulk(meta, spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status}


def _bulk(meta: dict[str, Any], spec: dict[str, Any],
          managers: tuple[str, ...] = ("kube-controller-manager", "kubelet"), env: int = 3) -> None:
    """What real pods carry and pulldoctor never reads (a pod is then ~3.5 KB of JSON, ~10 KB as kubectl
    indents it)."""
    meta["managedFields"] = [{
        "apiVersion": "v1", "fieldsType": "FieldsV1", "manager": m, "operation": "Update", "time": ts(0),
        "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}, "f:pod-template-hash": {}}},
                     "f:spec": {"f:containers": {'k:{"name":"app"}': {
                         ".": {}, "f:env": {".": {}, 'k:{"name":"LOG_LEVEL"}': {".": {}, "f:name": {}}},
                         "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:resources": {},
                         "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}}},
                     "f:status": {"f:conditions": {'k:{"type":"Ready"}': {".": {}, "f:status": {}}}}},
    } for m in managers]
    meta["annotations"] = {"kubectl.kubernetes.io/restartedAt": ts(0), "checksum/config": "f" * 64}
    for c in spec["containers"]:
        c["env"] = [{"name": f"VAR_{i}", "value": f"value-{i}-" + "x" * 20} for i in range(env)]
        c["resources"] = {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m"}}
        c["volumeMounts"] = [{"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/sa",
                              "readOnly": True}]
        c["terminationMessagePath"] = "/dev/termination-log"
    spec["volumes"] = [{"name": "kube-api-access", "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}}]
    spec["tolerations"] = [{"key": k, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
                           for k in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")]


def event(pod_obj: dict[str, Any], reason: str, message: str, *, container: str | None = None,
          section: str = "containers", count: int = 1, first: float = 0, last: float | None = None,
          type: str | None = None, name: str | None = None, with_uid: bool = True) -> dict[str, Any]:
    """A core/v1 event about a pod (container-level when ``container`` is given)."""
    meta = pod_obj["metadata"]
    ref: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "name": meta["name"],
                           "namespace": meta["namespace"]}
    if with_uid:
        ref["uid"] = meta["uid"]
    if container:
        ref["fieldPath"] = f"spec.{section}{{{container}}}"
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name or f"{meta['name']}.{uuid.uuid4().hex[:16]}", "namespace": meta["namespace"],
                     "uid": str(uuid.uuid4()), "resourceVersion": "1", "creationTimestamp": ts(first)},
        "involvedObject": ref, "reason": reason, "message": message,
        "type": type or ("Normal" if reason in ("Pulling", "Pulled", "BackOff") else "Warning"),
        "count": count, "firstTimestamp": ts(first), "lastTimestamp": ts(first if last is None else last),
        "source": {"component": "kubelet", "host": pod_obj["spec"].get("nodeName", "")},
        "eventTime": None, "reportingComponent": "kubelet", "reportingInstance": "node-1",
    }


def event_v1(pod_obj: dict[str, Any], reason: str, note: str, *, container: str | None = None,
             section: str = "containers", series_count: int | None = None, first: float = 0,
             last: float | None = None) -> dict[str, Any]:
    """The same event as events.k8s.io/v1 serves it: regarding, note, series, deprecated* fields."""
    meta = pod_obj["metadata"]
    ref: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "name": meta["name"],
                           "namespace": meta["namespace"], "uid": meta["uid"]}
    if container:
        ref["fieldPath"] = f"spec.{section}{{{container}}}"
    ev: dict[str, Any] = {
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}", "namespace": meta["namespace"],
                     "uid": str(uuid.uuid4())},
        "regarding": ref, "reason": reason, "note": note,
        "type": "Normal" if reason in ("Pulling", "Pulled", "BackOff") else "Warning",
        "eventTime": micro(first), "reportingController": "kubelet", "reportingInstance": "node-1",
        "action": reason, "deprecatedSource": {"component": "kubelet"},
    }
    if series_count:
        ev["series"] = {"count": series_count, "lastObservedTime": micro(first if last is None else last)}
    else:
        ev["deprecatedCount"] = 1
        ev["deprecatedFirstTimestamp"] = ts(first)
        ev["deprecatedLastTimestamp"] = ts(first if last is None else last)
    return ev


def node(name: str = "node-1", *, arch: str = "amd64", os_: str = "linux", images: list[str] | None = None,
         disk_pressure: bool = False) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "uid": str(uuid.uuid4()),
                     "labels": {"kubernetes.io/arch": arch, "kubernetes.io/os": os_,
                                "kubernetes.io/hostname": name}},
        "status": {
            "nodeInfo": {"architecture": arch, "operatingSystem": os_,
                         "containerRuntimeVersion": "containerd://1.7.24", "kubeletVersion": "v1.31.4",
                         "kernelVersion": "6.1.0", "osImage": "Debian GNU/Linux 12"},
            "conditions": [{"type": "DiskPressure", "status": "True" if disk_pressure else "False"},
                           {"type": "Ready", "status": "True"}],
            "images": [{"names": [i, i.rsplit(":", 1)[0] + "@sha256:" + "b" * 64], "sizeBytes": 12345678}
                       for i in (images or [])],
        },
    }


def docker_config(auths: dict[str, tuple[str, str]]) -> str:
    """A .dockerconfigjson payload (plain JSON text) for user/password pairs per registry key."""
    return json.dumps({"auths": {k: {"username": u, "password": p,
                                     "auth": base64.b64encode(f"{u}:{p}".encode()).decode()}
                                 for k, (u, p) in auths.items()}})


def secret(name: str, namespace: str = "default", *, auths: dict[str, tuple[str, str]] | None = None,
           type: str = "kubernetes.io/dockerconfigjson", data: dict[str, str] | None = None) -> dict[str, Any]:
    """A secret as the API returns it (``data`` base64)."""
    if data is None:
        data = {}
        if auths is not None:
            key = ".dockerconfigjson" if type == "kubernetes.io/dockerconfigjson" else ".dockercfg"
            payload = docker_config(auths)
            if type == "kubernetes.io/dockercfg":
                payload = json.dumps(json.loads(payload)["auths"])
            data[key] = base64.b64encode(payload.encode()).decode()
    return {"apiVersion": "v1", "kind": "Secret", "type": type, "data": data,
            "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4())}}


def service_account(name: str = "default", namespace: str = "default", *,
                    pull_secrets: list[str] | None = None) -> dict[str, Any]:
    sa: dict[str, Any] = {"apiVersion": "v1", "kind": "ServiceAccount",
                          "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4())}}
    if pull_secrets:
        sa["imagePullSecrets"] = [{"name": s} for s in pull_secrets]
    return sa


def as_list(objs: list[dict[str, Any]], kind: str = "List") -> dict[str, Any]:
    """``kubectl get … -o json`` wraps several objects in a ``List``; the API answers typed lists."""
    items = objs if kind == "List" else [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")}
                                         for o in objs]
    return {"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": ""}, "items": items}
