"""The registry client against small hostile servers on 127.0.0.1: every misbehaviour gets a classified
answer within the timeouts, never a hang, a crash or a leaked credential.

Each test runs the server and the probe in one event loop (``asyncio.run``), so nothing outlives it.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import importlib
import ipaddress
import json
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from helpers import FAST
from pulldoctor.causes import Cause
from pulldoctor.keyring import Credential
from pulldoctor.registry import ProbeOptions, ProbeRequest, probe, probe_many

# The module that decides where credentials may go (its is_loopback_host is patched below).
session_module = importlib.import_module("pulldoctor.registry.session")

CANARY = "CANARY-pw-7f3a9c"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def run(coro: Awaitable[object]) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def start_app(handler: Handler, ssl_context: ssl.SSLContext | None = None) -> tuple[web.AppRunner, int]:
    """An aiohttp.web app answering every path with ``handler``; returns the runner and its port."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, port


async def start_raw(on_request: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]) -> tuple[asyncio.Server, int]:
    """A raw TCP server for answers no HTTP framework would send."""
    server = await asyncio.start_server(on_request, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def config_and_manifest(arch: str = "amd64") -> tuple[bytes, str, bytes, str]:
    config = json.dumps({"os": "linux", "architecture": arch}).encode()
    cdig = "sha256:" + hashlib.sha256(config).hexdigest()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdig, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + "1" * 64, "size": 1234}],
        }
    ).encode()
    return config, cdig, manifest, "sha256:" + hashlib.sha256(manifest).hexdigest()


# -- stalls, lies, garbage ---------------------------------------------------------------------------------


def test_stalled_registry_times_out_as_pull_timeout() -> None:
    async def main() -> tuple[object, float]:
        async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(30)

        server, port = await start_raw(stall)
        try:
            t = time.monotonic()
            res = await probe(f"127.0.0.1:{port}/a/b:v1", options=ProbeOptions(**FAST))
            return res, time.monotonic() - t
        finally:
            server.close()

    res, elapsed = run(main())  # type: ignore[misc]
    assert res.cause is Cause.PULL_TIMEOUT_OR_PROGRESS_DEADLINE
    assert elapsed < 5
    assert "within 1.5 s" in res.failed_step.detail


def test_garbage_status_line_is_a_server_error_not_a_crash() -> None:
    async def main() -> object:
        async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"\x00\xffHELLO THERE\r\n\r\n" * 10)
            await writer.drain()
            writer.close()

        server, port = await start_raw(garbage)
        try:
            return await probe(f"127.0.0.1:{port}/a/b:v1", options=ProbeOptions(**FAST))
        finally:
            server.close()

    res = run(main())
    assert res.cause is Cause.REGISTRY_SERVER_ERROR
    assert res.failed_step.name == "manifest"


def _manifest_server(body_for_get: Callable[[], Awaitable[bytes]] | None = None, *, lie: bytes | None = None) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """HEAD of the manifest answers 200 with a digest; the GET answers whatever the test wants."""
    _config, _cdig, _manifest, digest = config_and_manifest()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if head.startswith(b"HEAD "):
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: " + OCI_MANIFEST.encode()
                        + b"\r\nDocker-Content-Digest: " + digest.encode() + b"\r\nContent-Length: 10\r\n\r\n"
                    )
                    await writer.drain()
                    continue
                if lie is not None:
                    writer.write(lie)
                    await writer.drain()
                    writer.close()
                    return
                assert body_for_get is not None
                body = await body_for_get()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: " + OCI_MANIFEST.encode() + b"\r\n")
                writer.write(b"Content-Length: %d\r\n\r\n" % len(body))
                for i in range(0, len(body), 65536):
                    writer.write(body[i : i + 65536])
                    await writer.drain()
                writer.close()
                return
        except (asyncio.IncompleteReadError, ConnectionError):
            return

    return handle


