"""The canary password never leaves: every command and output format, the bundle's decompressed bytes, and
the error paths (PULLDOCTOR_DEBUG unset) are grepped for it and for its base64 forms.

Secrets carry it in every shape a pull secret takes (dockerconfigjson with ``auth`` and with
username/password, dockercfg, malformed payloads that contain it, an Opaque secret), and runtime error texts
echo it inside ``user:password@`` URLs, as a runtime does when a mirror URL holds credentials.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tarfile
import time
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
USERS = ("", "u:", "robot:", "q:", "bob:", "alice:")


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


# --- Generated: registry keys whose userinfo the URL parser splits (issue 13, secrets 1) ---------------
# Go's net/url, as the kubelet's keyring uses it, ends the authority at the first "/" (a "?" or "#" even
# earlier), so "https://alice:pa/ss@host" has no userinfo at all: the password lands in the host and path.
# Every shape below must come out masked wherever a key is shown, and mask to a key that serves the same
# images as the one written.

KEY_CANARY = "CANARY-pw-9f3b"
KEY_PREFIXES = ("https://", "http://", "", "//", "///", "https:/", "https:///", "HTTPS://", "oci://")
KEY_PASSWORDS = (KEY_CANARY, f"pa/{KEY_CANARY}", f"{KEY_CANARY}/x", f"12/{KEY_CANARY}", f"p?{KEY_CANARY}",
                 f"p#{KEY_CANARY}", f"p@{KEY_CANARY}", f"p:{KEY_CANARY}", f"%2F{KEY_CANARY}", f"a/b/{KEY_CANARY}/c")
KEY_USERS = ("alice", "")  # "": a lone token, "https://TOKEN@host"
KEY_HOSTS = ("reg.example.invalid", "127.0.0.1:1", "reg.example.invalid/v2/org")
KEY_IMAGES = ("reg.example.invalid/org/app", "127.0.0.1:1/acme/web")


def key_shapes() -> list[str]:
    return [f"{p}{u + ':' if u else ''}{pw}@{h}"
            for p in KEY_PREFIXES for u in KEY_USERS for pw in KEY_PASSWORDS for h in KEY_HOSTS]


def key_leaks(text: str) -> bool:
    return KEY_CANARY in text or KEY_CANARY.lower() in text.lower()


@pytest.mark.parametrize("key", key_shapes())
def test_generated_keys_are_masked_where_shown_and_match_as_written(key: str) -> None:
    from pulldoctor.keyring import Entry, Keyring, entries_from_docker_config, problems_for_secret

    config = json.dumps({"auths": {key: {"auth": b64("robot:not-the-canary")}}})
    [shown] = entries_from_docker_config(config, "file config.json")
    assert not key_leaks(shown.key) and not key_leaks(str(shown.match_key)), shown.key
    problems = problems_for_secret("ns", "s", "kubernetes.io/dockerconfigjson", {".dockerconfigjson": b64(config)})
    assert not key_leaks(" ".join(map(str, problems)))
    written = Entry(key=key, source="file config.json", credential=None, has_username=True, has_password=True)
    for image in KEY_IMAGES:
        lookup = Keyring([shown]).lookup(image)
        assert not key_leaks(lookup.explanation), lookup.explanation
        # masking never changes which images a key serves
        assert bool(lookup.matches) == bool(Keyring([written]).lookup(image).matches), image


@pytest.mark.parametrize("key", [f"{p}{u}:{pw}@{h}" if u else f"{p}{pw}@{h}" for p in KEY_PREFIXES
                                 for u in KEY_USERS for pw in KEY_PASSWORDS for h in KEY_HOSTS if p or u])
def test_generated_keys_are_masked_in_free_text(key: str) -> None:
    """The printing gate masks the same shapes when a runtime or a note quotes them in a sentence, as far
    as a sentence tells them: with a scheme or "//" before, or a ``user:`` (a bare "path/token@host" reads
    as a path and a mail address; keys themselves are masked where they are read, above)."""
    from pulldoctor.redact import mask_userinfo

    for text in (f"entry {key!r} is not a valid registry URL", f'Head "{key}/v2/x/manifests/1": 401',
                 json.dumps({"key": key})):
        assert not key_leaks(mask_userinfo(text)), mask_userinfo(text)


def key_cluster() -> list[dict[str, Any]]:
    """One pod per key shape, each with a secret holding only that key, all failing on a 401."""
    objs: list[dict[str, Any]] = []
    for n, key in enumerate(key_shapes()):
        s = o.secret(f"k{n}", auths={key: ("robot", "not-the-canary")})
        pod = o.pod(f"p{n}", containers=[o.container("app", IMG)], pull_secrets=[f"k{n}"],
                    statuses=[o.waiting("app", IMG, "ErrImagePull", f"failed to pull {IMG}: 401 Unauthorized")])
        objs += [s, pod]
    return [*objs, o.node("node-1"), o.service_account()]


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_generated_keys_never_leak_from_diagnose(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(o.as_list(key_cluster())))
    r = cli("diagnose", "--from", str(path), "--no-probe", "-o", fmt)
    assert r.returncode == 1, r.stderr[-2000:]
    assert "k0" in r.stdout
    leaked = [line for line in (r.stdout + r.stderr).splitlines() if key_leaks(line)]
    assert not leaked, f"{len(leaked)} lines leak, e.g. {leaked[:3]}"


def test_generated_keys_never_leak_from_a_bundle_or_its_replay(tmp_path: Path) -> None:
    with FakeKubeAPI(key_cluster()) as server:
        kc = server.write_kubeconfig(tmp_path / "kc")
        out = tmp_path / "b.tar.gz"
        r = cli("collect", "--kubeconfig", str(kc), "-o", str(out))
    assert r.returncode == 0, r.stderr
    raw = b""
    with tarfile.open(out) as tar:
        for member in tar:
            fh = tar.extractfile(member)
            raw += fh.read() if fh else b""
    assert b'/registries"' in raw
    assert not key_leaks(raw.decode("latin-1") + r.stdout + r.stderr)
    replay = cli("diagnose", "--from", str(out), "--no-probe", "-o", "json")
    assert replay.returncode == 1 and not key_leaks(replay.stdout + replay.stderr)


@pytest.mark.parametrize("key", [k for k in key_shapes() if k.endswith("@127.0.0.1:1")][::6])
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_generated_keys_never_leak_from_probe(tmp_path: Path, key: str, fmt: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {key: {"auth": b64("robot:not-the-canary")}}}))
    r = cli("probe", IMG, "--docker-config", str(path), "-o", fmt)
    assert r.returncode in (1, 2) and "Traceback" not in r.stderr, r.stderr
    assert not key_leaks(r.stdout + r.stderr), r.stdout + r.stderr


def test_generated_keys_never_leak_from_serve_findings(tmp_path: Path) -> None:
    import urllib.request

    from pulldoctor.exporter import Exporter
    from pulldoctor.exporter.config import ExporterConfig

    with FakeKubeAPI(key_cluster()) as server:
        kc = server.write_kubeconfig(tmp_path / "kc")
        ex = Exporter(ExporterConfig(listen_host="127.0.0.1", listen_port=0, kubeconfig=str(kc),
                                     all_namespaces=True, probe=False, findings_endpoint=True))
        ex.start()
        try:
            body = ""
            for _ in range(200):  # bounded: 20 s
                with urllib.request.urlopen(f"http://127.0.0.1:{ex.port}/findings", timeout=5) as resp:
                    body = resp.read().decode()
                if body.count('"pod":') >= len(key_shapes()):
                    break
                time.sleep(0.1)
        finally:
            ex.stop(timeout=5)
    assert body.count('"pod":') >= len(key_shapes())
    assert not key_leaks(body)


# --- Generated: a registry or token service that quotes the Authorization header (secrets 2, 3) ---------

ECHO_USER = "alice"


def b64_stable(secret: str) -> list[str]:
    """Base64 runs that encode only ``secret``'s bytes, at each of the three alignments it can have inside a
    longer base64 text (what any base64 of a document holding the secret contains)."""
    out = []
    for pad in ("", "x", "xy"):
        encoded = base64.b64encode((pad + secret).encode()).decode()
        first, last = (len(pad) + 2) // 3 * 4, (len(pad) + len(secret)) // 3 * 4
        out.append(encoded[first:last])
    return [f for f in out if len(f) >= 8]


def secret_forms(*secrets: str) -> list[str]:
    from urllib.parse import quote

    forms: set[str] = set()
    for s in secrets:
        forms.update({s, quote(s, safe=""), base64.b64encode(s.encode()).decode(), *b64_stable(s)})
    return sorted(f for f in forms if len(f) >= 8)


def leaked_forms(text: str, forms: list[str]) -> list[str]:
    folded = text.lower()
    return [f for f in forms if f.lower() in folded]  # "in any case": a proxy may fold the header's case


def _echo_variants() -> dict[str, Any]:
    """How a hostile proxy quotes the Authorization header it got: name → function of the header value."""
    def b64_inside(pad: str) -> Any:
        def f(h: str) -> str:
            scheme, _, value = h.partition(" ")
            raw = base64.b64decode(value) if scheme.lower() == "basic" else value.encode()
            return "QUJD" + base64.b64encode(pad.encode() + b"header=" + raw + b";").decode() + "=="
        return f

    return {
        "verbatim": lambda h: h,
        "lower": lambda h: h.lower(),
        "upper": lambda h: h.upper(),
        "swapcase": lambda h: h.swapcase(),
        "header-line": lambda h: f"authorization: {h}",
        "scheme-lower": lambda h: h.partition(" ")[0].lower() + " " + h.partition(" ")[2],
        "value-only": lambda h: h.partition(" ")[2],
        "decoded": lambda h: (base64.b64decode(h.partition(" ")[2]).decode() if h.lower().startswith("basic ")
                              else h.partition(" ")[2]),
        "json-escaped": lambda h: json.dumps({"h": h})[1:-1].replace("/", "\\/"),
        "b64-offset0": b64_inside(""),
        "b64-offset1": b64_inside("a"),
        "b64-offset2": b64_inside("ab"),
    }


ECHO_VARIANTS = _echo_variants()
ECHO_WHERE = ("registry-403", "registry-500", "token-realm-401", "bearer-403")


async def _start_app(handler: Any) -> tuple[Any, int]:
    from aiohttp import web

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


def _probe_echoing(where: str, echo: Any, token: str) -> Any:
    """Probe a registry on 127.0.0.1 that quotes the Authorization it got, ``echo``-transformed."""
    import asyncio

    from aiohttp import web

    from pulldoctor.keyring import Credential
    from pulldoctor.registry import ProbeOptions, probe

    async def handler(request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        port = request.url.port
        if request.path == "/token":
            if where == "token-realm-401":
                return web.Response(status=401, text=f'{{"details":"bad credentials {echo(auth)}"}}')
            return web.json_response({"token": token, "expires_in": 300})
        if request.path == "/v2/":
            return web.Response(status=200)
        if not auth:
            challenge = (f'Bearer realm="http://127.0.0.1:{port}/token",service="echo",scope="repository:a/b:pull"'
                         if where in ("token-realm-401", "bearer-403") else 'Basic realm="echo"')
            return web.Response(status=401, headers={"WWW-Authenticate": challenge})
        status = 500 if where == "registry-500" else 403
        body = json.dumps({"errors": [{"code": "DENIED", "message": f"proxy refused {echo(auth)}"}]},
                          ensure_ascii=False)
        return web.Response(status=status, text=body, content_type="application/json")

    async def main() -> Any:
        runner, port = await _start_app(handler)
        try:
            return await probe(f"127.0.0.1:{port}/a/b:v1", credentials=[Credential(ECHO_USER, KEY_CANARY)],
                               options=ProbeOptions(request_timeout=5.0, connect_timeout=2.0))
        finally:
            await runner.cleanup()

    return asyncio.run(main())


@pytest.mark.parametrize("where", ECHO_WHERE)
@pytest.mark.parametrize("variant", sorted(ECHO_VARIANTS))
def test_generated_echoed_authorization_never_leaves_the_registry_client(where: str, variant: str) -> None:
    from pulldoctor.commands.probe import render_text

    token = "tok-" + KEY_CANARY + "-bearer"
    result = _probe_echoing(where, ECHO_VARIANTS[variant], token)
    assert result.cause is not None and result.credentials_sent, result.steps
    quoted = " ".join(s.detail for s in result.steps)
    assert "refused" in quoted or "bad credentials" in quoted, quoted  # the body is still quoted...
    forms = secret_forms(KEY_CANARY, f"{ECHO_USER}:{KEY_CANARY}", token)
    for text in (quoted, render_text(result), json.dumps(result.to_json())):
        assert not leaked_forms(text, forms), (leaked_forms(text, forms), text)  # ...without the secrets


def lab_docker_config(tmp_path: Path, registry: str, user: str, password: str) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {registry: {"auth": b64(f"{user}:{password}")}}}))
    return str(path)


@pytest.mark.parametrize("prefix", ["echobasic", "echotoken", "echobearer", "userinfo500"])
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_lab_nginx_quoting_credentials(lab: Any, tmp_path: Path, prefix: str, fmt: str) -> None:
    """The real nginx quotes the header it got (``$http_authorization``) or the lab user's URL: probe, in
    both formats, shows the quote without any credential or token."""
    from lab.nginx import ECHO_TOKEN

    image = f"{lab.nginx}/{lab.fresh_repo(prefix)}:1.0"
    r = cli("probe", image, "--docker-config", lab_docker_config(tmp_path, lab.nginx, lab.user, lab.password),
            "-o", fmt)
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert ("refused" in out or "incorrect credentials" in out or "mirror.pulldoctor.invalid" in out), out
    forms = secret_forms(lab.password, f"{lab.user}:{lab.password}", ECHO_TOKEN)
    assert not leaked_forms(out, forms), (leaked_forms(out, forms), out)
    assert_clean(out, f"probe {prefix} -o {fmt}")


# --- Generated: PULLDOCTOR_DEBUG=1 prints tracebacks through the same masking (secrets 4) --------------

DEBUG_TOKENS = [f"{KEY_CANARY}{c}x" for c in ("\n", "\r", "\r\n", "\x00", "\x7f", " ", "\t", "\x1b[2J", "é")]


@pytest.mark.parametrize("token", DEBUG_TOKENS, ids=[repr(t[len(KEY_CANARY):]) for t in DEBUG_TOKENS])
def test_generated_debug_traceback_never_prints_the_kubeconfig_token(tmp_path: Path, token: str) -> None:
    kc = tmp_path / "kc"
    kc.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [{"name": "k", "cluster": {"server": f"http://bob:{KEY_CANARY}@127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": token}}]}))
    env = {**{k: v for k, v in os.environ.items() if k != "KUBECONFIG"}, "PULLDOCTOR_DEBUG": "1"}
    r = subprocess.run([sys.executable, "-m", "pulldoctor", "diagnose", "--kubeconfig", str(kc)],
                       capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL, env=env)
    assert r.returncode in (2, 3), r.stderr
    assert not leaked_forms(r.stdout + r.stderr, secret_forms(KEY_CANARY)), r.stderr[-3000:]


@pytest.mark.parametrize("message", [
    f"Invalid header value b'Bearer {KEY_CANARY}\\nx'",
    f"headers {{'Authorization': 'Basic {b64('bob:' + KEY_CANARY)}'}}",
    f"headers {{'authorization': 'bearer {KEY_CANARY}'}}",
    f"connect to https://bob:{KEY_CANARY}@127.0.0.1:1/api failed",
    f"Basic {b64('bob:' + KEY_CANARY)} and \x1b]0;title\x07",
])  # fmt: skip
def test_debug_report_masks_headers_known_secrets_and_escapes(message: str) -> None:
    """The debug report of an unexpected exception: header-like ``Bearer …``/``Basic …`` values and
    ``user:password@`` masked, controls escaped (known secrets: the kubeconfig test above)."""
    code = ("import sys\nfrom pulldoctor import cli\n"
            "class C:\n    def run(self, args):\n"
            f"        raise ValueError({message!r})\n"
            "import importlib\nimportlib.import_module = lambda name: C()\n"
            "sys.exit(cli.main(['ref', 'x']))\n")
    env = {**os.environ, "PULLDOCTOR_DEBUG": "1"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, env=env)
    assert r.returncode == 3 and "Traceback" in r.stderr and "ValueError" in r.stderr, r.stderr
    assert not leaked_forms(r.stderr, secret_forms(KEY_CANARY)), r.stderr
    assert "\x1b" not in r.stderr and "\x07" not in r.stderr


@pytest.mark.parametrize("hostile", [
    "a:/" * 70_000 + "@h", "(a:b" * 50_000 + "@h/x", "https://" + "a@" * 100_000, "x //a" * 40_000 + "@h",
    "a" * 100_000 + "@" + "b" * 100_000, ("a" * 50 + "@") * 4_000, "Basic " * 40_000, "u:p/" * 50_000 + "@x/",
])  # fmt: skip
def test_masking_is_linear_on_hostile_text(hostile: str) -> None:
    """Every output goes through these masks: 200 KB built to make a backtracking pattern quadratic
    (many scheme-like starts, many "@") takes well under a second."""
    from pulldoctor.redact import mask_all, mask_key, printable, printable_json

    start = time.monotonic()
    for f in (mask_all, mask_key, printable, printable_json):
        f(hostile)
    assert time.monotonic() - start < 1.0
