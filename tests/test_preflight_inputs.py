"""preflight's inputs: every pod template found, every image with the line of its ``image:``, helm's
``# Source:`` comments kept, and bad input refused in one line (the limits of cluster.files apply)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from pulldoctor.errors import InputError
from pulldoctor.preflight.inputs import MAX_FILES, read_inputs
from pulldoctor.preflight.workloads import Inventory, inventory

WORKLOADS = """\
---
# Source: shop/templates/pod.yaml
apiVersion: v1
kind: Pod
metadata:
  name: solo
  namespace: shop
spec:
  containers:
  - name: app
    image: ghcr.io/acme/app:1.0
  ephemeralContainers:
  - name: debug
    image: busybox:1.36
---
# Source: shop/templates/deploy.yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      initContainers:
      - name: migrate
        image: ghcr.io/acme/migrate:1.0
      containers:
      - name: web
        image: ghcr.io/acme/web:1.0
        imagePullPolicy: IfNotPresent
      volumes:
      - name: models
        image:
          reference: ghcr.io/acme/models:v3
          pullPolicy: IfNotPresent
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec: {template: {spec: {containers: [{name: db, image: "postgres:16"}]}}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec: {template: {spec: {containers: [{name: agent, image: "quay.io/acme/agent:2"}]}}}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: rs}
spec: {template: {spec: {containers: [{name: c, image: "nginx:1.25"}]}}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec: {template: {spec: {containers: [{name: c, image: "alpine:3.20"}]}}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: backup
            image: registry.example.com/tools/backup:2.0
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: canary}
spec: {template: {spec: {containers: [{name: c, image: "ghcr.io/acme/canary:5"}]}}}
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: fn}
spec: {template: {spec: {containers: [{image: "gcr.io/acme/fn:1"}]}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: b}
---
name: not-kubernetes
values: [1, 2]
"""


def read(tmp_path: Path, text: str, name: str = "all.yaml") -> Inventory:
    f = tmp_path / name
    f.write_text(text)
    return inventory(read_inputs([str(f)]).documents)


def test_every_pod_template_kind_and_image_is_found(tmp_path: Path) -> None:
    inv = read(tmp_path, WORKLOADS)
    kinds = [w.kind for w in inv.workloads]
    assert kinds == ["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Rollout",
                     "Service"]
    got = {(w.kind, u.container, u.container_type, u.image) for w, u in inv.images}
    assert ("Pod", "debug", "ephemeral", "busybox:1.36") in got
    assert ("Deployment", "migrate", "init", "ghcr.io/acme/migrate:1.0") in got
    assert ("Deployment", "models", "volume", "ghcr.io/acme/models:v3") in got
    assert ("CronJob", "backup", "regular", "registry.example.com/tools/backup:2.0") in got
    assert ("Service", "containers[0]", "regular", "gcr.io/acme/fn:1") in got  # Knative: name optional
    assert inv.other_kinds == {"ConfigMap": 1}
    assert inv.skipped == 1


def test_lines_point_at_each_image_key_and_sources_are_kept(tmp_path: Path) -> None:
    inv = read(tmp_path, WORKLOADS)
    lines = WORKLOADS.splitlines()
    for _w, use in inv.images:
        assert use.location.line is not None
        text = lines[use.location.line - 1]
        assert "image" in text or "reference" in text, (use, text)
        assert use.image in text or use.container_type == "volume"
    web = next(u for w, u in inv.images if u.container == "web")
    assert lines[web.location.line - 1].strip() == "image: ghcr.io/acme/web:1.0"  # type: ignore[operator]
    vol = next(u for w, u in inv.images if u.container_type == "volume")
    assert lines[vol.location.line - 1].strip() == "reference: ghcr.io/acme/models:v3"  # type: ignore[operator]
    assert web.location.source == "shop/templates/deploy.yaml"
    assert next(u for w, u in inv.images if u.container == "app").location.source == "shop/templates/pod.yaml"
    assert next(u for w, u in inv.images if u.container == "db").location.source is None
    assert web.pull_policy == "IfNotPresent" and vol.pull_policy == "IfNotPresent"


def test_namespace_defaults_and_pull_secrets(tmp_path: Path) -> None:
    text = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      serviceAccountName: builder
      imagePullSecrets: [{name: one}, {name: ""}, {name: two}]
      containers: [{name: c, image: "x.io/a:1"}]
---
apiVersion: v1
kind: Secret
metadata: {name: one, namespace: prod}
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '{"auths": {}}'
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: builder}
imagePullSecrets: [{name: sa-secret}]
"""
    f = tmp_path / "m.yaml"
    f.write_text(text)
    inv = inventory(read_inputs([str(f)]).documents, default_namespace="prod")
    (w,) = inv.workloads
    assert w.namespace == "prod" and w.service_account == "builder"
    assert [n for n, _l in w.pull_secrets] == ["one", "two"]  # the API server drops empty names
    assert [loc.line for _n, loc in w.pull_secrets] == [8, 8]
    secret = inv.secrets[("prod", "one")]
    assert secret.data[".dockerconfigjson"] == "eyJhdXRocyI6IHt9fQ=="  # stringData folded into data (base64)
    assert inv.service_accounts[("prod", "builder")].pull_secrets == ["sa-secret"]


def test_json_list_and_directory_and_stdin(tmp_path: Path) -> None:
    doc = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"},
         "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}}]}
    d = tmp_path / "dir"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "list.json").write_text(json.dumps(doc, indent=4))
    (d / "README.md").write_text("not read")
    (d / ".git").mkdir()
    (d / ".git" / "x.yaml").write_text("{{ broken")  # dot-directories are not walked
    read = read_inputs([str(d)])
    inv = inventory(read.documents)
    assert read.files == 1
    (w, use), = list(inv.images)
    assert (w.kind, w.name, use.image) == ("Deployment", "a", "nginx:1.25")
    lines = json.dumps(doc, indent=4).splitlines()
    assert '"image": "nginx:1.25"' in lines[use.location.line - 1]  # type: ignore[operator]

    stdin = io.BytesIO(b"# Source: c/templates/p.yaml\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
                       b"spec: {containers: [{name: c, image: 'alpine:3'}]}\n")
    inv = inventory(read_inputs(["-"], stdin=stdin).documents)
    (_w, use), = list(inv.images)
    assert use.location.file == "-" and use.location.line == 5 and use.location.source == "c/templates/p.yaml"
    assert str(use.location) == "c/templates/p.yaml (stdin:5)"


