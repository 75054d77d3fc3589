"""CRI-O's short-name mode: ``enforcing`` refuses to pick a registry for ``nginx`` when registries.conf lists
several unqualified-search-registries (containers/image pkg/shortnames: "short name mode is enforcing, but image
name %s returns ambiguous list"). Real podman prints the same refusal; diagnose names the cause and a fix that
qualifies the image. CRI-O's own wording is internal/storage/image.go's; podman's is containers/image's."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from helpers import cli
from parts import need_binary, need_root
from pulldoctor.causes import Cause
from pulldoctor.messages import classify

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import kubelet_objects as k


def test_real_podman_refuses_an_ambiguous_short_name(tmp_path: Path) -> None:
    """podman (containers/image, as CRI-O) with two search registries that never resolve, enforcing mode and no
    TTY: the refusal comes before any network request."""
    podman = need_binary("podman")
    need_root("podman's storage")
    conf = tmp_path / "registries.conf"
    conf.write_text('unqualified-search-registries = ["one.pulldoctor.invalid", "two.pulldoctor.invalid"]\n'
                    'short-name-mode = "enforcing"\n')
    runroot = tempfile.mkdtemp(prefix="pd-run-", dir="/tmp")
    try:
        r = subprocess.run([podman, "--root", str(tmp_path / "root"), "--runroot", runroot, "--storage-driver",
                            "vfs", "pull", "--quiet", "nginx"], capture_output=True, text=True, timeout=60,
                           env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(tmp_path),
                                "CONTAINERS_REGISTRIES_CONF": str(conf)}, stdin=subprocess.DEVNULL, check=False)
    finally:
        subprocess.run(["rm", "-rf", runroot], check=False, timeout=30)
    assert r.returncode != 0
    text = [ln.removeprefix("Error: ") for ln in r.stderr.splitlines() if ln.startswith("Error: ")][-1]
    assert "short-name resolution enforced" in text, r.stderr  # podman 4.3's wording (CRI-O words it anew)
    got = classify(f'Failed to pull image "nginx": {text}')
    assert got.cause is Cause.AMBIGUOUS_SHORT_NAME and got.fields["runtime"] == "cri-o", (got, text)


@pytest.mark.parametrize(("image", "confidence"), [("nginx", "certain"), ("quay.io/acme/nginx:1", "possible")])
def test_diagnose_names_the_short_name_and_qualifies_it(tmp_path: Path, image: str, confidence: str) -> None:
    msg = f'Failed to pull image "{image}": short name mode is enforcing, but image name {image} returns ambiguous list'
    objects = [k.node("n1", runtime="cri-o://1.33.0"),
               k.pod("shop", "web-1", "app", image, reason="ErrImagePull", message=msg, node="n1")]
    (tmp_path / "c.json").write_text(json.dumps(k.as_list(objects)))
    r = cli("diagnose", "--from", str(tmp_path / "c.json"), "-A", "-o", "json")  # probing is skipped: node-side
    assert r.returncode == 1, r.stderr[-1000:]
    f = json.loads(r.stdout)["findings"][0]
    assert (f["cause"], f["confidence"]) == ("ambiguous_short_name", confidence)
    if confidence == "certain":
        commands = [c for step in f["fixes"] for c in step["commands"]]
        assert any("docker.io/library/nginx:latest" in c for c in commands), commands
