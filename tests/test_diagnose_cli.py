"""``pulldoctor diagnose`` as a user meets it: the README's first command on a fresh clone, exit codes,
``--no-probe``, the pod filter, and bad input as one line with exit 2."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from helpers import cli
from parts import need

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "cluster"


def run(*args: str, src: Path = ROOT / "src", cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``pulldoctor diagnose ARGS`` with the code of ``src`` (a fresh clone's, or this checkout's)."""
    return cli("diagnose", *args, timeout=120, env={"PYTHONPATH": str(src), "NO_COLOR": "1"}, cwd=cwd)


def test_readme_command_on_a_fresh_clone(tmp_path: Path) -> None:
    need(shutil.which("git") is not None, "binary 'git'")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    t0 = time.monotonic()
    out = run("--from", "examples/cluster", src=clone / "src", cwd=clone)
    elapsed = time.monotonic() - t0
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr and out.stderr == ""
    assert "cannot get their image" in out.stdout.splitlines()[0]
    assert "could not probe" in out.stdout   # offline: said plainly, not hidden
    assert elapsed < 60, f"the offline example took {elapsed:.1f}s"


def test_example_json_has_every_case_and_no_password() -> None:
    out = run("--from", str(EXAMPLE), "-o", "json")
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    causes = {f["cause"] for f in doc["findings"]}
    assert {"tag_not_found", "auth_missing", "auth_invalid", "rate_limited", "forbidden", "dns_failure",
            "network_unreachable", "tls_error", "http_vs_https", "platform_mismatch",
            "pull_timeout_or_progress_deadline", "never_pull_absent", "invalid_image_name", "disk_full"} <= causes
    assert doc["not_image"] == {"CrashLoopBackOff": 1, "Unschedulable": 1}
    assert any(g["cause"] == "dns_failure" and g["count"] == 4 for g in doc["groups"])
    # certain only with independent evidence: offline, registry-side verdicts are at most likely
    for f in doc["findings"]:
        if f["cause"] in {"tag_not_found", "auth_missing", "auth_invalid", "forbidden", "rate_limited"}:
            assert f["confidence"] != "certain", f
    assert "example-not-a-real-password" not in out.stdout


def test_no_probe_lists_failing_containers_with_the_message_cause() -> None:
    out = run("--from", str(EXAMPLE), "--no-probe", "-o", "json")
    assert out.returncode == 1
    doc = json.loads(out.stdout)
    web = next(f for f in doc["findings"] if f["pod"].startswith("web-"))
    assert web["cause"] == "tag_not_found" and web["confidence"] == "likely"
    assert web["probe"] == {"skipped": "not probed (--no-probe)"}
    assert any("--no-probe" in s for s in web["settle"])


def test_pod_filter_and_namespace() -> None:
    out = run("--from", str(EXAMPLE), "--no-probe", "-o", "json", "-n", "shop", "ledger-7c9d8f6b5-x2x4q")
    doc = json.loads(out.stdout)
    assert [f["pod"] for f in doc["findings"]] == ["ledger-7c9d8f6b5-x2x4q"]
    out = run("--from", str(EXAMPLE), "--no-probe", "-o", "json", "-n", "elsewhere")   # no pods: not "healthy"
    assert out.returncode == 2 and out.stdout == "" and "no pods in namespace elsewhere" in out.stderr


def test_nothing_failing_exits_0(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text(json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "ok", "namespace": "x"}, "status": {"phase": "Running"}}))
    out = run("--from", str(tmp_path))
    assert out.returncode == 0 and "No container is failing" in out.stdout


@pytest.mark.parametrize("args", [["--from", "/nonexistent/dir"], ["--from", str(EXAMPLE), "-n", "a", "-A"],
                                  ["--from", str(EXAMPLE), "no-such-pod"]])
def test_bad_input_is_one_line_exit_2(args: list[str]) -> None:
    out = run(*args, "--no-probe")
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


def test_markdown_for_a_ticket() -> None:
    out = run("--from", str(EXAMPLE), "--no-probe", "-o", "markdown")
    assert out.returncode == 1
    assert out.stdout.startswith("# Image pull diagnosis")
    assert "| namespace | pod | container | image | cause | confidence |" in out.stdout
    assert "```sh" in out.stdout


def test_live_cluster_gives_the_same_findings_as_files(tmp_path: Path) -> None:
    """The example served by the fake API server (the real kubernetes client talks to it)."""
    from kubeapi import FakeKubeAPI

    objs = [o for f in sorted(EXAMPLE.glob("*.json")) for o in json.loads(f.read_text())["items"]]
    with FakeKubeAPI(objs) as api:
        kc = api.write_kubeconfig(tmp_path / "kubeconfig")
        live = run("--kubeconfig", str(kc), "-n", "shop", "--no-probe", "-o", "json")
    files = run("--from", str(EXAMPLE), "--no-probe", "-o", "json")
    assert live.returncode == 1, live.stderr
    def key(doc):
        return sorted((f["pod"], f["container"], f["cause"], f["confidence"]) for f in doc["findings"])
    assert key(json.loads(live.stdout)) == key(json.loads(files.stdout))
    from pulldoctor.causes import IMAGE_WAITING_REASONS

    waiting = [c["state"]["waiting"]["reason"] for o in objs if o["kind"] == "Pod"
               for c in o["status"].get("containerStatuses", []) if "waiting" in c["state"]]
    assert len(key(json.loads(live.stdout))) == sum(r in IMAGE_WAITING_REASONS for r in waiting) > 20


def test_bundle_gives_the_same_causes_without_secret_values(tmp_path: Path) -> None:
    """A support bundle keeps which registries a secret covers, not its values: same verdicts offline."""
    from pulldoctor.cluster import SourceSpec, load_snapshot
    from pulldoctor.cluster.bundle import write_bundle

    bundle = tmp_path / "b.tar.gz"
    write_bundle(load_snapshot(SourceSpec(paths=(str(EXAMPLE),))), bundle, {"namespace": "shop"})
    from_bundle = json.loads(run("--from", str(bundle), "--no-probe", "-o", "json").stdout)
    from_files = json.loads(run("--from", str(EXAMPLE), "--no-probe", "-o", "json").stdout)
    key = lambda doc: sorted((f["pod"], f["cause"]) for f in doc["findings"])  # noqa: E731
    assert key(from_bundle) == key(from_files)


@pytest.mark.parametrize("argv", [
    ["diagnose", "--from", str(EXAMPLE), "--no-probe", "-o", "json"],
    ["diagnose", "no-such-pod", "--from", str(EXAMPLE), "--no-probe"],
    ["diagnose", "--from", str(ROOT / "no-such-dir"), "--no-probe"],
])
def test_the_cyclic_gc_is_back_as_it_was_after_a_diagnosis(argv: list[str]) -> None:
    """diagnose reads with the cyclic GC off and freezes the snapshot; a caller that goes on (main() in
    process) gets the GC back, enabled and with nothing frozen, whether the command succeeded or not."""
    import os  # here, not at the top: this module's imports are being reorganised on main
    import sys

    code = ("import contextlib, gc, io, json\n"
            "from pulldoctor.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
            f"    rc = main({argv!r})\n"
            "print(json.dumps([rc, gc.isenabled(), gc.get_freeze_count()]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert out.returncode == 0, out.stderr
    rc, enabled, frozen = json.loads(out.stdout)
    assert rc in (1, 2) and enabled is True and frozen == 0
