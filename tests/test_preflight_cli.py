"""``pulldoctor preflight`` through the real CLI, offline (--no-probe): exit codes, bad input as ONE line on
stderr and exit 2, no credential in any output, and manifest text escaped before it reaches a terminal."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CANARY = "CANARY-pw-7f3a9c"
DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
      - name: app
        image: IMAGE
"""


def cli(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PULLDOCTOR_DEBUG"}
    return subprocess.run([sys.executable, "-m", "pulldoctor", "preflight", *args], capture_output=True, text=True,
                          timeout=60, input=stdin, env=env, cwd=cwd, stdin=None if stdin is not None else
                          subprocess.DEVNULL)


def one_line_error(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout[-500:], r.stderr[-2000:])
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pulldoctor: "), r.stderr[-2000:]
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    for needle in needles:
        assert needle in r.stderr, r.stderr


def manifest(tmp_path: Path, image: str, name: str = "deploy.yaml") -> Path:
    f = tmp_path / name
    f.write_text(DEPLOY.replace("IMAGE", image))
    return f


def test_exit_codes_clean_error_and_fail_on_warning(tmp_path: Path) -> None:
    clean = cli(str(manifest(tmp_path, "ghcr.io/acme/web:1.0", "a.yaml")), "--no-probe")
    assert clean.returncode == 0, clean.stderr
    assert "preflight: clean" in clean.stdout
    bad = cli(str(manifest(tmp_path, "ghcr.io/acme/Web:1.0", "b.yaml")), "--no-probe")
    assert bad.returncode == 1
    assert bad.stdout.startswith(f"{tmp_path / 'b.yaml'}:9: error invalid_image_name:")
    warn = manifest(tmp_path, "ghcr.io/acme/web", "c.yaml")
    warn.write_text(warn.read_text() + "        imagePullPolicy: IfNotPresent\n")
    assert cli(str(warn), "--no-probe").returncode == 0
    assert cli(str(warn), "--no-probe", "--fail-on", "warning").returncode == 1


@pytest.mark.parametrize(("content", "needles"), [
    (DEPLOY.replace("IMAGE", '"{{ .Values.image.repository }}:{{ .Values.image.tag }}"'),
     ("deploy.yaml:9: image", "unrendered template; render it first")),
    ("{{- if .Values.enabled }}\n" + DEPLOY.replace("IMAGE", "{{ .Values.image }}") + "{{- end }}\n",
     ("deploy.yaml:1: an unrendered Helm/Go template", "render it first")),
    ("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
     "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n", ("aliases expand to more than",)),
    ("name: values\nreplicas: 3\n---\n- a\n- b\n", ("no Kubernetes objects in the inputs", "2 document(s)")),
    ("", ("no Kubernetes objects",)),
    ("\x00\x01binary", ("binary data",)),
    ("key: [unclosed\n", ("not JSON or YAML (line 2",)),
    (DEPLOY.replace("IMAGE", "nginx:1") + "        ports: [{containerPort: !!int abc}]\n",
     ("deploy.yaml: line 10, column 33: a value its tag (int) cannot build",)),
    (DEPLOY.replace("IMAGE", "nginx:1") + "        x: !!bool maybe\n", ("its tag (bool) cannot build",)),
    (DEPLOY.replace("IMAGE", "nginx:1") + "        x: " + "1" * 5000 + "\n", ("its tag (int) cannot build",)),
    (DEPLOY.replace("IMAGE", "nginx:1") + "        x: !!python/object:os.system ls\n", ("could not determine",)),
])
def test_bad_manifests_are_one_line_and_exit_2(tmp_path: Path, content: str, needles: tuple[str, ...]) -> None:
    f = tmp_path / "deploy.yaml"
    f.write_text(content)
    one_line_error(cli(str(f), "--no-probe"), *needles)


def test_timestamps_stay_text_as_kubectl_reads_them(tmp_path: Path) -> None:
    f = manifest(tmp_path, "nginx:1.25")
    f.write_text(f.read_text().replace("metadata: {name: web}", "metadata: {name: web, labels: {at: 2026-13-45}}"))
    assert cli(str(f), "--no-probe").returncode == 0


def test_a_raw_chart_directory_says_render_it_first(tmp_path: Path) -> None:
    tpl = tmp_path / "chart" / "templates"
    tpl.mkdir(parents=True)
    (tmp_path / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (tpl / "deployment.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
                                         "  name: {{ include \"web.fullname\" . }}\n")
    one_line_error(cli(str(tmp_path / "chart"), "--no-probe"), "render it first")


@pytest.mark.parametrize(("args", "needles"), [
    ((), ("no manifests given",)),
    (("missing.yaml",), ("missing.yaml: no such file or directory",)),
    (("ok.yaml", "--platform", "linux"), ("--platform must be OS/ARCH",)),
    (("ok.yaml", "--platform", ","), ("--platform needs OS/ARCH",)),
    (("ok.yaml", "--docker-config", "nope.json"), ("cannot read --docker-config nope.json",)),
    (("ok.yaml", "--docker-config", "ok.yaml"), ("not valid JSON",)),
    (("-f", "-", "-f", "-"), ("stdin can be read once",)),
    (("ok.yaml", "-o", "xml"), ("invalid choice",)),
    (("ok.yaml", "--insecure-registry", "a b"), ("--insecure-registry must be HOST[:PORT]",)),
    (("ok.yaml", "--hosts-dir", "nodir"), ("nodir",)),
])
def test_bad_arguments_are_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...], needles: tuple[str, ...]) -> None:
    manifest(tmp_path, "nginx:1.25", "ok.yaml")
    r = cli(*args, "--no-probe", cwd=tmp_path, stdin="" if "-" in args else None)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr
    for needle in needles:
        assert needle in r.stderr, r.stderr


