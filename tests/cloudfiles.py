"""A cluster as ``kubectl get -o json`` files for the cloud tests: one failing pod on one node with a
``providerID``, and optionally a pull secret. ``diagnose --from DIR`` reads them as a user's files."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
INSTANCE_PID = "aws:///us-east-1a/i-0123456789abcdef0"


def head_403(image: str) -> str:
    host, _, rest = image.partition("/")
    repo, _, tag = rest.rpartition(":")
    return (f'Back-off pulling image "{image}": ErrImagePull: failed to pull and unpack image "{image}": failed to '
            f'resolve reference "{image}": unexpected status from HEAD request to https://{host}/v2/{repo}/'
            f"manifests/{tag}: 403 Forbidden")


def ecr_token(expiration: float, payload: str = "CANARYPAYLOAD") -> str:
    """An ECR docker password: base64 of the JSON envelope ``aws ecr get-login-password`` returns."""
    doc = {"payload": payload, "datakey": "CANARYDATAKEY", "version": "2", "type": "DATA_KEY",
           "expiration": int(expiration)}
    return base64.b64encode(json.dumps(doc).encode()).decode()


def write_case(d: Path, image: str, message: str, *, provider_id: str = INSTANCE_PID,
               secret_password: str | None = None, secret_host: str | None = None) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "app-1", "namespace": "shop", "uid": "u1"},
           "spec": {"nodeName": "node-a", "serviceAccountName": "default",
                    "containers": [{"name": "app", "image": image}]},
           "status": {"phase": "Pending", "containerStatuses": [{
               "name": "app", "image": image, "imageID": "", "ready": False, "restartCount": 0,
               "state": {"waiting": {"reason": "ImagePullBackOff", "message": message}}}]}}
    secrets = []
    if secret_password is not None:
        pod["spec"]["imagePullSecrets"] = [{"name": "ecr-pull"}]
        auth = base64.b64encode(f"AWS:{secret_password}".encode()).decode()
        cfg = {"auths": {secret_host or image.split("/")[0]: {"auth": auth}}}
        secrets.append({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                        "metadata": {"name": "ecr-pull", "namespace": "shop"},
                        "data": {".dockerconfigjson": base64.b64encode(json.dumps(cfg).encode()).decode()}})
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a"},
            "spec": {"providerID": provider_id},
            "status": {"nodeInfo": {"architecture": "amd64", "operatingSystem": "linux",
                                    "containerRuntimeVersion": "containerd://1.7.22",
                                    "kubeletVersion": "v1.33.1"}}}
    for name, items in (("pods", [pod]), ("nodes", [node]), ("secrets", secrets)):
        (d / f"{name}.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return d


def hours_ago(h: float) -> float:
    return time.time() - h * 3600
