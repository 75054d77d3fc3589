"""``pulldoctor collect``: a bundle that diagnoses the same as the live cluster, written atomically, and
that never holds a credential (canary password grepped in the decompressed bytes and every output)."""

from __future__ import annotations

import base64
import gzip
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from kubeapi import FakeKubeAPI
from kubeapi import objects as o
from pulldoctor.cli import main
from pulldoctor.cluster import SourceSpec, find_failing, load_snapshot
from pulldoctor.cluster.bundle import write_bundle
from pulldoctor.errors import InputError

IMG = "ghcr.io/acme/web:1.0"
CANARY = "CANARY-pw-7f3a9c"


def cluster() -> list[dict]:
    p1 = o.pod("web-1", containers=[o.container("app", IMG)], pull_secrets=["regcred", "opaque", "gone"],
               statuses=[o.waiting("app", IMG, "ImagePullBackOff", f'Back-off pulling image "{IMG}"')],
               owner=("ReplicaSet", "web-5d8f"))
    p2 = o.pod("job-1", node="node-2", init_containers=[o.container("init", "quay.io/x/y:2")],
               init_statuses=[o.waiting("init", "quay.io/x/y:2", "ErrImagePull", "403 Forbidden")],
               service_account="builder")
    env_pod = o.pod("env", phase="Running", statuses=[o.running("app", "nginx:1.25")], bulky=True)
    env_pod["spec"]["containers"][0]["env"].append({"name": "DB_PASSWORD", "value": CANARY})
    return [
        p1, p2, env_pod, o.pod("crash", phase="Running", statuses=[o.waiting("app", "x:1", "CrashLoopBackOff")]),
        o.event(p1, "Pulling", f'Pulling image "{IMG}"', container="app", count=3, first=0, last=40),
        o.event(p1, "Failed", f'Failed to pull image "{IMG}": 401 Unauthorized', container="app", count=3,
                first=1, last=41),
        o.event(p1, "Scheduled", "Successfully assigned default/web-1 to node-1"),
        o.event(p2, "Failed", 'Failed to pull image "quay.io/x/y:2": 403 Forbidden', container="init",
                section="initContainers"),
        o.node("node-1", images=["docker.io/library/nginx:1.25"]), o.node("node-2", arch="arm64"),
        o.node("idle-node"),
        o.service_account("builder", pull_secrets=["quay-cred"]), o.service_account(),
        o.secret("regcred", auths={"ghcr.io": ("robot", CANARY), "https://index.docker.io/v1/": ("me", CANARY)}),
        o.secret("quay-cred", type="kubernetes.io/dockercfg", auths={"quay.io": ("q", CANARY)}),
        o.secret("opaque", type="Opaque", data={"password": base64.b64encode(CANARY.encode()).decode()}),
    ]


def shape(report) -> list[tuple]:
    return sorted(
        (f.namespace, f.pod, f.container, f.container_type, f.image, f.waiting_reason, f.pull_policy, f.node,
         f.owner, f.timeline.attempts, f.timeline.failed, f.timeline.last_failure_message,
         f.timeline.backoff_seconds, f.timeline.events_expired,
         tuple(f.pull_secrets.names), f.pull_secrets.source, tuple(f.pull_secrets.missing),
         tuple(f.pull_secrets.wrong_type), f.pull_secrets.checked,
         tuple((e.key, e.source, e.has_username, e.has_password) for e in f.keyring_entries),
         (f.node_info.arch, f.node_info.images) if f.node_info else None)
        for f in report.failing)


def canary_forms() -> list[bytes]:
    forms = [CANARY.encode(), base64.b64encode(CANARY.encode())]
    for user in ("robot", "me", "q"):
        forms.append(base64.b64encode(f"{user}:{CANARY}".encode()))
    return forms


def bundle_bytes(path: Path) -> bytes:
    """Every member of the bundle, decompressed."""
    out = b""
    with tarfile.open(path, "r:gz") as tar:
        for m in tar:
            fh = tar.extractfile(m)
            out += m.name.encode() + b"\n" + (fh.read() if fh else b"")
    return out