@pytest.mark.parametrize(("text", "needle"), [
    ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n"
     "    image: \"{{ .Values.image }}\"\n", ":7: image '{{ .Values.image }}' is an unrendered template; render it first"),
    ("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: c\n    image: {{ .Values.image }}\n",
     ":6: an unrendered Helm/Go template"),
    ("{{- if .Values.enabled }}\napiVersion: v1\nkind: Pod\n{{- end }}\n", "render it first"),
    ("a: &a [*a]\n", "refers to itself"),
    ("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
     "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n", "aliases expand to more than"),
    ("[" * 5000 + "]" * 5000, "nested more than"),
    ("key: [unclosed\n", "not JSON or YAML (line 2"),
])
def test_bad_input_is_one_input_error(tmp_path: Path, text: str, needle: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(InputError) as err:
        inventory(read_inputs([str(f)]).documents)
    assert needle in str(err.value) and str(f) in str(err.value)
    assert "\n" not in str(err.value)


def test_binary_and_utf16_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_bytes(b"\x00\x01\x02")
    (tmp_path / "u.yaml").write_bytes("kind: Pod".encode("utf-16"))
    with pytest.raises(InputError, match="binary data"):
        read_inputs([str(tmp_path / "b.yaml")])
    with pytest.raises(InputError, match="UTF-16"):
        read_inputs([str(tmp_path / "u.yaml")])


def test_a_directory_of_too_many_files_is_refused(tmp_path: Path) -> None:
    for i in range(MAX_FILES + 1):
        (tmp_path / f"{i}.yaml").touch()
    with pytest.raises(InputError, match=f"more than {MAX_FILES} manifest files"):
        read_inputs([str(tmp_path)])


def test_json_pyyaml_cannot_read_is_read_by_json_with_its_lines(tmp_path: Path) -> None:
    """Python's json.dumps writes an emoji as a surrogate pair (\\ud83d\\ude00), which PyYAML refuses."""
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "annotations": {"mood": "\U0001F600"}},
           "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}, {"name": "d", "image": "alpine:3"}]}}
    text = json.dumps(doc, indent=2)
    assert "\\ud83d" in text
    f = tmp_path / "pod.json"
    f.write_text(text)
    inv = inventory(read_inputs([str(f)]).documents)
    lines = text.splitlines()
    got = {u.image: lines[u.location.line - 1].strip() for _w, u in inv.images}  # type: ignore[operator]
    assert got == {"nginx:1.25": '"image": "nginx:1.25"', "alpine:3": '"image": "alpine:3"'}
    f.write_text(text[:-1])
    with pytest.raises(InputError, match="pod.json: not valid JSON"):
        read_inputs([str(f)])


def test_a_manifest_larger_than_the_yaml_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    f = tmp_path / "huge.json"
    with f.open("wb") as fh:
        fh.write(b'{"a": "' + b"x" * (33 << 20) + b'"}')
    with pytest.raises(InputError, match="larger than 32 MiB .* not a set of manifests"):
        read_inputs([str(f)])
