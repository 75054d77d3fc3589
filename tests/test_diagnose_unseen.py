"""Say what was not seen: an empty scope is not "healthy", --from ignores no live flag, and an offline input
is judged at its own time, not the wall clock's (issue 14)."""

from __future__ import annotations

import io
import json
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import assert_one_line_error, cli
from kubeapi import FakeKubeAPI
from kubeapi import objects as o

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "cluster"


# --- an empty scope: exit 2, name the scope and the closest namespace --------------------------------------


def test_a_mistyped_namespace_names_the_closest_one() -> None:
    r = cli("diagnose", "--from", str(EXAMPLE), "-n", "shpo", "--no-probe")
    assert_one_line_error(r, "no pods in namespace shpo", "did you mean shop?")
    assert "No container is failing" not in r.stdout + r.stderr


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_a_namespace_nowhere_near_lists_what_the_input_has(fmt: str) -> None:
    r = cli("diagnose", "--from", str(EXAMPLE), "-n", "nosuchns", "--no-probe", "-o", fmt)
    assert_one_line_error(r, "no pods in namespace nosuchns", "has no namespace nosuchns", "ci, shop")


def test_a_namespace_that_exists_without_pods_says_so() -> None:
    r = cli("diagnose", "--from", str(EXAMPLE), "-n", "ci", "--no-probe")   # the example has a secret in ci
    assert_one_line_error(r, "no pods in namespace ci of the input")


def test_an_input_without_pods(tmp_path: Path) -> None:
    (tmp_path / "n.json").write_text(json.dumps(o.node("node-1")))
    assert_one_line_error(cli("diagnose", "--from", str(tmp_path), "--no-probe"), "no pods in the input")


@pytest.mark.parametrize("flags", [["--context", "prod"], ["--kubeconfig", "/etc/kc"],
                                   ["--context", "prod", "--kubeconfig", "/etc/kc"]])
def test_live_flags_with_from_are_refused(flags: list[str]) -> None:
    r = cli("diagnose", "--from", str(EXAMPLE), "--no-probe", *flags)
    assert_one_line_error(r, flags[0], "--from reads files")


@pytest.fixture
def api() -> Iterator[FakeKubeAPI]:
    pods = [o.pod("web-1", "shop", statuses=[o.running("app", "nginx:1.27")], phase="Running")]
    with FakeKubeAPI([*pods, *({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": n}}
                               for n in ("default", "shop", "kube-system"))]) as server:
        yield server


def test_live_a_mistyped_namespace_names_the_closest_one(api: FakeKubeAPI, tmp_path: Path) -> None:
    kc = api.write_kubeconfig(tmp_path / "kc")
    r = cli("diagnose", "--kubeconfig", str(kc), "-n", "shpo", "--no-probe")
    assert_one_line_error(r, "no pods in namespace shpo", "did you mean shop?")
    assert api.pages("/api/v1/namespaces"), "the namespaces were listed"


def test_live_an_empty_namespace_that_exists(api: FakeKubeAPI, tmp_path: Path) -> None:
    kc = api.write_kubeconfig(tmp_path / "kc")
    assert_one_line_error(cli("diagnose", "--kubeconfig", str(kc), "-n", "kube-system", "--no-probe"),
                          "no pods in namespace kube-system of cluster")


def test_live_namespaces_not_listable_says_it_could_not_check(api: FakeKubeAPI, tmp_path: Path) -> None:
    api.forbid("namespaces")
    kc = api.write_kubeconfig(tmp_path / "kc")
    assert_one_line_error(cli("diagnose", "--kubeconfig", str(kc), "-n", "shpo", "--no-probe"),
                          "no pods in namespace shpo", "could not list namespaces", "forbidden")


def test_live_a_healthy_namespace_still_exits_0(api: FakeKubeAPI, tmp_path: Path) -> None:
    kc = api.write_kubeconfig(tmp_path / "kc")
    r = cli("diagnose", "--kubeconfig", str(kc), "-n", "shop", "--no-probe")
    assert r.returncode == 0 and "No container is failing" in r.stdout, r.stderr


# --- judged at the snapshot's time --------------------------------------------------------------------------


def _newest_event() -> str:
    events = json.loads((EXAMPLE / "events.json").read_text())["items"]
    return max(e.get("lastTimestamp") or e.get("eventTime") or "" for e in events)


def test_files_are_judged_at_their_newest_event() -> None:
    doc = json.loads(cli("diagnose", "--from", str(EXAMPLE), "--no-probe", "-o", "json").stdout)
    newest = _newest_event()[:19].replace("T", " ")
    assert any(n.startswith(f"judged as of {newest}Z (the newest event in the input)") for n in doc["notes"])
    web = next(f for f in doc["findings"] if f["pod"].startswith("web-"))
    ages = [e["source"] for e in web["evidence"] if e["source"].startswith("event Failed")]
    # the example's events are days old by the wall clock; at the snapshot's time they are minutes old
    assert ages and all(re.search(r"\(last \d+[sm] ago\)", a) for a in ages), ages
    texts = [e["text"] for e in web["evidence"]]
    assert any("back-off was 300s" in t for t in texts) and not any("back-off now" in t for t in texts)
    text = cli("diagnose", "--from", str(EXAMPLE), "--no-probe").stdout
    assert f"as of {newest}Z" in text.splitlines()[0]


def _rewrite_created(bundle: Path, created: str) -> None:
    members = {}
    with tarfile.open(bundle, "r:gz") as tar:
        for m in tar.getmembers():
            f = tar.extractfile(m)
            assert f is not None
            members[m.name] = f.read()
    manifest = json.loads(members["manifest.json"])
    manifest["created"] = created
    members["manifest.json"] = json.dumps(manifest).encode()
    with tarfile.open(bundle, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_a_bundle_is_judged_at_its_creation_time(tmp_path: Path) -> None:
    from pulldoctor.cluster import load_snapshot
    from pulldoctor.cluster.bundle import write_bundle

    bundle = tmp_path / "b.tar.gz"
    write_bundle(load_snapshot(EXAMPLE), bundle, {"namespace": None, "all_namespaces": True, "context": None})
    _rewrite_created(bundle, "2026-11-26T14:03:36Z")   # one hour after the example's newest event
    doc = json.loads(cli("diagnose", "--from", str(bundle), "--no-probe", "-o", "json").stdout)
    assert any(n.startswith("judged as of 2026-11-26 14:03:36Z (the bundle's creation time)") for n in doc["notes"])
    web = next(f for f in doc["findings"] if f["pod"].startswith("web-"))
    assert any(re.search(r"\(last 1h0\dm ago\)", e["source"]) for e in web["evidence"]), web["evidence"]


def test_a_live_read_is_judged_now(api: FakeKubeAPI, tmp_path: Path) -> None:
    p = o.pod("web-2", "shop", statuses=[o.waiting("app", "nginx:9.9", "ImagePullBackOff", "Back-off")])
    api.add(p)
    kc = api.write_kubeconfig(tmp_path / "kc")
    r = cli("diagnose", "--kubeconfig", str(kc), "-n", "shop", "--no-probe", "-o", "json")
    assert r.returncode == 1, r.stderr
    assert not any(n.startswith("judged as of") for n in json.loads(r.stdout)["notes"])
