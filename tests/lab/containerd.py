"""containerd with its CRI plugin, pulling from the lab the way a node's kubelet makes it pull.

Its own root, state, socket and certs.d live in a temp dir; the snapshotter is ``native`` (works anywhere).
containerd treats loopback hosts as plain HTTP unless a hosts.toml says otherwise, so the TLS and
HTTP-vs-HTTPS cases each get a host name with its own hosts.toml (research/real-components.md §4):

- ``tls_untrusted``  = lab.nginx_tls over HTTPS, no CA given    → x509: certificate signed by unknown authority
- ``tls_trusted``    = lab.nginx_tls_trusted with ``ca = lab.ca_cert`` → pulls succeed
- ``tls_wrongname``  = "localhost:PORT" of the wrong-name server, its cert as CA → certificate is valid for
  wrong.example, not localhost
- ``tls_expired``    = lab.nginx_tls_expired with ``ca = lab.expired_ca_cert`` (trusted, right name, so expiry
  is the only problem) → x509: certificate has expired or is not yet valid
- ``https_to_http``  = "localhost:PORT" of the open registry, ``server = https://…`` → server gave HTTP
  response to HTTPS client
- ``http_to_https``  = "localhost:PORT" of lab.nginx_tls, ``server = http://…`` → 400 Bad Request
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import grpc

from . import procs
from .cri import CriClient, failure_of
from .startup import Lab

CONTAINERD_BIN = "containerd"
UNIX_PATH_MAX = 100  # sun_path is 108 bytes; keep room for containerd's ".ttrpc" suffix


@dataclass(frozen=True)
class PullOutcome:
    """One PullImage call. ``raw`` is ``rpc error: code = X desc = …`` (empty on success);
    ``kubelet_message`` is what the kubelet keeps of it: cri-client returns only the description when the
    code is Unknown and the whole ``rpc error: …`` text otherwise (kubernetes
    staging/src/k8s.io/cri-client/pkg/remote_image.go, PullImage)."""

    ok: bool
    code: str | None
    raw: str
    kubelet_message: str
    image_ref: str
    elapsed: float


def _hosts_toml(server: str, ca: Path | None = None) -> str:
    lines = [f'server = "{server}"', "", f'[host."{server}"]', '  capabilities = ["pull", "resolve"]']
    if ca is not None:
        lines.append(f'  ca = "{ca}"')
    return "\n".join(lines) + "\n"


def _config(root: Path, socket_path: Path, certs_d: Path) -> str:
    return f"""version = 2
root = "{root / 'root'}"
state = "{root / 'state'}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "{socket_path}"

[plugins."io.containerd.internal.v1.opt"]
  path = "{root / 'opt'}"

