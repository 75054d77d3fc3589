"""``diagnose --node-logs``: EKS log collector archives, directories of them and journal exports, read
within their bounds, and what their lines and settings change in a verdict and its fix.

The runtime lines are the runtimes' own format strings (cited in src/pulldoctor/nodelogs/scan.py: dockershim
``kube_docker_client.go`` progressReporter, containerd ``image_pull.go`` pullRequestReporter, CRI-O
``server/image_pull.go``, the kubelet's cri-client ``remote_image.go`` PullImage) filled in as they print them;
the lab's real containerd lines are in test_nodelogs_lab.py.
"""

from __future__ import annotations

import io
import json
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nodelog_fixtures as f
import pytest

from helpers import assert_one_line_error, cli
from pulldoctor.cluster.bundle import TarLimits
from pulldoctor.cluster.model import Node, NodeMeta, NodeSpec
from pulldoctor.nodelogs import Kind, load
from pulldoctor.nodelogs.sources import tail

IMAGE = "registry.example.com/team/big:1.0"
AT = f.T0 + timedelta(minutes=5)
NODES = {f.NODE: Node(metadata=NodeMeta(name=f.NODE), spec=NodeSpec(provider_id=f"aws:///us-east-1a/{f.INSTANCE}"))}


def klog(t: datetime, text: str, unit: str = "kubelet", pid: int = 2301) -> str:
    return f"{f.short(t)} ip-192-168-1-10 {unit}[{pid}]: {text}\n"


def containerd_line(t: datetime, level: str, msg: str) -> str:
    """containerd's logrus text format, as journalctl shows it."""
    return klog(t, f'time="{t.strftime("%Y-%m-%dT%H:%M:%S.000000000Z")}" level={level} msg="{msg}"', "containerd", 2100)


# dockershim, kube_docker_client.go progressReporter.start: klog.Errorf("Cancel pulling image %q because of no
# progress for %v, latest progress: %q", ...) — the field report's line.
DOCKERSHIM = ('E1204 18:05:00.123456    2301 kube_docker_client.go:345] Cancel pulling image "' + IMAGE + '" because '
              'of no progress for 1m0s, latest progress: "d25013272171: Extracting [====>]  88.27MB/88.27MB"')
PULL_FAILED = ('E1204 18:05:00.200000    2301 remote_image.go:180] "PullImage from image service failed" '
               'err="rpc error: code = Canceled desc = context canceled" image="' + IMAGE + '"')


def cancelled(read: int, deadline: str = "1m0s") -> str:
    """containerd 1.7 pullRequestReporter: the cancel (Errorf) and the stop (Infof) lines."""
    return (containerd_line(AT, "error", f"cancel pulling image {IMAGE} because of no progress in {deadline}")
            + containerd_line(AT, "info", f"stop pulling image {IMAGE}: active requests=0, bytes read={read}"))


def diagnose(snap: Path, *logs: str) -> dict[str, object]:
    args = ["diagnose", "--from", str(snap), "--no-probe", "-o", "json"]
    for log in logs:
        args += ["--node-logs", log]
    r = cli(*args)
    assert r.returncode == 1, r.stderr
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def finding(doc: dict[str, object]) -> dict[str, object]:
    (one,) = doc["findings"]  # type: ignore[misc]
    return one  # type: ignore[no-any-return]


def text_of(fnd: dict[str, object], key: str) -> str:
    return json.dumps(fnd[key])


# --- reading -----------------------------------------------------------------------------------------


