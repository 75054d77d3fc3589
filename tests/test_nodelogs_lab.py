"""``--node-logs`` on the lines a real containerd writes: the lab's containerd (1.6, CRI plugin) pulls from
the lab's registries, and its own log, framed as ``journalctl -u containerd`` frames it, is the node's log.
Nothing is hard-coded but the cause expected. containerd 1.6 has no pull progress timeout, so its deadline
lines are in test_nodelogs.py (their format strings, cited there).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nodelog_fixtures as f
import pytest

from helpers import cli

pytestmark = [pytest.mark.lab, pytest.mark.containerd]


def journal_of(containerd: object, image: str, now: datetime) -> str:
    """containerd's lines about ``image``, each with the header journalctl's short format gives it. A pull
    the client gave up on ends in containerd a little later: wait (bounded) for its ``failed`` line."""
    deadline = time.monotonic() + 15
    while True:
        lines = [ln for ln in containerd.log_text().splitlines() if image in ln]  # type: ignore[attr-defined]
        if any("failed" in ln for ln in lines) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert any("failed" in ln for ln in lines), lines
    return "".join(f"{f.short(now)} {f.NODE.split('.')[0]} containerd[2100]: {ln}\n" for ln in lines)


def diagnose_with(tmp_path: Path, image: str, journal: str, now: datetime) -> dict[str, object]:
    snap = f.snapshot(tmp_path / "snap.json", image=image, message=None, events=False)
    j = tmp_path / "containerd.journal"
    j.write_text(journal)
    r = cli("diagnose", "--from", str(snap), "--no-probe", "-o", "json", "--node-logs", f"{f.NODE}={j}")
    assert r.returncode == 1, r.stderr
    (got,) = json.loads(r.stdout)["findings"]
    return got  # type: ignore[no-any-return]


def test_events_expired_containerds_own_error_decides(tmp_path: Path, lab: object, containerd: object) -> None:
    image = lab.push(lab.open_registry, lab.fresh_repo("demo"), "v1").ref.replace(":v1", ":nope")  # type: ignore[attr-defined]
    out = containerd.pull(image)  # type: ignore[attr-defined]
    assert not out.ok
    now = datetime.now(UTC)
    got = diagnose_with(tmp_path, image, journal_of(containerd, image, now), now)
    assert got["cause"] == "tag_not_found", got
    assert got["message"] and "not found" in str(got["message"])
    assert got["evidence"][0]["source"] == "node log"  # type: ignore[index]
    assert f"{f.NODE} containerd " in got["evidence"][0]["text"]  # type: ignore[index]


def test_pull_cut_off_by_a_client_deadline(tmp_path: Path, lab: object, containerd: object) -> None:
    """The kubelet's side gave up (a 2 s client deadline); containerd's log says why the pull ended."""
    image = lab.push(lab.nginx, lab.fresh_repo("slow"), "v1", layer_bytes=256 * 1024).ref  # type: ignore[attr-defined]
    out = containerd.pull(image, timeout=2)  # type: ignore[attr-defined]
    assert not out.ok
    now = datetime.now(UTC) + timedelta(seconds=1)
    got = diagnose_with(tmp_path, image, journal_of(containerd, image, now), now)
    assert got["cause"] == "pull_timeout_or_progress_deadline", got
