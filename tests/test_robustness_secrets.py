"""The canary password never leaves: every command and output format, the bundle's decompressed bytes, and
the error paths (PULLDOCTOR_DEBUG unset) are grepped for it and for its base64 forms.

Secrets carry it in every shape a pull secret takes (dockerconfigjson with ``auth`` and with
username/password, dockercfg, malformed payloads that contain it, an Opaque secret), and runtime error texts
echo it inside ``user:password@`` URLs, as a runtime does when a mirror URL holds credentials.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import cli
from kubeapi import FakeKubeAPI
from kubeapi import objects as o

CANARY = "CANARY-pw-7f3a9c"
TIMEOUT = 60
REGISTRY = "127.0.0.1:1"  # nothing listens: probes fail at once, never leave the machine
IMG = f"{REGISTRY}/acme/web:1.0"
USERS = ("", "u:", "robot:", "q:", "bob:")


def canary_forms() -> list[str]:
    """The canary, and base64 of it at each of the three alignments (alone and after each user name)."""
    forms = {CANARY}
    for prefix in USERS:
        for pad in ("", "x", "xy"):
            raw = (pad + prefix + CANARY).encode()
            start = len(pad + prefix)
            encoded = base64.b64encode(raw).decode()
            # characters that depend only on the canary's own bytes
            first = (start + 2) // 3 * 4
            forms.add(encoded[first:first + 12])
    forms.update(v for s in secrets() for v in s["data"].values())  # a secret's data, verbatim
    return sorted(f for f in forms if len(f) >= 8)


def assert_clean(text: str | bytes, where: str) -> None:
    data = text.decode("latin-1") if isinstance(text, bytes) else text
    leaks = [f for f in canary_forms() if f in data]
    assert not leaks, f"{where} leaks {leaks}"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secrets() -> list[dict[str, Any]]:
    auth_only = json.dumps({"auths": {REGISTRY: {"auth": b64(f"u:{CANARY}")}}})
    return [
        o.secret("regcred", auths={REGISTRY: ("robot", CANARY)}),
        o.secret("cfg", type="kubernetes.io/dockercfg", auths={REGISTRY: ("q", CANARY)}),
        o.secret("authonly", data={".dockerconfigjson": b64(auth_only)}),
        o.secret("truncated", data={".dockerconfigjson": b64(f'{{"auths": {{"{REGISTRY}": {{"password": "{CANARY}"')}),
        o.secret("notb64auth", data={".dockerconfigjson": b64(json.dumps({"auths": {REGISTRY: {"auth": CANARY}}}))}),
        o.secret("rawnotb64", data={".dockerconfigjson": CANARY}),
        o.secret("badcfg", type="kubernetes.io/dockercfg", data={".dockercfg": b64("[" + CANARY)}),
        o.secret("opaque", type="Opaque", data={"password": b64(CANARY)}),
    ]  # fmt: skip


def userinfo_message() -> str:
    return (f'Failed to pull image "{IMG}": rpc error: code = Unknown desc = failed to pull and unpack image '
            f'"{IMG}": failed to resolve reference "{IMG}": failed to do request: Head '
            f'"https://bob:{CANARY}@mirror.example.invalid/v2/acme/web/manifests/1.0": dial tcp: lookup '
            "mirror.example.invalid: no such host")


def cluster() -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = []
    for s in secrets():
        name = s["metadata"]["name"]
        pod = o.pod(f"p-{name}", containers=[o.container("app", IMG)], pull_secrets=[name],
                    statuses=[o.waiting("app", IMG, "ErrImagePull", userinfo_message())])
        objs += [pod, o.event(pod, "Failed", userinfo_message(), container="app", count=3)]
    return [*objs, *secrets(), o.node("node-1"), o.service_account()]


@pytest.fixture
def api() -> Iterator[FakeKubeAPI]:
    with FakeKubeAPI(cluster()) as server:
        yield server


def test_the_canary_forms_are_real() -> None:
    """The grep is only worth something if it finds each encoding the secrets use: plain, base64 alone,
    base64 after ``user:`` and a secret's whole base64 ``data`` value (whose ``auth`` is base64 again)."""
    encodings = [CANARY, b64(CANARY), *(b64(f"{u}{CANARY}") for u in USERS)]
    encodings += [v for s in secrets() for v in s["data"].values()]
    for e in encodings:
        assert any(f in f"...{e}..." for f in canary_forms()), e


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_diagnose_live_every_format(api: FakeKubeAPI, tmp_path: Path, fmt: str) -> None:
    kc = api.write_kubeconfig(tmp_path / "kc")
    r = cli("diagnose", "--kubeconfig", str(kc), "-o", fmt, *(["-v"] if fmt == "text" else []))
    assert r.returncode == 1, r.stderr
    assert "bob:***@mirror.example.invalid" in r.stdout  # masked, not dropped: the URL is still evidence
    assert_clean(r.stdout + r.stderr, f"diagnose -o {fmt}")
    if fmt == "text":   # the default view clips the evidence: masked before it is cut, never after
        brief = cli("diagnose", "--kubeconfig", str(kc))
        assert brief.returncode == 1, brief.stderr
        assert_clean(brief.stdout + brief.stderr, "diagnose (the brief view)")


