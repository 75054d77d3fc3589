"""The classifier against real messages: at least 95 % of each corpus must land in its ``accept`` list.

Three corpora (tests/data/corpus/, see the README beside them) hold real kubelet/runtime messages from public
threads, each with the causes its authors accept: ``dev.jsonl`` (the development set the rules were first
written against), ``public.jsonl`` (a larger set gathered afterwards from GitHub issues, labelled from each
thread's resolution) and ``pages.jsonl`` (gathered after that from Q&A pages, blogs, vendor troubleshooting
articles and GitHub threads the first two missed; scored before any rule was changed for it) and ``trackers.jsonl``
(gathered last from the trackers of smaller projects — Argo, Tekton, Knative, MicroK8s, k3s/RKE2, Harbor,
Dragonfly, Spegel, EKS/AKS/GKE tooling, Huawei SWR and Aliyun mirrors, Windows and Raspberry Pi nodes — and
from non-English pages; also scored before any rule was changed for it). A larger held-out set of the same kind
judges the classifier, so a failure here means a wrapping or core error is not understood in general.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pulldoctor.causes import Cause
from pulldoctor.messages import classify

DATA = Path(__file__).parent / "data" / "corpus"
CORPORA = {name: [json.loads(line) for line in (DATA / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
                  if line.strip()]
           for name in ("dev", "public", "pages", "trackers")}
ALL = [(name, r) for name, records in CORPORA.items() for r in records]
THRESHOLD = 0.95
MIN_SIZE = {"dev": 30, "public": 80, "pages": 60, "trackers": 60}


@pytest.mark.parametrize("name", CORPORA)
def test_corpus_is_present_and_well_formed(name: str) -> None:
    records = CORPORA[name]
    assert len(records) >= MIN_SIZE[name]
    causes = {c.value for c in Cause}
    for r in records:
        assert isinstance(r["message"], str) and r["message"]
        assert r["label"] in causes and r["accept"] and all(a in causes for a in r["accept"])
        assert r["source"].startswith("https://")
    assert len({r["id"] for r in records}) == len(records)


@pytest.mark.parametrize("name", ["public", "pages", "trackers"])
def test_later_sets_are_disjoint_from_the_earlier_ones(name: str) -> None:
    order = list(CORPORA)
    earlier = {r["message"] for n in order[: order.index(name)] for r in CORPORA[n]}
    later = [r["message"] for r in CORPORA[name]]
    assert not earlier & set(later) and len(set(later)) == len(later)


def test_ids_are_unique_across_corpora() -> None:
    ids = [r["id"] for _, r in ALL]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("name", CORPORA)
def test_accuracy_at_least_95_percent(name: str) -> None:
    records = CORPORA[name]
    wrong = []
    for r in records:
        got = classify(r["message"]).cause.value
        if got not in r["accept"]:
            wrong.append(f"{r['id']}: got {got}, accept {r['accept']}")
    accuracy = 1 - len(wrong) / len(records)
    assert accuracy >= THRESHOLD, f"{name}: accuracy {accuracy:.1%} < {THRESHOLD:.0%}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("record", [r for _, r in ALL], ids=[r["id"] for _, r in ALL])
def test_runtime_is_never_wrong(record: dict[str, object]) -> None:
    """The runtime named is the one the corpus names, or ``unknown`` when the text does not tell."""
    got = classify(str(record["message"])).fields["runtime"]
    assert got in {record["runtime"], "unknown"}


@pytest.mark.parametrize("record", [r for _, r in ALL], ids=[r["id"] for _, r in ALL])
def test_root_is_first_signal_and_fields_are_json(record: dict[str, object]) -> None:
    c = classify(str(record["message"]))
    assert c.signals[0] is c.cause
    json.dumps(c.fields)  # fields must serialise as they are


def test_images_named_in_the_kubelet_wrapper_are_extracted() -> None:
    """Every ``Failed to pull image "X"`` message yields X, exactly as the kubelet quoted it."""
    checked = 0
    for _, r in ALL:
        msg = r["message"]
        marker = 'Failed to pull image "'
        if marker in msg and "\n" not in msg:
            expected = msg.split(marker, 1)[1].split('"', 1)[0]
            if expected:
                assert classify(msg).fields.get("image") == expected, r["id"]
                checked += 1
    assert checked >= 50
