"""``pulldoctor preflight`` through the real CLI against the lab's real docker-registry and nginx: tag missing,
repository missing, auth (missing, wrong, right — with the canary password, which no output may show),
platforms, one probe per distinct image/credential pair, and no false alarm on a clean chart."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from lab import Lab
from pulldoctor.reference import parse

pytestmark = pytest.mark.lab

CHART = Path(__file__).parent / "data" / "preflight" / "shop-chart-rendered.yaml"


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pulldoctor", "preflight", *args], capture_output=True, text=True,
                          timeout=120, input=stdin)


def workload(name: str, image: str, secret: str | None = None) -> str:
    secrets = f"      imagePullSecrets: [{{name: {secret}}}]\n" if secret else ""
    return (f"---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: ci}}\nspec:\n"
            f"  template:\n    spec:\n{secrets}      containers:\n      - name: app\n        image: {image}\n")


def pull_secret(name: str, registry: str, user: str, password: str) -> str:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    payload = base64.b64encode(json.dumps({"auths": {registry: {"auth": auth}}}).encode()).decode()
    return (f"---\napiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: ci}}\n"
            f"type: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {payload}\n")


def image_line(text: str, image: str) -> int:
    return text.splitlines().index(f"        image: {image}") + 1


def test_tag_repository_auth_and_platform_findings_point_at_their_lines(lab: Lab, tmp_path: Path) -> None:
    repo = lab.fresh_repo("pf")
    ok = lab.push(lab.nginx, repo, "1.2.0", platforms=("linux/amd64", "linux/arm64"))
    lab.push(lab.nginx, repo, "1.2.1", platforms=("linux/amd64", "linux/arm64"))
    amd = lab.push(lab.nginx, lab.fresh_repo("pf", "amd"), "v1")
    private = lab.push(lab.auth_registry, lab.fresh_repo("pf", "private"), "v1", auth=(lab.user, lab.password),
                       platforms=("linux/amd64", "linux/arm64"))
    images = {
        "good": ok.ref,
        "tag": f"{lab.nginx}/{repo}:1.2.2",
        "repo": f"{lab.nginx}/{lab.fresh_repo('pf', 'nothing')}:v1",
        "amd-only": amd.ref,
        "no-secret": private.ref,
        "right-secret": private.ref,
        "wrong-secret": private.ref,
    }
    text = "".join(workload(name, image, {"right-secret": "right", "wrong-secret": "wrong"}.get(name))
                   for name, image in images.items())
    text += pull_secret("right", lab.auth_registry, lab.user, lab.password)
    text += pull_secret("wrong", lab.auth_registry, lab.user, "not-" + lab.password)
    f = tmp_path / "deploy.yaml"
    f.write_text(text)
    r = cli(str(f), "--platform", "linux/amd64,linux/arm64", "-o", "json")
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    got = {x["name"]: (x["cause"], x["severity"], x["line"]) for x in doc["findings"]}
    lines = text.splitlines()
    assert got == {
        "tag": ("tag_not_found", "error", lines.index(f"        image: {images['tag']}", 0) + 1),
        "repo": ("repo_not_found", "error", image_line(text, images["repo"])),
        "amd-only": ("platform_mismatch", "error", image_line(text, images["amd-only"])),
        "no-secret": ("auth_missing", "error", lines.index(f"        image: {private.ref}") + 1),
        "wrong-secret": ("auth_invalid", "error", [i + 1 for i, ln in enumerate(lines)
                                                   if ln == f"        image: {private.ref}"][2]),
    }
    by = {x["name"]: x for x in doc["findings"]}
    assert "closest tags: 1.2.1, 1.2.0" in by["tag"]["summary"] or "closest tags: 1.2.0, 1.2.1" in by["tag"]["summary"]
    assert "no image for linux/arm64 (it offers linux/amd64)" in by["amd-only"]["summary"]
    assert "secret ci/wrong" in by["wrong-secret"]["summary"]
    assert set(by["tag"]) >= {"file", "line", "kind", "name", "namespace", "container", "image", "cause", "severity",
                              "summary", "fixes"}
    assert doc["summary"]["probed"] == 7  # the private image three times: no, right and wrong credentials
    for output in ("text", "json", "sarif"):
        out = cli(str(f), "--platform", "linux/amd64,linux/arm64", "-o", output)
        assert out.returncode == 1
        assert lab.password not in out.stdout + out.stderr
        assert "CANARY" not in out.stdout + out.stderr


def test_sarif_points_code_scanning_at_each_image_line(lab: Lab, tmp_path: Path) -> None:
    missing = f"{lab.nginx}/{lab.fresh_repo('pf', 'gone')}:v9"
    text = workload("web", missing) + workload("bad", "ghcr.io/Acme/x:1")
    f = tmp_path / "k8s" / "deploy.yaml"
    f.parent.mkdir()
    f.write_text(text)
    r = subprocess.run([sys.executable, "-m", "pulldoctor", "preflight", "k8s/deploy.yaml", "-o", "sarif"],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    sarif = json.loads(r.stdout)
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")
    (run,) = sarif["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "pulldoctor"
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert sorted(rule_ids) == ["invalid_image_name", "repo_not_found"]
    results = {res["ruleId"]: res for res in run["results"]}
    assert set(results) == {"invalid_image_name", "repo_not_found"}
    for res in run["results"]:
        assert rule_ids[res["ruleIndex"]] == res["ruleId"] and res["level"] == "error"
        (loc,) = res["locations"]
        phys = loc["physicalLocation"]
        assert phys["artifactLocation"]["uri"] == "k8s/deploy.yaml"
        assert text.splitlines()[phys["region"]["startLine"] - 1].strip().startswith("image: ")
        assert res["message"]["text"]
    assert results["repo_not_found"]["locations"][0]["physicalLocation"]["region"]["startLine"] == \
        image_line(text, missing)


def _manifest_heads(lab: Lab, before: int, prefix: str) -> int:
    rows = lab.nginx_requests()[before:]
    for _ in range(40):  # nginx logs right after answering: wait until the count settles (bounded)
        time.sleep(0.05)
        again = lab.nginx_requests()[before:]
        if len(again) == len(rows):
            break
        rows = again
    return sum(1 for m, p, _s in rows if m == "HEAD" and p.startswith(prefix) and "/manifests/" in p)


def test_each_distinct_image_is_probed_once_however_many_workloads_use_it(lab: Lab, tmp_path: Path) -> None:
    base = lab.fresh_repo("pfdedupe")
    a = lab.push(lab.nginx, f"{base}/a", "v1")
    b = lab.push(lab.nginx, f"{base}/b", "v1")
    text = "".join(workload(f"w{i}", (a if i % 2 else b).ref) for i in range(30))
    f = tmp_path / "many.yaml"
    f.write_text(text)
    before = len(lab.nginx_requests())
    r = cli(str(f), "-o", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads(r.stdout)["summary"]
    assert (summary["workloads"], summary["distinct_images"], summary["probed"]) == (30, 2, 2)
    assert _manifest_heads(lab, before, f"/v2/{base}/") == 2


def test_stdin_keeps_helm_sources_for_locations(lab: Lab) -> None:
    missing = f"{lab.nginx}/{lab.fresh_repo('pf', 'stdin')}:v1"
    rendered = ("---\n# Source: web/templates/deployment.yaml\n" + workload("web", missing).removeprefix("---\n"))
    r = cli("-f", "-", "-o", "json", stdin=rendered)
    assert r.returncode == 1, r.stderr
    (finding,) = json.loads(r.stdout)["findings"]
    assert (finding["file"], finding["source"], finding["line"]) == ("-", "web/templates/deployment.yaml", 11)
    text = cli("-f", "-", stdin=rendered)
    assert text.stdout.startswith("web/templates/deployment.yaml (stdin:11): error repo_not_found:")


def test_no_false_alarm_on_a_clean_chart(lab: Lab, tmp_path: Path) -> None:
    """The rendered chart's images pushed to the lab under their own repository names and tags (multi-arch),
    the registry host rewritten to the lab's: zero findings, exit 0."""
    text = CHART.read_text()
    images = sorted(set(re.findall(r'^\s+image: "?([^"\s]+)"?$', text, re.MULTILINE)))
    assert len(images) == 9
    for image in images:
        ref = parse(image)
        assert ref.tag is not None
        lab.push(lab.nginx, ref.repository, ref.tag, platforms=("linux/amd64", "linux/arm64"))
        text = text.replace(image, f"{lab.nginx}/{ref.repository}:{ref.tag}")
    f = tmp_path / "chart.yaml"
    f.write_text(text)
    r = cli(str(f), "--platform", "linux/amd64,linux/arm64", "-o", "json")
    doc: dict[str, Any] = json.loads(r.stdout)
    assert doc["findings"] == [] and r.returncode == 0, r.stdout
    assert doc["summary"]["probed"] == 9 and doc["summary"]["workloads"] == 6


def test_a_multi_arch_image_costs_a_head_and_the_index(lab: Lab, tmp_path: Path) -> None:
    """The platforms come from the index: no GET of the chosen platform's manifest (its size is not a check)."""
    repo = lab.fresh_repo("pfcost")
    img = lab.push(lab.nginx, repo, "v1", platforms=("linux/amd64", "linux/arm64"))
    f = tmp_path / "one.yaml"
    f.write_text(workload("w", img.ref))
    before = len(lab.nginx_requests())
    r = cli(str(f), "--platform", "linux/amd64,linux/arm64", "-o", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    _manifest_heads(lab, before, f"/v2/{repo}/")  # waits until nginx's log settles
    rows = [(m, p) for m, p, _s in lab.nginx_requests()[before:] if p.startswith(f"/v2/{repo}/manifests/")]
    assert sorted(m for m, _ in rows) == ["GET", "HEAD"], rows
