"""Did you mean …? A repository the registry may not have, next to the names pulldoctor read (issue 14):
Deployment ``cart`` pulling ``shop/crat``, a typo of a repository other pods pull."""

from __future__ import annotations

import json
from pathlib import Path

from test_diagnose_rules import HOST, ev, probe

from helpers import cli
from kubeapi import objects as o
from pulldoctor.causes import Cause
from pulldoctor.cluster import find_failing, load_snapshot
from pulldoctor.diagnosis import conclude, run
from pulldoctor.diagnosis.suggest import SOURCE, candidates, pulled

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "cluster"
R = "registry.shop.example.invalid"


def test_the_example_cart_pulls_crat() -> None:
    doc = json.loads(cli("diagnose", "--from", str(EXAMPLE), "--no-probe", "-o", "json").stdout)
    hinted = {f["pod"]: f for f in doc["findings"] if any(e["source"] == SOURCE for e in f["evidence"])}
    assert list(hinted) == ["cart-7c9d8f6b5-x2x4q"]          # no other finding gets a far-fetched name
    cart = hinted["cart-7c9d8f6b5-x2x4q"]
    line = next(e["text"] for e in cart["evidence"] if e["source"] == SOURCE)
    assert line.startswith("did you mean shop/cart?") and "Deployment is named cart" in line
    first = cart["fixes"][0]
    assert first["text"].startswith(f"Did you mean {R}/shop/cart?")
    assert first["commands"] == [f"skopeo list-tags docker://{R}/shop/cart",
                                 f"kubectl set image deployment/cart app={R}/shop/cart:2.0 -n shop"]
    assert cart["fixes"][1]["text"].startswith("Tag 2.0 does not exist")   # the family's own fix stays
    brief = cli("diagnose", "--from", str(EXAMPLE), "--no-probe").stdout
    assert "✗ shop/cart-7c9d8f6b5-x2x4q [app]: tag_not_found (likely) — did you mean\n    shop/cart?" in brief


def _pods(tmp_path: Path) -> Path:
    bad = f"{HOST}/acme/paymnets:1"
    pods = [o.pod("api-5d8f7-abcde", "shop", containers=[o.container("app", bad)], owner=("ReplicaSet", "api-5d8f7"),
                  statuses=[o.waiting("app", bad, "ErrImagePull", f'failed to pull and unpack image "{bad}": '
                                      f'failed to resolve reference "{bad}": {bad}: not found')]),
            o.pod("payments-6c7d8-fghij", "shop", containers=[o.container("app", f"{HOST}/acme/payments:2")],
                  owner=("ReplicaSet", "payments-6c7d8"), phase="Running",
                  statuses=[o.running("app", f"{HOST}/acme/payments:2")]),
            o.pod("other-1", "elsewhere", containers=[o.container("app", f"{HOST}/acme/paymentz:3")], phase="Running",
                  statuses=[o.running("app", f"{HOST}/acme/paymentz:3")])]
    path = tmp_path / "pods.json"
    path.write_text(json.dumps(o.as_list(pods)))
    return path


def test_repositories_other_pods_pull_nearest_first_same_namespace_first(tmp_path: Path) -> None:
    snap = load_snapshot(_pods(tmp_path))
    d = run(find_failing(snap), snap)
    (f,) = d.findings
    line = next(e.text for e in f.verdict.evidence if e.source == SOURCE)
    # acme/payments is one swap away (same namespace); acme/paymentz two edits (another namespace)
    assert line.startswith("did you mean acme/payments or acme/paymentz?"), line
    assert "deployment/payments in shop pulls it" in line
    meant = next(x for x in f.fixes if x.text.startswith("Did you mean"))   # first, or after an owner check
    assert meant.commands[-1] == f"kubectl set image deployment/api app={HOST}/acme/payments:1 -n shop"


def test_no_suggestion_once_a_probe_listed_the_repositorys_tags() -> None:
    e = ev(f"{HOST}/shop/crat:2.0", cause=Cause.TAG_NOT_FOUND, owner=("Deployment", "cart"),
           probe=probe(Cause.TAG_NOT_FOUND, status=404))
    e.similar_repositories = [("shop/cart", "the Deployment is named cart")]
    (f,) = conclude([e]).findings
    assert not any(x.source == SOURCE for x in f.verdict.evidence)
    assert not f.fixes[0].text.startswith("Did you mean")


def test_only_the_same_registry_and_close_names(tmp_path: Path) -> None:
    snap = load_snapshot(_pods(tmp_path))
    known = pulled(snap)
    e = ev("other.example/acme/paymnets:1", cause=Cause.TAG_NOT_FOUND, owner=None)
    assert candidates(e, known) == []                      # nothing on other.example
    e = ev(f"{HOST}/zzz/qqqqqqq:1", cause=Cause.TAG_NOT_FOUND, owner=None)
    assert candidates(e, known) == []                      # nothing close


def test_the_registry_catalog_names_the_repository_meant(lab, tmp_path: Path) -> None:
    """A real docker-registry (the lab's, on 127.0.0.1): the repository is missing, its catalog has a close one."""
    pushed = lab.push(lab.open_registry, lab.fresh_repo("catalog", "payments"), "v1")
    typo = pushed.repo.rsplit("/", 1)[0] + "/paymnets"
    image = f"{lab.open_registry}/{typo}:v1"
    pod = o.pod("job-1", "batch", containers=[o.container("app", image)], owner=None,
                statuses=[o.waiting("app", image, "ErrImagePull", f'failed to pull and unpack image "{image}": '
                                    f'failed to resolve reference "{image}": {image}: not found')])
    path = tmp_path / "pods.json"
    path.write_text(json.dumps(o.as_list([pod])))
    r = cli("diagnose", "--from", str(path), "-o", "json")
    assert r.returncode == 1, r.stderr
    (f,) = json.loads(r.stdout)["findings"]
    assert f["cause"] == "repo_not_found" and f["confidence"] == "certain"
    line = next(e["text"] for e in f["evidence"] if e["source"] == SOURCE)
    assert line.startswith(f"did you mean {pushed.repo}") and f"{lab.open_registry}'s catalog lists it" in line
    assert f["fixes"][0]["commands"][0] == f"skopeo list-tags docker://{lab.open_registry}/{pushed.repo}"
    assert "similar_repositories" not in f["probe"]   # the probe's JSON contract is unchanged
