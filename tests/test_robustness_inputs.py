"""Hostile and broken ``diagnose --from`` inputs, through the real CLI: each gets ONE line on stderr naming
the problem and exit code 2 — never a traceback, never a hang, never a crash — and memory stays bounded.

Every case here failed (internal error, segfault or hang) before the fix it names, or pins a behaviour the
README promises.
"""

from __future__ import annotations

import copy
import functools
import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helpers import assert_one_line_error
from helpers import cli as _cli
from kubeapi import objects as o

TIMEOUT = 30
# Runs the CLI and prints its peak RSS in KiB last on stderr. VmHWM, not ru_maxrss: ru_maxrss keeps the
# parent's (pytest's) peak across fork+exec.
PEAK_RSS_CODE = ("import re, sys; from pulldoctor.cli import main; rc = main(sys.argv[1:]); "
                 "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1], file=sys.stderr); "
                 "raise SystemExit(rc)")


cli = functools.partial(_cli, timeout=TIMEOUT)


IMG = "registry.example.invalid/shop/web:1.0"


def failing_pod(name: str = "web") -> dict[str, Any]:
    return o.pod(name, containers=[o.container("app", IMG)],
                 statuses=[o.waiting("app", IMG, "ImagePullBackOff", f'Back-off pulling image "{IMG}"')])


def write_json(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc))
    return path


# --- plain files ------------------------------------------------------------------------------------