@pytest.fixture
def api():
    with FakeKubeAPI(cluster()) as server:
        yield server


def test_collect_then_load_gives_the_same_failing_containers(api: FakeKubeAPI, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    kc = api.write_kubeconfig(tmp_path / "kc")
    out = tmp_path / "bundle.tar.gz"
    assert main(["collect", "-o", str(out), "--kubeconfig", str(kc)]) == 0
    cli_out = capsys.readouterr()
    assert f"wrote {out}: 4 pods" in cli_out.out
    live = find_failing(load_snapshot(SourceSpec(kubeconfig=str(kc))))
    replay = find_failing(load_snapshot(out))
    assert shape(replay) == shape(live) and len(live.failing) == 2
    assert replay.not_image == live.not_image == {"CrashLoopBackOff": 1}
    web = next(f for f in replay.failing if f.pod == "web-1")
    assert web.pull_secrets.redacted and web.pull_secrets.missing == ["gone"]
    assert all(e.credential is None for e in web.keyring_entries)
    raw = bundle_bytes(out)
    for form in canary_forms():
        assert form not in raw
        assert form.decode() not in cli_out.out + cli_out.err


def test_bundle_contents(api: FakeKubeAPI, tmp_path: Path) -> None:
    kc = api.write_kubeconfig(tmp_path / "kc")
    out = tmp_path / "b.tgz"
    assert main(["collect", "-o", str(out), "--kubeconfig", str(kc)]) == 0
    with tarfile.open(out, "r:gz") as tar:
        assert sorted(tar.getnames()) == ["manifest.json", "objects.json", "owners.json"]
        manifest = json.load(tar.extractfile("manifest.json"))
        objs = json.load(tar.extractfile("objects.json"))
    assert manifest["pulldoctor_bundle"] == 1 and manifest["created"].endswith("Z")
    assert manifest["scope"]["all_namespaces"] is False and "version" in manifest
    assert manifest["listed"]["Secret"] == ["default"]
    kinds = sorted({i["kind"] for i in objs["items"]})
    assert kinds == ["Event", "Node", "Pod", "Secret", "ServiceAccount"]
    assert not any(i.get("reason") == "Scheduled" for i in objs["items"])       # image events only
    assert sorted(i["metadata"]["name"] for i in objs["items"] if i["kind"] == "Node") == ["node-1", "node-2"]
    secrets = {i["metadata"]["name"]: i for i in objs["items"] if i["kind"] == "Secret"}
    assert all("data" not in s for s in secrets.values())
    assert secrets["regcred"]["pulldoctor/registries"] == [
        {"key": "ghcr.io", "has_username": True, "has_password": True},
        {"key": "https://index.docker.io/v1/", "has_username": True, "has_password": True}]
    assert secrets["opaque"]["type"] == "Opaque" and secrets["opaque"]["pulldoctor/registries"] == []
    pod = next(i for i in objs["items"] if i["kind"] == "Pod" and i["metadata"]["name"] == "env")
    assert "env" not in pod["spec"]["containers"][0] and "managedFields" not in pod["metadata"]


def test_diagnose_from_the_bundle_never_prints_the_canary(api: FakeKubeAPI, tmp_path: Path) -> None:
    kc = api.write_kubeconfig(tmp_path / "kc")
    out = tmp_path / "bundle.tar.gz"
    assert main(["collect", "-o", str(out), "--kubeconfig", str(kc)]) == 0
    for fmt in ("text", "json", "markdown"):
        r = subprocess.run([sys.executable, "-m", "pulldoctor", "diagnose", "--from", str(out), "--no-probe",
                            "-o", fmt], capture_output=True, text=True, timeout=120)
        assert r.returncode in (0, 1), r.stderr
        for form in canary_forms():
            assert form.decode() not in r.stdout + r.stderr


def test_bundle_from_files_and_redacted_secrets_survive_a_second_round(tmp_path: Path) -> None:
    f = tmp_path / "dump.json"
    tls = o.secret("web-tls", type="kubernetes.io/tls", data={"tls.key": base64.b64encode(CANARY.encode()).decode()})
    f.write_text(json.dumps(o.as_list([*cluster(), tls])))
    snap = load_snapshot(f)
    assert ("default", "web-tls") in snap.secrets
    b1, b2 = tmp_path / "one.tar.gz", tmp_path / "two.tar.gz"
    write_bundle(snap, b1, {"source": "files"})
    write_bundle(load_snapshot(b1), b2, {"source": "bundle"})
    assert shape(find_failing(load_snapshot(b2))) == shape(find_failing(load_snapshot(b1)))
    assert shape(find_failing(load_snapshot(b1)))[0][1] == "job-1"
    assert sorted(n for _, n in load_snapshot(b1).secrets) == ["opaque", "quay-cred", "regcred"]  # no web-tls
    for form in canary_forms():
        assert form not in bundle_bytes(b1) and form not in bundle_bytes(b2)


def test_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "dump.json"
    f.write_text(json.dumps(o.as_list(cluster())))
    snap = load_snapshot(f)
    out = tmp_path / "b.tar.gz"
    write_bundle(snap, out, {})
    before = out.read_bytes()

    import pulldoctor.cluster.bundle as bundle

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bundle.tarfile.TarFile, "addfile", boom)
    with pytest.raises(InputError, match="No space left on device"):
        write_bundle(snap, out, {})
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.tar.gz", "dump.json"]  # no temp file left
    with pytest.raises(InputError, match="does not exist"):
        write_bundle(snap, tmp_path / "nodir" / "b.tar.gz", {})