def test_content_length_lie_is_a_server_error() -> None:
    lie = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"schemaVersion\":"

    async def main() -> object:
        server, port = await start_raw(_manifest_server(lie=lie))
        try:
            return await probe(f"127.0.0.1:{port}/a/b:v1", options=ProbeOptions(**FAST))
        finally:
            server.close()

    res = run(main())
    assert res.cause is Cause.REGISTRY_SERVER_ERROR
    assert res.failed_step.name == "platform"
    assert "cut short" in res.failed_step.detail


def test_ten_megabytes_of_garbage_is_capped() -> None:
    async def ten_mb() -> bytes:
        return b"x" * (10 * 1024 * 1024)

    async def main() -> tuple[object, float]:
        server, port = await start_raw(_manifest_server(ten_mb))
        try:
            t = time.monotonic()
            res = await probe(f"127.0.0.1:{port}/a/b:v1", options=ProbeOptions(manifest_cap=256 * 1024, **FAST))
            return res, time.monotonic() - t
        finally:
            server.close()

    res, elapsed = run(main())  # type: ignore[misc]
    assert res.cause is Cause.REGISTRY_SERVER_ERROR
    assert "larger than 262144 bytes" in res.failed_step.detail
    assert elapsed < 5


def test_invalid_json_manifest_is_a_server_error() -> None:
    async def junk() -> bytes:
        return b"{not json at all"

    async def main() -> object:
        server, port = await start_raw(_manifest_server(junk))
        try:
            return await probe(f"127.0.0.1:{port}/a/b:v1", options=ProbeOptions(**FAST))
        finally:
            server.close()

    res = run(main())
    assert res.cause is Cause.REGISTRY_SERVER_ERROR
    assert "not a JSON object" in res.failed_step.detail


def test_redirect_loop_is_bounded() -> None:
    seen: list[str] = []

    async def loop(request: web.Request) -> web.StreamResponse:
        seen.append(request.path)
        raise web.HTTPTemporaryRedirect(location=f"/v2/a/b/manifests/hop{len(seen)}")

    async def main() -> object:
        runner, port = await start_app(loop)
        try:
            return await probe(f"127.0.0.1:{port}/a/b:v1", options=ProbeOptions(max_redirects=4, **FAST))
        finally:
            await runner.cleanup()

    res = run(main())
    assert res.cause is Cause.REGISTRY_SERVER_ERROR
    assert "more than 4 redirects" in res.failed_step.detail
    assert len(seen) == 5


# -- where credentials go -------------------------------------------------------------------------------------


def test_credentials_dropped_on_cross_host_redirect() -> None:
    """Basic credentials reach the registry, never the host it redirects the manifest to."""
    config, cdig, manifest, digest = config_and_manifest()
    other_saw: list[str | None] = []
    registry_saw: list[str | None] = []

    async def other(request: web.Request) -> web.StreamResponse:
        other_saw.append(request.headers.get("Authorization"))
        body = config if request.path.endswith(cdig) else manifest
        return web.Response(body=body, headers={"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": digest})

    async def main() -> object:
        other_runner, other_port = await start_app(other)

        async def registry(request: web.Request) -> web.StreamResponse:
            registry_saw.append(request.headers.get("Authorization"))
            if request.headers.get("Authorization") != Credential("alice", CANARY).basic_auth():
                return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="r"'})
            # localhost vs 127.0.0.1: another origin, like a registry redirecting to its storage.
            raise web.HTTPTemporaryRedirect(location=f"http://localhost:{other_port}{request.path}")

        runner, port = await start_app(registry)
        try:
            return await probe(
                f"127.0.0.1:{port}/a/b:v1", credentials=[Credential("alice", CANARY)], options=ProbeOptions(**FAST)
            )
        finally:
            await runner.cleanup()
            await other_runner.cleanup()

    res = run(main())
    assert res.cause is None, res.steps
    assert res.credentials_sent
    assert other_saw and all(h is None for h in other_saw)
    assert any(h and h.startswith("Basic ") for h in registry_saw)


