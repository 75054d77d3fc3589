"""Image volumes (``spec.volumes[].image``, KEP-4639, beta in 1.34): the kubelet pulls them before the
containers and reports a failed pull on the waiting container. pulldoctor diagnoses the volume's image, as its
own ``container_type``, with a fix that edits the volume (``kubectl set image`` knows only containers)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

from helpers import cli
from parts import need_binary

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import kubelet_objects as k

APP = "registry.example.invalid/shop/web:1.4"
MODEL = "registry.example.invalid/shop/model:2025-11"


def _pod_with_image_volume(message: str) -> dict[str, object]:
    p = k.pod("shop", "web-7c9d8f6b5-x2x4q", "app", APP, reason="ErrImagePull", message=message, node="n1",
              owner=("ReplicaSet", "web-7c9d8f6b5"))
    p["spec"]["volumes"] = [{"name": "config", "configMap": {"name": "web"}},  # type: ignore[index]
                            {"name": "model", "image": {"reference": MODEL, "pullPolicy": "IfNotPresent"}}]
    return p


def _diagnose(tmp_path: Path, pod: dict[str, object]) -> dict[str, object]:
    (tmp_path / "c.json").write_text(json.dumps(k.as_list([k.node("n1"), pod])))
    r = cli("diagnose", "--from", str(tmp_path / "c.json"), "-A", "--no-probe", "-o", "json")
    assert r.returncode == 1, r.stderr[-1000:]
    findings = json.loads(r.stdout)["findings"]
    assert len(findings) == 1
    return findings[0]  # type: ignore[no-any-return]


def test_a_failing_image_volume_is_diagnosed_as_itself(tmp_path: Path) -> None:
    f = _diagnose(tmp_path, _pod_with_image_volume(f'Failed to pull image "{MODEL}": {MODEL}: not found'))
    assert (f["container_type"], f["container"], f["image"]) == ("image_volume", "model", MODEL)
    assert f["cause"] == "tag_not_found"
    commands = [c for step in f["fixes"] for c in step["commands"]]
    patches = [c for c in commands if c.startswith("kubectl patch deployment/web")]
    assert patches and all("kubectl set image" not in c for c in commands), commands
    body = json.loads(shlex.split(patches[0])[-1])
    assert body["spec"]["template"]["spec"]["volumes"][0]["name"] == "model"
    kubectl = subprocess.run([need_binary("kubectl"), "patch", "--help"], capture_output=True, timeout=30, check=False)
    assert kubectl.returncode == 0  # the printed verb exists in the kubectl on this machine


def test_the_containers_own_image_stays_a_container_finding(tmp_path: Path) -> None:
    f = _diagnose(tmp_path, _pod_with_image_volume(f'Failed to pull image "{APP}": {APP}: not found'))
    assert (f["container_type"], f["container"], f["image"]) == ("regular", "app", APP)
