"""In-cluster mode end to end: ``pulldoctor diagnose`` run as a pod would run it, with no kubeconfig, the
service account's token and CA, and ``KUBERNETES_SERVICE_HOST``/``_PORT`` — against the fake API server
over HTTPS, with the real ``kubernetes`` client doing the talking.

The service account files live at fixed paths (``/var/run/secrets/kubernetes.io/serviceaccount/…``,
``kubernetes.config.incluster_config.SERVICE_TOKEN_FILENAME``/``SERVICE_CERT_FILENAME``; pulldoctor's own
``kubeapi.config._IN_CLUSTER_NS``). Nothing is written there: each run is a subprocess whose small ``-c``
script points those module constants at temp files and then calls ``pulldoctor.cli.main``, so no patch or
environment variable leaks into other tests.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubeapi import FakeKubeAPI
from kubeapi import objects as o
from parts import need_binary

IMG = "registry.example/shop/web:1.0"
FAILED = f'Failed to pull image "{IMG}": rpc error: code = NotFound desc = failed to pull and unpack image ' \
         f'"{IMG}": failed to resolve reference "{IMG}": {IMG}: not found'

#: Runs in the child: argv = token file, CA file, namespace file, then pulldoctor's own arguments.
CHILD = """
import sys
from pathlib import Path
from kubernetes.config import incluster_config
import pulldoctor.kubeapi.config as api_config
for module, name in ((incluster_config, "SERVICE_TOKEN_FILENAME"), (incluster_config, "SERVICE_CERT_FILENAME"),
                     (api_config, "_IN_CLUSTER_NS")):  # a renamed constant must fail here, not be patched in vain
    assert hasattr(module, name), f"{module.__name__}.{name} is gone"
incluster_config.SERVICE_TOKEN_FILENAME = sys.argv[1]
incluster_config.SERVICE_CERT_FILENAME = sys.argv[2]
api_config._IN_CLUSTER_NS = Path(sys.argv[3])
from pulldoctor.cli import main
sys.exit(main(sys.argv[4:]))
"""


def objects() -> list[dict]:
    """One failing pod in the service account's namespace (``shop``), a running one, and a failing pod in
    another namespace that a namespaced run must not report."""
    web = o.pod("web-0", namespace="shop", containers=[o.container("app", IMG)],
                statuses=[o.waiting("app", IMG, "ErrImagePull", FAILED)])
    other = o.pod("elsewhere", namespace="other", containers=[o.container("app", IMG)],
                  statuses=[o.waiting("app", IMG, "ImagePullBackOff", f'Back-off pulling image "{IMG}"')])
    return [web, other, o.event(web, "Failed", FAILED, container="app"),
            o.pod("fine", namespace="shop", phase="Running", statuses=[o.running("app", "nginx:1.25")])]


@pytest.fixture
def token() -> str:
    return f"sa-token-{secrets.token_hex(12)}"


@pytest.fixture
def api(tmp_path: Path, token: str) -> Iterator[FakeKubeAPI]:
    need_binary("openssl")  # the fake API server's certificate
    with FakeKubeAPI(objects(), token=token, tls_dir=tmp_path / "tls") as server:
        yield server


def run_in_pod(api: FakeKubeAPI, tmp_path: Path, token_text: str, *args: str,
               namespace: str = "shop", ca: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``pulldoctor ARGS`` with only what a pod has: env vars, a token file, the cluster CA (``ca``, default
    the server's own), a namespace file."""
    sa = tmp_path / "serviceaccount"
    sa.mkdir(exist_ok=True)
    (sa / "token").write_text(token_text)
    (sa / "namespace").write_text(namespace)
    ca = ca or api.ca_file
    assert ca is not None
    home = tmp_path / "home"  # no ~/.kube/config: a kubeconfig would win over the service account
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "PULLDOCTOR_DEBUG")}
    env.update(HOME=str(home), KUBERNETES_SERVICE_HOST="127.0.0.1", KUBERNETES_SERVICE_PORT=str(api.port))
    return subprocess.run([sys.executable, "-c", CHILD, str(sa / "token"), str(ca), str(sa / "namespace"),
                           *args], env=env, capture_output=True, text=True, timeout=60,
                          check=False)


def test_diagnose_in_cluster_uses_the_service_account(api: FakeKubeAPI, tmp_path: Path, token: str) -> None:
    out = run_in_pod(api, tmp_path, token, "diagnose", "-o", "json", "--no-probe", "--request-timeout", "10")
    assert out.returncode == 1, out.stderr  # 1: image failures found
    report = json.loads(out.stdout)
    found = [(f["namespace"], f["pod"], f["container"], f["image"]) for f in report["findings"]]
    assert found == [("shop", "web-0", "app", IMG)]  # the namespace file's namespace, not "default" or "other"
    assert report["findings"][0]["cause"] == "tag_not_found", report["findings"][0]["summary"]
    assert api.requests, "the fake API server saw nothing"
    assert {r.authorization for r in api.requests} == {f"bearer {token}"}  # the token file, on every request
    assert any(r.path == "/api/v1/namespaces/shop/pods" for r in api.requests)
    assert token not in out.stdout + out.stderr


def test_in_cluster_wrong_token_is_one_line_exit_2(api: FakeKubeAPI, tmp_path: Path, token: str) -> None:
    out = run_in_pod(api, tmp_path, "not-the-token", "diagnose", "-o", "json", "--no-probe",
                     "--request-timeout", "10")
    assert out.returncode == 2 and out.stdout == "", (out.stdout, out.stderr)
    assert out.stderr.count("\n") == 1 and "unauthorized" in out.stderr, out.stderr
    assert {r.status for r in api.requests} == {401}
    assert "not-the-token" not in out.stderr


def test_in_cluster_checks_the_api_servers_certificate(api: FakeKubeAPI, tmp_path: Path, token: str) -> None:
    """The service account's CA is what makes the API server trusted: with another CA the run stops."""
    other = FakeKubeAPI(tls_dir=tmp_path / "other-tls").ca_file  # never started: only its own certificate
    out = run_in_pod(api, tmp_path, token, "diagnose", "--no-probe", "--request-timeout", "10", ca=other)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "certificate verify failed" in out.stderr
    assert api.requests == []  # the handshake failed: no request, so no token, reached the server
