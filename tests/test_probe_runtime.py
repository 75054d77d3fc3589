"""The probe follows the node's runtime: containerd 1.6 vs 1.7+/2.x vs CRI-O scheme rules, on the real lab.

containerd 1.7+ tries HTTPS first for a plain-HTTP (loopback) host once TLS is configured for it and its port is
not 80, and falls back to HTTP only when the server answers in plain HTTP (hosts.go, resolver.go isTLSError);
1.6 stays on HTTP. CRI-O (containers/image) gives loopback no special treatment.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest

from helpers import assert_one_line_error, cli
from lab import Lab
from pulldoctor.causes import Cause
from pulldoctor.errors import UsageError
from pulldoctor.registry import ProbeOptions, probe, probe_sync
from pulldoctor.runtime import NEWEST, Runtime, parse_runtime, runtime_option


@pytest.mark.parametrize(("text", "expected"), [
    ("containerd://1.6.20", Runtime("containerd", (1, 6, 20))),
    ("containerd://v2.1.4", Runtime("containerd", (2, 1, 4))),
    ("cri-o://1.33.0", Runtime("cri-o", (1, 33, 0))),
    ("CRI-O://1.32", Runtime("cri-o", (1, 32, 0))),
    ("docker://24.0.7", Runtime("docker", (24, 0, 7))),
    ("rkt://1.0.0", None), ("containerd", None), ("", None), (None, None),
])
def test_parse_runtime(text: str | None, expected: Runtime | None) -> None:
    assert parse_runtime(text) == expected


def test_semantics_per_version() -> None:
    old, new, crio = (parse_runtime(t) for t in ("containerd://1.6.20", "containerd://1.7.0", "cri-o://1.33.0"))
    assert old and new and crio
    assert not old.https_first_when_tls_configured and new.https_first_when_tls_configured
    assert old.loopback_is_plain_http and not crio.loopback_is_plain_http and crio.insecure_tries_https_first
    assert NEWEST.rejects_schema1 and not new.rejects_schema1


def test_bad_runtime_is_a_usage_error_and_one_line() -> None:
    with pytest.raises(UsageError, match="containerd://VERSION"):
        runtime_option("gvisor")
    assert_one_line_error(cli("probe", "localhost:5000/a:b", "--runtime", "nonsense\x1b[2J"), "--runtime")


pytestmark_lab = pytest.mark.lab


def _probe(image: str, **kw: object) -> object:
    return probe_sync(image, options=ProbeOptions.build(request_timeout=5.0, connect_timeout=3.0, **kw))  # type: ignore[arg-type]


@pytestmark_lab
def test_loopback_tls_port_with_a_ca_answers_by_runtime(lab: Lab) -> None:
    """The issue's case: a TLS registry on localhost, --ca-file of a CA that did not sign its certificate."""
    pushed = lab.push(lab.nginx_tls, lab.fresh_repo("rt"), "v1")
    image = pushed.ref.replace("127.0.0.1", "localhost")
    other_ca = str(lab.expired_ca_cert)
    newest = _probe(image, ca_file=other_ca)
    assert newest.cause is Cause.TLS_ERROR  # type: ignore[attr-defined]
    assert any(s.name == "scheme" and "HTTPS first" in s.detail for s in newest.steps)  # type: ignore[attr-defined]
    assert _probe(image, ca_file=other_ca, runtime="containerd://1.6.20").cause is Cause.HTTP_VS_HTTPS  # type: ignore[attr-defined]
    assert _probe(image, ca_file=str(lab.ca_cert)).cause is None  # type: ignore[attr-defined]  # the right CA


@pytestmark_lab
def test_plain_http_loopback_with_a_ca_falls_back_to_http(lab: Lab) -> None:
    pushed = lab.push(lab.open_registry, lab.fresh_repo("rt"), "v1")
    res = _probe(pushed.ref, ca_file=str(lab.ca_cert))
    assert res.cause is None, res  # type: ignore[attr-defined]
    details = [s.detail for s in res.steps if s.name == "scheme"]  # type: ignore[attr-defined]
    assert any("falls back to HTTP" in d for d in details), details