def test_archive_matched_by_instance_id_gives_hits_and_settings(tmp_path: Path) -> None:
    a = f.archive(tmp_path, f.eks_members(klog(AT, PULL_FAILED), cancelled(1234)))
    logs = load([str(a)], NODES)
    assert logs.notes == []
    log = logs.nodes[f.NODE]
    assert [h.kind for h in log.hits] == [Kind.PULL_FAILED, Kind.CONTAINERD_CANCEL, Kind.CONTAINERD_STOP]
    assert log.hits[0].error == "rpc error: code = Canceled desc = context canceled"
    assert log.hits[0].at == AT and log.hits[1].unit == "containerd" and log.hits[2].bytes_read == 1234
    s = log.settings
    assert s.runtime == "containerd 1.7.11"
    assert s.progress_timeout is not None and s.progress_timeout.value == "1m0s"
    assert s.progress_timeout.where == '[plugins."io.containerd.grpc.v1.cri"] in /etc/containerd/config.toml'
    assert s.max_concurrent_downloads is not None and s.max_concurrent_downloads.value == "3"
    assert s.registry_config_path is not None and s.registry_config_path.value.startswith("/etc/containerd/certs.d")
    assert s.kubelet["--registry-qps"].value == "2"
    assert s.kubelet["--registry-qps"].where == "/etc/systemd/system/kubelet.service.d/30-kubelet-extra-args.conf"
    assert s.kubelet["serializeImagePulls"].value == "false"
    assert s.kubelet["maxParallelImagePulls"].value == "5"
    assert s.disk is not None and (s.disk.mount, s.disk.avail, s.disk.use_percent, s.disk.inode_use_percent) \
        == ("/", "1.0G", 95, 2)


def test_containerd_2_config_section(tmp_path: Path) -> None:
    config = ('version = 3\n[plugins."io.containerd.cri.v1.images"]\n  image_pull_progress_timeout = "5m0s"\n'
              '  max_concurrent_downloads = 3\n  [plugins."io.containerd.cri.v1.images".registry]\n'
              '    config_path = "/etc/containerd/certs.d"\n')
    a = f.archive(tmp_path, f.eks_members(klog(AT, PULL_FAILED), **{"containerd/containerd-config.txt": config}))
    s = load([str(a)], NODES).nodes[f.NODE].settings
    assert s.progress_timeout is not None and s.progress_timeout.value == "5m0s"
    assert s.progress_timeout.where.startswith('[plugins."io.containerd.cri.v1.images"]')


def test_directory_of_archives_and_an_instance_that_is_no_node(tmp_path: Path) -> None:
    f.archive(tmp_path, f.eks_members(klog(AT, PULL_FAILED)))
    f.archive(tmp_path, f.eks_members(klog(AT, PULL_FAILED), **{"system/instance-id.txt": "i-0fff000000000000f"}),
              instance="i-0fff000000000000f")
    (tmp_path / "notes.txt").write_text("not an archive")
    logs = load([str(tmp_path)], NODES)
    assert list(logs.nodes) == [f.NODE]
    assert len(logs.notes) == 1 and "i-0fff000000000000f, which is no node of the snapshot" in logs.notes[0]


@pytest.mark.parametrize("fmt", ["short", "short-iso", "json"])
def test_journal_export_formats(tmp_path: Path, fmt: str) -> None:
    msg = f"cancel pulling image {IMAGE} because of no progress in 5m0s"
    if fmt == "short":
        line = containerd_line(AT, "error", msg)
    elif fmt == "short-iso":
        line = f'{AT.strftime("%Y-%m-%dT%H:%M:%S+0000")} ip-1 containerd[2100]: level=error msg="{msg}"\n'
    else:
        line = json.dumps({"__REALTIME_TIMESTAMP": str(int(AT.timestamp() * 1e6)), "_SYSTEMD_UNIT": "containerd.service",
                           "MESSAGE": f'level=error msg="{msg}"', "_HOSTNAME": "ip-1"}) + "\n"
    j = tmp_path / "journal.txt"
    j.write_text("garbage first line\n" + line)
    logs = load([f"{f.NODE}={j}"], NODES, now=AT + timedelta(hours=1))
    (hit,) = logs.nodes[f.NODE].hits
    assert (hit.kind, hit.unit, hit.at, hit.image, hit.deadline) == (Kind.CONTAINERD_CANCEL, "containerd", AT, IMAGE, "5m0s")


def test_short_format_year_is_that_of_the_collection(tmp_path: Path) -> None:
    j = tmp_path / "j.txt"
    j.write_text(klog(datetime(2026, 12, 31, 23, 59, tzinfo=UTC), PULL_FAILED))
    logs = load([f"{f.NODE}={j}"], NODES, now=datetime(2027, 1, 1, 0, 5, tzinfo=UTC))
    assert logs.nodes[f.NODE].hits[0].at == datetime(2026, 12, 31, 23, 59, tzinfo=UTC)


def test_journal_for_a_node_not_in_the_snapshot_is_a_note(tmp_path: Path) -> None:
    j = tmp_path / "j.txt"
    j.write_text(klog(AT, PULL_FAILED))
    logs = load([f"other-node={j}"], NODES)
    assert logs.nodes == {} and logs.notes == [f"node log other-node={j}: node other-node is not in the snapshot; not used"]


