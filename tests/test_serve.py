"""`pulldoctor serve` against the fake API server, with real watch streams and the real kubernetes client.

The exporter runs in-process on threads (or as a subprocess for the signal test) and is always stopped
by its handle, with bounded waits. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kubeapi import FakeKubeAPI
from kubeapi import objects as o
from pulldoctor.causes import Cause, WaitingReason
from pulldoctor.exporter import Exporter, ExporterConfig

CANARY = "CANARY-pw-7f3a9c"
NOT_FOUND = ('failed to pull and unpack image "docker.io/library/nginx:1.99": failed to resolve reference '
             '"docker.io/library/nginx:1.99": docker.io/library/nginx:1.99: not found')
NO_AUTH = ('failed to pull and unpack image "ghcr.io/acme/api:2.0": failed to resolve reference '
           '"ghcr.io/acme/api:2.0": failed to authorize: failed to fetch anonymous token: unexpected status '
           'from GET request to https://ghcr.io/token?scope=repository%3Aacme%2Fapi%3Apull&service=ghcr.io: '
           '401 Unauthorized')


def failing_pod(name: str, image: str = "nginx:1.99", message: str = NOT_FOUND, *, namespace: str = "default",
                reason: str = "ErrImagePull", **kw: Any) -> dict[str, Any]:
    return o.pod(name, namespace, containers=[o.container("app", image)],
                 statuses=[o.waiting("app", image, reason, message)], **kw)


def healthy(pod: dict[str, Any]) -> dict[str, Any]:
    pod = dict(pod)
    image = pod["spec"]["containers"][0]["image"]
    pod["status"] = {**pod["status"], "phase": "Running", "containerStatuses": [o.running("app", image)]}
    return pod


# --- helpers ------------------------------------------------------------------------------------------


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def failing_series(port: int) -> list[dict[str, str]]:
    _, text = http_get(port, "/metrics")
    for fam in text_string_to_metric_families(text):
        if fam.name == "pulldoctor_image_pull_failing":
            return [dict(s.labels) for s in fam.samples]
    return []


def wait_for(cond: Callable[[], bool], timeout: float, step: float = 0.02) -> float:
    """Seconds until ``cond()`` held; fails the test after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if cond():
            return time.monotonic() - start
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout}s")


def pods_in(port: int) -> set[str]:
    return {s["pod"] for s in failing_series(port)}


@pytest.fixture
def api() -> Iterator[FakeKubeAPI]:
    with FakeKubeAPI([o.service_account("default", "default"), o.node("node-1")]) as server:
        yield server


@pytest.fixture
def start_exporter(api: FakeKubeAPI, tmp_path: Path) -> Iterator[Callable[..., Exporter]]:
    started: list[Exporter] = []

    def start(**overrides: Any) -> Exporter:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        settings: dict[str, Any] = {"listen_host": "127.0.0.1", "listen_port": 0, "kubeconfig": str(kubeconfig),
                                    "all_namespaces": True, "probe": False, "backoff_initial": 0.1,
                                    "backoff_max": 0.5}
        settings.update(overrides)
        exporter = Exporter(ExporterConfig(**settings))
        started.append(exporter)
        exporter.start()
        return exporter

    yield start
    for exporter in started:
        exporter.stop(timeout=5)
        assert not [t for t in exporter._threads if t.is_alive()], "a thread outlived stop()"


# --- behaviour ----------------------------------------------------------------------------------------


def test_failure_appears_within_2s_and_leaves_when_the_pod_recovers(api: FakeKubeAPI, start_exporter) -> None:
    api.add(failing_pod("old"))
    ex = start_exporter()
    wait_for(lambda: ex.ready, 5)
    assert pods_in(ex.port) == {"old"}

    pod = api.add(failing_pod("web", "nginx:1.99"))
    elapsed = wait_for(lambda: "web" in pods_in(ex.port), 2.0)
    series = [s for s in failing_series(ex.port) if s["pod"] == "web"]
    assert series == [{"namespace": "default", "pod": "web", "container": "app", "image": "nginx:1.99",
                       "registry": "docker.io", "cause": "tag_not_found", "waiting_reason": "ErrImagePull"}]
    assert elapsed < 2.0

    api.update(healthy(pod))
    wait_for(lambda: "web" not in pods_in(ex.port), 2.0)
    api.delete("Pod", "old", "default")
    wait_for(lambda: pods_in(ex.port) == set(), 2.0)
    _, text = http_get(ex.port, "/metrics")
    assert 'pulldoctor_image_pull_failing_containers{cause="tag_not_found"} 0.0' in text