[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "native"

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "{root / 'cni-bin'}"
  conf_dir = "{root / 'cni-conf'}"

[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "{certs_d}"
"""


class Containerd:
    """A running containerd; see the module docstring for the host names it knows."""

    def __init__(self, proc: procs.Proc, socket_path: Path, lab: Lab, hosts: dict[str, str],
                 startup_seconds: float, remove_dirs: tuple[Path, ...] = ()) -> None:
        self._proc = proc
        self._remove_dirs = remove_dirs
        self.socket_path = socket_path
        self._client = CriClient(str(socket_path))
        self.startup_seconds = startup_seconds
        self.tls_untrusted = hosts["tls_untrusted"]
        self.tls_trusted = hosts["tls_trusted"]
        self.tls_wrongname = hosts["tls_wrongname"]
        self.tls_expired = hosts.get("tls_expired", "")
        self.https_to_http = hosts["https_to_http"]
        self.http_to_https = hosts["http_to_https"]
        self._lab = lab

    @property
    def pid(self) -> int:
        return self._proc.pid

    def pull(self, image: str, username: str | None = None, password: str | None = None,
             timeout: float = 30) -> PullOutcome:
        """CRI PullImage with the kubelet's request shape; never raises for a failed pull."""
        start = time.monotonic()
        try:
            ref = self._client.pull(image, username, password, timeout)
        except grpc.RpcError as err:
            failure = failure_of(err)
            message = failure.desc if failure.code == "Unknown" else failure.raw
            return PullOutcome(False, failure.code, failure.raw, message, "", time.monotonic() - start)
        return PullOutcome(True, None, "", "", ref, time.monotonic() - start)

    def remove(self, image: str) -> None:
        """CRI RemoveImage (so a later pull of the same content goes to the registry again)."""
        self._client.remove(image)

    def version(self) -> dict[int, str]:
        return self._client.version()

    def log_text(self, limit: int = 4_000_000) -> str:
        """containerd's own log (its view of each failure, e.g. ``code = Canceled`` for a client deadline)."""
        with open(self._proc.log, "rb") as f:
            return f.read(limit).decode("utf-8", "replace")

    def stop(self) -> None:
        """Stop containerd (SIGTERM, then SIGKILL); remove the temp dirs it was given. Idempotent."""
        atexit.unregister(self.stop)
        self._client.close()
        self._proc.stop()
        for directory in self._remove_dirs:
            shutil.rmtree(directory, ignore_errors=True)


def _write_hosts(certs_d: Path, lab: Lab) -> dict[str, str]:
    tls_port = lab.nginx_tls.rpartition(":")[2]
    wrong_port = lab.nginx_tls_wrongname.rpartition(":")[2]
    open_port = lab.open_registry.rpartition(":")[2]
    hosts = {
        "tls_untrusted": (lab.nginx_tls, _hosts_toml(f"https://{lab.nginx_tls}")),
        "tls_trusted": (lab.nginx_tls_trusted, _hosts_toml(f"https://{lab.nginx_tls_trusted}", lab.ca_cert)),
        "tls_wrongname": (f"localhost:{wrong_port}", _hosts_toml(f"https://localhost:{wrong_port}",
                                                                 lab.wrongname_cert)),
        "https_to_http": (f"localhost:{open_port}", _hosts_toml(f"https://localhost:{open_port}")),
        "tls_expired": (lab.nginx_tls_expired, _hosts_toml(f"https://{lab.nginx_tls_expired}", lab.expired_ca_cert)),
        "http_to_https": (f"localhost:{tls_port}", _hosts_toml(f"http://localhost:{tls_port}")),
    }
    if not lab.nginx_tls_expired:  # a Lab made without the expired-certificate port
        del hosts["tls_expired"]
    for host, text in hosts.values():
        (certs_d / host).mkdir(parents=True, exist_ok=True)
        (certs_d / host / "hosts.toml").write_text(text)
    return {name: host for name, (host, _) in hosts.items()}


def start_containerd(lab: Lab, root: Path | None = None, *, timeout: float = 20.0) -> Containerd:
    """Start containerd under ``root`` (a new temp dir, removed at stop, when None) and wait until its CRI
    plugin answers ``Version``."""
    t0 = time.monotonic()
    remove: list[Path] = []
    if root is None:
        root = Path(tempfile.mkdtemp(prefix="pulldoctor-containerd-"))
        remove.append(root)
    root.mkdir(parents=True, exist_ok=True)
    sock_dir = root
    if len(str(root)) + 20 >= UNIX_PATH_MAX:
        sock_dir = Path(tempfile.mkdtemp(prefix="pd-ctrd-"))
        remove.append(sock_dir)
    socket_path = sock_dir / "containerd.sock"
    certs_d = root / "certs.d"
    for sub in ("root", "state", "opt", "cni-bin", "cni-conf", "certs.d"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    hosts = _write_hosts(certs_d, lab)
    config = root / "config.toml"
    config.write_text(_config(root, socket_path, certs_d))
    proc = procs.start("containerd", [CONTAINERD_BIN, "--config", str(config), "--log-level", "info"],
                       root / "containerd.log")
    client: CriClient | None = None

    def ready() -> bool:
        nonlocal client
        if not socket_path.exists():
            return False
        client = client or CriClient(str(socket_path))
        try:
            return client.version(timeout=1.0).get(2) == "containerd"
        except grpc.RpcError:
            return False

    try:
        procs.wait_ready(proc, ready, timeout=timeout, every=0.02)
    except BaseException:
        proc.stop()
        for directory in remove:
            shutil.rmtree(directory, ignore_errors=True)
        raise
    finally:
        if client is not None:
            client.close()
    runtime = Containerd(proc, socket_path, lab, hosts, time.monotonic() - t0, tuple(remove))
    atexit.register(runtime.stop)
    return runtime