def _mutate(f: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    pod = copy.deepcopy(failing_pod())
    f(pod)
    return pod


CASES: dict[str, tuple[bytes, str]] = {
    # name: (file bytes, text the one line must contain)
    "empty.json": (b"", "empty"),
    "truncated.json": (b'{"kind": "Pod", "metadata": {', "not valid JSON"),
    "number.json": (b"42", "not a Kubernetes object"),
    "string.json": (b'"pod"', "not a Kubernetes object"),
    "numbers.json": (b"[1, 2, 3]", "not valid JSON"),
    "garbage.json": (bytes(range(256)) * 8, "binary data"),
    "nul-later.json": (b'{"kind": "Pod"}' + b" " * 100 + b"\x00" * 10, "binary data"),
    "utf16.json": ('{"kind": "Pod"}'.encode("utf-16"), "UTF-16"),
    "latin1-in-string.json": (b'{"kind": "Pod", "metadata": {"name": "caf\xe9"}}', "not UTF-8"),
    "latin1.yaml": (b"kind: Pod\nmetadata:\n  name: caf\xe9\n", "not UTF-8"),
    "deep.json": (b'{"kind": "Pod", "metadata": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_000 + b"}",
                  "nested too deeply"),
    "tabs.yaml": (b"kind: Pod\nmetadata:\n\tname: x\n", "not JSON or YAML (line 3"),
    "deep.yaml": (b"kind: Pod\nx: " + b"[" * 100_000 + b"]" * 100_000 + b"\n", "nested more than"),
    "deep-block.yaml": (b"kind: Pod\nx:\n" + b"- " * 5_000 + b"1\n", "nested more than"),
    "cycle.yaml": (b"kind: Pod\nspec: &s {containers: [*s]}\n", "refers to itself"),
    "undefined-alias.yaml": (b"kind: Pod\nx: *nope\n", "undefined alias"),
    "spec-null.json": (json.dumps(_mutate(lambda p: p.update(spec=None))).encode(), "$.spec"),
    "containers-object.json": (json.dumps(_mutate(lambda p: p["spec"].update(containers={}))).encode(),
                               "$.spec.containers"),
    "statuses-string.json": (json.dumps(_mutate(lambda p: p["status"].update(containerStatuses="x"))).encode(),
                             "$.status.containerStatuses"),
    "image-number.json": (json.dumps(_mutate(lambda p: p["spec"]["containers"][0].update(image=5))).encode(),
                          "image"),
    "not-gzip.tar.gz": (b"this is not gzip at all", "not gzip-compressed"),
    "bad-gzip.tar.gz": (b"\x1f\x8b" + b"not really gzip" * 10, "not a pulldoctor bundle"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_file_is_one_line(tmp_path: Path, name: str) -> None:
    data, needle = CASES[name]
    path = tmp_path / name
    path.write_bytes(data)
    r = cli("diagnose", "--from", str(path), "--no-probe")
    assert_one_line_error(r, name, needle)


def test_billion_laughs_is_refused_fast(tmp_path: Path) -> None:
    """PyYAML shares aliased nodes, but decoding them into objects copies each: 1000^3 strings here."""
    doc = ("kind: NodeList\nn: &n [" + ",".join(['"x"'] * 1000) + "]\n"
           "img: &img {names: *n, sizeBytes: 1}\n"
           "imgs: &imgs [" + ",".join(["*img"] * 1000) + "]\n"
           "node: &node {kind: Node, metadata: {name: a}, status: {images: *imgs}}\n"
           "items: [" + ",".join(["*node"] * 1000) + "]\n")
    path = tmp_path / "laughs.yaml"
    path.write_text(doc)
    started = time.monotonic()
    r = cli("diagnose", "--from", str(path), "--no-probe")
    assert_one_line_error(r, "aliases expand to more than")
    assert time.monotonic() - started < 10


def test_a_few_yaml_aliases_are_fine(tmp_path: Path) -> None:
    doc = f"""kind: List
items:
- kind: Pod
  metadata: {{name: a, namespace: default, uid: ua}}
  spec: {{containers: &cs [{{name: app, image: "{IMG}"}}]}}
  status: &st
    containerStatuses:
    - {{name: app, image: "{IMG}", state: {{waiting: {{reason: ImagePullBackOff, message: "x"}}}}}}
- kind: Pod
  metadata: {{name: b, namespace: default, uid: ub}}
  spec: {{containers: *cs}}
  status: *st
"""
    path = tmp_path / "anchors.yaml"
    path.write_text(doc)
    r = cli("diagnose", "--from", str(path), "--no-probe", "-o", "json")
    assert r.returncode == 1, r.stderr
    assert sorted(f["pod"] for f in json.loads(r.stdout)["findings"]) == ["a", "b"]


def test_missing_path_and_empty_directory(tmp_path: Path) -> None:
    assert_one_line_error(cli("diagnose", "--from", str(tmp_path / "nope.json")), "no such file")
    (tmp_path / "empty").mkdir()
    assert_one_line_error(cli("diagnose", "--from", str(tmp_path / "empty")), "no .json, .yaml or .yml files")


def test_dev_zero_is_refused_at_once() -> None:
    started = time.monotonic()
    assert_one_line_error(cli("diagnose", "--from", "/dev/zero", "--no-probe"), "/dev/zero", "binary data")
    assert time.monotonic() - started < 10


def test_directory_with_a_fifo_does_not_hang(tmp_path: Path) -> None:
    write_json(tmp_path / "pods.json", o.as_list([failing_pod()]))
    os.mkfifo(tmp_path / "stuck.json")  # opening it would block for ever: no writer
    assert_one_line_error(cli("diagnose", "--from", str(tmp_path), "--no-probe"), "stuck.json",
                          "not a regular file")


def test_directory_named_like_a_file_and_symlink_loops(tmp_path: Path) -> None:
    write_json(tmp_path / "pods.json", o.as_list([failing_pod()]))
    (tmp_path / "x.json").mkdir()            # a directory with a file's name is walked, not read
    os.symlink(tmp_path, tmp_path / "loop")  # os.walk does not follow it
    r = cli("diagnose", "--from", str(tmp_path), "--no-probe")
    assert r.returncode == 1, r.stderr
    os.symlink("b.json", tmp_path / "a.json")
    os.symlink("a.json", tmp_path / "b.json")
    assert_one_line_error(cli("diagnose", "--from", str(tmp_path), "--no-probe"), "a.json", "symbolic links")


def test_large_file_time_and_memory_are_bounded(tmp_path: Path) -> None:
    """A 100 MB JSON string: read, decoded and answered in bounded time; RSS checked by the child."""
    path = tmp_path / "big.json"
    with path.open("w") as fh:
        fh.write('{"kind": "Pod", "metadata": {"name": "')
        fh.write("a" * 100_000_000)
        fh.write('"}}')
    code = PEAK_RSS_CODE
    started = time.monotonic()
    r = subprocess.run([sys.executable, "-c", code, "diagnose", "--from", str(path), "--no-probe"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - started < 20
    assert int(r.stderr.split()[-1]) < 600 * 1024  # KiB: the file, one copy of it, the interpreter


# --- values that decode but are absurd --------------------------------------------------------------


def _with_events(tmp_path: Path, **event_fields: Any) -> Path:
    pod = failing_pod()
    evs = [o.event(pod, "Pulling", f'Pulling image "{IMG}"', container="app"),
           o.event(pod, "Failed", f'Failed to pull image "{IMG}": not found', container="app")]
    for ev in evs:
        ev.update(event_fields)
    return write_json(tmp_path / "events.json", o.as_list([pod, *evs]))


def test_far_future_event_time_is_not_an_internal_error(tmp_path: Path) -> None:
    path = _with_events(tmp_path, lastTimestamp="9999-12-31T23:59:59Z", firstTimestamp="9999-12-31T23:59:59Z")
    r = cli("diagnose", "--from", str(path), "--no-probe", "-o", "json")
    assert r.returncode == 1, r.stderr
    assert json.loads(r.stdout)["findings"][0]["timeline"]["next_attempt"] is None


@pytest.mark.parametrize(("count", "shown"), [(-5, 1), (0, 1), (10**30, 2**31 - 1)])
def test_event_counts_are_kept_in_the_apis_range(tmp_path: Path, count: int, shown: int) -> None:
    r = cli("diagnose", "--from", str(_with_events(tmp_path, count=count)), "--no-probe", "-o", "json")
    assert r.returncode == 1, r.stderr
    assert json.loads(r.stdout)["findings"][0]["timeline"]["failed"] == shown


@pytest.mark.parametrize(("field", "value", "needle"), [("count", "7", "$.count"),
                                                        ("lastTimestamp", "yesterday", "$.lastTimestamp")])
def test_wrong_typed_event_fields_name_the_field(tmp_path: Path, field: str, value: str, needle: str) -> None:
    assert_one_line_error(cli("diagnose", "--from", str(_with_events(tmp_path, **{field: value}))), needle)


# --- bundles ----------------------------------------------------------------------------------------


def _member(name: str, data: bytes = b"", type_: bytes = tarfile.REGTYPE, link: str = "",
            size: int | None = None) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.size = len(data) if size is None else size
    info.type, info.linkname = type_, link
    return info, (data if type_ == tarfile.REGTYPE else None)


def _bundle(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


MANIFEST = {"pulldoctor_bundle": 1, "version": "test", "created": "2026-01-01T00:00:00Z", "listed": {}}


def _objects() -> bytes:
    return json.dumps(o.as_list([failing_pod()])).encode()


def test_a_good_hand_made_bundle_reads(tmp_path: Path) -> None:
    path = _bundle(tmp_path / "ok.tar.gz", [_member("manifest.json", json.dumps(MANIFEST).encode()),
                                            _member("objects.json", _objects())])
    assert cli("diagnose", "--from", str(path), "--no-probe").returncode == 1


@pytest.mark.parametrize(("manifest", "needle"), [
    ({**MANIFEST, "pulldoctor_bundle": 99, "version": "9.0"}, "format 99 is newer than this pulldoctor reads"),
    ({**MANIFEST, "pulldoctor_bundle": "1"}, "not a pulldoctor bundle"),
    ([1, 2], "not a pulldoctor bundle"),
    ({**MANIFEST, "listed": {"Secret": 5}}, "'listed'"),
    ({**MANIFEST, "listed": [1]}, "'listed'"),
    ({**MANIFEST, "notes": 5}, "'notes'"),
])  # fmt: skip
def test_bad_manifests(tmp_path: Path, manifest: object, needle: str) -> None:
    path = _bundle(tmp_path / "b.tar.gz", [_member("manifest.json", json.dumps(manifest).encode()),
                                           _member("objects.json", _objects())])
    assert_one_line_error(cli("diagnose", "--from", str(path)), needle)


@pytest.mark.parametrize("type_", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE])
def test_link_and_device_members_are_refused(tmp_path: Path, type_: bytes) -> None:
    path = _bundle(tmp_path / "b.tar.gz", [_member("manifest.json", json.dumps(MANIFEST).encode()),
                                           _member("objects.json", type_=type_, link="/etc/passwd")])
    assert_one_line_error(cli("diagnose", "--from", str(path)), "objects.json is not a regular file")


def test_traversal_names_are_read_in_memory_never_extracted(tmp_path: Path) -> None:
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    path = _bundle(work / "b.tar.gz", [_member("../../evil.json", _objects()),
                                       _member("manifest.json", json.dumps(MANIFEST).encode())])
    assert cli("diagnose", "--from", str(path), "--no-probe").returncode == 1
    assert not (tmp_path / "evil.json").exists() and sorted(os.listdir(work)) == ["b.tar.gz"]


def test_absurd_member_size_in_the_header(tmp_path: Path) -> None:
    manifest = json.dumps(MANIFEST).encode()
    raw = io.BytesIO()
    info, _ = _member("manifest.json", manifest)
    raw.write(info.tobuf() + manifest + b"\0" * (512 - len(manifest) % 512))
    info, _ = _member("objects.json", size=8 << 30)
    raw.write(info.tobuf(format=tarfile.GNU_FORMAT) + b"x" * 1024)
    path = tmp_path / "absurd.tar.gz"
    path.write_bytes(gzip.compress(raw.getvalue()))
    assert_one_line_error(cli("diagnose", "--from", str(path)), "too large")


def test_gzip_bomb_is_capped(tmp_path: Path) -> None:
    """300 MiB of zeros compress to about 300 KiB; the member cap stops it before it is read."""
    path = tmp_path / "bomb.tar.gz"
    size = 300 << 20
    with gzip.open(path, "wb", compresslevel=1) as gz:
        info, _ = _member("objects.json", size=size)
        gz.write(info.tobuf())
        chunk = b"\0" * (1 << 20)
        for _ in range(size >> 20):
            gz.write(chunk)
        gz.write(b"\0" * 1024)
    started = time.monotonic()
    assert_one_line_error(cli("diagnose", "--from", str(path)), "too large")
    assert time.monotonic() - started < 10


# --- exit codes -------------------------------------------------------------------------------------


def test_exit_code_0_when_only_healthy_pods(tmp_path: Path) -> None:
    path = write_json(tmp_path / "ok.json", o.as_list([o.pod("ok", phase="Running",
                                                             statuses=[o.running("app", "nginx:1.27")])]))
    for fmt in ("text", "json", "markdown"):
        r = cli("diagnose", "--from", str(path), "--no-probe", "-o", fmt)
        assert r.returncode == 0 and r.stderr == "", r.stderr
    assert json.loads(cli("diagnose", "--from", str(path), "-o", "json").stdout)["findings"] == []


def test_exit_code_1_with_findings(tmp_path: Path) -> None:
    path = write_json(tmp_path / "bad.json", o.as_list([failing_pod()]))
    assert cli("diagnose", "--from", str(path), "--no-probe").returncode == 1


def test_large_yaml_is_refused_with_the_way_out(tmp_path: Path) -> None:
    """A 13 MB kubectl YAML took 6 s and 540 MB; 100 MB would take gigabytes. JSON has no such limit."""
    path = tmp_path / "big.yaml"
    with path.open("w") as fh:
        fh.write("kind: Pod\nmetadata:\n  name: '")
        fh.write("a" * (33 << 20))
        fh.write("'\n")
    started = time.monotonic()
    assert_one_line_error(cli("diagnose", "--from", str(path)), "YAML larger than 32 MiB", "-o json")
    assert time.monotonic() - started < 5


# --- object-count bombs: small files that decode into huge numbers of objects --------------------------

EMPTIES = 2_100_000  # just over MAX_OBJECTS_PER_DOCUMENT


def test_empty_objects_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    """``{"kind":"PodList","items":[{},{},…]}``: 3 bytes a pod, about 800 bytes each once decoded (a 3 MB
    file took 830 MB); 6 MB here would have needed 1.7 GB."""
    path = tmp_path / "empties.json"
    path.write_text('{"kind": "PodList", "items": [' + ",".join(["{}"] * EMPTIES) + "]}")
    code = PEAK_RSS_CODE
    r = subprocess.run([sys.executable, "-c", code, "diagnose", "--from", str(path)], capture_output=True,
                       text=True, timeout=TIMEOUT)
    assert r.returncode == 2 and "JSON objects, more than the 2000000" in r.stderr, r.stderr
    assert int(r.stderr.split()[-1]) < 300 * 1024  # KiB


def test_yaml_mappings_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "maps.yaml"
    path.write_text("kind: PodList\nitems:\n" + "- {}\n" * EMPTIES)
    assert_one_line_error(cli("diagnose", "--from", str(path)), "YAML mappings")


def test_bundle_objects_bomb_is_refused(tmp_path: Path) -> None:
    body = ('{"kind": "PodList", "items": [' + ",".join(["{}"] * EMPTIES) + "]}").encode()
    path = _bundle(tmp_path / "b.tar.gz", [_member("manifest.json", json.dumps(MANIFEST).encode()),
                                           _member("objects.json", body)])
    assert_one_line_error(cli("diagnose", "--from", str(path)), "JSON objects")


def test_many_files_together_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pulldoctor.cluster import files, load_snapshot
    from pulldoctor.errors import InputError

    monkeypatch.setattr(files, "MAX_SNAPSHOT_OBJECTS", 5)
    for n in range(2):
        write_json(tmp_path / f"pods{n}.json", o.as_list([failing_pod(f"p{n}-{i}") for i in range(3)]))
    with pytest.raises(InputError, match=r"pods1\.json: more than 5 objects in all"):
        load_snapshot(tmp_path)
