"""The kubelet's own queue (serialized pulls, maxParallelImagePulls): ``Pulled`` events since 1.29 say how long
a pull waited ("in 2.03s (41.5s including waiting)"); a cancelled pull on such a node says so and offers the
kubelet setting first."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from helpers import cli
from pulldoctor.cluster.pullwaits import go_duration

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import kubelet_objects as k

IMG = "registry.example.invalid/shop/big:1"


@pytest.mark.parametrize(("text", "seconds"), [("2.03s", 2.03), ("1m2.5s", 62.5), ("450ms", 0.45),
                                                ("1h0m0s", 3600.0), ("2s3", None), ("", None), ("-1s", None)])
def test_go_durations(text: str, seconds: float | None) -> None:
    got = go_duration(text)
    assert (got is None and seconds is None) or (got is not None and seconds is not None and abs(got - seconds) < 1e-9)


def _cluster(tmp_path: Path, waited: str) -> Path:
    failing = k.pod("shop", "big-1", "app", IMG, reason="ErrImagePull", node="n1",
                    message=f'Failed to pull image "{IMG}": rpc error: code = Canceled desc = failed to pull and '
                            f'unpack image "{IMG}": context canceled')
    other = k.pod("shop", "web-1", "app", "nginx:1.27", reason="ErrImagePull", message="", node="n1")
    pulled = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web-1.1", "namespace": "shop", "uid": "e1"},
              "involvedObject": {"kind": "Pod", "namespace": "shop", "name": "web-1",
                                 "uid": other["metadata"]["uid"]},  # type: ignore[index]
              "reason": "Pulled", "count": 1,
              "message": f'Successfully pulled image "nginx:1.27" in 2.1s ({waited} including waiting). '
                         "Image size: 70538742 bytes."}
    (tmp_path / "c.json").write_text(json.dumps(k.as_list([k.node("n1"), failing, other, pulled])))
    return tmp_path / "c.json"


def _finding(path: Path) -> dict[str, object]:
    r = cli("diagnose", "--from", str(path), "-A", "--no-probe", "-o", "json")
    assert r.returncode == 1, r.stderr[-1000:]
    return next(f for f in json.loads(r.stdout)["findings"] if f["pod"] == "big-1")  # type: ignore[no-any-return]


def test_a_queue_on_the_node_is_evidence_and_the_first_fix(tmp_path: Path) -> None:
    f = _finding(_cluster(tmp_path, "1m34.2s"))
    assert f["cause"] == "pull_timeout_or_progress_deadline"
    assert any("mostly waited in the kubelet's queue" in e["text"] for e in f["evidence"])  # type: ignore[index,attr-defined]
    assert "serializeImagePulls: false" in f["fixes"][0]["text"]  # type: ignore[index]


def test_a_short_wait_changes_nothing(tmp_path: Path) -> None:
    f = _finding(_cluster(tmp_path, "2.3s"))
    assert not any("kubelet's queue" in e["text"] for e in f["evidence"])  # type: ignore[index,attr-defined]
    assert "serializeImagePulls" not in json.dumps(f["fixes"])