def library_causes(objs: list[dict[str, Any]]) -> dict[str, str]:
    """What `pulldoctor diagnose --no-probe` concludes for the same objects: the exporter must agree."""
    import msgspec

    from pulldoctor.cluster import Snapshot, find_failing
    from pulldoctor.cluster.model import KubeObject
    from pulldoctor.diagnosis import run

    snapshot = Snapshot()
    snapshot.add([msgspec.convert(obj, KubeObject) for obj in objs])
    diagnosis = run(find_failing(snapshot), snapshot)
    return {f.pod: f.cause.value for f in diagnosis.findings}


def test_cause_follows_the_events_and_matches_diagnose(api: FakeKubeAPI, start_exporter) -> None:
    ex = start_exporter()
    wait_for(lambda: ex.ready, 5)
    objs = [failing_pod("a", "ghcr.io/acme/api:2.0", NO_AUTH), failing_pod("b", "ghcr.io/acme/api:2.0", NO_AUTH)]
    # Back-off without the reason (kubelet < 1.32): only the kubelet's Failed event carries the real error.
    bare = failing_pod("c", "nginx:1.99", 'Back-off pulling image "nginx:1.99"', reason="ImagePullBackOff")
    objs += [bare, o.event(bare, "Failed", f'Failed to pull image "nginx:1.99": {NOT_FOUND}', container="app",
                           count=3)]
    for obj in objs:
        api.add(obj)
    expected = library_causes([o.service_account("default", "default"), o.node("node-1"), *objs])
    assert expected["c"] == "tag_not_found" and expected["a"] == expected["b"]
    wait_for(lambda: {s["pod"]: s["cause"] for s in failing_series(ex.port)} == expected, 3)
    _, text = http_get(ex.port, "/metrics")
    totals = {s.labels["cause"]: s.value for fam in text_string_to_metric_families(text)
              if fam.name == "pulldoctor_image_pull_failing_containers" for s in fam.samples}
    assert set(totals) == {c.value for c in Cause}
    assert {c: n for c, n in totals.items() if n} == {
        cause: float(list(expected.values()).count(cause)) for cause in set(expected.values())}


def test_exec_credential_plugin_kubeconfig(api: FakeKubeAPI, tmp_path: Path) -> None:
    """Auth goes through the official client: an exec plugin (as `aws eks get-token`) supplies the token."""
    api.add(failing_pod("web"))
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", exec_plugin=True)
    ex = Exporter(ExporterConfig(listen_host="127.0.0.1", listen_port=0, kubeconfig=str(kubeconfig),
                                 all_namespaces=True, probe=False))
    ex.start()
    try:
        wait_for(lambda: ex.ready, 10)
        assert pods_in(ex.port) == {"web"}
        assert api.exec_runs >= 1
        assert all(r.status != 401 for r in api.requests)
    finally:
        ex.stop()


def test_readyz_is_false_before_the_first_list_and_true_after(api: FakeKubeAPI, start_exporter) -> None:
    api.forbid("pods")
    api.add(failing_pod("web"))
    ex = start_exporter()
    wait_for(lambda: any(r.status == 403 for r in api.requests), 5)
    code, text = http_get(ex.port, "/readyz")
    assert code == 503 and "pods" in text
    assert http_get(ex.port, "/healthz")[0] == 200
    assert "pulldoctor_ready 0.0" in http_get(ex.port, "/metrics")[1]
    api.allow("pods")
    wait_for(lambda: http_get(ex.port, "/readyz")[0] == 200, 5)
    assert pods_in(ex.port) == {"web"}
    assert "pulldoctor_ready 1.0" in http_get(ex.port, "/metrics")[1]
    assert 'pulldoctor_watch_errors_total{reason="http_403",resource="pods"}' in http_get(ex.port, "/metrics")[1]


def test_ready_without_permission_to_list_events(api: FakeKubeAPI, start_exporter) -> None:
    api.forbid("events")
    api.add(failing_pod("web"))
    ex = start_exporter(findings_endpoint=True)
    wait_for(lambda: ex.ready, 5)
    assert pods_in(ex.port) == {"web"}
    _, body = http_get(ex.port, "/findings")
    assert "cannot list events (no permission)" in body


