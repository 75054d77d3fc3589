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
import re
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

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
    "numbers.json": (b"[1, 2, 3]", "a list, not a Kubernetes object"),  # valid JSON: the shape is wrong
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


# --- generated: YAML that parses but whose values or shapes are wrong --------------------------------
#
# PyYAML's constructors raise ValueError, KeyError, AttributeError, IndexError or TypeError for values it
# parses (``!!int abc``, ``!!bool maybe``, ``!!timestamp nope``, 2026-13-45, an int of 5,000 digits), and
# a scalar where a list is due reached ``convert_python`` as a TypeError. Each class is generated here and
# run through the CLI's entry point (in-process for speed; ``test_generated_classes_through_the_process``
# runs one of each as a real process).

_YAML_HOLE = "__HOLE__"


def _run_main(*args: str) -> tuple[int, str, str]:
    """``pulldoctor ARGS`` in this process: the real entry point and its error mapping, without a fork."""
    from contextlib import redirect_stderr, redirect_stdout
    from unittest import mock

    from pulldoctor.cli import main

    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ), redirect_stdout(out), redirect_stderr(err):
        os.environ.pop("PULLDOCTOR_DEBUG", None)
        rc = main(list(args))
    return rc, out.getvalue(), err.getvalue()


def _diagnose_text(text: str, suffix: str = ".yaml") -> subprocess.CompletedProcess[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d, f"gen{suffix}")
        path.write_text(text)
        rc, out, err = _run_main("diagnose", "--from", str(path), "--no-probe")
    return subprocess.CompletedProcess([], rc, out, err)


