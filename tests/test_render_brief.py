"""The default text view fits a screen (issue 14): the count, the groups naming their pods, a line per
container, each distinct problem once with the evidence that decided it and its first fix, notes once.
``-v`` and ``diagnose POD`` tell everything; JSON and Markdown keep everything."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_render import width

from helpers import cli
from pulldoctor.cluster import find_failing, load_snapshot
from pulldoctor.diagnosis import run
from pulldoctor.render.brief import pods_named, problems
from pulldoctor.render.text import render as render_text

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "cluster"


@pytest.fixture(scope="module")
def example() -> tuple[str, str, dict]:
    """The bundled example as the README runs it (probes included), in the default view, with -v and as JSON."""
    brief = cli("diagnose", "--from", str(EXAMPLE), env={"NO_COLOR": "1"})
    full = cli("diagnose", "--from", str(EXAMPLE), "-v", env={"NO_COLOR": "1"})
    doc = cli("diagnose", "--from", str(EXAMPLE), "-o", "json")
    assert brief.returncode == full.returncode == doc.returncode == 1, brief.stderr + full.stderr
    return brief.stdout, full.stdout, json.loads(doc.stdout)


def test_the_example_fits_in_200_lines_at_80_columns(example: tuple[str, str, dict]) -> None:
    brief, full, _ = example
    lines = brief.splitlines()
    assert len(lines) <= 200, len(lines)
    assert len(full.splitlines()) > 2 * len(lines)   # -v still tells everything
    for line in lines:
        if not line.lstrip().startswith("$ "):    # commands stay whole so that they can be pasted
            assert width(line) <= 80 or " " not in line.strip(), line


def test_every_container_has_its_line_and_each_problem_is_told_once(example: tuple[str, str, dict]) -> None:
    brief, _, doc = example
    grouped = {(m["namespace"], m["pod"]) for g in doc["groups"] for m in g["members"][1:]}
    for f in doc["findings"]:
        line = f"✗ {f['namespace']}/{f['pod']} [{f['container']}]: {f['cause']} ({f['confidence']})"
        assert (brief.count(line) == 1) != ((f["namespace"], f["pod"]) in grouped), line
    # the four tag typos on registry.shop.example.invalid are one problem: their fix wording is told once
    assert brief.count("does not exist in registry.shop.example.invalid/") == 1
    assert brief.count("fix: ") == len({f["cause"] for f in doc["findings"]}) + 4   # auth_missing ×4, tags ×2
    assert brief.count("refuses the credentials in") == 1   # auth_invalid: two secrets, one problem


def test_the_unreachable_registries_are_said_once(example: tuple[str, str, dict]) -> None:
    brief, full, _ = example
    assert full.count("could not probe") >= 15
    assert brief.count("could not probe") == 1      # the note
    assert "to settle" not in brief and "to settle" in full


def test_groups_name_their_pods_abbreviated(example: tuple[str, str, dict]) -> None:
    brief, _, _ = example
    assert "shop/catalog-7c9d8f6b5-{x2x4q,r0k7z,r1k7z,r2k7z}" in brief
    assert "+ 3 more (≡ above)" in brief


def test_stuck_pods_are_named(example: tuple[str, str, dict]) -> None:
    brief, full, _ = example
    for text in (brief, full):
        assert "CrashLoopBackOff 1\n  (shop/worker-5c4b3-l2m3n)" in text or "CrashLoopBackOff 1 (shop/worker-5c4b3-l2m3n)" \
            in " ".join(text.split())
        assert "Unschedulable 1 (shop/gpu-job-x7y8z)" in " ".join(text.split())
    md = cli("diagnose", "--from", str(EXAMPLE), "--no-probe", "-o", "markdown").stdout
    assert "Unschedulable 1 (`shop/gpu-job-x7y8z`)" in md


def test_json_keeps_every_finding_and_its_evidence(example: tuple[str, str, dict]) -> None:
    _, _, doc = example
    assert len(doc["findings"]) == 26 and all(f["evidence"] and f["fixes"] for f in doc["findings"])
    assert set(doc) == {"schema_version", "findings", "groups", "not_image", "notes"}


def test_one_pod_is_told_in_full() -> None:
    r = cli("diagnose", "--from", str(EXAMPLE), "--no-probe", "-n", "shop", "ledger-7c9d8f6b5-x2x4q")
    assert r.returncode == 1 and "  evidence:" in r.stdout and "  fix:\n    1. " in r.stdout


def test_pods_named_abbreviates_a_replicaset_and_stops_at_six() -> None:
    snap = load_snapshot(EXAMPLE)
    d = run(find_failing(snap), snap)
    catalog = [f for f in d.findings if f.pod.startswith("catalog-")]
    assert pods_named(catalog) == "shop/catalog-7c9d8f6b5-{x2x4q,r0k7z,r1k7z,r2k7z}"
    named = pods_named(d.findings)
    assert named.endswith(", … (20 more)") and named.count("shop/") == 6
    assert pods_named(d.findings[:1]) == "shop/web-7c9d8f6b5-x2x4q"
    assert sum(1 + len(alike) for _, alike in problems(d)) == len(d.findings)


def test_the_brief_view_is_the_renderers_choice_not_the_default_of_render_text() -> None:
    snap = load_snapshot(EXAMPLE)
    d = run(find_failing(snap), snap)
    told = len(d.findings) - sum(len(g.members) - 1 for g in d.groups)
    assert render_text(d).count("  evidence:") == told   # the library's default stays the full view
    assert "  evidence:" not in render_text(d, brief=True)
    assert re.search(r"^All evidence, every fix step", render_text(d, brief=True), re.MULTILINE)