# --- hostile and odd inputs: a note each, never a crash ----------------------------------------------


def test_traversal_members_are_never_matched(tmp_path: Path) -> None:
    a = f.archive(tmp_path, {"../../kubelet/kubelet.log": klog(AT, PULL_FAILED),
                             "/kubelet/kubelet.log": klog(AT, PULL_FAILED), "system/instance-id.txt": f.INSTANCE})
    logs = load([str(a)], NODES)
    assert logs.nodes == {} and "holds no kubelet or containerd log" in logs.notes[0]
    assert not (tmp_path.parent / "kubelet").exists()


def test_a_link_where_a_log_should_be_refuses_the_archive(tmp_path: Path) -> None:
    a = f.archive(tmp_path, {"system/instance-id.txt": f.INSTANCE}, links={"kubelet/kubelet.log": "/etc/shadow"})
    logs = load([str(a)], NODES)
    assert logs.nodes == {}
    assert "kubelet/kubelet.log is not a regular file" in logs.notes[0] and logs.notes[0].endswith("skipped")


def test_oversized_member_refuses_the_archive(tmp_path: Path) -> None:
    a = f.archive(tmp_path, f.eks_members("x" * 5000))
    logs = load([str(a)], NODES, limits=TarLimits(100, 4096, 1 << 20, "EKS log collector archive"))
    assert logs.nodes == {} and "too large" in logs.notes[0]


@pytest.mark.parametrize("body", [b"", b"\x00\xff" * 50_000, b"\x1f\x8b\x08\x00garbage"])
def test_not_an_archive_is_a_note(tmp_path: Path, body: bytes) -> None:
    p = tmp_path / "eks_i-0abc123def4567890_2026-12-04_1830-UTC_0.7.8.tar.gz"
    p.write_bytes(body)
    logs = load([str(p)], NODES)
    assert logs.nodes == {} and "not a readable .tar.gz" in logs.notes[0]


def test_binary_log_is_tolerated(tmp_path: Path) -> None:
    junk = bytes(range(256)) * 4000
    a = f.archive(tmp_path, f.eks_members(junk + b"\n" + klog(AT, PULL_FAILED).encode() + junk))  # type: ignore[arg-type]
    logs = load([str(a)], NODES)
    assert [h.kind for h in logs.nodes[f.NODE].hits] == [Kind.PULL_FAILED]


def test_unknown_journal_layout_is_a_note(tmp_path: Path) -> None:
    j = tmp_path / "j.txt"
    j.write_text("just some text\nwithout any journal header\n")
    logs = load([f"{f.NODE}={j}"], NODES)
    assert logs.nodes[f.NODE].hits == [] and "no dated journal line" in logs.notes[0]


@pytest.mark.parametrize("spec", ["/nonexistent/eks.tar.gz", "node-a=/nonexistent/journal.txt", "/dev/null"])
def test_bad_paths_are_one_line_exit_2(tmp_path: Path, spec: str) -> None:
    snap = f.snapshot(tmp_path / "snap.json")
    r = cli("diagnose", "--from", str(snap), "--no-probe", "--node-logs", spec)
    assert_one_line_error(r, "--node-logs")


# --- bounds ------------------------------------------------------------------------------------------


class _Zeros:
    """A stream of ``n`` filler bytes (a line every MiB), then ``end``: what a gigabyte member looks like to
    ``tail`` and to tarfile, never held whole."""

    def __init__(self, n: int, end: bytes) -> None:
        self.n, self.end, self.pos = n, end, 0

    def read(self, size: int = -1) -> bytes:
        total = self.n + len(self.end)
        k = min(size if size > 0 else 1 << 20, total - self.pos)
        out = bytearray()
        while k > 0:  # bounded by k
            if self.pos < self.n:
                take = min(k, self.n - self.pos)
                out += b"x" * (take - 1) + b"\n" if take > 1 else b"\n"
            else:
                take = min(k, total - self.pos)
                start = self.pos - self.n
                out += self.end[start:start + take]
            self.pos += take
            k -= take
        return bytes(out)


