"""The node's containerd registry config (``--hosts-dir``): parsing as containerd does, and a probe that
follows it (order, capabilities, ``skip_verify``, ``ca``, ``[header]``, ``?ns=``) against small servers on
127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web

from helpers import FAST
from pulldoctor.causes import Cause
from pulldoctor.errors import InputError
from pulldoctor.keyring import Credential
from pulldoctor.registry import ProbeOptions, probe
from pulldoctor.registry.hosts import HostsDir, host_paths, load

CANARY = "CANARY-pw-7f3a9c"


def write(root: Path, host: str, text: str) -> Path:
    (root / host).mkdir(parents=True, exist_ok=True)
    path = root / host / "hosts.toml"
    path.write_text(text)
    return path


# -- parsing ---------------------------------------------------------------------------------------------


def test_host_paths_order_is_containerds() -> None:
    assert host_paths("localhost:5000") == ["localhost_5000_", "localhost:5000", "_default"]
    assert host_paths("docker.io") == ["docker.io", "_default"]


def test_hosts_in_file_order_then_server(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("x")
    write(tmp_path, "reg.example:5000", """
server = "reg.example:5000"

[host."https://zeta.mirror"]
  capabilities = ["pull"]
[host."http://alpha.mirror:8080/prefix"]
  capabilities = ["pull", "Resolve"]
  ca = "../ca.pem"
  skip_verify = true
  [host."http://alpha.mirror:8080/prefix".header]
    x-one = "a"
    x-two = ["b", "c"]
[host."https://raw.mirror/api"]
  override_path = true
