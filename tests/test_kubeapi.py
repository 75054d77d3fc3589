"""``pulldoctor.kubeapi``, the one API client of ``diagnose``, ``collect`` and ``serve``: the one mapping
from an HTTP answer or a transport failure to a typed ``ApiError``, and deadlines that hold in any thread
(the SIGALRM deadline it replaced held only in the main thread). Real servers on 127.0.0.1, the real
``kubernetes`` client doing the talking."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from test_robustness_live import (
    answer,
    closed_port,
    drip,
    exec_kubeconfig,
    http_server,
    kubeconfig_for,
)

from kubeapi import FakeKubeAPI
from kubeapi import objects as o
from pulldoctor import errors
from pulldoctor.cluster import SourceSpec, load_snapshot
from pulldoctor.kubeapi import KubeApi, connect, list_all


def _api(port: int, tmp_path: Path, timeout: float = 5.0) -> KubeApi:
    return connect(kubeconfig=str(kubeconfig_for(port, tmp_path / "kc")), request_timeout=timeout)


@pytest.mark.parametrize(("status", "body", "kind", "reason", "message"), [
    (401, b'{"kind":"Status","reason":"Unauthorized","message":"Unauthorized"}', errors.ApiUnauthorized,
     "Unauthorized", "Unauthorized"),
    (403, b'{"kind":"Status","reason":"Forbidden","message":"pods is forbidden:\\n user x"}', errors.ApiForbidden,
     "Forbidden", "pods is forbidden: user x"),
    (404, b'{"kind":"Status","reason":"NotFound","message":"secrets \\"x\\" not found"}', errors.ApiNotFound,
     "NotFound", 'secrets "x" not found'),
    (410, b'{"kind":"Status","reason":"Expired","message":"too old"}', errors.ApiGone, "Expired", "too old"),
    (500, b"<html>" + b"x" * 5000 + b"</html>", errors.ApiStatusError, "Internal Server Error",
     "Internal Server Error"),
    (503, rb'{"kind":"Status","reason":"\u001b]0;x\u0007","message":"\u001b[2Jetcd down"}', errors.ApiStatusError,
     "\\x1b]0;x\\x07", "\\x1b[2Jetcd down"),
])  # fmt: skip
def test_one_mapping_from_status_to_error(tmp_path: Path, status: int, body: bytes, kind: type[errors.ApiError],
                                          reason: str, message: str) -> None:
    server = http_server(answer(status, body))
    try:
        api = _api(server.server_address[1], tmp_path)
        with pytest.raises(errors.ApiStatusError) as caught:
            api.get("/api/v1/namespaces/default/secrets/x", cap=1 << 20)
        err = caught.value
        assert type(err) is kind and isinstance(err, errors.ClusterAccessError)  # one line, exit 2 in the CLI
        assert (err.status, err.reason, err.message) == (status, reason, message)
        assert str(err) == f"the Kubernetes API at {api.host} answered {status}: {message}"
        assert isinstance(err, errors.ApiForbidden) == (status in (401, 403))
    finally:
        server.shutdown()


def test_transport_failures_are_api_unavailable(tmp_path: Path) -> None:
    api = _api(closed_port(), tmp_path)
    with pytest.raises(errors.ApiUnavailable, match="cannot reach .* [(]connection refused[)]") as caught:
        api.get("/api/v1/pods", cap=1 << 20)
    assert not isinstance(caught.value, errors.ApiTimeout)


def test_a_body_over_its_cap_is_api_too_large(tmp_path: Path) -> None:
    server = http_server(answer(200, b"{" + b" " * 5000 + b"}"))
    try:
        with pytest.raises(errors.ApiTooLarge, match="exceeds 4096 bytes"):
            _api(server.server_address[1], tmp_path).get("/api/v1/pods", cap=4096)
    finally:
        server.shutdown()


def test_a_continue_token_that_expires_twice_is_one_error(tmp_path: Path) -> None:
    """410 on every page after the first: ``list_all`` lists again once, then gives up with one line."""
    def handle(h: object) -> None:
        gone = "continue=" in h.path  # type: ignore[attr-defined]
        body = (b'{"kind":"Status","code":410,"reason":"Expired","message":"too old"}' if gone
                else b'{"metadata":{"continue":"t"},"items":[1]}')
        answer(410 if gone else 200, body)(h)  # type: ignore[arg-type]

    server = http_server(handle)
    try:
        def decode(body: bytes) -> tuple[list[int], str, str]:
            return ([1], "", "t")

        with pytest.raises(errors.ApiBadResponse, match="the continue token expired twice"):
            list_all(_api(server.server_address[1], tmp_path), "/api/v1/pods", [], decode, page_size=1,
                     cap=1 << 20, max_pages=10, max_objects=100, what="pods")
    finally:
        server.shutdown()


def _in_a_thread(call: Callable[[], object]) -> tuple[BaseException | None, float]:
    """Run ``call`` in a worker thread (where no signal can reach it); its exception and how long it took."""
    out: list[BaseException | None] = [None]

    def run() -> None:
        try:
            call()
        except BaseException as err:
            out[0] = err

    started = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "the call was not bounded"
    return out[0], time.monotonic() - started


def test_a_dripping_server_is_bounded_in_a_worker_thread(tmp_path: Path) -> None:
    """A byte every 0.3 s restarts every socket timeout; the deadline holds outside the main thread too,
    for the CLI's reader (``load_snapshot``) and for a bare GET (the exporter's)."""
    server = http_server(drip)
    try:
        kc = kubeconfig_for(server.server_address[1], tmp_path / "kc")
        err, took = _in_a_thread(lambda: load_snapshot(SourceSpec(kubeconfig=str(kc), request_timeout=1.5)))
        assert isinstance(err, errors.ApiTimeout) and "did not answer within 1.5 s" in str(err), err
        assert 1.4 < took < 4
        api = _api(server.server_address[1], tmp_path, timeout=1.0)
        err, took = _in_a_thread(lambda: api.get("/api/v1/nodes/n", cap=1 << 20))
        assert isinstance(err, errors.ApiTimeout) and 0.9 < took < 3, (err, took)
    finally:
        server.shutdown()


def drip_headers(h: object) -> None:
    """A status line, then a header a byte every 0.2 s: every socket read succeeds, the headers never end."""
    w = h.wfile  # type: ignore[attr-defined]
    try:
        w.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        for _ in range(200):
            w.write(b"a")
            w.flush()
            time.sleep(0.2)
    except OSError:
        return


def test_a_server_that_drips_its_headers_is_bounded(tmp_path: Path) -> None:
    """urllib3's read timeout restarts with each byte of the headers; the request's deadline does not, in a
    worker thread (the exporter's) as in the CLI."""
    server = http_server(drip_headers)
    try:
        api = _api(server.server_address[1], tmp_path, timeout=1.0)
        err, took = _in_a_thread(lambda: api.get("/api/v1/pods", cap=1 << 20))
        assert isinstance(err, errors.ApiTimeout) and "did not answer within 1 s" in str(err), err
        assert 0.9 < took < 2.5, took
        started = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "pulldoctor", "diagnose", "--kubeconfig", str(tmp_path / "kc"),
                            "--request-timeout", "1.5"], capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        assert (r.returncode, r.stderr.count("\n")) == (2, 1) and "did not answer within 1.5 s" in r.stderr, r.stderr
        assert time.monotonic() - started < 6
    finally:
        server.shutdown()