def test_tail_of_a_gigabyte_stream_stays_within_the_cap() -> None:
    import tracemalloc

    cap = 1 << 20
    tracemalloc.start()
    data, total = tail(_Zeros(1 << 30, b"the end\n"), cap)  # type: ignore[arg-type]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert total == (1 << 30) + len(b"the end\n") and len(data) <= cap and data.endswith(b"the end\n")
    assert peak < 4 * cap, peak


def test_gigabyte_journal_file_reads_only_its_tail(tmp_path: Path) -> None:
    j = tmp_path / "big.txt"
    with open(j, "wb") as fh:
        fh.truncate(1 << 30)        # sparse: a gigabyte of NULs costs no disk
        fh.seek(1 << 30)
        fh.write(b"\n" + klog(AT, PULL_FAILED).encode())  # the previous line ends, as every journal line does
    logs = load([f"{f.NODE}={j}"], NODES, cap=1 << 20)
    log = logs.nodes[f.NODE]
    assert [h.kind for h in log.hits] == [Kind.PULL_FAILED] and log.bytes_read <= 1 << 20 and log.cut
    assert any("its last" in n for n in logs.notes)


def test_big_archive_member_is_streamed_to_its_tail(tmp_path: Path) -> None:
    p = tmp_path / f"eks_{f.INSTANCE}_2026-12-04_1830-UTC_0.7.8.tar.gz"
    size = 64 << 20
    end = klog(AT, PULL_FAILED).encode()
    with tarfile.open(p, "w:gz", compresslevel=1) as tar:
        info = tarfile.TarInfo("./kubelet/kubelet.log")
        info.size = size + len(end)
        tar.addfile(info, _Zeros(size, end))  # type: ignore[arg-type]
        info = tarfile.TarInfo("./system/instance-id.txt")
        info.size = len(f.INSTANCE)
        tar.addfile(info, io.BytesIO(f.INSTANCE.encode()))
    logs = load([str(p)], NODES, cap=1 << 20)
    log = logs.nodes[f.NODE]
    assert [h.kind for h in log.hits] == [Kind.PULL_FAILED] and log.bytes_read <= (1 << 20) // 2


# --- verdicts and fixes ------------------------------------------------------------------------------


def test_a_runtime_cancel_with_the_message_is_certain_and_names_the_setting_with_its_value(tmp_path: Path) -> None:
    snap = f.snapshot(tmp_path / "snap.json")
    a = f.archive(tmp_path, f.eks_members(klog(AT, PULL_FAILED), cancelled(300 << 20)))
    got = finding(diagnose(snap, str(a)))
    assert got["cause"] == "pull_timeout_or_progress_deadline" and got["confidence"] == "certain"
    ev = got["evidence"]
    assert {"source": "node log", "text": f"{f.NODE} containerd 2026-12-04T18:05:00Z: "
            f'time="2026-12-04T18:05:00.000000000Z" level=error msg="cancel pulling image {IMAGE} because of '
            'no progress in 1m0s"'} in ev  # type: ignore[operator]
    fixes = text_of(got, "fixes")
    assert 'image_pull_progress_timeout cancels a pull after that long without a byte; it is \\"1m0s\\" now' in fixes
    assert '[plugins.\\"io.containerd.grpc.v1.cri\\"] in /etc/containerd/config.toml' in fixes
    assert "systemctl restart containerd" in fixes and "will not help" not in fixes
    assert "300.0 MiB before it cancelled" in text_of(got, "evidence")


def test_nothing_read_is_a_stall_and_raising_does_not_help(tmp_path: Path) -> None:
    snap = f.snapshot(tmp_path / "snap.json")
    a = f.archive(tmp_path, f.eks_members(klog(AT, PULL_FAILED), cancelled(0)))
    got = finding(diagnose(snap, str(a)))
    assert "stalled" in str(got["summary"])
    fixes = text_of(got, "fixes")
    assert "Raising the deadline will not help" in fixes and "leave it as it is (image_pull_progress_timeout is " \
        "1m0s now" in fixes and "15m" not in fixes


