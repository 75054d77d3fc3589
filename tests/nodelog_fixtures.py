"""Builders for the node-log tests: a snapshot (kubectl JSON) with one failing pod on an EKS node, and an EKS
log collector archive in its real layout (``eks_<instance-id>_<time>_<version>.tar.gz``, members ``./…``)."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

INSTANCE = "i-0abc123def4567890"
NODE = "ip-192-168-1-10.ec2.internal"
T0 = datetime(2026, 12, 4, 18, 0, 0, tzinfo=UTC)   # the first pull attempt


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def short(t: datetime) -> str:
    """journalctl's default (short) header time: no year."""
    return t.strftime("%b %d %H:%M:%S")


def snapshot(path: Path, *, message: str | None = "rpc error: code = Canceled desc = context canceled",
             image: str = "registry.example.com/team/big:1.0", events: bool = True,
             runtime: str = "containerd://1.7.11", node: str = NODE, instance: str = INSTANCE,
             reason: str = "ErrImagePull", event_message: str | None = None, kubelet: str = "v1.29.3") -> Path:
    pod = {"kind": "Pod", "apiVersion": "v1",
           "metadata": {"name": "web-1", "namespace": "shop", "uid": "u-1"},
           "spec": {"nodeName": node, "containers": [{"name": "app", "image": image}]},
           "status": {"phase": "Pending", "containerStatuses": [{
               "name": "app", "image": image, "ready": False, "restartCount": 0,
               "state": {"waiting": {"reason": reason, **({"message": message} if message else {})}}}]}}
    ref = {"kind": "Pod", "name": "web-1", "namespace": "shop", "uid": "u-1", "fieldPath": "spec.containers{app}"}
    items: list[dict[str, object]] = [pod, {
        "kind": "Node", "apiVersion": "v1", "metadata": {"name": node},
        "spec": {"providerID": f"aws:///us-east-1a/{instance}"},
        "status": {"nodeInfo": {"containerRuntimeVersion": runtime, "kubeletVersion": kubelet,
                                "operatingSystem": "linux", "architecture": "amd64"}}}]
    if events:
        items += [
            {"kind": "Event", "apiVersion": "v1", "metadata": {"name": "e1", "namespace": "shop"},
             "involvedObject": ref, "reason": "Pulling", "message": f'Pulling image "{image}"', "count": 3,
             "firstTimestamp": iso(T0), "lastTimestamp": iso(T0 + timedelta(minutes=12))},
            {"kind": "Event", "apiVersion": "v1", "metadata": {"name": "e2", "namespace": "shop"},
             "involvedObject": ref, "reason": "Failed", "count": 3,
             "message": event_message or f'Failed to pull image "{image}": {message}',
             "firstTimestamp": iso(T0 + timedelta(minutes=5)), "lastTimestamp": iso(T0 + timedelta(minutes=17))},
        ]
    path.write_text(json.dumps({"kind": "List", "apiVersion": "v1", "items": items}))
    return path


CONTAINERD_17_CONFIG = '''version = 2
root = "/var/lib/containerd"

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
    image_pull_progress_timeout = "1m0s"
    max_concurrent_downloads = 3
    sandbox_image = "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/pause:3.5"
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "/etc/containerd/certs.d:/etc/docker/certs.d"
'''

KUBELET_SERVICE = '''# /etc/systemd/system/kubelet.service
[Unit]
Description=Kubernetes Kubelet
[Service]
ExecStart=/usr/bin/kubelet --config /etc/kubernetes/kubelet/kubelet-config.json \\
    --container-runtime-endpoint unix:///run/containerd/containerd.sock $KUBELET_ARGS $KUBELET_EXTRA_ARGS

# /etc/systemd/system/kubelet.service.d/30-kubelet-extra-args.conf
[Service]
Environment='KUBELET_EXTRA_ARGS=--registry-qps=2 --registry-burst=4'
'''

KUBELET_CONFIG = json.dumps({"kind": "KubeletConfiguration", "apiVersion": "kubelet.config.k8s.io/v1beta1",
                             "serializeImagePulls": False, "maxParallelImagePulls": 5, "registryPullQPS": 2})

MOUNTS = '''/dev/nvme0n1p1 on / type xfs (rw,noatime)
Filesystem      Size  Used Avail Use% Mounted on
/dev/nvme0n1p1   20G   19G  1.0G  95% /
tmpfs           3.8G     0  3.8G   0% /dev/shm
'''
INODES = '''Filesystem      Inodes  IUsed   IFree IUse% Mounted on
/dev/nvme0n1p1 10485760 123456 10362304    2% /
'''


def archive(directory: Path, members: dict[str, bytes | str], *, instance: str = INSTANCE,
            when: str = "2026-12-04_1830", links: dict[str, str] | None = None,
            name: str | None = None) -> Path:
    """An archive as the collector writes it: ``tar --directory=… .`` (members start with ``./``)."""
    path = directory / (name or f"eks_{instance}_{when}-UTC_0.7.8.tar.gz")
    with tarfile.open(path, "w:gz") as tar:
        for member, body in members.items():
            data = body.encode() if isinstance(body, str) else body
            info = tarfile.TarInfo(member if member.startswith(("/", "..")) else f"./{member}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for member, target in (links or {}).items():
            info = tarfile.TarInfo(f"./{member}")
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return path


def eks_members(kubelet_log: str = "", containerd_log: str = "", **extra: str) -> dict[str, bytes | str]:
    members: dict[str, bytes | str] = {
        "kubelet/kubelet.log": kubelet_log,
        "kubelet/kubelet_service.txt": KUBELET_SERVICE,
        "kubelet/config.json": KUBELET_CONFIG,
        "containerd/containerd-log.txt": containerd_log,
        "containerd/containerd-config.txt": CONTAINERD_17_CONFIG,
        "containerd/containerd-version.txt": "containerd github.com/containerd/containerd v1.7.11 "
                                             "64b8a811b07ba6288238eefc14d898ee0b5b99ba\n",
        "system/instance-id.txt": INSTANCE + "\n",
        "storage/mounts.txt": MOUNTS,
        "storage/inodes.txt": INODES,
    }
    members.update(extra)
    return members
