"""Reading what kubectl writes: every file shape decodes to the same snapshot; bad files are one-line
InputErrors (exit 2) naming the file; unknown kinds are skipped and counted, never errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kubeapi import objects as o
from pulldoctor.cluster import SourceSpec, find_failing, load_snapshot
from pulldoctor.errors import InputError

IMG = "ghcr.io/acme/web:1.0"


def _objects() -> list[dict]:
    p = o.pod("web-1", containers=[o.container("app", IMG)],
              statuses=[o.waiting("app", IMG, "ErrImagePull", f'failed to pull and unpack image "{IMG}": not found')])
    return [p, o.event(p, "Failed", f'Failed to pull image "{IMG}": not found', container="app"),
            o.node("node-1"), o.service_account(), o.secret("regcred", auths={"ghcr.io": ("u", "p")})]


def _summary(path: Path | str) -> tuple:
    snap = load_snapshot(path)
    rep = find_failing(snap)
    return (len(snap.pods), len(snap.events), sorted(snap.nodes), sorted(snap.secrets),
            sorted(snap.service_accounts), [(f.pod, f.container, f.waiting_reason) for f in rep.failing])


EXPECTED = (1, 1, ["node-1"], [("default", "regcred")], [("default", "default")],
            [("web-1", "app", "ErrImagePull")])


def test_list_json(tmp_path: Path) -> None:
    f = tmp_path / "all.json"
    f.write_text(json.dumps(o.as_list(_objects())))
    assert _summary(f) == EXPECTED


def test_single_objects_in_a_directory_tree(tmp_path: Path) -> None:
    for i, obj in enumerate(_objects()):
        d = tmp_path / f"sub{i % 2}"
        d.mkdir(exist_ok=True)
        (d / f"{i}.json").write_text(json.dumps(obj))
    (tmp_path / "README.txt").write_text("not read: wrong suffix")
    assert _summary(tmp_path) == EXPECTED


def test_typed_lists_without_item_kinds(tmp_path: Path) -> None:
    objs = _objects()
    kinds = {"Pod": "PodList", "Event": "EventList", "Node": "NodeList", "ServiceAccount": "ServiceAccountList",
             "Secret": "SecretList"}
    for obj in objs:
        typed = o.as_list([obj], kinds[obj["kind"]])
        assert "kind" not in typed["items"][0]
        (tmp_path / f"{obj['kind']}.json").write_text(json.dumps(typed))
    assert _summary(tmp_path) == EXPECTED


def test_multi_document_yaml(tmp_path: Path) -> None:
    f = tmp_path / "all.yaml"
    f.write_text("---\n" + yaml.safe_dump_all(_objects()) + "---\n")
    assert _summary(f) == EXPECTED


def test_yaml_list_and_unquoted_timestamps(tmp_path: Path) -> None:
    # kubectl quotes timestamps; a hand-written file may not, and YAML then gives datetimes
    text = re.sub(r"'(\d{4}-\d\d-\d\dT[\d:.]+Z)'", r"\1", yaml.safe_dump(o.as_list(_objects())))
    assert "firstTimestamp: 2026-" in text
    f = tmp_path / "list.yml"
    f.write_text(text)
    assert _summary(f) == EXPECTED
    ev = load_snapshot(f).events[0]
    assert ev.first_timestamp is not None and ev.first_timestamp.year == 2026


def test_unknown_kinds_are_ignored_and_counted(tmp_path: Path) -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "b"}}
    (tmp_path / "all.json").write_text(json.dumps(o.as_list([*_objects(), svc, cm, svc])))
    (tmp_path / "cm.yaml").write_text(yaml.safe_dump(cm))
    snap = load_snapshot(tmp_path)
    assert snap.ignored_kinds == {"Service": 2, "ConfigMap": 2}
    assert any("Service ×2" in n for n in snap.notes)
    assert _summary(tmp_path) == EXPECTED


def test_controllers_are_kept_as_owners_not_ignored(tmp_path: Path) -> None:
    """Deployments, ReplicaSets, Jobs… are the pods' owner chain: kept (metadata only), not counted as ignored."""
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-7c9d8f6b5", "namespace": "shop",
          "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "u1",
                               "controller": True}]}, "spec": {"replicas": 3}}
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}}
    (tmp_path / "all.json").write_text(json.dumps(o.as_list([*_objects(), rs])))
    (tmp_path / "d.yaml").write_text(yaml.safe_dump(deploy))
    snap = load_snapshot(tmp_path)
    assert snap.ignored_kinds == {}
    assert sorted(snap.owners) == [("shop", "Deployment", "web"), ("shop", "ReplicaSet", "web-7c9d8f6b5")]
    ref = snap.owners[("shop", "ReplicaSet", "web-7c9d8f6b5")].controller_ref()
    assert ref is not None and (ref.api_version, ref.kind, ref.name, ref.uid) == ("apps/v1", "Deployment", "web", "u1")


