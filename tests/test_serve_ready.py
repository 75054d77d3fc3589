"""``serve`` against an API server that does not answer: not ready (``/readyz`` 503) while ``/healthz`` is ok,
and one log line per back-off step of each watch — not a second one from urllib3 in its own words."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code


def test_unreachable_api_server_is_not_ready_and_logs_once_per_step(tmp_path: Path) -> None:
    closed = _port()  # nothing listens there
    kc = tmp_path / "kc"
    kc.write_text(f"apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{closed}'}}}}]\n"
                  "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n"
                  "users: [{name: u, user: {token: abc}}]\n")
    port = _port()
    proc = subprocess.Popen([sys.executable, "-m", "pulldoctor", "serve", "--kubeconfig", str(kc), "--listen",
                             f"127.0.0.1:{port}", "--no-probe"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        ready = healthy = 0
        for _ in range(50):  # bounded: 10 s
            time.sleep(0.2)
            try:
                ready, healthy = _status(f"http://127.0.0.1:{port}/readyz"), _status(f"http://127.0.0.1:{port}/healthz")
            except OSError:
                continue
            if healthy:
                break
        time.sleep(3)  # a few back-off steps
        assert (ready, healthy) == (503, 200)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert not [ln for ln in lines if "urllib3" in ln], lines
    retries = [ln for ln in lines if "cannot reach the Kubernetes API" in ln and "retrying" in ln]
    assert retries and all(ln.count("cannot reach") == 1 for ln in retries)