def test_collect_bundle_bytes_and_replay(api: FakeKubeAPI, tmp_path: Path) -> None:
    kc = api.write_kubeconfig(tmp_path / "kc")
    out = tmp_path / "b.tar.gz"
    r = cli("collect", "--kubeconfig", str(kc), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert_clean(r.stdout + r.stderr, "collect")
    raw = b""
    with tarfile.open(out) as tar:
        for member in tar:
            fh = tar.extractfile(member)
            raw += fh.read() if fh else b""
    assert b"bob:***@mirror.example.invalid" in raw
    assert_clean(raw, "the decompressed bundle")
    for fmt in ("text", "json", "markdown"):
        replay = cli("diagnose", "--from", str(out), "-o", fmt)
        assert replay.returncode == 1, replay.stderr
        assert_clean(replay.stdout + replay.stderr, f"diagnose --from bundle -o {fmt}")


def test_files_with_secrets_every_format(tmp_path: Path) -> None:
    path = tmp_path / "dump.json"
    path.write_text(json.dumps(o.as_list(cluster())))
    for fmt in ("text", "json", "markdown"):
        r = cli("diagnose", "--from", str(path), "-o", fmt)
        assert r.returncode == 1, r.stderr
        assert_clean(r.stdout + r.stderr, f"diagnose --from file -o {fmt}")


@pytest.mark.parametrize("config", [
    {"auths": {REGISTRY: {"auth": b64(f"u:{CANARY}")}}},
    {"auths": {REGISTRY: {"username": "bob", "password": CANARY}}},
    {REGISTRY: {"auth": b64(f"q:{CANARY}"), "email": "x@example.invalid"}},                     # dockercfg
    {"auths": {REGISTRY: {"auth": CANARY}}},                                                    # not base64
    {"auths": {REGISTRY: {"auth": b64(CANARY)}}},                                               # no colon
    {"auths": {REGISTRY: CANARY}},
])  # fmt: skip
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_probe_with_a_docker_config(tmp_path: Path, config: dict[str, Any], fmt: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    r = cli("probe", IMG, "--docker-config", str(path), "-o", fmt)
    assert r.returncode in (1, 2), r.stderr
    assert "Traceback" not in r.stderr
    assert_clean(r.stdout + r.stderr, f"probe -o {fmt}")


def test_truncated_docker_config_holding_the_canary(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(f'{{"auths": {{"{REGISTRY}": {{"password": "{CANARY}"')
    r = cli("probe", IMG, "--docker-config", str(path))
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1
    assert_clean(r.stdout + r.stderr, "probe error")


def test_error_paths_never_echo_credentials(tmp_path: Path) -> None:
    """References and kubeconfig server URLs with user:password@ in them, on the error path."""
    r = cli("ref", f"bob:{CANARY}@registry.example.invalid/app:1")
    assert r.returncode == 2
    assert_clean(r.stdout + r.stderr, "ref error")
    kc = tmp_path / "kc"
    kc.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [{"name": "k", "cluster": {"server": f"http://bob:{CANARY}@127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": CANARY}}]}))
    r = cli("diagnose", "--kubeconfig", str(kc))
    assert r.returncode == 2 and "bob:***@127.0.0.1:1" in r.stderr
    assert_clean(r.stdout + r.stderr, "diagnose with a bad cluster")