@pytestmark_lab
def test_crio_gives_loopback_no_plain_http(lab: Lab) -> None:
    pushed = lab.push(lab.open_registry, lab.fresh_repo("rt"), "v1")
    assert _probe(pushed.ref).cause is None  # type: ignore[attr-defined]  # containerd: loopback is HTTP
    assert _probe(pushed.ref, runtime="cri-o://1.33.0").cause is Cause.HTTP_VS_HTTPS  # type: ignore[attr-defined]
    insecure = _probe(pushed.ref, runtime="cri-o://1.33.0", insecure_registries=[pushed.registry])
    assert insecure.cause is None  # type: ignore[attr-defined]  # insecure: HTTPS unverified, then HTTP


@pytestmark_lab
def test_hosts_toml_http_server_with_tls_config_is_tried_over_https(lab: Lab, tmp_path: Path) -> None:
    repo = lab.fresh_repo("rt")
    lab.push(lab.open_registry, repo, "v1")
    tls_host = f"localhost:{lab.nginx_tls.rpartition(':')[2]}"
    d = tmp_path / "certs.d" / tls_host
    d.mkdir(parents=True)
    (d / "hosts.toml").write_text(f'server = "http://{tls_host}"\n\n[host."http://{tls_host}"]\n'
                                  f'  capabilities = ["pull", "resolve"]\n  ca = "{lab.expired_ca_cert}"\n')
    image = f"{tls_host}/{repo}:v1"
    newest = _probe(image, hosts_dir=str(tmp_path / "certs.d"))
    assert newest.cause is Cause.TLS_ERROR, newest  # type: ignore[attr-defined]
    old = _probe(image, hosts_dir=str(tmp_path / "certs.d"), runtime="containerd://1.6.20")
    assert old.cause is Cause.HTTP_VS_HTTPS, old  # type: ignore[attr-defined]


@pytestmark_lab
def test_probe_cli_takes_runtime(lab: Lab) -> None:
    pushed = lab.push(lab.open_registry, lab.fresh_repo("rt"), "v1")
    r = cli("probe", pushed.ref, "--runtime", "cri-o://1.33.0", "-o", "json")
    assert r.returncode == 1 and '"http_vs_https"' in r.stdout, (r.returncode, r.stdout[-500:], r.stderr[-500:])


