"""``preflight --context``: the pull secrets and service accounts the manifests name but do not define, and
the nodes' platforms, read from the fake Kubernetes API server by the real client; the probe then uses those
credentials against the lab's real registry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kubeapi import FakeKubeAPI
from kubeapi import objects as o
from lab import Lab

CANARY = "CANARY-pw-7f3a9c"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pulldoctor", "preflight", *args], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def deployment(name: str, image: str, *, secret: str | None = None, sa: str | None = None) -> str:
    extra = f"      imagePullSecrets: [{{name: {secret}}}]\n" if secret else ""
    extra += f"      serviceAccountName: {sa}\n" if sa else ""
    return (f"---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: default}}\nspec:\n"
            f"  template:\n    spec:\n{extra}      containers:\n      - name: app\n        image: {image}\n")


def findings(r: subprocess.CompletedProcess[str]) -> list[tuple[str, str, str]]:
    assert r.returncode in (0, 1), r.stderr
    return [(f["name"], f["cause"], f["severity"]) for f in json.loads(r.stdout)["findings"]]


@pytest.mark.lab
def test_a_secret_only_the_cluster_has_is_used_for_the_probe(lab: Lab, tmp_path: Path) -> None:
    private = lab.push(lab.auth_registry, lab.fresh_repo("pfctx"), "v1", auth=(lab.user, lab.password))
    f = tmp_path / "deploy.yaml"
    f.write_text(deployment("web", private.ref, secret="regcred"))
    objs = [o.secret("regcred", auths={lab.auth_registry: (lab.user, lab.password)}),
            o.secret("unrelated", auths={"quay.io": ("x", "y")}), o.node("n1")]
    with FakeKubeAPI(objs) as api:
        kc = api.write_kubeconfig(tmp_path / "kubeconfig")
        # the inputs alone: the secret is missing, and the probe without it is refused
        assert findings(cli(str(f), "-o", "json")) == [("web", "auth_missing", "error")] * 2
        r = cli(str(f), "--kubeconfig", str(kc), "-o", "json")
        assert findings(r) == [] and r.returncode == 0
        paths = {req.path for req in api.requests}
    assert "/api/v1/namespaces/default/secrets/regcred" in paths
    assert not any(p.endswith("/secrets") or "unrelated" in p for p in paths)  # named, never listed
    assert CANARY not in r.stdout + r.stderr


def test_a_service_accounts_secret_missing_from_the_cluster_too(tmp_path: Path) -> None:
    f = tmp_path / "deploy.yaml"
    text = deployment("web", "registry.example.invalid/a:1", sa="builder")
    f.write_text(text)
    with FakeKubeAPI([o.service_account("builder", pull_secrets=["sa-cred"]), o.node("n1")]) as api:
        kc = api.write_kubeconfig(tmp_path / "kubeconfig")
        r = cli(str(f), "--kubeconfig", str(kc), "--no-probe", "-o", "json")
    (finding,) = json.loads(r.stdout)["findings"]
    assert (finding["cause"], finding["severity"], r.returncode) == ("auth_missing", "error", 1)
    assert "service account builder" in finding["summary"]
    assert "neither in the inputs nor in the cluster http://127.0.0.1:" in finding["summary"]
    assert finding["line"] == text.splitlines().index("kind: Deployment") + 1  # a cluster object has no line


@pytest.mark.lab
def test_the_nodes_platforms_unless_platform_is_given(lab: Lab, tmp_path: Path) -> None:
    amd = lab.push(lab.nginx, lab.fresh_repo("pfctx", "amd"), "v1")
    f = tmp_path / "deploy.yaml"
    f.write_text(deployment("web", amd.ref))
    with FakeKubeAPI([o.node("a", arch="amd64"), o.node("b", arch="arm64"), o.node("c", arch="arm64")]) as api:
        kc = api.write_kubeconfig(tmp_path / "kubeconfig")
        r = cli(str(f), "--kubeconfig", str(kc), "-o", "json")
        doc = json.loads(r.stdout)
        assert doc["summary"]["platforms"] == ["linux/amd64", "linux/arm64"]
        assert findings(r) == [("web", "platform_mismatch", "error")]
        assert findings(cli(str(f), "--kubeconfig", str(kc), "--platform", "linux/amd64", "-o", "json")) == []


def test_forbidden_secrets_are_a_note_and_said_in_the_finding(tmp_path: Path) -> None:
    f = tmp_path / "deploy.yaml"
    f.write_text(deployment("web", "registry.example.invalid/a:1", secret="regcred"))
    with FakeKubeAPI([o.secret("regcred", auths={"registry.example.invalid": ("u", CANARY)})]) as api:
        api.forbid("secrets")
        kc = api.write_kubeconfig(tmp_path / "kubeconfig")
        r = cli(str(f), "--kubeconfig", str(kc), "--no-probe", "--platform", "linux/amd64", "-o", "json")
    doc = json.loads(r.stdout)
    (finding,) = doc["findings"]
    assert "would not show its secrets there" in finding["summary"]
    assert any("could not read secrets in namespace default" in n for n in doc["notes"])


def test_a_cluster_out_of_reach_is_one_line_and_exit_2(tmp_path: Path) -> None:
    f = tmp_path / "deploy.yaml"
    f.write_text(deployment("web", "nginx:1.25", secret="regcred"))
    with FakeKubeAPI([]) as api:
        kc = api.write_kubeconfig(tmp_path / "kubeconfig")
    r = cli(str(f), "--kubeconfig", str(kc), "--no-probe", "--request-timeout", "3")  # the server is gone
    assert r.returncode == 2 and r.stdout == "", (r.stdout, r.stderr)
    assert len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr
    r = cli(str(f), "--kubeconfig", str(tmp_path / "nope"), "--no-probe")
    assert r.returncode == 2 and "kubeconfig" in r.stderr and len(r.stderr.splitlines()) == 1