def test_a_fifo_in_a_directory_is_refused_not_opened(tmp_path: Path) -> None:
    manifest(tmp_path, "nginx:1.25")
    os.mkfifo(tmp_path / "pipe.yaml")
    one_line_error(cli(str(tmp_path), "--no-probe"), "not a regular file")


def test_ten_thousand_files_are_a_bound_not_a_hang(tmp_path: Path) -> None:
    for i in range(10_001):
        (tmp_path / f"{i:05}.yaml").touch()
    one_line_error(cli(str(tmp_path), "--no-probe"), "more than 10000 manifest files")


def test_no_credential_in_any_output(tmp_path: Path) -> None:
    auth = base64.b64encode(f"alice:{CANARY}".encode()).decode()
    payload = base64.b64encode(json.dumps({"auths": {"ghcr.io": {"auth": auth}}}).encode()).decode()
    broken = base64.b64encode(f'{{"auths": {{"x.io": {{"password": "{CANARY}"'.encode()).decode()
    text = DEPLOY.replace("IMAGE", "ghcr.io/acme/web:1.0").replace(
        "      containers:", "      imagePullSecrets: [{name: good}, {name: broken}, {name: gone}]\n      containers:")
    text += (f"---\napiVersion: v1\nkind: Secret\nmetadata: {{name: good}}\ntype: kubernetes.io/dockerconfigjson\n"
             f"data: {{.dockerconfigjson: {payload}}}\n---\napiVersion: v1\nkind: Secret\nmetadata: {{name: broken}}\n"
             f"type: kubernetes.io/dockerconfigjson\ndata: {{.dockerconfigjson: {broken}}}\n")
    f = tmp_path / "m.yaml"
    f.write_text(text)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {"ghcr.io": {"username": "bob", "password": CANARY}}}))
    for output in ("text", "json", "sarif"):
        r = cli(str(f), "--no-probe", "--docker-config", str(config), "-o", output)
        assert r.returncode == 1, r.stderr
        assert CANARY not in r.stdout + r.stderr and auth not in r.stdout and payload not in r.stdout
    doc = json.loads(cli(str(f), "--no-probe", "-o", "json").stdout)
    assert sorted((x["name"], x["cause"], x["severity"]) for x in doc["findings"]) == [
        ("broken", "auth_invalid", "error"), ("web", "auth_missing", "error")]


def test_manifest_text_is_escaped_before_the_terminal(tmp_path: Path) -> None:
    f = tmp_path / "m.yaml"
    f.write_text(DEPLOY.replace("IMAGE", '"evil\\e]0;pwned\\a\\e[2J:1"').replace("name: app", 'name: "a\\e[31mb"'))
    r = cli(str(f), "--no-probe")
    assert r.returncode == 1, r.stderr
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout
    assert "\\x1b" in r.stdout
