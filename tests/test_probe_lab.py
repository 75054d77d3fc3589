"""``probe`` against the lab's real docker-registry and nginx: every outcome, and how many requests each
probe costs, counted from nginx's access log (a probe must stay cheap: it runs for every failing image).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import http.client
import json
import time
from pathlib import Path

import pytest

from helpers import LAB_FAST as FAST
from helpers import cli as _cli
from lab import Lab
from pulldoctor.causes import Cause
from pulldoctor.keyring import Credential
from pulldoctor.registry import ProbeOptions, ProbeRequest, ProbeResult, probe_many, probe_sync

pytestmark = pytest.mark.lab


def _settled_requests(lab: Lab, prefix: str, before: int) -> list[tuple[str, str, int]]:
    """nginx logs a request just after answering it: wait (bounded) until the count stops moving."""
    rows = lab.nginx_requests()[before:]
    for _ in range(20):
        time.sleep(0.03)
        again = lab.nginx_requests()[before:]
        if len(again) == len(rows):
            break
        rows = again
    return [r for r in rows if r[1].startswith(prefix)]


def counted(lab: Lab, image: str, prefix: str, **kw: object) -> tuple[ProbeResult, list[tuple[str, str, int]]]:
    before = len(lab.nginx_requests())
    options = kw.pop("options", None) or ProbeOptions(**FAST)
    res = probe_sync(image, options=options, **kw)  # type: ignore[arg-type]
    return res, _settled_requests(lab, prefix, before)


def _get(registry: str, path: str) -> bytes:
    conn = http.client.HTTPConnection(*registry.rsplit(":", 1), timeout=10)
    try:
        conn.request("GET", path, headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        return conn.getresponse().read()
    finally:
        conn.close()


def alice(lab: Lab) -> Credential:
    return Credential(lab.user, lab.password)


# -- found, not found -------------------------------------------------------------------------------------


def test_pullable_single_platform_image(lab: Lab) -> None:
    repo = lab.fresh_repo("demo")
    pushed = lab.push(lab.nginx, repo, "v1", layer_bytes=4096, layers=2)
    res, reqs = counted(lab, pushed.ref, f"/v2/{repo}/")
    assert res.cause is None and res.pullable
    assert res.digest == pushed.digest
    assert res.size == pushed.layers_size
    assert res.platforms == ["linux/amd64"]
    assert [m for m, _p, _s in reqs] == ["HEAD", "GET", "GET"]  # manifest HEAD, manifest body, config
    assert sum(1 for _m, p, _s in reqs if "/manifests/" in p) == 2
    assert [s.name for s in res.steps][:4] == ["reference", "dns", "tcp", "scheme"]


def test_pullable_index_picks_the_node_platform(lab: Lab) -> None:
    repo = lab.fresh_repo("demo")
    pushed = lab.push(lab.nginx, repo, "v1", platforms=("linux/amd64", "linux/arm64", "linux/arm/v7"))
    res, reqs = counted(lab, pushed.ref, f"/v2/{repo}/", platform="linux/arm64")
    assert res.cause is None
    assert sorted(res.platforms) == ["linux/amd64", "linux/arm/v7", "linux/arm64"]
    arm = json.loads(_get(lab.open_registry, f"/v2/{repo}/manifests/{pushed.manifests['linux/arm64']}"))
    assert res.size == sum(layer["size"] for layer in arm["layers"])
    assert len(reqs) == 3  # HEAD index, GET index, GET the arm64 manifest


def test_platform_mismatch(lab: Lab) -> None:
    repo = lab.fresh_repo("demo")
    pushed = lab.push(lab.nginx, repo, "v1", platforms=("linux/arm64",), index=True)
    res, reqs = counted(lab, pushed.ref, f"/v2/{repo}/")
    assert res.cause is Cause.PLATFORM_MISMATCH
    assert res.platforms == ["linux/arm64"]
    assert "linux/amd64" in res.failed_step.detail
    assert len(reqs) == 2


def test_single_platform_image_for_another_arch_is_a_mismatch(lab: Lab) -> None:
    repo = lab.fresh_repo("demo")
    pushed = lab.push(lab.nginx, repo, "v1", platforms=("linux/arm64",), index=False)
    res, _reqs = counted(lab, pushed.ref, f"/v2/{repo}/")
    assert res.cause is Cause.PLATFORM_MISMATCH
    assert res.platforms == ["linux/arm64"]


def test_tag_not_found_suggests_close_tags(lab: Lab) -> None:
    repo = lab.fresh_repo("demo")
    for tag in ("1.25.3", "1.26.0", "latest"):
        lab.push(lab.nginx, repo, tag)
    res, reqs = counted(lab, f"{lab.nginx}/{repo}:1.25.4", f"/v2/{repo}/")
    assert res.cause is Cause.TAG_NOT_FOUND
    assert res.suggestions[:2] == ["1.25.3", "1.26.0"]
    assert [(m, p.rsplit("/", 2)[-2:] == ["tags", "list"], s) for m, p, s in reqs] == [
        ("HEAD", False, 404),
        ("GET", True, 200),
    ]


def test_missing_digest_is_tag_not_found_without_suggestions(lab: Lab) -> None:
    repo = lab.fresh_repo("demo")
    lab.push(lab.nginx, repo, "v1")
    res, _ = counted(lab, f"{lab.nginx}/{repo}@sha256:{'0' * 64}", f"/v2/{repo}/")
    assert res.cause is Cause.TAG_NOT_FOUND
    assert res.suggestions == []
    assert "digest" in res.failed_step.detail


def test_by_digest_is_pullable(lab: Lab) -> None:
    repo = lab.fresh_repo("demo")
    pushed = lab.push(lab.nginx, repo, "v1")
    res, _ = counted(lab, pushed.by_digest, f"/v2/{repo}/")
    assert res.cause is None and res.digest == pushed.digest


def test_repo_not_found(lab: Lab) -> None:
    repo = lab.fresh_repo("nosuch")
    res, reqs = counted(lab, f"{lab.nginx}/{repo}:v1", f"/v2/{repo}/")
    assert res.cause is Cause.REPO_NOT_FOUND
    assert "NAME_UNKNOWN" in res.failed_step.detail
    assert [s for _m, _p, s in reqs] == [404, 404]


# -- auth ---------------------------------------------------------------------------------------------------


def test_basic_auth_registry(lab: Lab) -> None:
    repo = lab.fresh_repo("private")
    pushed = lab.push(lab.auth_registry, repo, "v1", auth=(lab.user, lab.password))
    opts = ProbeOptions(**FAST)
    missing = probe_sync(pushed.ref, options=opts)
    wrong = probe_sync(pushed.ref, credentials=[Credential(lab.user, "not-it")], options=opts)
    ok = probe_sync(pushed.ref, credentials=[alice(lab)], options=opts)
    assert (missing.cause, missing.credentials_sent) == (Cause.AUTH_MISSING, False)
    assert (wrong.cause, wrong.credentials_sent) == (Cause.AUTH_INVALID, True)
    assert ok.cause is None and ok.digest == pushed.digest


def test_bearer_token_with_credentials(lab: Lab) -> None:
    repo = lab.fresh_repo("bearer")
    pushed = lab.push(lab.nginx, repo, "v1")
    res, reqs = counted(lab, pushed.ref, f"/v2/{repo}/", credentials=[alice(lab)])
    assert res.cause is None, res.steps
    assert res.credentials_sent
    assert [(m, s) for m, _p, s in reqs] == [("HEAD", 401), ("HEAD", 200), ("GET", 200), ("GET", 200)]
    wrong, reqs = counted(lab, pushed.ref, f"/v2/{repo}/", credentials=[Credential("alice", "nope")])
    assert wrong.cause is Cause.AUTH_INVALID
    anon, _ = counted(lab, pushed.ref, f"/v2/{repo}/")
    assert anon.cause is Cause.AUTH_MISSING and not anon.credentials_sent


def test_bearer_token_is_fetched_once_for_many_images(lab: Lab) -> None:
    repo = lab.fresh_repo("bearer")
    tags = [f"v{i}" for i in range(6)]
    for t in tags:
        lab.push(lab.nginx, repo, t)
    before = len(lab.nginx_requests())
    reqs = [ProbeRequest(f"{lab.nginx}/{repo}:{t}", (alice(lab),)) for t in tags]
    results = _run_many(reqs)
    rows = _settled_requests(lab, "", before)
    assert [r.cause for r in results] == [None] * len(tags)
    assert sum(1 for _m, p, _s in rows if p == "/bearer-token") == 1
    heads = [r for r in rows if r[0] == "HEAD"]
    assert len(heads) == len(tags) + 1  # the first one learns the challenge; the others send the token at once


def _run_many(reqs: list[ProbeRequest]) -> list[ProbeResult]:
    import asyncio

    return asyncio.run(probe_many(reqs, ProbeOptions(**FAST)))


def test_hub_like_insufficient_scope(lab: Lab) -> None:
    repo = lab.fresh_repo("hubmissing")
    anon, reqs = counted(lab, f"{lab.nginx}/{repo}:latest", f"/v2/{repo}/")
    assert anon.cause is Cause.REPO_NOT_FOUND_OR_NO_ACCESS
    assert [(m, s) for m, _p, s in reqs] == [("HEAD", 401), ("HEAD", 401)]
    creds, _ = counted(lab, f"{lab.nginx}/{repo}:latest", f"/v2/{repo}/", credentials=[alice(lab)])
    assert creds.cause is Cause.REPO_NOT_FOUND and creds.credentials_sent
    assert "insufficient_scope" in creds.failed_step.detail


def test_token_service_refuses(lab: Lab) -> None:
    repo = lab.fresh_repo("tokenfail")
    anon, reqs = counted(lab, f"{lab.nginx}/{repo}:v1", f"/v2/{repo}/")
    assert anon.cause is Cause.AUTH_MISSING
    assert len(reqs) == 1
    creds, _ = counted(lab, f"{lab.nginx}/{repo}:v1", f"/v2/{repo}/", credentials=[alice(lab)])
    assert creds.cause is Cause.AUTH_INVALID
    assert "incorrect username or password" in creds.failed_step.detail


# -- refusals and server trouble ------------------------------------------------------------------------------


def test_forbidden(lab: Lab) -> None:
    repo = lab.fresh_repo("denied")
    res, reqs = counted(lab, f"{lab.nginx}/{repo}:v1", f"/v2/{repo}/")
    assert res.cause is Cause.FORBIDDEN and res.status == 403
    assert "DENIED: requested access to the resource is denied" in res.failed_step.detail
    assert [m for m, _p, _s in reqs] == ["HEAD", "GET"]  # the GET only fetches the registry's message


def test_rate_limited_with_headers(lab: Lab) -> None:
    repo = lab.fresh_repo("toomany")
    res, reqs = counted(lab, f"{lab.nginx}/{repo}:v1", f"/v2/{repo}/")
    assert res.cause is Cause.RATE_LIMITED
    assert res.ratelimit is not None
    assert (res.ratelimit.limit, res.ratelimit.remaining, res.ratelimit.window) == (100, 0, 21600)
    assert res.ratelimit.source == "127.0.0.1"
    assert reqs == [("HEAD", f"/v2/{repo}/manifests/v1", 429)]  # no retries: one probe, one request


def test_rate_limit_budget_runs_out(lab: Lab) -> None:
    repo = lab.fresh_repo("ratelimited")
    pushed = lab.push(lab.nginx, repo, "v1")
    causes = []
    for _ in range(lab.ratelimit_budget + 1):  # bounded: the budget is a handful of requests
        res, _ = counted(lab, pushed.ref, f"/v2/{repo}/")
        causes.append(res.cause)
        if res.cause is not None:
            break
    assert causes[0] is None
    assert causes[-1] is Cause.RATE_LIMITED
    assert res.ratelimit is not None and res.ratelimit.retry_after == 60


@pytest.mark.parametrize("prefix,status", [("error500", 500), ("error503", 503)])
def test_server_errors(lab: Lab, prefix: str, status: int) -> None:
    repo = lab.fresh_repo(prefix)
    res, reqs = counted(lab, f"{lab.nginx}/{repo}:v1", f"/v2/{repo}/")
    assert res.cause is Cause.REGISTRY_SERVER_ERROR and res.status == status
    assert "registry says: " in res.failed_step.detail
    assert len(reqs) == 2


def test_stall_is_a_timeout(lab: Lab) -> None:
    repo = lab.fresh_repo("stall")
    t = time.monotonic()
    res = probe_sync(f"{lab.nginx}/{repo}:v1", options=ProbeOptions(request_timeout=1.0, connect_timeout=1.0))
    assert res.cause is Cause.PULL_TIMEOUT_OR_PROGRESS_DEADLINE
    assert time.monotonic() - t < 4


# -- network, DNS, TLS, scheme ---------------------------------------------------------------------------------


def test_connection_refused(lab: Lab) -> None:
    res = probe_sync(f"{lab.closed_port}/demo/x:v1", options=ProbeOptions(**FAST))
    assert res.cause is Cause.NETWORK_UNREACHABLE
    assert res.failed_step.name == "tcp" and "refused" in res.failed_step.detail


def test_blackhole_accepts_and_never_answers(lab: Lab) -> None:
    t = time.monotonic()
    res = probe_sync(f"{lab.blackhole}/demo/x:v1", options=ProbeOptions(request_timeout=1.0, connect_timeout=1.0))
    assert res.cause is Cause.PULL_TIMEOUT_OR_PROGRESS_DEADLINE
    assert time.monotonic() - t < 4


def test_unresolvable_host(lab: Lab) -> None:
    res = probe_sync(f"{lab.unresolvable}/demo/x:v1", options=ProbeOptions(**FAST))
    assert res.cause is Cause.DNS_FAILURE
    assert [s.name for s in res.steps] == ["reference", "dns"]


def _localhost(addr: str) -> str:
    return "localhost:" + addr.rsplit(":", 1)[1]


def test_loopback_tls_port_is_http_vs_https_like_containerd(lab: Lab) -> None:
    res, reqs = counted(lab, f"{_localhost(lab.nginx_tls)}/demo/x:v1", "/v2/demo/x/")
    assert res.cause is Cause.HTTP_VS_HTTPS
    assert reqs == [("HEAD", "/v2/demo/x/manifests/v1", 400)]


def test_tls_untrusted_then_trusted_with_ca_file(lab: Lab) -> None:
    repo = lab.fresh_repo("demo")
    host = _localhost(lab.nginx_tls)
    pushed = lab.push(lab.nginx_tls, repo, "v1")
    image = f"{host}/{repo}:v1"
    bad = probe_sync(image, options=ProbeOptions.build(https_registries=[host], **FAST))
    assert bad.cause is Cause.TLS_ERROR
    assert "CN=localhost" in bad.failed_step.detail and "localhost" in bad.failed_step.detail
    good = probe_sync(image, options=ProbeOptions.build(https_registries=[host], ca_file=str(lab.ca_cert), **FAST))
    assert good.cause is None and good.digest == pushed.digest


def test_tls_wrong_name(lab: Lab) -> None:
    host = _localhost(lab.nginx_tls_wrongname)
    opts = ProbeOptions.build(https_registries=[host], ca_file=str(lab.wrongname_cert), **FAST)
    res = probe_sync(f"{host}/demo/x:v1", options=opts)
    assert res.cause is Cause.TLS_ERROR
    assert "wrong.example" in res.failed_step.detail
    assert "holds its issuer" in res.failed_step.detail


def test_pull_through_cache(lab: Lab) -> None:
    repo = lab.fresh_repo("demo")
    pushed = lab.push(lab.open_registry, repo, "v1")
    res = probe_sync(f"{lab.proxy_registry}/{repo}:v1", options=ProbeOptions(**FAST))
    assert res.cause is None and res.digest == pushed.digest


# -- many at once --------------------------------------------------------------------------------------------


def retag(registry: str, repo: str, digest: str, media_type: str, tags: list[str]) -> None:
    """Point more tags at one manifest (distinct references, shared content)."""
    conn = http.client.HTTPConnection(*registry.rsplit(":", 1), timeout=10)
    try:
        conn.request("GET", f"/v2/{repo}/manifests/{digest}", headers={"Accept": media_type})
        body = conn.getresponse().read()
        for tag in tags:
            conn.request("PUT", f"/v2/{repo}/manifests/{tag}", body=body, headers={"Content-Type": media_type})
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 201, resp.status
    finally:
        conn.close()


def test_probe_many_one_manifest_head_per_reference(lab: Lab) -> None:
    repo = lab.fresh_repo("demo")
    pushed = lab.push(lab.nginx, repo, "t0")
    tags = [f"t{i}" for i in range(1, 30)]
    retag(lab.open_registry, repo, pushed.digest, pushed.media_type, tags)
    images = [f"{lab.nginx}/{repo}:{t}" for t in ["t0", *tags]]
    before = len(lab.nginx_requests())
    results = _run_many([ProbeRequest(i) for i in images + images[:5]])  # duplicates are probed once
    rows = _settled_requests(lab, f"/v2/{repo}/", before)
    assert [r.cause for r in results] == [None] * 35
    assert [r.image for r in results] == images + images[:5]
    heads = [p for m, p, _s in rows if m == "HEAD"]
    assert sorted(heads) == sorted(f"/v2/{repo}/manifests/{t}" for t in ["t0", *tags])
    assert len(rows) == len(images) + 2  # + one GET of the manifest by digest, one of its config


def test_probe_many_keeps_going_past_an_invalid_reference(lab: Lab) -> None:
    results = _run_many([ProbeRequest("Not A Reference"), ProbeRequest(f"{lab.closed_port}/a:v1")])
    assert results[0].cause is Cause.INVALID_IMAGE_NAME
    assert results[1].cause is Cause.NETWORK_UNREACHABLE


# -- the command line, and the canary -------------------------------------------------------------------------


cli = functools.partial(_cli, "probe")


def test_cli_exit_codes_and_json(lab: Lab) -> None:
    repo = lab.fresh_repo("demo")
    pushed = lab.push(lab.nginx, repo, "v1")
    ok = cli(pushed.ref)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("pullable: ")
    assert all(len(line) <= 80 for line in ok.stdout.splitlines()[1:])  # the first line holds the image name
    missing = cli(f"{lab.nginx}/{repo}:v2", "-o", "json")
    assert missing.returncode == 1
    doc = json.loads(missing.stdout)
    assert {"image", "cause", "steps", "digest", "platforms", "size", "ratelimit", "suggestions"} <= doc.keys()
    assert doc["cause"] == "tag_not_found" and doc["suggestions"] == ["v1"]
    bad = cli("Bad Image::ref")
    assert bad.returncode == 2 and bad.stderr.startswith("pulldoctor: invalid reference format")
    assert "Traceback" not in bad.stderr
    unreadable = cli(pushed.ref, "--docker-config", "/nonexistent/config.json")
    assert unreadable.returncode == 2 and "--docker-config" in unreadable.stderr
    arm = cli(pushed.ref, "--platform", "linux/arm64")
    assert arm.returncode == 1 and arm.stdout.startswith("platform_mismatch: ")


def test_canary_never_printed(lab: Lab, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    repo = lab.fresh_repo("bearer")
    pushed = lab.push(lab.nginx, repo, "v1")
    auth = base64.b64encode(f"{lab.user}:{lab.password}".encode()).decode()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {lab.nginx: {"auth": auth}, lab.auth_registry: {"auth": auth}}}))
    outputs = []
    for image in (pushed.ref, f"{lab.nginx}/{lab.fresh_repo('tokenfail')}:v1", f"{lab.auth_registry}/nope/x:v1"):
        for fmt in ("text", "json"):
            run = cli(image, "--docker-config", str(config), "-o", fmt)
            assert run.returncode in (0, 1), run.stderr
            outputs.append(run.stdout + run.stderr)
    assert "credential" in outputs[0]
    caplog.set_level("DEBUG")
    res = probe_sync(pushed.ref, credentials=[alice(lab)], options=ProbeOptions(**FAST))
    assert res.cause is None
    blob = "".join(outputs) + json.dumps(res.to_json()) + repr(res) + caplog.text
    assert lab.password not in blob
    assert base64.b64encode(f"{lab.user}:{lab.password}".encode()).decode() not in blob


# -- throughput sample (slow pulls) ----------------------------------------------------------------------------


def test_throughput_sample_of_a_trickling_blob(lab: Lab) -> None:
    """slow/ serves blobs at 2 KiB/s after 4 KiB: the sample stops at its time cap and measures ~2 KiB/s."""
    pushed = lab.push(lab.nginx, lab.fresh_repo("slow"), "v1", layer_bytes=256 * 1024, layers=2)
    opts = ProbeOptions(sample_seconds=2.0, **FAST)  # type: ignore[arg-type]
    t = time.monotonic()
    (res,) = asyncio.run(probe_many([ProbeRequest(pushed.ref, sample_throughput=True)], opts))
    took = time.monotonic() - t
    tp = res.throughput
    assert res.cause is None and tp is not None
    assert tp.capped_by == "time" and 2.0 <= tp.seconds < 2.5 and took < 4.0
    assert tp.ttfb is not None and tp.ttfb < 1.0 and not tp.stalled
    assert tp.rate is not None and 2048 / 3 < tp.rate < 2048 * 3, tp
    assert tp.blob in pushed.layer_digests and tp.blob_size >= 256 * 1024
    assert res.size is not None and tp.estimate(res.size) > 60  # slow: the whole image takes minutes
    assert any(s.name == "throughput" and s.ok for s in res.steps)


def test_throughput_sample_of_a_stalled_blob_ends_at_its_cap(lab: Lab) -> None:
    """stall/ never completes even the status line: no first byte, the sample ends at its time cap."""
    from yarl import URL

    from pulldoctor.registry.client import sample_download
    from pulldoctor.registry.session import Session

    pushed = lab.push(lab.open_registry, lab.fresh_repo("stall"), "v1", layer_bytes=64 * 1024)
    url = URL(f"http://{lab.nginx}/v2/{pushed.repo}/blobs/{pushed.layer_digests[0]}")

    async def main() -> object:
        ctx = Session(ProbeOptions(**FAST))  # type: ignore[arg-type]
        try:
            return await sample_download(ctx.http, url, headers={}, authorization=None, ssl_context=None,
                                         max_bytes=4 * 1024 * 1024, max_seconds=1.5)
        finally:
            await ctx.close()

    t = time.monotonic()
    got = asyncio.run(main())
    assert time.monotonic() - t < 2.5
    assert got.capped_by == "time" and got.first_byte_at is None and got.received == 0  # type: ignore[attr-defined]


def test_throughput_sample_is_capped_in_bytes_and_only_when_asked(lab: Lab) -> None:
    pushed = lab.push(lab.open_registry, lab.fresh_repo("fast"), "v1", layer_bytes=512 * 1024)
    opts = ProbeOptions(sample_bytes=64 * 1024, **FAST)  # type: ignore[arg-type]
    sampled, plain = asyncio.run(probe_many([ProbeRequest(pushed.ref, sample_throughput=True),
                                             ProbeRequest(pushed.ref)], opts))
    tp = sampled.throughput
    assert tp is not None and tp.capped_by == "bytes" and tp.received == 64 * 1024 and tp.status == 206
    assert plain.throughput is None and not any(s.name == "throughput" for s in plain.steps)