def _bearer_servers(token_requests: list[dict[str, str]], *, realm_host: str = "127.0.0.1") -> Callable[[], Awaitable[tuple[list[web.AppRunner], int]]]:
    """A registry whose Bearer realm lives on another port; the realm gives a token only to alice."""
    config, cdig, manifest, digest = config_and_manifest()
    good = Credential("alice", CANARY).basic_auth()

    async def realm(request: web.Request) -> web.StreamResponse:
        token_requests.append({"auth": request.headers.get("Authorization") or "", **request.query})
        if request.headers.get("Authorization") == good:
            return web.json_response({"access_token": "tok-alice", "expires_in": 300})
        return web.json_response({"details": "incorrect username or password"}, status=401)

    async def setup() -> tuple[list[web.AppRunner], int]:
        realm_runner, realm_port = await start_app(realm)
        challenge = f'Bearer realm="http://{realm_host}:{realm_port}/token",service="hostile.test"'

        async def registry(request: web.Request) -> web.StreamResponse:
            if request.headers.get("Authorization") != "Bearer tok-alice":
                return web.Response(status=401, headers={"WWW-Authenticate": challenge + ',scope="repository:a/b:pull"'})
            if request.path.endswith(cdig):
                return web.Response(body=config)
            return web.Response(body=manifest, headers={"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": digest})

        runner, port = await start_app(registry)
        return [runner, realm_runner], port

    return setup


def test_token_realm_on_another_host_gets_credentials_once_for_many_probes() -> None:
    token_requests: list[dict[str, str]] = []
    setup = _bearer_servers(token_requests)

    async def main() -> list[object]:
        runners, port = await setup()
        try:
            reqs = [ProbeRequest(f"127.0.0.1:{port}/a/b:v{i}", (Credential("alice", CANARY),)) for i in range(20)]
            reqs += [ProbeRequest(f"127.0.0.1:{port}/a/b:v0", (Credential("alice", CANARY),))]  # duplicate
            return await probe_many(reqs, ProbeOptions(**FAST))
        finally:
            for r in runners:
                await r.cleanup()

    results = run(main())
    assert [r.cause for r in results] == [None] * 21  # type: ignore[attr-defined]
    assert len(token_requests) == 1, token_requests  # single flight, cached per (realm, service, scope, credential)
    assert token_requests[0]["auth"].startswith("Basic ")
    assert token_requests[0]["scope"] == "repository:a/b:pull"
    assert token_requests[0]["service"] == "hostile.test"


def test_credentials_tried_in_order_like_the_kubelet() -> None:
    token_requests: list[dict[str, str]] = []
    setup = _bearer_servers(token_requests)

    async def main() -> object:
        runners, port = await setup()
        try:
            creds = [Credential("bob", "wrong-password"), Credential("alice", CANARY)]
            return await probe(f"127.0.0.1:{port}/a/b:v1", credentials=creds, options=ProbeOptions(**FAST))
        finally:
            for r in runners:
                await r.cleanup()

    res = run(main())
    assert res.cause is None
    assert res.credential is not None and "alice" in res.credential
    texts = [s.detail for s in res.steps if s.name == "auth"]
    assert any("[user bob" in t and "401" in t for t in texts)
    assert any("[user alice" in t for t in texts)


def test_wrong_credentials_at_the_realm_are_auth_invalid_and_anonymous_is_auth_missing() -> None:
    token_requests: list[dict[str, str]] = []
    setup = _bearer_servers(token_requests)

    async def main() -> tuple[object, object]:
        runners, port = await setup()
        try:
            wrong = await probe(f"127.0.0.1:{port}/a/b:v1", credentials=[Credential("bob", "nope")], options=ProbeOptions(**FAST))
            anon = await probe(f"127.0.0.1:{port}/a/b:v1", options=ProbeOptions(**FAST))
            return wrong, anon
        finally:
            for r in runners:
                await r.cleanup()

    wrong, anon = run(main())  # type: ignore[misc]
    assert wrong.cause is Cause.AUTH_INVALID and wrong.credentials_sent
    assert anon.cause is Cause.AUTH_MISSING and not anon.credentials_sent


