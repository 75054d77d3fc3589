"""Regenerate examples/cluster/ from real failures: run every scenario against the test lab (a real
docker-registry, nginx and containerd's CRI plugin on 127.0.0.1), then rename the lab's loopback addresses
to names that never resolve (RFC 2606 ``.invalid``) or to a closed loopback port, so that diagnosing the
example on any machine says plainly that the registries could not be probed.

Run as root (containerd) on a machine with the lab's packages (scripts/test.sh installs them):

    python examples/generate.py            # writes examples/cluster/*.json

The runtime's error texts are kept byte for byte apart from the renamed hosts and repositories.
Secrets get a fake password instead of the lab's.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

import kubelet_objects as k
import scenarios

NS = "shop"
OUT = HERE / "cluster"


def renames(lab: Any, ctrd: Any, built: list[scenarios.Built]) -> list[tuple[str, str]]:
    """(lab text, example text), longest first; addresses only match whole (port not followed by a digit)."""
    pairs = [
        (ctrd.https_to_http, "plain.example.invalid:5000"),
        (ctrd.tls_untrusted, "secure.example.invalid:8443"),
        (lab.auth_registry, "private.example.invalid"),
        (lab.nginx, "mirror.example.invalid"),
        (lab.closed_port, "localhost:5999"),
        (lab.open_registry, "registry.shop.example.invalid"),
        ("toomany/app", "library/nginx"),
        ("denied/app", "analytics/collector"),
        ("hubmissing/app", "acme/private-app"),
    ]
    slow = next(b for b in built if b.name == "model")
    fresh = re.search(r"slow/r[^/]+/ml-model", slow.objects[0]["spec"]["containers"][0]["image"])
    if fresh:
        pairs.append((fresh.group(0), "ml/ranker"))
    return pairs


def rewrite(text: str, pairs: list[tuple[str, str]]) -> str:
    for old, new in pairs:
        text = re.sub(re.escape(old) + r"(?!\d)", new, text)
    return text


def _secret_fix(obj: dict[str, Any], pairs: list[tuple[str, str]], password: str) -> None:
    for key, value in (obj.get("data") or {}).items():
        doc = base64.b64decode(value).decode()
        doc = rewrite(doc, pairs)
        cfg = json.loads(doc)
        for entry in cfg.get("auths", {}).values():
            user = entry.get("username", "")
            if entry.get("password") == password:
                entry["password"] = scenarios.FAKE_PASSWORD
            entry["auth"] = base64.b64encode(f"{user}:{entry.get('password', '')}".encode()).decode()
        obj["data"][key] = base64.b64encode(json.dumps(cfg).encode()).decode()


def replicas(objs: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """More pods of the same Deployment failing the same way (for the example's groups)."""
    pod = objs[0]
    out: list[dict[str, Any]] = []
    for i in range(n):
        p = copy.deepcopy(pod)
        p["metadata"]["name"] = pod["metadata"]["name"][:-5] + f"r{i}k7z"
        p["metadata"]["uid"] = str(uuid.uuid4())
        out.append(p)
        for e in objs[1:]:
            e2 = copy.deepcopy(e)
            e2["metadata"]["name"] = f"{p['metadata']['name']}.{uuid.uuid4().hex[:16]}"
            e2["involvedObject"].update(name=p["metadata"]["name"], uid=p["metadata"]["uid"])
            out.append(e2)
    return out


def not_image_pods(ctx: scenarios.Ctx) -> list[dict[str, Any]]:
    """Pods stuck for other reasons, which pulldoctor must count apart, not diagnose."""
    crash = k.pod(NS, "worker-5c4b3-l2m3n", "app", "registry.shop.example.invalid/shop/worker:1.0",
                  reason="CrashLoopBackOff", message="back-off 5m0s restarting failed container=app",
                  node=scenarios.NODE, created=ctx.now - timedelta(hours=2))
    pending = k.pod(NS, "gpu-job-x7y8z", "app", "registry.shop.example.invalid/ml/train:2", reason="", message="",
                    node="", created=ctx.now - timedelta(minutes=10))
    pending["status"] = {"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
         "message": "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."}]}
    return [crash, pending]


def main() -> int:
    from lab.containerd import start_containerd
    from lab.startup import start_lab

    lab = start_lab()
    ctrd = start_containerd(lab)
    try:
        ctx = scenarios.make_ctx(lab, ctrd, NS)
        built = [make(ctx) for make in scenarios.SCENARIOS]
        pairs = renames(lab, ctrd, built)
        objects = scenarios.cluster_objects(NS)
        for b in built:
            objects += b.objects
            if b.name == "catalog":
                objects += replicas(b.objects, 3)
        objects += not_image_pods(ctx)
        objects.append(k.service_account("ci", "default"))
        for o in objects:
            if o["kind"] == "Secret":
                _secret_fix(o, pairs, lab.password)
        text = rewrite(json.dumps(objects), pairs)
        assert lab.password not in text and "127.0.0.1" not in text.replace("127.0.0.1:53", "")
        objects = json.loads(text)
    finally:
        ctrd.stop()
        lab.stop()
    OUT.mkdir(exist_ok=True)
    by_file = {"Pod": "pods.json", "Event": "events.json", "Secret": "secrets.json",
               "ServiceAccount": "serviceaccounts.json", "Node": "nodes.json"}
    for kind, name in by_file.items():
        items = [o for o in objects if o["kind"] == kind]
        (OUT / name).write_text(json.dumps(k.as_list(items), indent=1) + "\n")
        print(f"{OUT / name}: {len(items)} {kind}(s)")
    owners = k.owner_objects([o for o in objects if o["kind"] == "Pod"])
    (OUT / "owners.json").write_text(json.dumps(k.as_list(owners), indent=1) + "\n")
    print(f"{OUT / 'owners.json'}: {len(owners)} ReplicaSet(s) and Deployment(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