def test_survives_watch_close_410_and_a_vanishing_api_server(api: FakeKubeAPI, start_exporter) -> None:
    """Bounded: about 12 s, most of it the 10 s the API server is gone."""
    ex = start_exporter()
    wait_for(lambda: ex.ready, 5)

    api.close_watches()                                   # the server ends the stream (its timeout)
    api.add(failing_pod("after-close"))
    wait_for(lambda: "after-close" in pods_in(ex.port), 3)

    lists_before = len(api.pages("/api/v1/pods"))
    api.add(failing_pod("missed"), notify=False)          # a change no open watch sees...
    api.delete("Pod", "after-close", "default")
    api.expire()                                          # ...then 410 Gone: only a re-list finds it
    wait_for(lambda: pods_in(ex.port) == {"missed"}, 3)
    assert len(api.pages("/api/v1/pods")) > lists_before
    assert ex.watchers[0].stats.errors.get("gone", 0) >= 1

    api.go_away(10)                                       # connection refused for 10 s
    time.sleep(1.0)
    assert pods_in(ex.port) == {"missed"}                 # still serving what it knew
    assert http_get(ex.port, "/healthz")[0] == 200
    wait_for(lambda: ex.watchers[0].stats.errors.get("connection", 0) >= 1, 5)
    wait_for(lambda: _listening(api.port), 12, step=0.1)
    api.add(failing_pod("back"))
    api.delete("Pod", "missed", "default")
    wait_for(lambda: pods_in(ex.port) == {"back"}, 3)
    assert ex.ready


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_labels_are_bounded_and_carry_no_message_text(api: FakeKubeAPI, start_exporter) -> None:
    ex = start_exporter()
    wait_for(lambda: ex.ready, 5)
    messages: set[str] = set()
    for i in range(20):
        unique = f"request-id {i:04d}-{os.urandom(6).hex()} at 10.1.{i}.7:5000"
        message = f"rpc error: code = Unknown desc = {unique}: {NO_AUTH}"
        messages.add(message)
        api.add(failing_pod(f"p{i}", f"registry.acme.io/team/app:{i % 3}", message))
    wait_for(lambda: len(failing_series(ex.port)) == 20, 5)
    series = failing_series(ex.port)
    causes = {c.value for c in Cause}
    reasons = {r.value for r in WaitingReason}
    for s in series:
        assert set(s) == {"namespace", "pod", "container", "image", "registry", "cause", "waiting_reason"}
        assert s["cause"] in causes and s["waiting_reason"] in reasons
        for value in s.values():
            assert all(value not in m or value in ("app", "default") or value.startswith("registry.acme.io")
                       for m in messages), value
            assert "request-id" not in value and "rpc error" not in value and len(value) <= 512
    # one series per failing container: 20 pods, 3 images, one cause
    assert len({s["image"] for s in series}) == 3
    _, text = http_get(ex.port, "/metrics")
    assert "request-id" not in text and "10.1." not in text


class _BasicAuthRegistry(BaseHTTPRequestHandler):
    """A registry that wants Basic credentials and refuses every one (so the probe says auth_invalid)."""

    seen: ClassVar[list[str]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _deny(self) -> None:
        _BasicAuthRegistry.seen.append(self.headers.get("Authorization", ""))
        body = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="fake"')
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = _deny


@pytest.fixture
def registry() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _BasicAuthRegistry)
    httpd.daemon_threads = True
    t = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    _BasicAuthRegistry.seen = []
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        t.join(5)


def test_canary_password_never_in_metrics_findings_or_logs(api: FakeKubeAPI, start_exporter, registry: int,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    import base64

    host = f"127.0.0.1:{registry}"
    image = f"{host}/team/app:1.0"
    api.add(o.secret("regcred", auths={host: ("robot", CANARY)}))
    message = (f'failed to pull and unpack image "{image}": failed to resolve reference "{image}": '
               f"unexpected status from HEAD request to http://{host}/v2/team/app/manifests/1.0: 401 Unauthorized")
    api.add(failing_pod("private", image, message, pull_secrets=["regcred"]))
    caplog.set_level("DEBUG")
    ex = start_exporter(findings_endpoint=True, probe=True, probe_interval=60.0)
    # The probe really sent the secret's credentials (so the canary went through the whole pipeline)...
    wait_for(lambda: any(base64.b64decode(a.split()[-1]).decode().endswith(CANARY)
                         for a in _BasicAuthRegistry.seen if a.startswith("Basic ")), 10, step=0.05)
    # ...and its result reached the finding (the probe part turns a 401 to sent credentials into a cause).
    wait_for(lambda: '"credentials_sent": true' in http_get(ex.port, "/findings")[1], 5)
    _, metrics = http_get(ex.port, "/metrics")
    code, findings = http_get(ex.port, "/findings")
    assert code == 200 and '"status": 401' in findings
    assert "pulldoctor_probe_duration_seconds_count" in metrics
    b64 = base64.b64encode(f"robot:{CANARY}".encode()).decode()
    for text in (metrics, findings, caplog.text, repr(ex.findings()), repr(ex.status())):
        assert CANARY not in text and b64 not in text


def test_probes_are_gated_per_image_and_credential(api: FakeKubeAPI, start_exporter) -> None:
    from pulldoctor.registry.models import ProbeResult

    calls: list[list[str]] = []

    async def fake_probe_many(requests: Any, options: Any) -> list[ProbeResult]:
        calls.append([str(getattr(r.image, "normalized", r.image)) for r in requests])
        return [ProbeResult(image=str(r.image), cause=Cause.TAG_NOT_FOUND, status=404) for r in requests]

    kubeconfig = api.write_kubeconfig(Path(os.environ.get("TMPDIR", "/tmp")) / f"kc-{os.getpid()}-gate")
    ex = Exporter(ExporterConfig(listen_host="127.0.0.1", listen_port=0, kubeconfig=str(kubeconfig),
                                 all_namespaces=True, probe=True, probe_interval=300.0, findings_endpoint=True),
                  probe_many=fake_probe_many)
    ex.start()
    try:
        pods = [api.add(failing_pod(f"web-{i}", "nginx:1.99")) for i in range(5)]
        wait_for(lambda: len(failing_series(ex.port)) == 5 and ex.probes is not None and ex.probes.batches, 5)
        pod = pods[0]
        for n in range(5):  # the kubelet's retries change the pod again and again
            pod["status"]["containerStatuses"][0]["restartCount"] = n + 1
            pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] = (
                "ImagePullBackOff" if n % 2 else "ErrImagePull")
            api.update(pod)
        time.sleep(0.5)
        flat = [image for batch in calls for image in batch]
        assert flat == ["docker.io/library/nginx:1.99"]   # five pods, five updates: one probe
        _, findings = http_get(ex.port, "/findings")
        assert '"probe": {' in findings and '"status": 404' in findings
    finally:
        ex.stop()
        kubeconfig.unlink(missing_ok=True)


