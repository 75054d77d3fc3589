"""The test lab itself: each part answers the way research/real-components.md says it does.

Registry-side checks use plain HTTP from Python; the pull checks at the end go through containerd's CRI plugin,
the call the kubelet makes, and assert the error family a node would show.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab import Lab, procs

OCI_ACCEPT = ("application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
              "application/vnd.docker.distribution.manifest.v2+json")

pytestmark = pytest.mark.lab


def _get(hostport: str, path: str, *, method: str = "GET", headers: dict[str, str] | None = None,
         tls: ssl.SSLContext | None = None, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    host, _, port = hostport.rpartition(":")
    conn: http.client.HTTPConnection
    if tls is not None:
        conn = http.client.HTTPSConnection(host, int(port), timeout=timeout, context=tls)
    else:
        conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request(method, path, headers={"Accept": OCI_ACCEPT, **(headers or {})})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read(1 << 20)
    finally:
        conn.close()


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_lab_starts_fast_and_tracks_its_processes(lab: Lab) -> None:
    assert lab.startup_seconds < 5
    alive = {pid for _, pid in procs.alive_pids()}
    assert lab.pids and set(lab.pids) <= alive


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except FileNotFoundError:
        return False


def test_lab_outside_pytest_stops_at_interpreter_exit() -> None:
    """bench/ uses the lab without pytest: the atexit hook must stop every process and remove the temp dir."""
    tests_dir = str(Path(__file__).parent)
    code = (f"import sys; sys.path.insert(0, {tests_dir!r}); from lab import start_lab; lab = start_lab(); "
            "print(lab.root, *lab.pids, flush=True)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    root, *pids = out.stdout.split()
    assert len(pids) == 4
    left = [int(p) for p in pids if _running(int(p))]
    for pid in left:  # clean up before failing, so a broken hook does not leak servers
        os.kill(pid, signal.SIGKILL)
    assert not left
    assert not Path(root).exists()


@pytest.mark.containerd
def test_containerd_outside_pytest_stops_at_interpreter_exit() -> None:
    from parts import need_binary, need_root

    need_root("containerd")
    need_binary("containerd")
    tests_dir = str(Path(__file__).parent)
    code = (f"import sys; sys.path.insert(0, {tests_dir!r}); from lab import start_lab; "
            "from lab.containerd import start_containerd; lab = start_lab(); ctrd = start_containerd(lab); "
            "assert ctrd.pull(lab.push(lab.open_registry, 'demo/x', 'v1').ref).ok; "
            "print(ctrd.socket_path.parent, ctrd.pid, flush=True)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    root, pid = out.stdout.split()
    if _running(int(pid)):
        os.kill(int(pid), signal.SIGKILL)
        pytest.fail("containerd outlived the interpreter that started it")
    assert not Path(root).exists()


def test_push_then_fetch_by_tag_and_digest(lab: Lab) -> None:
    repo = lab.fresh_repo("demo")
    pushed = lab.push(lab.open_registry, repo, "v1")
    status, headers, body = _get(lab.open_registry, f"/v2/{repo}/manifests/v1")
    assert status == 200
    assert headers["docker-content-digest"] == pushed.digest
    assert len(body) == pushed.size
    assert _get(lab.open_registry, f"/v2/{repo}/manifests/{pushed.digest}")[0] == 200


def test_each_push_has_new_content(lab: Lab) -> None:
    repo = lab.fresh_repo("demo")
    first = lab.push(lab.open_registry, repo, "v1")
    second = lab.push(lab.open_registry, repo, "v1")
    assert first.digest != second.digest
    assert set(first.layer_digests).isdisjoint(second.layer_digests)


def test_index_lists_its_platforms(lab: Lab) -> None:
    repo = lab.fresh_repo("demo")
    pushed = lab.push(lab.open_registry, repo, "v1", platforms=("linux/arm64", "linux/s390x"))
    status, _, body = _get(lab.open_registry, f"/v2/{repo}/manifests/v1")
    assert status == 200
    doc = json.loads(body)
    assert doc["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert [m["platform"]["architecture"] for m in doc["manifests"]] == ["arm64", "s390x"]
    assert set(pushed.manifests) == {"linux/arm64", "linux/s390x"}


def test_auth_registry_wants_the_right_password(lab: Lab) -> None:
    repo = lab.fresh_repo("private")
    lab.push(lab.auth_registry, repo, "v1", auth=(lab.user, lab.password))
    path = f"/v2/{repo}/manifests/v1"
    none = _get(lab.auth_registry, path)
    wrong = _get(lab.auth_registry, path, headers=_basic(lab.user, "wrong"))
    right = _get(lab.auth_registry, path, headers=_basic(lab.user, lab.password))
    assert none[0] == wrong[0] == 401
    assert none[1]["www-authenticate"].startswith("Basic ")
    assert right[0] == 200


def test_proxy_registry_serves_upstream_content(lab: Lab) -> None:
    repo = lab.fresh_repo("demo")
    pushed = lab.push(lab.proxy_registry, repo, "v1")
    status, headers, _ = _get(lab.proxy_registry, f"/v2/{repo}/manifests/v1")
    assert status == 200 and headers["docker-content-digest"] == pushed.digest


@pytest.mark.parametrize(("prefix", "status", "code"), [
    ("denied", 403, "DENIED"),
    ("toomany", 429, "TOOMANYREQUESTS"),
    ("error500", 500, "UNKNOWN"),
    ("error503", 503, "UNAVAILABLE"),
    ("hubmissing", 401, "UNAUTHORIZED"),
    ("tokenfail", 401, "UNAUTHORIZED"),
    ("bearer", 401, "UNAUTHORIZED"),
])
def test_nginx_failure_locations(lab: Lab, prefix: str, status: int, code: str) -> None:
    repo = lab.fresh_repo(prefix)
    got, headers, body = _get(lab.nginx, f"/v2/{repo}/manifests/v1")
    assert got == status
    assert json.loads(body)["errors"][0]["code"] == code
    assert headers["docker-distribution-api-version"] == "registry/2.0"
    if prefix == "toomany":
        assert headers["ratelimit-remaining"].startswith("0;")
        assert headers["docker-ratelimit-source"] == "127.0.0.1"
    if status == 401:
        assert headers["www-authenticate"].startswith("Bearer realm=")
        assert f'scope="repository:{repo}:pull"' in headers["www-authenticate"]


def test_nginx_v2_and_access_log(lab: Lab) -> None:
    repo = lab.fresh_repo("denied")
    assert _get(lab.nginx, "/v2/")[0] == 200
    _get(lab.nginx, f"/v2/{repo}/manifests/v1", method="HEAD")
    time.sleep(0.05)
    assert lab.nginx_requests(f"/v2/{repo}/") == [("HEAD", f"/v2/{repo}/manifests/v1", 403)]


def test_ratelimited_budget_is_per_fresh_repo(lab: Lab) -> None:
    repo = lab.fresh_repo("ratelimited")
    lab.push(lab.nginx, repo, "v1")
    path = f"/v2/{repo}/manifests/v1"
    statuses = [_get(lab.nginx, path, method="HEAD")[0] for _ in range(lab.ratelimit_budget + 2)]
    assert statuses == [200] * lab.ratelimit_budget + [429, 429]
    other = lab.fresh_repo("ratelimited")
    lab.push(lab.nginx, other, "v1")
    assert _get(lab.nginx, f"/v2/{other}/manifests/v1", method="HEAD")[0] == 200


def test_bearer_token_only_for_the_lab_user(lab: Lab) -> None:
    repo = lab.fresh_repo("bearer")
    pushed = lab.push(lab.nginx, repo, "v1")
    assert _get(lab.nginx, f"/bearer-token?scope=repository:{repo}:pull")[0] == 401
    assert _get(lab.nginx, "/bearer-token", headers=_basic(lab.user, "wrong"))[0] == 401
    status, _, body = _get(lab.nginx, "/bearer-token", headers=_basic(lab.user, lab.password))
    assert status == 200
    token = json.loads(body)["token"]
    path = f"/v2/{repo}/manifests/v1"
    status, headers, _ = _get(lab.nginx, path, headers={"Authorization": f"Bearer {token}"})
    assert status == 200 and headers["docker-content-digest"] == pushed.digest
    assert _get(lab.nginx, path, headers={"Authorization": "Bearer forged"})[0] == 401


def test_stall_never_sends_headers(lab: Lab) -> None:
    repo = lab.fresh_repo("stall")
    lab.push(lab.nginx, repo, "v1")
    with pytest.raises(TimeoutError):
        _get(lab.nginx, f"/v2/{repo}/manifests/v1", timeout=1.0)


def test_tls_ports(lab: Lab) -> None:
    repo = lab.fresh_repo("demo")
    pushed = lab.push(lab.nginx_tls, repo, "v1")
    trusting = ssl.create_default_context(cafile=str(lab.ca_cert))
    status, headers, _ = _get(lab.nginx_tls, f"/v2/{repo}/manifests/v1", tls=trusting)
    assert status == 200 and headers["docker-content-digest"] == pushed.digest
    with pytest.raises(ssl.SSLCertVerificationError, match="self.signed"):
        _get(lab.nginx_tls, "/v2/", tls=ssl.create_default_context())
    wrong = ssl.create_default_context(cafile=str(lab.wrongname_cert))
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch|doesn't match"):
        _get(lab.nginx_tls_wrongname.replace("127.0.0.1", "localhost"), "/v2/", tls=wrong)


def test_closed_port_refuses_and_blackhole_hangs(lab: Lab) -> None:
    with pytest.raises(ConnectionRefusedError):
        _get(lab.closed_port, "/v2/")
    with pytest.raises(TimeoutError):
        _get(lab.blackhole, "/v2/", timeout=0.5)



# ---- pulls through containerd's CRI plugin: what a node's kubelet receives ------------------------------

UNKNOWN_PREFIX = "rpc error: code = Unknown desc = "


@pytest.fixture(scope="module")
def images(lab: Lab) -> dict[str, str]:
    """One fresh image per place the pull tests need, pushed once for the module."""
    fresh = lab.fresh_repo
    refs = {
        "open": lab.push(lab.open_registry, fresh("demo"), "v1").ref,
        "auth": lab.push(lab.auth_registry, fresh("private"), "v1", auth=(lab.user, lab.password)).ref,
        "bearer": lab.push(lab.nginx, fresh("bearer"), "v1").ref,
        "armonly": lab.push(lab.open_registry, fresh("demo"), "v1", platforms=("linux/arm64", "linux/s390x")).ref,
        "slow": lab.push(lab.nginx, fresh("slow"), "v1", layer_bytes=256 * 1024).ref,
        "proxied": lab.push(lab.proxy_registry, fresh("demo"), "v1").ref,
        "tls": lab.push(lab.nginx_tls, fresh("demo"), "v1").ref,
    }
    return refs


def _expect_failure(out: object, code: str, *fragments: str) -> None:
    from lab.containerd import PullOutcome

    assert isinstance(out, PullOutcome)
    assert not out.ok
    assert out.code == code, out.raw
    assert out.raw.startswith(f"rpc error: code = {code} desc = ")
    if code == "Unknown":
        assert out.kubelet_message == out.raw.removeprefix(UNKNOWN_PREFIX)
    else:
        assert out.kubelet_message == out.raw
    for fragment in fragments:
        assert fragment in out.kubelet_message, out.kubelet_message


@pytest.mark.containerd
def test_pull_succeeds_from_open_proxy_and_trusted_tls(lab: Lab, containerd, images) -> None:
    for ref in (images["open"], images["proxied"], images["tls"].replace(lab.nginx_tls, containerd.tls_trusted)):
        out = containerd.pull(ref)
        assert out.ok and out.image_ref.startswith("sha256:") and out.code is None, out.raw


@pytest.mark.containerd
def test_pull_succeeds_with_right_credentials(lab: Lab, containerd, images) -> None:
    assert containerd.pull(images["auth"], lab.user, lab.password).ok
    out = containerd.pull(images["bearer"], lab.user, lab.password)
    assert out.ok, out.raw
    assert any(r == ("GET", "/bearer-token", 200) for r in lab.nginx_requests("/bearer-token"))


@pytest.mark.containerd
def test_tag_not_found(lab: Lab, containerd, images) -> None:
    ref = images["open"].replace(":v1", ":nope")
    _expect_failure(containerd.pull(ref), "NotFound", f"{ref}: not found")


@pytest.mark.containerd
def test_repository_not_found(lab: Lab, containerd) -> None:
    ref = f"{lab.open_registry}/{lab.fresh_repo('no')}:v1"
    _expect_failure(containerd.pull(ref), "NotFound", f"{ref}: not found")


@pytest.mark.containerd
@pytest.mark.parametrize("password", [None, "wrong-password"])
def test_basic_auth_401_without_and_with_wrong_credentials(lab: Lab, containerd, images, password) -> None:
    user = lab.user if password else None
    out = containerd.pull(images["auth"], user, password)
    _expect_failure(out, "Unknown", f"pulling from host {lab.auth_registry} failed with status code",
                    "401 Unauthorized")
    assert "wrong-password" not in out.raw


@pytest.mark.containerd
def test_bearer_token_refused(lab: Lab, containerd, images) -> None:
    _expect_failure(containerd.pull(images["bearer"]), "Unknown",
                    "failed to authorize: failed to fetch anonymous token: unexpected status: 401 Unauthorized")
    _expect_failure(containerd.pull(images["bearer"], lab.user, "wrong"), "Unknown",
                    "failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized")
    _expect_failure(containerd.pull(f"{lab.nginx}/{lab.fresh_repo('tokenfail')}:v1"), "Unknown",
                    "failed to fetch anonymous token: unexpected status: 401 Unauthorized")


@pytest.mark.containerd
def test_hub_like_insufficient_scope(lab: Lab, containerd) -> None:
    _expect_failure(containerd.pull(f"{lab.nginx}/{lab.fresh_repo('hubmissing')}:latest"), "Unknown",
                    "pull access denied, repository does not exist or may require authorization",
                    "insufficient_scope")


@pytest.mark.containerd
def test_forbidden(lab: Lab, containerd) -> None:
    _expect_failure(containerd.pull(f"{lab.nginx}/{lab.fresh_repo('denied')}:v1"), "Unknown", "[manifests v1]: 403 Forbidden")


@pytest.mark.containerd
def test_rate_limited_always(lab: Lab, containerd) -> None:
    repo = lab.fresh_repo("toomany")
    _expect_failure(containerd.pull(f"{lab.nginx}/{repo}:v1"), "Unknown", "[manifests v1]: 429 Too Many Requests")
    time.sleep(0.05)
    seen = lab.nginx_requests(f"/v2/{repo}/")
    assert seen and all(status == 429 for _, _, status in seen)


@pytest.mark.containerd
def test_rate_limited_after_budget(lab: Lab, containerd) -> None:
    repo = lab.fresh_repo("ratelimited")
    pushed = lab.push(lab.nginx, repo, "v1")
    assert containerd.pull(pushed.ref).ok
    for _ in range(lab.ratelimit_budget):  # spend what is left of the budget (bounded)
        if _get(lab.nginx, f"/v2/{repo}/manifests/v1", method="HEAD")[0] == 429:
            break
    _expect_failure(containerd.pull(pushed.ref), "Unknown", "429 Too Many Requests")


@pytest.mark.containerd
@pytest.mark.parametrize(("prefix", "status"), [("error500", "500 Internal Server Error"),
                                                ("error503", "503 Service Temporarily Unavailable")])
def test_server_errors(lab: Lab, containerd, prefix: str, status: str) -> None:
    _expect_failure(containerd.pull(f"{lab.nginx}/{lab.fresh_repo(prefix)}:v1"), "Unknown", f"[manifests v1]: {status}")


@pytest.mark.containerd
def test_dns_failure(lab: Lab, containerd) -> None:
    _expect_failure(containerd.pull(f"{lab.unresolvable}/demo/app:v1"), "Unknown",
                    f"dial tcp: lookup {lab.unresolvable}", "no such host")


@pytest.mark.containerd
def test_connection_refused(lab: Lab, containerd) -> None:
    _expect_failure(containerd.pull(f"{lab.closed_port}/demo/app:v1"), "Unknown",
                    f"dial tcp {lab.closed_port}: connect: connection refused")


@pytest.mark.containerd
def test_tls_unknown_authority(lab: Lab, containerd, images) -> None:
    ref = images["tls"].replace(lab.nginx_tls, containerd.tls_untrusted)
    _expect_failure(containerd.pull(ref), "Unknown", "x509: certificate signed by unknown authority")


@pytest.mark.containerd
def test_tls_wrong_name(lab: Lab, containerd, images) -> None:
    ref = images["tls"].replace(lab.nginx_tls, containerd.tls_wrongname)
    _expect_failure(containerd.pull(ref), "Unknown", "x509: certificate is valid for wrong.example, not localhost")


@pytest.mark.containerd
def test_https_client_to_http_server(lab: Lab, containerd, images) -> None:
    ref = images["open"].replace(lab.open_registry, containerd.https_to_http)
    _expect_failure(containerd.pull(ref), "Unknown", "http: server gave HTTP response to HTTPS client")


@pytest.mark.containerd
def test_http_client_to_https_server(lab: Lab, containerd, images) -> None:
    ref = images["tls"].replace(lab.nginx_tls, containerd.http_to_https)
    _expect_failure(containerd.pull(ref), "Unknown", "[manifests v1]: 400 Bad Request")


@pytest.mark.containerd
def test_platform_mismatch(lab: Lab, containerd, images) -> None:
    _expect_failure(containerd.pull(images["armonly"]), "NotFound", "no match for platform in manifest: not found")


@pytest.mark.containerd
def test_pull_cut_off_by_deadline(lab: Lab, containerd, images) -> None:
    out = containerd.pull(images["slow"], timeout=2)
    _expect_failure(out, "DeadlineExceeded")
    # Where the deadline strikes (resolving, or pulling and unpacking) decides containerd's wrapping; both are real.
    assert out.kubelet_message.startswith("rpc error: code = DeadlineExceeded desc = ")
    assert out.kubelet_message.endswith("context deadline exceeded"), out.kubelet_message
    assert 1.9 < out.elapsed < 5
    needle = f'PullImage \\"{images["slow"]}\\" failed'
    deadline = time.monotonic() + 3
    while needle not in containerd.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    line = next(x for x in containerd.log_text().splitlines() if needle in x)
    assert "code = Canceled" in line and "context canceled" in line
    repo = images["slow"].removeprefix(f"{lab.nginx}/").rpartition(":")[0]
    assert any("/blobs/" in path for _, path, _ in lab.nginx_requests(f"/v2/{repo}/"))


@pytest.mark.containerd
def test_blackhole_hangs_until_deadline(lab: Lab, containerd) -> None:
    out = containerd.pull(f"{lab.blackhole}/demo/app:v1", timeout=1)
    _expect_failure(out, "DeadlineExceeded", "context deadline exceeded")


@pytest.mark.containerd
def test_remove_image_makes_the_next_pull_fetch_again(lab: Lab, containerd) -> None:
    pushed = lab.push(lab.nginx, lab.fresh_repo("demo"), "v1")
    prefix = f"/v2/{pushed.repo}/blobs/"

    def blob_gets() -> int:
        time.sleep(0.05)
        return sum(1 for method, _, status in lab.nginx_requests(prefix) if method == "GET" and status == 200)

    assert containerd.pull(pushed.ref).ok
    first = blob_gets()
    assert first == 2  # config + one layer
    containerd.remove(pushed.ref)
    assert containerd.pull(pushed.ref).ok
    assert blob_gets() == 2 * first


# ---- the expired certificate (made with cryptography: openssl req cannot back-date) -----------------------


def _served_cert(hostport: str):  # -> cryptography.x509.Certificate
    from cryptography import x509

    host, port = hostport.rsplit(":", 1)
    return x509.load_pem_x509_certificate(ssl.get_server_certificate((host, int(port)), timeout=5).encode())


def test_tls_expired_port(lab: Lab) -> None:
    """Trusted CA, right name, and only the validity period wrong; the port fronts the open registry."""
    from datetime import UTC, datetime

    from cryptography import x509

    now = datetime.now(UTC)
    served = _served_cert(lab.nginx_tls_expired)
    ca = x509.load_pem_x509_certificate(lab.expired_ca_cert.read_bytes())
    assert served.not_valid_before_utc < served.not_valid_after_utc < now
    assert ca.not_valid_before_utc < now < ca.not_valid_after_utc
    assert served.issuer == ca.subject and served.subject != ca.subject
    served.verify_directly_issued_by(ca)
    sans = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate has expired"):
        _get(lab.nginx_tls_expired, "/v2/", tls=ssl.create_default_context(cafile=str(lab.expired_ca_cert)))
    repo = lab.fresh_repo("demo")
    pushed = lab.push(lab.nginx_tls_expired, repo, "v1")
    assert pushed.ref.startswith(f"{lab.nginx_tls_expired}/")
    unverified = ssl.create_default_context()
    unverified.check_hostname, unverified.verify_mode = False, ssl.CERT_NONE
    status, headers, _ = _get(lab.nginx_tls_expired, f"/v2/{repo}/manifests/v1", tls=unverified,
                              headers={"Accept": OCI_ACCEPT})
    assert status == 200 and headers["docker-content-digest"] == pushed.digest


@pytest.mark.containerd
def test_tls_expired(lab: Lab, containerd) -> None:
    """containerd trusts the CA (hosts.toml ``ca``), so Go's verifier reports the expiry and nothing else:
    "x509: certificate has expired or is not yet valid: current time T is after NOT_AFTER", both RFC 3339
    (Go crypto/x509/verify.go, CertificateInvalidError with reason Expired)."""
    pushed = lab.push(lab.nginx_tls_expired, lab.fresh_repo("demo"), "v1")
    assert containerd.tls_expired == lab.nginx_tls_expired
    not_after = _served_cert(lab.nginx_tls_expired).not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = containerd.pull(pushed.ref)
    _expect_failure(out, "Unknown", "x509: certificate has expired or is not yet valid: current time ",
                    f" is after {not_after}", f'Head "https://{lab.nginx_tls_expired}/v2/{pushed.repo}/manifests/v1"')
    assert "unknown authority" not in out.kubelet_message and "is valid for" not in out.kubelet_message