def test_dockershim_cancel_names_the_kubelet_flag(tmp_path: Path) -> None:
    snap = f.snapshot(tmp_path / "snap.json", runtime="docker://20.10.17", kubelet="v1.23.17")
    a = f.archive(tmp_path, f.eks_members(klog(AT, DOCKERSHIM) + klog(AT, PULL_FAILED)))
    got = finding(diagnose(snap, str(a)))
    assert got["confidence"] == "certain"
    assert "cri-dockerd" not in text_of(got, "evidence") + text_of(got, "fixes")  # the kubelet's deadline fired
    fixes = text_of(got, "fixes")
    assert "--image-pull-progress-deadline=15m" in fixes and "--kubelet-extra-args" in fixes
    assert "it is not set, so the default 1m applies" in fixes
    assert "Extracting" in text_of(got, "evidence") and "moving" in str(got["summary"])


def test_events_expired_the_log_alone_decides(tmp_path: Path) -> None:
    snap = f.snapshot(tmp_path / "snap.json", message=None, events=False)
    a = f.archive(tmp_path, f.eks_members("", cancelled(5 << 20)))
    got = finding(diagnose(snap, str(a)))
    assert got["cause"] == "pull_timeout_or_progress_deadline" and got["confidence"] == "likely"


def test_events_expired_the_kubelets_logged_error_is_the_message(tmp_path: Path) -> None:
    snap = f.snapshot(tmp_path / "snap.json", message=None, events=False)
    err = ('E1204 18:05:00.2 2301 remote_image.go:180] "PullImage from image service failed" err="rpc error: code = '
           'NotFound desc = failed to pull and unpack image \\"' + IMAGE + '\\": failed to resolve reference \\"'
           + IMAGE + '\\": ' + IMAGE + ': not found" image="' + IMAGE + '"')
    a = f.archive(tmp_path, f.eks_members(klog(AT, err)))
    got = finding(diagnose(snap, str(a)))
    assert got["cause"] == "tag_not_found"
    assert got["message"].endswith(f"{IMAGE}: not found")  # type: ignore[union-attr]
    assert got["evidence"][0]["source"] == "node log"  # type: ignore[index]
    assert got["evidence"][0]["text"].startswith(f"{f.NODE} kubelet 2026-12-04T18:05:00Z: PullImage failed:")  # type: ignore[index]


def test_a_cut_message_is_completed_from_the_log(tmp_path: Path) -> None:
    full = f"rpc error: code = Unknown desc = failed to pull and unpack image {IMAGE}: " + "x" * 300 + \
        ": write /var/lib/containerd/tmpmounts/x: no space left on device"
    snap = f.snapshot(tmp_path / "snap.json", message=full[:200] + "...")
    line = f'E1 remote_image.go:180] "PullImage from image service failed" err="{full}" image="{IMAGE}"'
    roomy = f.MOUNTS.replace("20G   19G  1.0G  95%", "20G   10G   10G  50%")
    a = f.archive(tmp_path, f.eks_members(klog(AT, line), **{"storage/mounts.txt": roomy}))
    got = finding(diagnose(snap, str(a)))
    assert got["cause"] == "disk_full" and got["message"] == full
    assert got["confidence"] == "likely"           # the same error twice is one source, not two
    assert "10G of 20G free, 50% used" in text_of(got, "evidence") and "10G of 20G free" in text_of(got, "fixes")


def test_no_space_with_a_full_df_is_certain(tmp_path: Path) -> None:
    snap = f.snapshot(tmp_path / "snap.json", message="failed to extract layer: write /var/lib/containerd/x: "
                      "no space left on device")
    a = f.archive(tmp_path, f.eks_members(klog(AT, PULL_FAILED)))
    got = finding(diagnose(snap, str(a)))
    assert got["cause"] == "disk_full" and got["confidence"] == "certain"


def test_qps_line_names_the_kubelets_current_limits(tmp_path: Path) -> None:
    snap = f.snapshot(tmp_path / "snap.json", message=None, events=False)
    a = f.archive(tmp_path, f.eks_members(klog(AT, f'E1 kuberuntime_image.go:53] "Failed to pull image" '
                                                   f'err="pull QPS exceeded." image="{IMAGE}"')))
    got = finding(diagnose(snap, str(a)))
    assert got["cause"] == "rate_limited"
    fixes = text_of(got, "fixes")
    assert "registryPullQPS is 2 (set in /etc/systemd/system/kubelet.service.d/30-kubelet-extra-args.conf)" in fixes
    assert "registryBurst is 4" in fixes and "serializeImagePulls is false" in fixes


