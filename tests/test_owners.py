"""Owners come from objects, not names (issue 14): the live reader follows ownerReferences through the API
(the real kubernetes client against the fake API server), ``collect`` bundles the chain, and diagnosis uses it;
where an owner could not be read it says the owner is inferred and reads it first."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from kubeapi import FakeKubeAPI
from kubeapi import objects as o
from pulldoctor.cluster import SourceSpec, find_failing, load_snapshot
from pulldoctor.cluster.bundle import write_bundle
from pulldoctor.diagnosis import run

IMG = "registry.example.invalid/shop/web:1.4"
MSG = f'failed to pull and unpack image "{IMG}": failed to resolve reference "{IMG}": {IMG}: not found'


def _pod(name: str, owner: tuple[str, str, str]) -> dict[str, Any]:
    p = o.pod(name, "shop", containers=[o.container("app", IMG)],
              statuses=[o.waiting("app", IMG, "ErrImagePull", MSG)])
    p["metadata"]["ownerReferences"] = [{"apiVersion": owner[0], "kind": owner[1], "name": owner[2],
                                         "uid": str(uuid.uuid4()), "controller": True}]
    return p


def _obj(api_version: str, kind: str, name: str, owner: tuple[str, str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "shop", "uid": str(uuid.uuid4())}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": owner[0], "kind": owner[1], "name": owner[2],
                                    "uid": str(uuid.uuid4()), "controller": True}]
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, "spec": {"replicas": 2}}


CLUSTER = [
    _pod("web-7c9d8f6b5-aaaaa", ("apps/v1", "ReplicaSet", "web-7c9d8f6b5")),
    _obj("apps/v1", "ReplicaSet", "web-7c9d8f6b5", ("apps/v1", "Deployment", "storefront")),   # not "web"
    _obj("apps/v1", "Deployment", "storefront"),
    _pod("roll-6d4f8b7c9-aaaaa", ("apps/v1", "ReplicaSet", "roll-6d4f8b7c9")),
    _obj("apps/v1", "ReplicaSet", "roll-6d4f8b7c9", ("argoproj.io/v1alpha1", "Rollout", "roll")),
    _obj("argoproj.io/v1alpha1", "Rollout", "roll"),
    _pod("job-28900000-abcde", ("batch/v1", "Job", "job-28900000")),      # Jobs forbidden below
    _pod("gone-5d8f7c9b4-aaaaa", ("apps/v1", "ReplicaSet", "gone-5d8f7c9b4")),   # 404
    o.node("node-1"),
]


@pytest.fixture
def snapshot(tmp_path: Path) -> Any:
    with FakeKubeAPI(CLUSTER) as api:
        api.forbid("batch/jobs")
        kc = api.write_kubeconfig(tmp_path / "kc", namespace="shop")
        snap = load_snapshot(SourceSpec(kubeconfig=str(kc), namespace="shop"))
        paths = [r.path for r in api.requests]
    assert "/apis/argoproj.io/v1alpha1" in paths                      # discovery, for the CRD's resource name
    assert "/apis/argoproj.io/v1alpha1/namespaces/shop/rollouts/roll" in paths
    return snap


def _chains(snap: Any) -> dict[str, tuple[tuple[str, str, bool], ...]]:
    return {f.pod: tuple((x.kind, x.name, x.read) for x in f.owners.chain) for f in find_failing(snap).failing}


def _fixes(snap: Any) -> dict[str, tuple[list[str], list[str]]]:
    d = run(find_failing(snap), snap)
    return {f.pod: ([e.text for e in f.verdict.evidence if e.source == "owner"],
                    [c for x in f.fixes for c in x.commands]) for f in d.findings}


def test_live_reads_the_owner_chain(snapshot: Any) -> None:
    chains = _chains(snapshot)
    assert chains["web-7c9d8f6b5-aaaaa"] == (("ReplicaSet", "web-7c9d8f6b5", True), ("Deployment", "storefront", True))
    assert chains["roll-6d4f8b7c9-aaaaa"] == (("ReplicaSet", "roll-6d4f8b7c9", True), ("Rollout", "roll", True))
    assert chains["job-28900000-abcde"] == (("Job", "job-28900000", False),)
    assert snapshot.unread_owners[("shop", "Job", "job-28900000")] == "forbidden"
    assert snapshot.unread_owners[("shop", "ReplicaSet", "gone-5d8f7c9b4")] == "not found"
    assert any("could not read Job objects in namespace shop: forbidden" in n for n in snapshot.notes)


def test_fixes_use_the_owner_read_and_say_when_it_is_inferred(snapshot: Any) -> None:
    fx = _fixes(snapshot)
    said, cmds = fx["web-7c9d8f6b5-aaaaa"]
    assert said == [] and cmds[-1] == f"kubectl set image deployment/storefront app={IMG.rsplit(':', 1)[0]}:TAG -n shop"
    said, cmds = fx["roll-6d4f8b7c9-aaaaa"]
    assert said == [] and cmds[-1].startswith("kubectl edit rollout.argoproj.io/roll -n shop")
    assert not any("deployment" in c for c in cmds)
    said, cmds = fx["job-28900000-abcde"]
    assert said == ["Job job-28900000 was not read (forbidden): CronJob job is inferred from its name"]
    assert cmds[0] == "kubectl get job job-28900000 -n shop -o jsonpath='{.metadata.ownerReferences}'"
    said, cmds = fx["gone-5d8f7c9b4-aaaaa"]
    assert said == ["ReplicaSet gone-5d8f7c9b4 was not read (not found): Deployment gone is inferred from its name"]


def test_the_bundle_keeps_the_chain_and_why_an_owner_was_not_read(snapshot: Any, tmp_path: Path) -> None:
    bundle = tmp_path / "b.tar.gz"
    write_bundle(snapshot, bundle, {"namespace": "shop"})
    replay = load_snapshot(bundle)
    assert _chains(replay) == _chains(snapshot)          # the Rollout (a custom resource) too
    assert _fixes(replay) == _fixes(snapshot)


def test_a_hostile_owner_kind_never_reaches_a_command_unquoted() -> None:
    import re

    from pulldoctor.cluster import Snapshot

    snap = Snapshot(source="x.json")
    pod = _pod("evil-aaaaa", ("x/v1; touch /tmp/pwned #", "Kind$(touch /tmp/pwned)", "n; rm -rf /"))
    from pulldoctor.cluster.model import convert_python

    snap.add(convert_python(pod).objects)
    d = run(find_failing(snap), snap)
    cmds = [c for f in d.findings for x in f.fixes for c in x.commands if c.startswith("kubectl")]
    assert cmds
    for c in cmds:
        unquoted = re.sub(r"'[^']*'", "", c)   # what the shell reads outside single quotes
        assert "touch" not in unquoted and "rm -rf" not in unquoted, c