def test_credentials_never_sent_to_a_plain_http_realm_of_an_https_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry is HTTPS; its realm is plain HTTP on a host that is not (treated as) loopback."""
    cert, key = _self_signed(tmp_path, "127.0.0.1")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    token_requests: list[dict[str, str]] = []

    async def realm(request: web.Request) -> web.StreamResponse:
        token_requests.append({"auth": request.headers.get("Authorization") or ""})
        return web.json_response({"details": "no"}, status=401)

    real_is_loopback = session_module.is_loopback_host
    monkeypatch.setattr(session_module, "is_loopback_host", lambda h: False if h.startswith("localhost") else real_is_loopback(h))

    async def main() -> object:
        realm_runner, realm_port = await start_app(realm)

        async def registry(request: web.Request) -> web.StreamResponse:
            return web.Response(status=401, headers={"WWW-Authenticate": f'Bearer realm="http://localhost:{realm_port}/t",service="s"'})

        runner, port = await start_app(registry, server_ctx)
        try:
            opts = ProbeOptions.build(https_registries=[f"127.0.0.1:{port}"], ca_file=str(cert), **FAST)
            return await probe(f"127.0.0.1:{port}/a/b:v1", credentials=[Credential("alice", CANARY)], options=opts)
        finally:
            await runner.cleanup()
            await realm_runner.cleanup()

    res = run(main())
    assert token_requests and all(t["auth"] == "" for t in token_requests)
    assert not res.credentials_sent
    assert "credentials withheld" in " ".join(s.detail for s in res.steps)


# -- TLS and scheme -----------------------------------------------------------------------------------------


def _self_signed(tmp: Path, name: str) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    try:
        san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        san = x509.DNSName(name)
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / f"{name}.crt", tmp / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_untrusted_certificate_is_shown_and_ca_file_fixes_it(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path, "127.0.0.1")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    config, cdig, manifest, digest = config_and_manifest()

    async def registry(request: web.Request) -> web.StreamResponse:
        body = config if request.path.endswith(cdig) else manifest
        return web.Response(body=body, headers={"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": digest})

    async def main() -> tuple[object, object]:
        runner, port = await start_app(registry, server_ctx)
        try:
            host = f"127.0.0.1:{port}"
            bad = await probe(f"{host}/a/b:v1", options=ProbeOptions.build(https_registries=[host], **FAST))
            good = await probe(f"{host}/a/b:v1", options=ProbeOptions.build(https_registries=[host], ca_file=str(cert), **FAST))
            return bad, good
        finally:
            await runner.cleanup()

    bad, good = run(main())  # type: ignore[misc]
    assert bad.cause is Cause.TLS_ERROR
    detail = bad.failed_step.detail
    assert "self-signed" in detail and "CN=127.0.0.1" in detail and "SANs 127.0.0.1" in detail and "--ca-file" in detail
    assert good.cause is None, good.steps
    assert "through --ca-file" in next(s.detail for s in good.steps if s.name == "tls")


def test_https_client_to_plain_http_server_is_http_vs_https() -> None:
    async def registry(request: web.Request) -> web.StreamResponse:
        return web.json_response({})

    async def main() -> object:
        runner, port = await start_app(registry)
        try:
            host = f"127.0.0.1:{port}"
            return await probe(f"{host}/a/b:v1", options=ProbeOptions.build(https_registries=[host], **FAST))
        finally:
            await runner.cleanup()

    res = run(main())
    assert res.cause is Cause.HTTP_VS_HTTPS
    assert "speaks plain HTTP" in res.failed_step.detail


def test_plain_http_to_a_tls_port_is_http_vs_https(tmp_path: Path) -> None:
    """A TLS server that is not nginx (no friendly 400): the connection just breaks."""
    cert, key = _self_signed(tmp_path, "127.0.0.1")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)

    async def registry(request: web.Request) -> web.StreamResponse:
        return web.json_response({})

    async def main() -> object:
        runner, port = await start_app(registry, server_ctx)
        try:
            return await probe(f"127.0.0.1:{port}/a/b:v1", options=ProbeOptions(**FAST))
        finally:
            await runner.cleanup()

    res = run(main())
    assert res.cause is Cause.HTTP_VS_HTTPS
    assert res.failed_step.name == "scheme"


# -- tags: pagination and caps ----------------------------------------------------------------------------------


def test_tags_pagination_is_followed_and_bounded() -> None:
    pages: list[str] = []

    async def registry(request: web.Request) -> web.StreamResponse:
        if "/manifests/" in request.path:
            return web.Response(status=404)
        pages.append(request.query_string)
        n = len(pages)
        # An endless registry: every page links to another one.
        link = f'</v2/a/b/tags/list?last=t{n}&n=2>; rel="next"'
        return web.json_response({"name": "a/b", "tags": [f"1.{n}.0", f"other{n}"]}, headers={"Link": link})

    async def main() -> object:
        runner, port = await start_app(registry)
        try:
            return await probe(f"127.0.0.1:{port}/a/b:1.3.1", options=ProbeOptions(tags_max_pages=6, **FAST))
        finally:
            await runner.cleanup()

    res = run(main())
    assert res.cause is Cause.TAG_NOT_FOUND
    assert len(pages) == 6
    assert res.suggestions[:2] == ["1.3.0", "1.4.0"]
    assert "listing capped" in res.failed_step.detail


def test_canary_never_in_results_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    token_requests: list[dict[str, str]] = []
    setup = _bearer_servers(token_requests)
    caplog.set_level(logging.DEBUG)

    async def main() -> list[object]:
        runners, port = await setup()
        try:
            creds = (Credential("bob", CANARY + "-x"), Credential("alice", CANARY))
            reqs = [ProbeRequest(f"127.0.0.1:{port}/a/b:v1", creds), ProbeRequest(f"127.0.0.1:{port}/a/b:v1", creds[:1])]
            return await probe_many(reqs, ProbeOptions(**FAST))
        finally:
            for r in runners:
                await r.cleanup()

    results = run(main())
    from pulldoctor.commands.probe import render_text

    blob = "".join(json.dumps(r.to_json()) + render_text(r) + repr(r) for r in results)  # type: ignore[attr-defined]
    assert results[0].cause is None and results[1].cause is Cause.AUTH_INVALID  # type: ignore[attr-defined]
    assert CANARY not in blob
    assert CANARY not in caplog.text


def test_unreachable_token_realm_is_a_network_cause_not_an_auth_one() -> None:
    async def registry(request: web.Request) -> web.StreamResponse:
        return web.Response(status=401, headers={"WWW-Authenticate": 'Bearer realm="http://realm.pulldoctor.invalid/t",service="s"'})

    async def main() -> object:
        runner, port = await start_app(registry)
        try:
            return await probe(f"127.0.0.1:{port}/a/b:v1", options=ProbeOptions(**FAST))
        finally:
            await runner.cleanup()

    res = run(main())
    assert res.cause is Cause.DNS_FAILURE
    assert "realm.pulldoctor.invalid" in res.failed_step.detail


def test_a_slow_endless_registry_hits_the_probe_deadline() -> None:
    """Each answer comes in time, but tag pages never end: the per-probe deadline stops it."""
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.2)
        if "/manifests/" in request.path:
            return web.Response(status=404)
        return web.json_response({"tags": ["x"]}, headers={"Link": '</v2/a/b/tags/list?last=x>; rel="next"'})

    async def main() -> tuple[object, float]:
        runner, port = await start_app(slow)
        try:
            t = time.monotonic()
            opts = ProbeOptions(probe_timeout=1.0, tags_max_pages=1000, **FAST)
            return await probe(f"127.0.0.1:{port}/a/b:v1", options=opts), time.monotonic() - t
        finally:
            await runner.cleanup()

    res, elapsed = run(main())  # type: ignore[misc]
    assert res.cause is Cause.PULL_TIMEOUT_OR_PROGRESS_DEADLINE
    assert res.failed_step.name == "deadline"
    assert any(s.name == "manifest" for s in res.steps)  # the steps taken before the deadline are kept
    assert elapsed < 3


def test_probe_many_reports_a_bad_platform_per_request() -> None:
    results = run(probe_many([ProbeRequest("127.0.0.1:9/a:v1", platform="linux")], ProbeOptions(**FAST)))
    assert results[0].cause is Cause.OTHER and results[0].steps[0].name == "platform"  # type: ignore[index]


# -- generated: JSON nested too deeply to read, wherever the client reads JSON ------------------------------
#
# json.loads raised RecursionError, which escaped as cause ``other`` ("internal error in the probe"): a
# registry that answers so is broken or hostile, and the finding must say so (registry_server_error).

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

DEEP_PLACES = ["manifest", "config", "tags", "tags404", "error403", "token", "token401"]


def _deep(depth: int, brackets: str, wrapper: str) -> bytes:
    opening, closing = ("[" * depth, "]" * depth) if brackets == "[" else ('{"a":' * depth, "}" * depth)
    inner = opening + "1" + closing
    return (inner if wrapper == "top" else json.dumps({wrapper: "HOLE"}).replace('"HOLE"', inner)).encode()


def _deep_registry(place: str, body: bytes) -> Handler:
    """A registry answering well everywhere but at ``place``, where it sends ``body``."""
    config, cdig, manifest, digest = config_and_manifest()
    deep = web.Response(body=body, content_type="application/json")

    async def handle(request: web.Request) -> web.StreamResponse:
        path = request.path
        if path == "/token":
            if place == "token":
                return deep
            if place == "token401":
                return web.Response(status=401, body=body, content_type="application/json")
            return web.json_response({"token": "tok"})
        if place.startswith("token") and request.headers.get("Authorization") != "Bearer tok":
            realm = f"http://{request.host}/token"
            return web.Response(status=401, headers={"WWW-Authenticate": f'Bearer realm="{realm}",service="s"'})
        if "/manifests/" in path:
            if place.startswith("tags"):
                return web.Response(status=404)
            if place == "error403":
                return web.Response(status=403, body=None if request.method == "HEAD" else body,
                                    content_type="application/json")
            if place == "manifest" and request.method == "GET":
                return web.Response(body=body, headers={"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": digest})
            return web.Response(body=manifest, headers={"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": digest})
        if path.endswith(cdig):
            return deep if place == "config" else web.Response(body=config)
        if path.endswith("/tags/list"):
            return web.Response(status=404 if place == "tags404" else 200, body=body, content_type="application/json")
        return web.Response(status=404)

    return handle


@settings(max_examples=40, deadline=None, database=None)
@given(st.sampled_from(DEEP_PLACES), st.sampled_from([5_000, 10_000, 100_000]), st.sampled_from(["[", "{"]),
       st.sampled_from(["top", "errors", "tags", "token", "manifests"]))
def test_generated_deeply_nested_json_is_a_registry_server_error(place: str, depth: int, brackets: str,
                                                                 wrapper: str) -> None:
    """Depths that fit the body caps (64 KiB for error bodies, tokens and configs; a longer body is cut,
    quoted in part and never parsed), and 100,000 for manifests and tag lists (4 and 1 MiB). At least 5,000:
    Hypothesis raises the recursion limit while it runs a test (to about 2,000)."""
    if depth == 100_000 and place not in ("manifest", "tags"):
        depth = 10_000

    async def main() -> object:
        runner, port = await start_app(_deep_registry(place, _deep(depth, brackets, wrapper)))
        try:
            return await probe(f"127.0.0.1:{port}/a/b:v1", options=ProbeOptions(**FAST))
        finally:
            await runner.cleanup()

    res = run(main())
    details = " | ".join(s.detail for s in res.steps)  # type: ignore[attr-defined]
    assert "internal error" not in details, details
    assert res.cause is Cause.REGISTRY_SERVER_ERROR, (res.cause, details)  # type: ignore[attr-defined]
    assert "nested too deeply" in res.failed_step.detail, details  # type: ignore[attr-defined]
