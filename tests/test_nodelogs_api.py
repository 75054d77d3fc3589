"""``diagnose --node-logs api``: the kubelet's node log query through the API server's node proxy, served
by the fake API server as the kubelet answers it (``journalctl --utc --output=short-precise`` text of the
units asked, filtered by ``pattern``, from ``sinceTime``); the official client does the talking.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import nodelog_fixtures as f

from helpers import cli
from kubeapi.server import FakeKubeAPI

IMAGE = "registry.example.com/team/big:1.0"
AT = f.T0 + timedelta(minutes=5)
CANCEL = f'level=error msg="cancel pulling image {IMAGE} because of no progress in 1m0s"'
STOP = f'level=info msg="stop pulling image {IMAGE}: active requests=0, bytes read=0"'


def objects(tmp_path: Path) -> list[dict[str, Any]]:
    return json.loads(f.snapshot(tmp_path / "snap.json").read_text())["items"]  # type: ignore[no-any-return]


def run(server: FakeKubeAPI, tmp_path: Path) -> dict[str, Any]:
    kc = server.write_kubeconfig(tmp_path / "kubeconfig", namespace="shop")
    r = cli("diagnose", "--kubeconfig", str(kc), "--no-probe", "-o", "json", "--node-logs", "api",
            "--request-timeout", "5")
    assert r.returncode == 1, r.stderr
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def test_node_log_query_makes_the_deadline_certain(tmp_path: Path) -> None:
    with FakeKubeAPI(objects(tmp_path)) as server:
        server.node_log(f.NODE, [(AT, "containerd", CANCEL), (AT, "containerd", STOP),
                                 (AT, "containerd", 'level=info msg="loading plugin"'),
                                 (AT - timedelta(days=2), "containerd", CANCEL.replace("1m0s", "9m0s"))])
        doc = run(server, tmp_path)
        (seen,) = [r for r in server.requests if r.path.endswith("/proxy/logs/")]
    (got,) = doc["findings"]
    assert got["cause"] == "pull_timeout_or_progress_deadline" and got["confidence"] == "certain"
    assert "not one byte arrived" in json.dumps(got["evidence"])
    assert "9m0s" not in json.dumps(got)            # sinceTime: the old cancel was not asked for
    assert seen.path == f"/api/v1/nodes/{f.NODE}/proxy/logs/"
    assert seen.query["sinceTime"] == "2026-12-04T17:00:00Z" and "cancel pulling image" not in seen.query["pattern"]
    assert " pulling image " in seen.query["pattern"]


def test_forbidden_node_proxy_is_a_note(tmp_path: Path) -> None:
    with FakeKubeAPI(objects(tmp_path)) as server:
        server.forbid("nodes/proxy")
        doc = run(server, tmp_path)
    assert any("not read through the API" in n and "nodes/proxy" in n for n in doc["notes"])
    assert doc["findings"][0]["confidence"] == "likely"


def test_kubelet_without_the_log_query_is_a_note(tmp_path: Path) -> None:
    with FakeKubeAPI(objects(tmp_path)) as server:
        server.node_log_query(False)
        doc = run(server, tmp_path)
    assert any("enableSystemLogQuery" in n for n in doc["notes"]), doc["notes"]


def test_no_cluster_to_ask_is_a_note(tmp_path: Path) -> None:
    snap = f.snapshot(tmp_path / "snap.json")
    r = cli("diagnose", "--from", str(snap), "--no-probe", "-o", "json", "--node-logs", "api",
            "--kubeconfig", str(tmp_path / "missing-kubeconfig"))
    assert r.returncode == 1, r.stderr
    assert any(n.startswith("node logs not read through the API:") for n in json.loads(r.stdout)["notes"])


def test_collect_carries_the_lines_and_settings_into_the_bundle(tmp_path: Path) -> None:
    """``collect --node-logs``: the found lines (masked) and the parsed settings travel, never a whole log or
    the config dump (which can hold a registry password); ``diagnose --from BUNDLE`` uses them."""
    canary = "CANARY-pw-0xC0FFEE"
    config = f.CONTAINERD_17_CONFIG + (
        '    [plugins."io.containerd.grpc.v1.cri".registry.configs."registry.example.com".auth]\n'
        f'      username = "bot"\n      password = "{canary}"\n')
    noisy = "".join(f"{f.short(AT)} ip-1 kubelet[1]: I1 x.go:1] routine line {i}\n" for i in range(1000))
    leaky = (f'{f.short(AT)} ip-1 kubelet[1]: E1 remote_image.go:180] "PullImage from image service failed" '
             f'err="rpc error: code = Canceled desc = context canceled; https://bot:{canary}@registry.example.com/v2/" '
             f'image="{IMAGE}"\n')
    archive = f.archive(tmp_path, f.eks_members(noisy + leaky, f"{f.short(AT)} ip-1 containerd[2]: {CANCEL}\n"
                                                f"{f.short(AT)} ip-1 containerd[2]: {STOP}\n",
                                                **{"containerd/containerd-config.txt": config}))
    bundle = tmp_path / "bundle.tar.gz"
    with FakeKubeAPI(objects(tmp_path)) as server:
        kc = server.write_kubeconfig(tmp_path / "kubeconfig", namespace="shop")
        r = cli("collect", "-o", str(bundle), "--kubeconfig", str(kc), "--node-logs", str(archive))
    assert r.returncode == 0, r.stderr
    assert "1 nodes' log lines and settings" in r.stdout
    import tarfile

    with tarfile.open(bundle) as tar:
        names = sorted(m.name for m in tar.getmembers())
        blob = b"".join(tar.extractfile(m).read() for m in tar.getmembers() if m.isfile())  # type: ignore[union-attr]
    assert [n for n in names if n.startswith("nodelogs/")] == [f"nodelogs/{f.NODE}.log", f"nodelogs/{f.NODE}.settings"]
    assert {"manifest.json", "objects.json"} <= set(names)
    assert canary.encode() not in blob and b"routine line" not in blob and b"bot:***@" in blob
    r = cli("diagnose", "--from", str(bundle), "--no-probe", "-o", "json")
    (got,) = json.loads(r.stdout)["findings"]
    assert got["confidence"] == "certain" and "image_pull_progress_timeout is 1m0s now" in json.dumps(got["fixes"])