def test_a_silent_body_is_bounded_by_what_is_left_of_the_deadline(tmp_path: Path) -> None:
    """Headers at once, then nothing: the body's read waits what is left of the deadline, not a fresh one."""
    def headers_then_silence(h: object) -> None:
        h.send_response(200)  # type: ignore[attr-defined]
        h.send_header("Content-Length", "100")  # type: ignore[attr-defined]
        h.end_headers()  # type: ignore[attr-defined]
        h.wfile.write(b"{")  # type: ignore[attr-defined]
        h.wfile.flush()  # type: ignore[attr-defined]
        time.sleep(10)

    server = http_server(headers_then_silence)
    try:
        api = _api(server.server_address[1], tmp_path, timeout=1.0)
        err, took = _in_a_thread(lambda: api.get("/api/v1/pods", cap=1 << 20))
        assert isinstance(err, errors.ApiTimeout) and 0.9 < took < 2.5, (err, took)
    finally:
        server.shutdown()


def test_a_hanging_exec_plugin_is_bounded_in_a_worker_thread(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin.py"
    plugin.write_text("import time\ntime.sleep(3)\n")
    kc = exec_kubeconfig(tmp_path / "kc", closed_port(), plugin)
    err, took = _in_a_thread(lambda: connect(kubeconfig=str(kc), request_timeout=1.0))
    assert isinstance(err, errors.ClusterAccessError) and "exec credential plugin" in str(err), err
    assert took < 2.5


def test_diagnose_and_serve_read_the_same_api_through_one_client(tmp_path: Path) -> None:
    """404 and 403 on the objects a failing pod needs: ``diagnose`` notes them, ``serve``'s context cache
    remembers them as the same typed errors."""
    from pulldoctor.cluster import Snapshot
    from pulldoctor.cluster.model import Pod, decode_object
    from pulldoctor.exporter.context import ContextCache

    img = "registry.example.invalid/a:1"
    pod = o.pod("web", containers=[o.container("app", img)], statuses=[o.waiting("app", img, "ErrImagePull", "x")],
                pull_secrets=["absent"])
    with FakeKubeAPI([pod, o.node()]) as server:
        server.forbid("nodes")
        api = connect(kubeconfig=str(server.write_kubeconfig(tmp_path / "kc")), request_timeout=5)
        cache = ContextCache(api)
        snap = Snapshot()
        decoded = decode_object(json.dumps(pod).encode(), "Pod")
        assert isinstance(decoded, Pod)
        cache.fill(snap, [decoded])
        assert "absent" not in {name for _, name in snap.secrets} and snap.listed("Secret", "default")
        assert not snap.listed("Node", "default")
        assert isinstance(cache._get("secrets", "default", "absent"), errors.ApiNotFound)
        assert isinstance(cache._get("nodes", "", "node-1"), errors.ApiForbidden)
        live = load_snapshot(SourceSpec(kubeconfig=str(tmp_path / "kc"), request_timeout=5))
        assert any(n.startswith("could not read nodes: forbidden") for n in live.notes)
        api.close()


@pytest.mark.parametrize("command", [["diagnose"], ["collect", "-o", "b.tgz"], ["serve"]])
def test_namespace_with_all_namespaces_is_refused_in_one_place_with_one_text(command: list[str]) -> None:
    r = subprocess.run([sys.executable, "-m", "pulldoctor", *command, "-n", "x", "-A"], capture_output=True,
                       text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert (r.returncode, r.stderr) == (2, "pulldoctor: use either -n NAMESPACE or -A, not both\n")