def _never_internal(r: subprocess.CompletedProcess[str]) -> None:
    """Any outcome but a crash: 0/1 with a report, or 2 with one line."""
    assert r.returncode in (0, 1, 2), (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr[-2000:]
    if r.returncode == 2:
        assert_one_line_error(r)


def _yaml_with(value_text: str, where: str) -> str:
    """A failing pod (and its event) as YAML, with raw YAML ``value_text`` at ``where``."""
    import yaml

    pod = failing_pod()
    ev = o.event(pod, "Failed", f'Failed to pull image "{IMG}": not found', container="app")
    target: dict[str, Any] = ev if where.startswith("event.") else pod
    keys = where.removeprefix("event.").split(".")
    node: Any = target
    for k in keys[:-1]:
        node = node[int(k)] if k.isdigit() else node.setdefault(k, {})
    node[keys[-1]] = _YAML_HOLE
    text = yaml.safe_dump(o.as_list([pod, ev]), default_flow_style=False, width=1 << 20)
    assert text.count(_YAML_HOLE) == 1
    return text.replace(_YAML_HOLE, value_text)


_SCALAR_PLACES = ["x", "metadata.name", "metadata.annotations.note", "metadata.labels.app", "spec.nodeName",
                  "spec.containers.0.image", "status.containerStatuses.0.restartCount",
                  "status.containerStatuses.0.ready", "event.count", "event.lastTimestamp", "event.message"]
_TIME_PLACES = ["event.lastTimestamp", "event.firstTimestamp", "event.eventTime"]


def _constructs(tag: str, value: str) -> bool:
    """Whether PyYAML's own SafeLoader builds ``tag value`` (True: not a bad value)."""
    import yaml

    try:
        yaml.safe_load(f"x: {tag} {value}")
    except yaml.YAMLError:
        return True  # refused cleanly by the parser or a constructor: not the class tested here
    except Exception:
        return False
    return True


_TAG_VALUE_ALPHABET = st.sampled_from("abcxyz0123456789-+._: eEoOxXnN")


@st.composite
def _bad_tagged_scalars(draw: st.DrawFn) -> tuple[str, str]:
    tag = draw(st.sampled_from(["!!int", "!!float", "!!bool", "!!timestamp"]))
    value = json.dumps(draw(st.text(_TAG_VALUE_ALPHABET, max_size=12)))
    assume(not _constructs(tag, value))
    return f"{tag} {value}", draw(st.sampled_from(_SCALAR_PLACES))


@settings(max_examples=150, deadline=None, database=None)
@given(_bad_tagged_scalars())
def test_generated_explicit_tags_with_bad_values(case: tuple[str, str]) -> None:
    value, where = case
    r = _diagnose_text(_yaml_with(value, where))
    assert_one_line_error(r, "gen.yaml")


@st.composite
def _timestamps(draw: st.DrawFn) -> str:
    """Text YAML 1.1 resolves as a timestamp: date, or date and time (valid or not)."""
    n = st.integers
    y, mo, d = draw(n(0, 9999)), draw(n(0, 99)), draw(n(0, 99))
    if draw(st.booleans()):
        return f"{y:04d}-{mo:02d}-{d:02d}"
    sep = draw(st.sampled_from(["T", "t", " ", "  "]))
    h, mi, s = draw(n(0, 99)), draw(n(0, 99)), draw(n(0, 99))
    frac = draw(st.sampled_from(["", ".", ".5", ".123456789"]))
    tz = draw(st.sampled_from(["", "Z", "+00:00", "-05:30", "+99:99", " +1", "-23"]))
    return f"{y:04d}-{mo}-{d}{sep}{h}:{mi:02d}:{s:02d}{frac}{tz}"


@settings(max_examples=150, deadline=None, database=None)
@given(_timestamps(), st.sampled_from(_SCALAR_PLACES + _TIME_PLACES))
def test_generated_dates_and_times_never_crash(value: str, where: str) -> None:
    """A timestamp-looking scalar is text, as kubectl reads it; a time field parses it (RFC 3339) or names
    the field in one line."""
    r = _diagnose_text(_yaml_with(value, where))
    _never_internal(r)
    impossible = any(not 1 <= int(part) <= lim for part, lim in zip(re.split(r"[-Tt ]", value)[1:3], (12, 31),
                                                                     strict=True))
    if where in _TIME_PLACES and impossible:
        assert_one_line_error(r, where.rsplit(".", 1)[-1])


@st.composite
def _huge_ints(draw: st.DrawFn) -> str:
    digits = draw(st.integers(4301, 6000))
    form = draw(st.sampled_from(["plain", "signed", "underscores", "hex", "octal", "sexagesimal", "tagged"]))
    body = "9" * digits
    return {"plain": body, "signed": "-" + body, "underscores": "1_" + body, "hex": "0x" + "f" * digits,
            "octal": "07" + "7" * digits, "sexagesimal": "1" + ":59" * (digits // 2),
            "tagged": f'!!int "{body}"'}[form]


@settings(max_examples=60, deadline=None, database=None)
@given(_huge_ints(), st.sampled_from(_SCALAR_PLACES))
def test_generated_huge_integers(value: str, where: str) -> None:
    r = _diagnose_text(_yaml_with(value, where))
    assert_one_line_error(r, "gen.yaml", "digits")


# Every list pulldoctor reads, by kind: (document kind, path to the list).
_LIST_PLACES = [("Pod", "spec.containers"), ("Pod", "spec.initContainers"), ("Pod", "spec.imagePullSecrets"),
                ("Pod", "status.containerStatuses"), ("Pod", "status.conditions"),
                ("Pod", "metadata.ownerReferences"), ("Node", "status.images"), ("Node", "status.conditions"),
                ("ServiceAccount", "imagePullSecrets"), ("List", "items"), ("PodList", "items"),
                ("EventList", "items"), ("NodeList", "items"), ("SecretList", "items"),
                ("ServiceAccountList", "items")]
# Every object pulldoctor reads inside them.
_MAP_PLACES = [("Pod", "metadata"), ("Pod", "spec"), ("Pod", "status"), ("Pod", "status.containerStatuses.0"),
               ("Pod", "status.containerStatuses.0.state"), ("Pod", "status.containerStatuses.0.state.waiting"),
               ("Pod", "spec.containers.0"), ("Node", "status.nodeInfo"), ("List", "items.0"),
               ("List", "items.0.metadata")]
_NOT_A_LIST = st.one_of(st.integers(-10, 10**6), st.booleans(), st.floats(allow_nan=False, allow_infinity=False),
                        st.text(max_size=8), st.just({"a": 1}), st.just({"kind": "Pod"}))
_NOT_A_MAP = st.one_of(st.integers(-10, 10**6), st.booleans(), st.floats(allow_nan=False, allow_infinity=False),
                       st.text(max_size=8), st.just([1]), st.just(["a", "b"]))


def _doc(kind: str) -> dict[str, Any]:
    pod = failing_pod()
    if kind == "Pod":
        return pod
    if kind == "Node":
        return o.node("node-1", images=["nginx:1.25"])
    if kind == "ServiceAccount":
        return o.service_account("default", pull_secrets=["regcred"])
    item = {"List": pod, "PodList": pod, "NodeList": o.node("node-1"),
            "EventList": o.event(pod, "Pulling", "x", container="app"), "SecretList": o.secret("regcred"),
            "ServiceAccountList": o.service_account("default")}[kind]
    return o.as_list([item], kind)


def _put(doc: dict[str, Any], where: str, value: object) -> dict[str, Any]:
    node: Any = doc
    keys = where.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if k.isdigit() else node.setdefault(k, {})
    if keys[-1].isdigit():
        node[int(keys[-1])] = value
    else:
        node[keys[-1]] = value
    return doc


@settings(max_examples=150, deadline=None, database=None)
@given(st.one_of(st.tuples(st.sampled_from(_LIST_PLACES), _NOT_A_LIST),
                 st.tuples(st.sampled_from(_MAP_PLACES), _NOT_A_MAP)),
       st.sampled_from([".yaml", ".json"]))
def test_generated_wrong_shapes(case: tuple[tuple[str, str], object], suffix: str) -> None:
    """A scalar where a list or an object is due: one line naming the document, in YAML and in JSON (which
    is valid JSON, so the line must not say it is not)."""
    import yaml

    (kind, where), value = case
    doc = _put(_doc(kind), where, value)
    text = json.dumps(doc) if suffix == ".json" else yaml.safe_dump(doc)
    r = _diagnose_text(text, suffix)
    assert_one_line_error(r, f"gen{suffix}")
    assert "not valid JSON" not in r.stderr and "not JSON or YAML" not in r.stderr, r.stderr


_YAML_PIECES = st.sampled_from([
    "kind: Pod\n", "kind: List\n", "items:\n", "- ", "  ", "\n", ": ", "? ", "!!int ", "!!float ", "!!bool ",
    "!!timestamp ", "!!str ", "!!map ", "!!seq ", "!!null ", "!!binary ", "!!set ", "!!omap ", "!!merge ",
    "!!value ", "<<: ", "&a ", "*a ", "&b ", "*b ", "[", "]", "{", "}", ",", "'", '"', "|", ">", "#", "---\n",
    "...\n", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "!x ", "!<tag:yaml.org,2002:int> ", "1", "0x1F", "0o7",
    "1_000", "1:30", "-.inf", ".nan", "2026-13-45", "2026-01-01 10:00:00", "yes", "~", "null", "abc", "metadata",
    "spec", "containers", "status", "containerStatuses", "name", "image", "restartCount", "\\u00e9", "\t", "=",
    "é", "\u2028"])


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(_YAML_PIECES, max_size=40))
def test_generated_yaml_soup_never_crashes(parts: list[str]) -> None:
    """YAML's indicators, tags, anchors and odd scalars in any order: a report or one line, never a crash
    (the unfixed loader failed 64 of 2,000 such files: ValueError, AttributeError, IndexError, KeyError)."""
    _never_internal(_diagnose_text("".join(parts)))


@pytest.mark.parametrize(("text", "needle"), [
    ("kind: Pod\nmetadata:\n  name: !!int abc\n", "line 3"),
    ("kind: Pod\nmetadata:\n  name: !!bool maybe\n", "line 3"),
    ("kind: Pod\nmetadata:\n  name: !!timestamp nope\n", "line 3"),
    ("kind: Event\nlastTimestamp: 2026-13-45\n", "lastTimestamp"),
    ("kind: Pod\nx: " + "9" * 5000 + "\n", "digits"),
    ("kind: List\nitems: 5\n", "items"),
])  # fmt: skip
def test_generated_classes_through_the_process(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "one.yaml"
    path.write_text(text)
    assert_one_line_error(cli("diagnose", "--from", str(path), "--no-probe"), "one.yaml", needle)


# --- generated: bundle manifests of any shape and depth ----------------------------------------------

_JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=6),
                            lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=4), kids,
                                                                                      max_size=3),
                            max_leaves=8)


