"""End to end: the lab produces each real failure through containerd's CRI plugin (the kubelet's call), the
test writes the pod, events and secrets the kubelet and API server would hold, and ``pulldoctor diagnose
--from DIR -o json`` — probing the lab's registries — must name the root cause and a fix with the real
secret, registry or tag. Also: the canary password appears in no output format.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import cli

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import kubelet_objects as k
import scenarios

pytestmark = [pytest.mark.lab, pytest.mark.containerd]
NS = "shop"


def diagnose(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli("diagnose", "--from", str(path), *args, timeout=120,
               env={"PYTHONPATH": str(ROOT / "src"), "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def built(lab: Any, containerd: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    ctx = scenarios.make_ctx(lab, containerd, NS)
    cases = {make.__name__: make(ctx) for make in scenarios.SCENARIOS}
    objects = scenarios.cluster_objects(NS) + [o for b in cases.values() for o in b.objects]
    d = tmp_path_factory.mktemp("cluster")
    (d / "cluster.json").write_text(json.dumps(k.as_list(objects)))
    return d, cases


@pytest.fixture(scope="module")
def report(built: tuple[Path, dict[str, Any]]) -> dict[str, Any]:
    out = diagnose(built[0], "-o", "json")
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr
    return json.loads(out.stdout)


def _finding(report: dict[str, Any], name: str) -> dict[str, Any]:
    hits = [f for f in report["findings"] if f["pod"].startswith(name + "-")]
    assert len(hits) == 1, [f["pod"] for f in report["findings"]]
    return hits[0]


@pytest.mark.parametrize("make", scenarios.SCENARIOS, ids=lambda f: f.__name__)
def test_root_cause_and_fix(make: Any, built: tuple[Path, dict[str, Any]], report: dict[str, Any]) -> None:
    case = built[1][make.__name__]
    f = _finding(report, case.name)
    assert f["cause"] == case.cause, (f["summary"], f["evidence"])
    assert f["transient"] is case.transient, f["summary"]
    said = "\n".join([f["summary"], *(e["text"] for e in f["evidence"]),
                      *(x["text"] for x in f["fixes"]), *(c for x in f["fixes"] for c in x["commands"])])
    for needle in case.mentions:
        assert needle in said, needle
    for key in ("namespace", "pod", "container", "container_type", "image", "waiting_reason", "cause",
                "confidence", "summary", "evidence", "fixes"):
        assert key in f


def test_json_shape(report: dict[str, Any]) -> None:
    assert report["schema_version"] == 1
    assert set(report) >= {"findings", "groups", "not_image", "notes"}
    assert len(report["findings"]) == len(scenarios.SCENARIOS)


def test_probe_sent_the_secret_the_kubelet_would(report: dict[str, Any]) -> None:
    vault = _finding(report, "vault")
    assert vault["probe"]["credentials_sent"] is True and vault["confidence"] == "certain"


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_canary_password_in_no_output(fmt: str, built: tuple[Path, dict[str, Any]], lab: Any) -> None:
    import base64

    doc = json.loads((built[0] / "cluster.json").read_text())
    decoded = [base64.b64decode(v).decode() for o in doc["items"] if o["kind"] == "Secret"
               for v in o["data"].values()]
    assert any(lab.password in d for d in decoded)  # the input holds the canary, so the test can fail
    out = diagnose(built[0], "-o", fmt)
    assert out.returncode == 1
    assert lab.password not in out.stdout and lab.password not in out.stderr


def test_slow_pull_measures_the_rate_and_names_the_runtime_setting(report: dict[str, Any]) -> None:
    """The lab's slow/ location trickles blobs at 2 KiB/s after 4 KiB: the diagnosis samples the largest
    layer (bounded), reports a rate near 2 KiB/s, the estimated pull time, and the node's containerd 1.7
    setting (a no-progress timeout, not a total)."""
    f = _finding(report, "model")
    tp = f["probe"]["throughput"]
    assert tp is not None and tp["capped_by"] == "time" and tp["seconds"] < 3.0 + 1.0
    assert 2048 / 3 < tp["rate"] < 2048 * 3, tp
    assert tp["ttfb"] is not None and tp["ttfb"] < 1.0
    texts = [e["text"] for e in f["evidence"]]
    assert any("at that rate the whole image takes about" in t for t in texts), texts
    assert any("containerd 1.7.22: image_pull_progress_timeout (default 5m)" in t for t in texts), texts
    assert "slow but moving" in f["summary"]
    fixes = " ".join(x["text"] for x in f["fixes"])
    assert 'image_pull_progress_timeout = "15m"' in fixes and "CRI-O" not in fixes and "cri-dockerd" not in fixes


def test_only_timed_out_pulls_are_sampled(report: dict[str, Any]) -> None:
    sampled = [f["pod"] for f in report["findings"] if (f.get("probe") or {}).get("throughput")]
    assert sampled and all(f.startswith("model-") for f in sampled), sampled


def test_hosts_dir_lets_the_probe_confirm_tls_and_scheme_failures_on_loopback(
        built: tuple[Path, dict[str, Any]], lab: Any, tmp_path: Path) -> None:
    """Without the node's hosts.toml a loopback registry is probed over plain HTTP, so a TLS failure the
    node saw cannot be confirmed. With --hosts-dir (the same files the lab's containerd reads) the probe
    speaks HTTPS as the node does and finds the node's own failure. (It stays `likely`: a loopback address
    on a node is the node itself, which a probe from here is not.)"""
    from lab.containerd import _write_hosts

    certs_d = tmp_path / "certs.d"
    certs_d.mkdir()
    _write_hosts(certs_d, lab)
    without = json.loads(diagnose(built[0], "-o", "json").stdout)
    out = diagnose(built[0], "-o", "json", "--hosts-dir", str(certs_d))
    assert out.returncode == 1, out.stderr
    with_hosts = json.loads(out.stdout)
    for name, cause in (("secure", "tls_error"), ("plain", "http_vs_https")):
        before, after = _finding(without, name), _finding(with_hosts, name)
        assert before["probe"]["cause"] != cause  # the gap: plain HTTP to a loopback host tests no TLS
        assert after["cause"] == cause and after["probe"]["cause"] == cause, after["summary"]
        assert after["contradictions"] == ["the probe ran on this machine's loopback, not the node's"]
        assert not any("did not test TLS" in e["text"] for e in after["evidence"])
        assert any(s["name"] == "hosts" and "hosts.toml" in s["detail"] for s in after["probe"]["steps"])


def test_malformed_hosts_dir_is_one_line_exit_2(built: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    (tmp_path / "certs.d" / "registry.example").mkdir(parents=True)
    (tmp_path / "certs.d" / "registry.example" / "hosts.toml").write_text('server = "https://x"\n[host\n')
    out = diagnose(built[0], "--hosts-dir", str(tmp_path / "certs.d"))
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "hosts.toml" in out.stderr, out.stderr