""")
    found = load(tmp_path).lookup("reg.example:5000")
    assert found is not None
    urls = [(h.url, h.path) for h in found.hosts]
    assert urls == [("https://zeta.mirror", "/v2"), ("http://alpha.mirror:8080", "/prefix/v2"),
                    ("https://raw.mirror", "/api"), ("https://reg.example:5000", "/v2")]
    zeta, alpha, _raw, server = found.hosts
    assert zeta.capabilities == {"pull"} and alpha.capabilities == {"pull", "resolve"}
    assert server.is_server and server.capabilities == {"pull", "resolve", "push"}
    assert alpha.ca == (str(tmp_path / "reg.example:5000" / "../ca.pem"),) and alpha.skip_verify is True
    assert dict(alpha.header) == {"x-one": ("a",), "x-two": ("b", "c")}


def test_lookup_prefers_port_dir_then_host_then_default(tmp_path: Path) -> None:
    write(tmp_path, "_default", 'server = "https://catch.all"\n')
    write(tmp_path, "reg:5000", 'server = "https://colon"\n')
    write(tmp_path, "reg_5000_", 'server = "https://underscore"\n')
    hd = load(tmp_path)
    assert hd.lookup("reg:5000").hosts[-1].host == "underscore"  # type: ignore[union-attr]
    assert hd.lookup("other:1").hosts[-1].host == "catch.all"  # type: ignore[union-attr]
    assert HostsDir(str(tmp_path)).lookup("reg:5000") is None


def test_directory_without_hosts_toml_uses_docker_cert_files(tmp_path: Path) -> None:
    d = tmp_path / "reg.example"
    d.mkdir()
    for name in ("ca.crt", "client.cert", "client.key", "notes.txt"):
        (d / name).write_text("x")
    found = load(tmp_path).lookup("reg.example")
    assert found is not None and found.source == "certificate files"
    (only,) = found.hosts
    assert only.host == "" and only.ca == (str(d / "ca.crt"),)
    assert only.client == ((str(d / "client.cert"), str(d / "client.key")),)


@pytest.mark.parametrize("text, words", [
    ("server = ", "malformed TOML"),
    ('server = 5', "'server' must be a string"),
    ('[host."https://m"]\n  capabilities = ["pull", "fly"]\n', "unknown capability 'fly'"),
    ('[host."https://m"]\n  skip_verify = "yes"\n', "skip_verify must be true or false"),
    ('[host."https://m"]\n  ca = 3\n', "ca must be a path"),
    ('[host."https://m"]\n  ca = "/nonexistent/ca.pem"\n', "cannot read /nonexistent/ca.pem"),
    ('[host."https://m"]\n  client = [["a"]]\n', "invalid client pair"),
    ('[host."ftp://m"]\n', "not an http(s) URL"),
    ('host = "x"\n', "'host' must be a table"),
])
def test_malformed_hosts_toml_is_an_input_error(tmp_path: Path, text: str, words: str) -> None:
    path = write(tmp_path, "reg.example", text)
    with pytest.raises(InputError) as err:
        load(tmp_path)
    assert words in str(err.value) and str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_cli_malformed_hosts_toml_is_one_line_exit_2(tmp_path: Path) -> None:
    write(tmp_path, "127.0.0.1:9", "server = [\n")
    out = subprocess.run([sys.executable, "-m", "pulldoctor", "probe", "127.0.0.1:9/a/b:v1", "--hosts-dir",
                          str(tmp_path)], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and "hosts.toml" in out.stderr and "Traceback" not in out.stderr
    out = subprocess.run([sys.executable, "-m", "pulldoctor", "probe", "127.0.0.1:9/a/b:v1", "--hosts-dir",
                          str(tmp_path / "missing")], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 2 and "not a directory" in out.stderr


# -- probing through the config ----------------------------------------------------------------------------


MANIFEST = (b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":'
            b'"application/vnd.oci.image.config.v1+json","digest":"sha256:' + b"0" * 64 + b'","size":2},'
            b'"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:' + b"1" * 64
            + b'","size":4096}]}')


def registry_app(seen: list[web.Request], *, missing: bool = False):  # type: ignore[no-untyped-def]
    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(request)
        if request.path == "/v2/":
            return web.Response(status=200)
        if missing or "/manifests/" not in request.path:
            return web.json_response({"errors": [{"code": "MANIFEST_UNKNOWN"}]}, status=404)
        headers = {"Content-Type": "application/vnd.oci.image.manifest.v1+json",
                   "Docker-Content-Digest": "sha256:" + "2" * 64}
        return web.Response(body=b"" if request.method == "HEAD" else MANIFEST, headers=headers)
    return handler


async def serve(handler, ssl_context=None):  # type: ignore[no-untyped-def]
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


def self_signed(tmp: Path, name: str) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(name))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    c, k = tmp / f"{name}.crt", tmp / f"{name}.key"
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    k.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return c, k


def tls_server_context(tmp: Path) -> tuple[object, Path]:
    import ssl

    cert, key = self_signed(tmp, "127.0.0.1")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx, cert


def test_skip_verify_and_ca_are_honoured(tmp_path: Path) -> None:
    server_ctx, cert = tls_server_context(tmp_path)

    async def main() -> tuple[object, object, object]:
        seen: list[web.Request] = []
        runner, port = await serve(registry_app(seen), server_ctx)
        host = f"127.0.0.1:{port}"
        try:
            image = f"{host}/team/app:v1"
            plain = tmp_path / "plain"
            write(plain, host, f'server = "https://{host}"\n')
            skip = tmp_path / "skip"
            write(skip, host, f'server = "https://{host}"\nskip_verify = true\n')
            trust = tmp_path / "trust"
            write(trust, host, f'server = "https://{host}"\nca = "{cert}"\n')
            results = []
            for d in (plain, skip, trust):
                results.append(await probe(image, options=ProbeOptions.build(hosts_dir=str(d), **FAST)))
            return tuple(results)  # type: ignore[return-value]
        finally:
            await runner.cleanup()

    untrusted, skipped, trusted = asyncio.run(main())  # type: ignore[misc]
    assert untrusted.cause is Cause.TLS_ERROR  # type: ignore[attr-defined]
    assert skipped.cause is None and trusted.cause is None  # type: ignore[attr-defined]
    tls_skip = next(s for s in skipped.steps if s.name == "tls")  # type: ignore[attr-defined]
    assert "NOT verified" in tls_skip.detail and "skip_verify" in tls_skip.detail
    tls_ca = next(s for s in trusted.steps if s.name == "tls")  # type: ignore[attr-defined]
    assert "hosts.toml ca" in tls_ca.detail


def test_mirror_gets_ns_headers_and_credentials_then_verdict(tmp_path: Path) -> None:
    """A mirror that lacks the tag (404), then the server that has it: pullable from the server; the mirror
    was asked with ?ns=<registry> and the [header] values, as containerd asks."""
    async def main() -> tuple[object, list[web.Request], list[web.Request]]:
        mirror_seen: list[web.Request] = []
        server_seen: list[web.Request] = []
        m_runner, m_port = await serve(registry_app(mirror_seen, missing=True))
        s_runner, s_port = await serve(registry_app(server_seen))
        try:
            registry = "registry.pulldoctor.invalid"
            write(tmp_path, registry, f'server = "http://127.0.0.1:{s_port}"\n\n'
                  f'[host."http://127.0.0.1:{m_port}"]\n  capabilities = ["pull", "resolve"]\n'
                  f'  [host."http://127.0.0.1:{m_port}".header]\n    x-mirror-token = "abc"\n')
            opts = ProbeOptions.build(hosts_dir=str(tmp_path), **FAST)
            res = await probe(f"{registry}/team/app:v1", options=opts)
            return res, mirror_seen, server_seen
        finally:
            await m_runner.cleanup()
            await s_runner.cleanup()

    res, mirror_seen, server_seen = asyncio.run(main())  # type: ignore[misc]
    assert res.cause is None, res.steps  # type: ignore[attr-defined]
    manifest_asks = [r for r in mirror_seen if "/manifests/" in r.path]
    assert manifest_asks and all(r.query.get("ns") == "registry.pulldoctor.invalid" for r in manifest_asks)
    assert all(r.headers.get("x-mirror-token") == "abc" for r in mirror_seen)
    assert server_seen and all("x-mirror-token" not in r.headers for r in server_seen)
    names = [(s.name, s.ok) for s in res.steps]  # type: ignore[attr-defined]
    assert names[1] == ("hosts", True) and ("manifest", False) in names


def test_all_hosts_missing_is_not_found_and_no_resolve_host_is_other(tmp_path: Path) -> None:
    async def main() -> tuple[object, object, object]:
        seen: list[web.Request] = []
        runner, port = await serve(registry_app(seen, missing=True))
        try:
            reg = f"127.0.0.1:{port}"
            write(tmp_path / "a", reg, f'[host."http://{reg}"]\n  capabilities = ["pull", "resolve"]\n')
            write(tmp_path / "b", reg, f'server = "http://{reg}"\ncapabilities = ["pull"]\n')
            missing = await probe(f"{reg}/team/app:v1", options=ProbeOptions.build(hosts_dir=str(tmp_path / "a"),
                                                                                   **FAST))
            by_tag = await probe(f"{reg}/team/app:v1", options=ProbeOptions.build(hosts_dir=str(tmp_path / "b"),
                                                                                  **FAST))
            by_digest = await probe(f"{reg}/team/app@sha256:{'3' * 64}",
                                    options=ProbeOptions.build(hosts_dir=str(tmp_path / "b"), **FAST))
            return missing, by_tag, by_digest
        finally:
            await runner.cleanup()

    missing, by_tag, by_digest = asyncio.run(main())  # type: ignore[misc]
    assert missing.cause in (Cause.TAG_NOT_FOUND, Cause.REPO_NOT_FOUND)  # type: ignore[attr-defined]
    assert by_tag.cause is Cause.OTHER  # type: ignore[attr-defined]
    assert "no resolve hosts" in by_tag.failed_step.detail  # type: ignore[attr-defined]
    assert by_digest.cause in (Cause.TAG_NOT_FOUND, Cause.REPO_NOT_FOUND)  # pull capability is enough


def test_credentials_go_to_the_configured_mirror_but_never_show(tmp_path: Path) -> None:
    """containerd's CRI hands the kubelet's credentials to every host of the list (ParseAuth without a
    server address); the probe does too, and the password appears nowhere in the result."""
    async def main() -> tuple[object, list[str]]:
        auths: list[str] = []

        async def basic(request: web.Request) -> web.StreamResponse:
            auths.append(request.headers.get("Authorization", ""))
            if not request.headers.get("Authorization"):
                return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="r"'})
            return web.json_response({"errors": [{"code": "MANIFEST_UNKNOWN"}]}, status=404)

        runner, port = await serve(basic)
        try:
            write(tmp_path, "registry.pulldoctor.invalid",
                  f'server = "http://127.0.0.1:{port}"\n')
            opts = ProbeOptions.build(hosts_dir=str(tmp_path), **FAST)
            res = await probe("registry.pulldoctor.invalid/a/b:v1", credentials=[Credential("alice", CANARY)],
                              options=opts)
            return res, auths
        finally:
            await runner.cleanup()

    res, auths = asyncio.run(main())  # type: ignore[misc]
    assert any(a.startswith("Basic ") for a in auths)
    assert res.credentials_sent  # type: ignore[attr-defined]
    assert CANARY not in repr(res) and CANARY not in str(res.to_json())  # type: ignore[attr-defined]


def test_ns_only_when_the_host_is_not_the_registry(tmp_path: Path) -> None:
    """containerd's isProxy: ``?ns=`` goes to a host other than the registry, never to the registry itself."""
    async def main() -> tuple[list[web.Request], list[web.Request]]:
        own: list[web.Request] = []
        other: list[web.Request] = []
        runner, port = await serve(registry_app(own))
        try:
            reg = f"127.0.0.1:{port}"
            write(tmp_path / "self", reg, f'server = "http://{reg}"\n')
            await probe(f"{reg}/team/app:v1", options=ProbeOptions.build(hosts_dir=str(tmp_path / "self"), **FAST))
            write(tmp_path / "alias", "alias.pulldoctor.invalid", f'server = "http://{reg}"\n')
            other_opts = ProbeOptions.build(hosts_dir=str(tmp_path / "alias"), **FAST)
            before = len(own)
            await probe("alias.pulldoctor.invalid/team/app:v1", options=other_opts)
            other.extend(own[before:])
            del own[before:]
            return own, other
        finally:
            await runner.cleanup()

    own, other = asyncio.run(main())
    assert own and all("ns" not in r.query for r in own)
    manifest_asks = [r for r in other if "/manifests/" in r.path]
    assert manifest_asks and all(r.query.get("ns") == "alias.pulldoctor.invalid" for r in manifest_asks)


def test_server_only_hosts_toml_is_followed_but_flagged(tmp_path: Path) -> None:
    """containerd 1.6.20 (the lab's) ignores a hosts.toml without a [host] table ("invalid `host` tree") and
    falls back to its defaults; newer versions follow it. The probe follows the documented meaning and says
    so in its hosts step, so a reader of a 1.6 node is not misled."""
    write(tmp_path, "reg.pulldoctor.invalid", 'server = "https://mirror.pulldoctor.invalid"\n')
    write(tmp_path, "other.example", 'server = "https://mirror.pulldoctor.invalid"\n[host]\n')
    hd = load(tmp_path)
    assert hd.lookup("reg.pulldoctor.invalid").no_host_tree  # type: ignore[union-attr]
    assert not hd.lookup("other.example").no_host_tree  # type: ignore[union-attr]
    res = asyncio.run(probe("reg.pulldoctor.invalid/a/b:v1", options=ProbeOptions.build(hosts_dir=str(tmp_path), **FAST)))
    hosts_step = next(s for s in res.steps if s.name == "hosts")
    assert "invalid `host` tree" in hosts_step.detail and "https://mirror.pulldoctor.invalid" in hosts_step.detail