def _nested(depth: int, brackets: str, inner: str) -> str:
    opening, closing = ("[" * depth, "]" * depth) if brackets == "[" else ('{"a":' * depth, "}" * depth)
    return opening + inner + closing


@st.composite
def _manifests(draw: st.DrawFn) -> bytes:
    """A manifest: the good one with any key replaced by any JSON value, or by one nested up to 200,000 deep."""
    doc: dict[str, Any] = dict(MANIFEST)
    for key in draw(st.lists(st.sampled_from(["pulldoctor_bundle", "listed", "notes", "created", "version"]),
                             max_size=2)):
        doc[key] = draw(_JSON_VALUES)
    text = json.dumps(doc)
    if draw(st.booleans()):
        depth = draw(st.sampled_from([100, 1_000, 10_000, 100_000, 200_000]))
        deep = _nested(depth, draw(st.sampled_from(["[", "{"])), "1")
        where = draw(st.sampled_from(["top", "listed", "notes", "version"]))
        text = deep if where == "top" else json.dumps({**doc, where: "HOLE"}).replace('"HOLE"', deep)
    return text.encode()


@settings(max_examples=60, deadline=None, database=None)
@given(_manifests())
def test_generated_bundle_manifests(manifest: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = _bundle(Path(d, "gen.tar.gz"), [_member("manifest.json", manifest), _member("objects.json", _objects())])
        rc, out, err = _run_main("diagnose", "--from", str(path), "--no-probe")
    _never_internal(subprocess.CompletedProcess([], rc, out, err))


def test_deep_manifest_through_the_process(tmp_path: Path) -> None:
    path = _bundle(tmp_path / "deep.tar.gz", [_member("manifest.json", _nested(100_000, "[", "1").encode()),
                                             _member("objects.json", _objects())])
    assert_one_line_error(cli("diagnose", "--from", str(path), "--no-probe"), "manifest.json", "nested too deeply")


# --- duplicates: the same pod (uid) or event read more than once --------------------------------------
#
# Every copy of a pod got every copy's events (4,000 copies: 69 s, quadratic) and was reported once per copy.


def _copies(n: int) -> dict[str, Any]:
    pod = failing_pod()
    evs = [o.event(pod, "Pulling", f'Pulling image "{IMG}"', container="app"),
           o.event(pod, "Failed", f'Failed to pull image "{IMG}": not found', container="app")]
    return o.as_list([pod, *evs] * n)  # a pod and its events, concatenated n times (same uids)


def test_4000_duplicate_pods_are_one_finding_in_linear_time(tmp_path: Path) -> None:
    path = write_json(tmp_path / "dups.json", _copies(4000))
    started = time.monotonic()
    r = cli("diagnose", "--from", str(path), "--no-probe", "-o", "json", timeout=120)
    took = time.monotonic() - started
    assert r.returncode == 1, r.stderr
    findings = json.loads(r.stdout)["findings"]
    assert len(findings) == 1 and findings[0]["timeline"]["failed"] == 1 and findings[0]["timeline"]["attempts"] == 1
    assert took < 15, f"{took:.1f} s: quadratic (the unfixed code took about 60 s)"


def _pod_copy(uid: str, name: str, rv: int) -> dict[str, Any]:
    pod = o.pod(name, containers=[o.container("app", IMG)], uid=uid,
                statuses=[o.waiting("app", IMG, "ImagePullBackOff", f"copy rv={rv}")])
    pod["metadata"]["resourceVersion"] = str(rv)
    return pod


@settings(max_examples=60, deadline=None, database=None)
@given(st.lists(st.tuples(st.sampled_from(["u1", "u2", "u3"]), st.integers(1, 10**12)), min_size=1, max_size=30,
                unique_by=lambda c: c[1]),
       st.integers(1, 3), st.sampled_from([".json", ".yaml"]))
def test_generated_duplicates_keep_the_newest_copy(copies: list[tuple[str, int]], files: int, suffix: str) -> None:
    """Copies of pods (by uid) with distinct resourceVersions, in any order, in one list or spread over
    several files: one finding per uid, from the copy with the highest resourceVersion."""
    import tempfile

    import yaml

    docs = [_pod_copy(uid, f"pod-{uid}", rv) for uid, rv in copies]
    with tempfile.TemporaryDirectory() as d:
        for i in range(files):
            part = o.as_list(docs[i::files])
            Path(d, f"part{i}{suffix}").write_text(json.dumps(part) if suffix == ".json" else yaml.safe_dump(part))
        rc, out, err = _run_main("diagnose", "--from", d, "--no-probe", "-o", "json")
    assert rc == 1, err
    got = {f["pod"]: f["message"] for f in json.loads(out)["findings"]}
    want = {f"pod-{uid}": f"copy rv={max(rv for u, rv in copies if u == uid)}" for uid, _ in copies}
    assert got == want


def test_same_name_different_uids_share_uidless_events_in_linear_time(tmp_path: Path) -> None:
    """4,000 pods of one name (a pod deleted and created again, over and over) and 4,000 events naming it
    without a uid: the events go to one pod (the newest), not to every one of them."""
    pods = [_pod_copy(f"uid-{i}", "web", i + 1) for i in range(4000)]
    evs = [o.event(pods[0], "Failed", f'Failed to pull image "{IMG}": not found {i}', container="app",
                   with_uid=False) for i in range(4000)]
    path = write_json(tmp_path / "same-name.json", o.as_list([*pods, *evs]))
    started = time.monotonic()
    r = cli("diagnose", "--from", str(path), "--no-probe", "-o", "json", timeout=120)
    took = time.monotonic() - started
    assert r.returncode == 1, r.stderr
    failed = {f["message"]: f["timeline"]["failed"] for f in json.loads(r.stdout)["findings"]}
    assert failed["copy rv=4000"] == 4000 and sum(failed.values()) == 4000
    assert took < 20, f"{took:.1f} s"


def test_many_containers_read_only_their_own_events(tmp_path: Path) -> None:
    """One pod with 2,000 failing containers and 4,000 events: each container reads its own, not all."""
    n = 2000
    names = [f"c{i}" for i in range(n)]
    pod = o.pod("big", containers=[o.container(c, IMG) for c in names],
                statuses=[o.waiting(c, IMG, "ImagePullBackOff", "x") for c in names])
    evs = [o.event(pod, "Failed", f'Failed to pull image "{IMG}": not found', container=c) for c in names * 2]
    evs += [o.event(pod, "FailedToRetrieveImagePullSecret", f"secret s{i} not found") for i in range(n)]
    path = write_json(tmp_path / "containers.json", o.as_list([pod, *evs]))
    started = time.monotonic()
    r = cli("diagnose", "--from", str(path), "--no-probe", "-o", "json", timeout=120)
    took = time.monotonic() - started
    assert r.returncode == 1, r.stderr
    findings = json.loads(r.stdout)["findings"]
    assert len(findings) == n and {f["timeline"]["failed"] for f in findings} == {2}
    assert took < 20, f"{took:.1f} s"