def test_namespace_scope(api: FakeKubeAPI, start_exporter) -> None:
    api.add(failing_pod("mine", namespace="team-a"))
    api.add(o.service_account("default", "team-a"))
    api.add(failing_pod("theirs", namespace="team-b"))
    ex = start_exporter(all_namespaces=False, namespace="team-a")
    wait_for(lambda: ex.ready, 5)
    assert pods_in(ex.port) == {"mine"}
    assert all("/namespaces/team-a/" in r.path for r in api.requests if r.path.endswith(("/pods", "/events")))


def test_findings_is_the_diagnose_json(api: FakeKubeAPI, start_exporter) -> None:
    import json

    api.add(failing_pod("web"))
    ex = start_exporter(findings_endpoint=True)
    wait_for(lambda: ex.ready, 5)
    code, body = http_get(ex.port, "/findings")
    doc = json.loads(body)
    assert code == 200 and doc["schema_version"] == 1
    (f,) = doc["findings"]
    assert (f["namespace"], f["pod"], f["container"], f["cause"]) == ("default", "web", "app", "tag_not_found")
    assert {"confidence", "summary", "evidence", "fixes"} <= set(f)
    assert http_get(ex.port, "/nope")[0] == 404


def test_findings_is_off_unless_asked_for(api: FakeKubeAPI, start_exporter) -> None:
    """/findings quotes the cluster's messages: without --findings-endpoint it does not exist."""
    api.add(failing_pod("web"))
    ex = start_exporter()
    wait_for(lambda: ex.ready and pods_in(ex.port) == {"web"}, 5)
    assert http_get(ex.port, "/findings") == (404, "not found\n")
    assert "/findings" not in http_get(ex.port, "/")[1]


# --- the command --------------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_command_stops_on_signal(api: FakeKubeAPI, tmp_path: Path, signum: int) -> None:
    api.add(failing_pod("web"))
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pulldoctor", "serve", "--kubeconfig", str(kubeconfig), "--listen",
         "127.0.0.1:0", "--no-probe", "--findings-endpoint"],
        stderr=subprocess.PIPE, text=True,
    )
    try:
        port = None
        deadline = time.monotonic() + 20
        assert proc.stderr is not None
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
            elif not line and proc.poll() is not None:
                break
        assert port, "no 'listening on' line"
        wait_for(lambda: http_get(port, "/readyz")[0] == 200, 10, step=0.1)
        assert pods_in(port) == {"web"}
        assert http_get(port, "/findings")[0] == 200   # --findings-endpoint reaches the server
        proc.send_signal(signum)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if proc.stderr is not None:
            proc.stderr.close()


@pytest.mark.parametrize("args, text", [
    (["--listen", "nowhere"], "invalid --listen"),
    (["--listen", "example.com:80"], "IP address"),
    (["--probe-interval", "5 minutes"], "invalid duration"),
    (["-n", "x", "-A"], "not both"),
    (["--ca-file", "/nonexistent/ca.pem"], "no such file"),
    (["--kubeconfig", "/nonexistent/kubeconfig"], "does not exist"),
])
def test_bad_options_are_one_line_exit_2(args: list[str], text: str) -> None:
    out = subprocess.run([sys.executable, "-m", "pulldoctor", "serve", *args], capture_output=True, text=True,
                         timeout=30, check=False)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and text in out.stderr and "Traceback" not in out.stderr