def test_the_same_pod_in_two_files_is_kept_once(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(o.as_list(_objects())))
    (tmp_path / "b.json").write_text(json.dumps(o.as_list(_objects()[:2])))
    assert len(load_snapshot(tmp_path).pods) == 2  # distinct uids: both kept
    (tmp_path / "b.json").write_text(json.dumps(o.as_list(_objects())))
    snap = load_snapshot(str(tmp_path / "a.json"))
    assert len(snap.pods) == 1


def test_notes_say_what_the_files_lacked(tmp_path: Path) -> None:
    f = tmp_path / "pods.json"
    f.write_text(json.dumps(o.as_list(_objects()[:1])))
    snap = load_snapshot(f)
    text = " | ".join(snap.notes)
    assert "no events" in text and "no secrets" in text and "no nodes" in text
    rep = find_failing(snap)
    fc = rep.failing[0]
    assert fc.timeline.events_expired is False and fc.timeline.attempts is None


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("x.json", '{"kind": "Pod",\n  "metadata": {"name": "a"},\n  "spec": }',
     r"x\.json: not valid JSON \(line 3, column 11"),
    ("x.yaml", "kind: Pod\nmetadata:\n  name: [a\n", r"x\.yaml: not JSON or YAML \(line \d+, column \d+"),
    ("x.json", '{"apiVersion": "v1", "items": []}', r"x\.json: no 'kind': not a Kubernetes object"),
    ("x.json", '{"kind": "Pod", "spec": {"nodeName": 5}}',
     r"x\.json: bad Pod: .*spec\.nodeName"),  # the decoder's detail after our prefix; the path is data
    ("x.yaml", "just some text\n", r"x\.yaml: document 1: a str, not a Kubernetes object"),
    ("x.yaml", "", r"x\.yaml: empty"),
    ("x.json", '{"kind":"List","items":[{"kind":"Pod","status":{"phase":3}}]}',
     r"x\.json: bad Pod at items\[0\]: .*status\.phase"),
    ("x.json", '{"kind":"List","items":[{"kind":"Job"},{"kind":"Pod","status":{"phase":3}}]}',
     r"x\.json: bad Pod at items\[1\]: "),
])
def test_bad_files_are_one_line_input_errors(tmp_path: Path, name: str, content: str, expected: str) -> None:
    f = tmp_path / name
    f.write_text(content)
    with pytest.raises(InputError, match=expected) as err:
        load_snapshot(f)
    assert "\n" not in str(err.value)


def test_missing_path_and_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nope.json: no such file or directory"):
        load_snapshot(tmp_path / "nope.json")
    with pytest.raises(InputError, match="no .json, .yaml or .yml files"):
        load_snapshot(SourceSpec(paths=(str(tmp_path),)))


def test_not_utf8_yaml(tmp_path: Path) -> None:
    f = tmp_path / "x.yaml"
    f.write_bytes(b"kind: Pod\nname: \xff\xfe\n")
    with pytest.raises(InputError, match="not UTF-8"):
        load_snapshot(f)


def test_reading_files_never_imports_the_kubernetes_client(tmp_path: Path) -> None:
    f = tmp_path / "all.json"
    f.write_text(json.dumps(o.as_list(_objects())))
    (tmp_path / "more.yaml").write_text(yaml.safe_dump_all(_objects()))
    code = (
        "import sys, pulldoctor.cluster as c\n"
        f"r = c.find_failing(c.load_snapshot({str(tmp_path)!r}))\n"
        "assert len(r.failing) == 2, r\n"
        "assert 'kubernetes' not in sys.modules, 'kubernetes imported'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_diagnose_from_a_bad_file_is_exit_2_one_line(tmp_path: Path) -> None:
    """The CLI maps the InputError to one line and exit 2 (any command that reads files does the same)."""
    from pulldoctor.cli import main

    f = tmp_path / "bad.json"
    f.write_text("{nope")
    with pytest.raises(InputError) as err:
        load_snapshot(f)
    assert err.value.exit_code == 2
    assert str(err.value).startswith(f"{f}: not valid JSON (line 1, column 2")
    assert callable(main)
