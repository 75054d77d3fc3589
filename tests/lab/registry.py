"""docker-registry (CNCF distribution 2.8) instances: open, htpasswd-protected, pull-through cache.

Configs follow research/real-components.md §2. A pull-through cache panics at start-up when its upstream is
down, so callers start it only after the upstream answers.
"""

from __future__ import annotations

import http.client
import json
import subprocess
from pathlib import Path

from . import procs

REGISTRY_BIN = "docker-registry"
REALM = "pulldoctor-lab"


def write_htpasswd(path: Path, user: str, password: str) -> None:
    """bcrypt entry via ``htpasswd -i`` so the password goes through stdin, never argv."""
    out = subprocess.run(["htpasswd", "-niB", user], input=password.encode(), capture_output=True,
                         check=True, timeout=30)
    path.write_bytes(out.stdout)


def write_config(directory: Path, port: int, *, htpasswd: Path | None = None,
                 upstream: str | None = None) -> Path:
    """A registry config (YAML is a superset of JSON, so it is written as JSON)."""
    config: dict[str, object] = {
        "version": 0.1,
        "log": {"level": "info", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(directory / "data")}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": "pulldoctor-lab-not-a-secret"},
    }
    if htpasswd is not None:
        config["auth"] = {"htpasswd": {"realm": REALM, "path": str(htpasswd)}}
    if upstream is not None:
        config["proxy"] = {"remoteurl": f"http://{upstream}"}
    path = directory / "config.yml"
    path.write_text(json.dumps(config, indent=1))
    return path


def v2_status(hostport: str, timeout: float = 1.0) -> int:
    """Status of ``GET /v2/`` (200 open, 401 with auth) — the readiness probe."""
    host, _, port = hostport.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", "/v2/")
        resp = conn.getresponse()
        resp.read(4096)
        return resp.status
    finally:
        conn.close()


def start_registry(name: str, directory: Path, *, htpasswd: Path | None = None,
                   upstream: str | None = None) -> tuple[procs.Proc, str]:
    """Start one registry on a free loopback port; returns the process and ``127.0.0.1:PORT``."""
    directory.mkdir(parents=True, exist_ok=True)
    port = procs.free_port()
    config = write_config(directory, port, htpasswd=htpasswd, upstream=upstream)
    proc = procs.start(name, [REGISTRY_BIN, "serve", str(config)], directory / "registry.log")
    return proc, f"127.0.0.1:{port}"


def registry_ready(hostport: str) -> bool:
    try:
        return v2_status(hostport) in (200, 401)
    except (OSError, http.client.HTTPException):
        return False