def test_credential_provider_failure_is_auth_missing(tmp_path: Path) -> None:
    ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:1"
    snap = f.snapshot(tmp_path / "snap.json", image=ecr, message=None, events=False)
    line = ("E1204 18:05:00.1 2301 plugin.go:210] Failed getting credential from external registry credential "
            "provider: error execing credential provider plugin ecr-credential-provider for image " + ecr
            + ": exit status 1")
    a = f.archive(tmp_path, f.eks_members(klog(AT, line)))
    got = finding(diagnose(snap, str(a)))
    assert got["cause"] == "auth_missing" and "credential provider" in text_of(got, "fixes")
    assert any(e["source"] == "node log" and "ecr-credential-provider" in e["text"]  # type: ignore[index]
               for e in got["evidence"])  # type: ignore[attr-defined]


def test_logs_that_show_nothing_relevant_change_nothing(tmp_path: Path) -> None:
    snap = f.snapshot(tmp_path / "snap.json")
    other = "registry.example.com/team/other:2"
    noise = klog(AT, PULL_FAILED.replace(IMAGE, other)) + containerd_line(AT, "info", "loading plugin io.containerd")
    a = f.archive(tmp_path, f.eks_members(noise, cancelled(0).replace(IMAGE, other)))
    without = finding(json.loads(cli("diagnose", "--from", str(snap), "--no-probe", "-o", "json").stdout))
    got = finding(diagnose(snap, str(a)))
    for key in ("cause", "confidence", "summary", "fixes", "message", "contradictions"):
        assert got[key] == without[key], key
    # The only addition: the node's deadline setting as read (a fact, not a line about this pull).
    added = [e for e in got["evidence"] if e not in without["evidence"]]  # type: ignore[attr-defined]
    assert added == [{"source": "node settings", "text": 'image_pull_progress_timeout = 1m0s '
                      '([plugins."io.containerd.grpc.v1.cri"] in /etc/containerd/config.toml)'}]


def test_a_journal_from_another_time_range_is_a_note(tmp_path: Path) -> None:
    snap = f.snapshot(tmp_path / "snap.json")
    j = tmp_path / "j.txt"
    old = AT - timedelta(days=3)
    j.write_text(klog(old, PULL_FAILED) + klog(old + timedelta(hours=1), "I1 kubelet.go:1] nothing"))
    doc = diagnose(snap, f"{f.NODE}={j}")
    assert any("none of its lines are about them" in n for n in doc["notes"])  # type: ignore[union-attr]
    assert finding(doc)["confidence"] == "likely"


def test_log_text_is_escaped_and_credentials_masked(tmp_path: Path) -> None:
    snap = f.snapshot(tmp_path / "snap.json", message=None, events=False)
    line = ('E1 remote_image.go:180] "PullImage from image service failed" err="failed to do request: Head '
            '\\"https://bob:CANARY-pw-0xC0FFEE@registry.example.com/v2/\\": dial tcp: connection refused \x1b[2J" '
            f'image="{IMAGE}"')
    a = f.archive(tmp_path, f.eks_members(klog(AT, line)))
    r = cli("diagnose", "--from", str(snap), "--no-probe", "--node-logs", str(a), "-v")  # -v: every line shown
    assert r.returncode == 1, r.stderr
    assert "CANARY-pw-0xC0FFEE" not in r.stdout + r.stderr and "\x1b[2J" not in r.stdout
    assert "\\x1b[2J" in r.stdout and "bob:***@" in r.stdout


def test_a_log_full_of_anchors_costs_bounded_work(tmp_path: Path) -> None:
    """Every line a candidate, some 16 KiB long: the newest lines within the candidate caps are parsed, the
    rest is a note; the time stays about a second (it was 17 s before the caps)."""
    import time

    from pulldoctor.nodelogs.scan import MAX_CANDIDATES

    j = tmp_path / "j.txt"
    with open(j, "w") as fh:
        for _ in range(1000):
            fh.write(klog(AT, "PullImage " * 1600))
        for _ in range(100_000):
            fh.write(klog(AT, PULL_FAILED))
    start = time.process_time()
    logs = load([f"{f.NODE}={j}"], NODES)
    took = time.process_time() - start
    assert len(logs.nodes[f.NODE].hits) == MAX_CANDIDATES and took < 10, took
    assert any("more matching lines than read" in n for n in logs.notes)