def test_bad_bundles_are_one_line_input_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(gzip.compress(b"not a tar at all" * 100))
    with pytest.raises(InputError, match=r"junk\.tar\.gz: not a pulldoctor bundle"):
        load_snapshot(junk)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = json.dumps(o.as_list(cluster()[:1])).encode()
        info = tarfile.TarInfo("objects.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    nomanifest = tmp_path / "nomanifest.tgz"
    nomanifest.write_bytes(buf.getvalue())
    with pytest.raises(InputError, match=r"nomanifest\.tgz: not a pulldoctor bundle \(no manifest\.json"):
        load_snapshot(nomanifest)
    cut = tmp_path / "cut.tar.gz"
    write_bundle(_snap(tmp_path), cut, {})
    cut.write_bytes(cut.read_bytes()[:-200])
    with pytest.raises(InputError, match=r"cut\.tar\.gz: "):
        load_snapshot(cut)


def _snap(tmp_path: Path):
    f = tmp_path / "d.json"
    f.write_text(json.dumps(o.as_list(cluster())))
    return load_snapshot(f)


def test_collect_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["collect", "-o", str(tmp_path / "b.tgz"), "-n", "x", "-A"]) == 2
    assert "either -n NAMESPACE or -A" in capsys.readouterr().err
    assert main(["collect", "-o", str(tmp_path / "b.tgz"), "--kubeconfig", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pulldoctor: kubeconfig") and err.count("\n") == 1
    assert not (tmp_path / "b.tgz").exists()


def test_a_directory_with_a_bundle_and_more_files(tmp_path: Path) -> None:
    d = tmp_path / "evidence"
    d.mkdir()
    write_bundle(_snap(tmp_path), d / "cluster.tar.gz", {})
    extra = o.pod("late", statuses=[o.waiting("app", "nginx:9", "ErrImagePull", "not found")])
    (d / "late.yaml").write_text(json.dumps(extra))  # JSON is YAML too; the suffix does not decide
    rep = find_failing(load_snapshot(d))
    assert sorted(f.pod for f in rep.failing) == ["job-1", "late", "web-1"]


def test_errors_never_quote_a_secret(tmp_path: Path) -> None:
    bad_json = tmp_path / "s.json"
    bad_json.write_text('{"kind": "Secret", "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": '
                        f'"{CANARY}", "x": 5}}}}')
    bad_yaml = tmp_path / "s.yaml"
    bad_yaml.write_text(f"kind: Secret\nstringData:\n  password: {CANARY}\n  - oops: [{CANARY}\n")
    for f in (bad_json, bad_yaml):
        with pytest.raises(InputError) as err:
            load_snapshot(f)
        assert CANARY not in str(err.value) and f.name in str(err.value)