def test_mask_userinfo_keeps_digests_and_mail_addresses() -> None:
    from pulldoctor.redact import mask_userinfo

    digest = "nginx:1.27@sha256:" + "a" * 64
    assert mask_userinfo(digest) == digest
    assert mask_userinfo("docker.io/library/" + digest) == "docker.io/library/" + digest
    assert mask_userinfo("ops@example.com and git@github.com:org/repo") == "ops@example.com and git@github.com:org/repo"
    assert mask_userinfo(f"https://bob:{CANARY}@h/x") == "https://bob:***@h/x"
    assert mask_userinfo(f"https://{CANARY}@h/x") == "https://***@h/x"  # a lone token
    assert mask_userinfo(f'"bob:{CANARY}@reg.io:5000/a:1"') == '"bob:***@reg.io:5000/a:1"'
    assert json.loads(mask_userinfo(json.dumps({"u": f"ftp://a:{CANARY}@h"}))) == {"u": "ftp://a:***@h"}


def test_escape_sequences_from_the_cluster_never_reach_the_terminal(tmp_path: Path) -> None:
    """A waiting message or event can hold ESC sequences (clear the screen, retitle the window, OSC 52
    clipboard writes); every format prints them as visible escapes."""
    hostile = 'Failed to pull image "x": \x1b]0;pwned\x07\x1b[2J\x1b]52;c;ZXZpbA==\x07\x9b31m not found\r\x08'
    pod = o.pod("esc", containers=[o.container("app", IMG)],
                statuses=[o.waiting("app", IMG, "ErrImagePull", hostile)])
    path = tmp_path / "esc.json"
    path.write_text(json.dumps(o.as_list([pod, o.event(pod, "Failed", hostile, container="app")])))
    for fmt, extra in (("text", ["-v"]), ("text", []), ("json", []), ("markdown", [])):
        r = subprocess.run([sys.executable, "-m", "pulldoctor", "diagnose", "--from", str(path), "--no-probe",
                            "-o", fmt, *extra], capture_output=True, timeout=TIMEOUT)
        assert r.returncode == 1, r.stderr
        out = r.stdout.decode("utf-8")
        assert not any(c in out for c in "\x1b\x07\x9b\x08\r"), fmt
        if extra or fmt != "text":   # the default text view shows the message's end only
            assert "pwned" in out  # shown, harmlessly
        if fmt == "json":
            assert "\x9b31m" in json.dumps(json.loads(out), ensure_ascii=False)  # still valid, same text


def test_printable_keeps_only_the_renderers_own_colours() -> None:
    from pulldoctor.redact import printable

    red, reset = "\x1b[1;31m", "\x1b[0m"
    text = f"{red}verdict{reset} \x1b[2J\x1b]0;t\x07 tab\there\nnext https://u:{CANARY}@h/x"
    assert printable(text, keep=frozenset({red, reset})) == (
        f"{red}verdict{reset} \\x1b[2J\\x1b]0;t\\x07 tab\there\nnext https://u:***@h/x")


def test_bundle_manifest_masks_a_server_url_with_userinfo(tmp_path: Path) -> None:
    """The manifest's scope names the API server; a kubeconfig may write it as http://user:password@host."""
    with FakeKubeAPI(cluster()) as server:
        kc = tmp_path / "kc"
        kc.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "c",
            "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
            "clusters": [{"name": "k", "cluster": {"server": f"http://bob:{CANARY}@127.0.0.1:{server.port}"}}],
            "users": [{"name": "u", "user": {"token": server.token}}]}))
        out = tmp_path / "b.tar.gz"
        r = cli("collect", "--kubeconfig", str(kc), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert_clean(r.stdout + r.stderr, "collect")
    with tarfile.open(out) as tar:
        manifest = tar.extractfile("manifest.json").read()  # type: ignore[union-attr]
    assert b"bob:***@127.0.0.1" in manifest
    assert_clean(manifest, "the manifest")