@pytestmark_lab
def test_diagnose_probes_with_each_nodes_runtime(lab: Lab, tmp_path: Path) -> None:
    """One loopback plain-HTTP image, failing on a containerd node and on a CRI-O node: each finding's probe
    follows its node's runtime (containerd pulls it over HTTP; CRI-O would use HTTPS and fail)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
    import kubelet_objects as k

    pushed = lab.push(lab.open_registry, lab.fresh_repo("rt"), "v1")
    msg = f'Failed to pull image "{pushed.ref}": http: server gave HTTP response to HTTPS client'
    objects = [
        k.node("node-containerd", runtime="containerd://2.1.4"), k.node("node-crio", runtime="cri-o://1.33.0"),
        k.pod("shop", "a-1", "app", pushed.ref, reason="ErrImagePull", message=msg, node="node-containerd"),
        k.pod("shop", "b-1", "app", pushed.ref, reason="ErrImagePull", message=msg, node="node-crio"),
    ]
    (tmp_path / "c.json").write_text(json.dumps(k.as_list(objects)))
    r = cli("diagnose", "--from", str(tmp_path / "c.json"), "-A", "-o", "json", timeout=120)
    assert r.returncode == 1, r.stderr[-2000:]
    by_pod = {f["pod"]: f for f in json.loads(r.stdout)["findings"]}
    assert set(by_pod) == {"a-1", "b-1"}
    probe_lines = {p: [e for e in f["evidence"] if e.get("source") == "probe"] for p, f in by_pod.items()}
    assert by_pod["b-1"]["cause"] == "http_vs_https"
    assert "resolves now" in probe_lines["a-1"][0]["text"], probe_lines  # containerd: loopback over HTTP
    assert "speaks plain HTTP" in probe_lines["b-1"][0]["text"], probe_lines  # CRI-O: HTTPS, refused


def _schema1_registry() -> object:
    """A registry whose only manifest for the tag is Docker schema 1 (an image never re-pushed since ~2017).
    docker-registry 2.8 refuses schema 1 pushes, so a small aiohttp registry serves it over the real wire."""
    from aiohttp import web

    body = json.dumps({"schemaVersion": 1, "name": "old/app", "tag": "v1", "architecture": "amd64",
                       "fsLayers": [], "history": []}).encode()

    digest = "sha256:" + hashlib.sha256(body).hexdigest()

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.path == "/v2/":
            return web.Response(status=200)
        if request.path in ("/v2/old/app/manifests/v1", f"/v2/old/app/manifests/{digest}"):
            headers = {"Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws",
                       "Docker-Content-Digest": digest}
            return web.Response(body=None if request.method == "HEAD" else body, headers=headers)
        return web.Response(status=404)

    return handler


def test_schema1_manifest_is_refused_from_containerd_2() -> None:
    async def main() -> tuple[object, object]:
        from aiohttp import web

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", _schema1_registry())  # type: ignore[arg-type]
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            image = f"127.0.0.1:{port}/old/app:v1"
            new = await probe(image, options=ProbeOptions.build(request_timeout=5.0))
            old = await probe(image, options=ProbeOptions.build(request_timeout=5.0, runtime="containerd://1.7.24"))
            return new, old
        finally:
            await runner.cleanup()

    new, old = asyncio.run(main())
    assert new.cause is Cause.UNSUPPORTED_MANIFEST, new  # type: ignore[attr-defined]
    assert "schema 1" in new.failed_step.detail  # type: ignore[attr-defined]
    assert old.cause is None, old  # type: ignore[attr-defined]


def test_classifier_knows_containerd_2s_schema1_refusal() -> None:
    from pulldoctor.messages import classify

    img = "registry.example.com/old/app:v1"
    # containerd v2.0 core/remotes/docker resolver's wording (schema 1 support removed in v2.0)
    msg = (f'Failed to pull image "{img}": failed to pull and unpack image "{img}": failed to resolve reference '
           f'"{img}": not implemented: media type "application/vnd.docker.distribution.manifest.v1+prettyjws" '
           'is no longer supported since containerd v2.0, please rebuild the image as '
           '"application/vnd.docker.distribution.manifest.v2+json" or "application/vnd.oci.image.manifest.v1+json"')
    got = classify(msg)
    assert got.cause is Cause.UNSUPPORTED_MANIFEST and got.fields["runtime"] == "containerd"


def test_diagnose_names_schema1_with_a_fix_that_keeps_the_old_tag(tmp_path: Path) -> None:
    """A containerd 2.1 node's message, offline: the manifest family's verdict and a paste-safe fix."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
    import kubelet_objects as k

    img = "registry.example.invalid/old/app:v1"
    msg = (f'Failed to pull image "{img}": failed to pull and unpack image "{img}": failed to resolve reference '
           f'"{img}": not implemented: media type "application/vnd.docker.distribution.manifest.v1+prettyjws" '
           "is no longer supported since containerd v2.0")
    objects = [k.node("n1", runtime="containerd://2.1.4"),
               k.pod("shop", "old-1", "app", img, reason="ErrImagePull", message=msg, node="n1")]
    (tmp_path / "c.json").write_text(json.dumps(k.as_list(objects)))
    r = cli("diagnose", "--from", str(tmp_path / "c.json"), "-A", "--no-probe", "-o", "json")
    assert r.returncode == 1, r.stderr[-1000:]
    f = json.loads(r.stdout)["findings"][0]
    assert f["cause"] == "unsupported_manifest" and f["confidence"] == "likely"
    commands = [c for step in f["fixes"] for c in step["commands"]]
    assert any(c.startswith("skopeo copy --format oci") and ":NEW_TAG" in c for c in commands), commands
    assert not any(c.endswith(f"docker://{img}") for c in commands)  # never overwrites the tag it read
