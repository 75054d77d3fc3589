"""The ``Lab``: every registry-side part started together on loopback, and what tests need to use them."""

from __future__ import annotations

import atexit
import itertools
import secrets
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import images, nginx, procs, registry, tls
from .blackhole import Blackhole

USER = "alice"
PASSWORD = "CANARY-pw-7f3a9c"  # the canary: secret-leak tests grep every output for it
UNRESOLVABLE = "registry.pulldoctor.invalid"  # RFC 2606: .invalid never resolves


@dataclass
class Lab:
    """Addresses ("127.0.0.1:PORT") of the running parts; see the package docstring for each one."""

    root: Path
    open_registry: str
    auth_registry: str
    proxy_registry: str
    nginx: str
    nginx_tls: str
    nginx_tls_trusted: str
    nginx_tls_wrongname: str
    ca_cert: Path
    wrongname_cert: Path
    closed_port: str
    blackhole: str
    startup_seconds: float
    timings: dict[str, float]
    user: str = USER
    password: str = field(default=PASSWORD, repr=False)
    unresolvable: str = UNRESOLVABLE
    ratelimit_budget: int = nginx.RATELIMIT_BUDGET
    _procs: list[procs.Proc] = field(default_factory=list, repr=False)
    _blackhole: Blackhole | None = field(default=None, repr=False)
    _access_log: Path | None = field(default=None, repr=False)
    _owns_root: bool = field(default=False, repr=False)
    _counter: itertools.count[int] = field(default_factory=itertools.count, repr=False)
    # keyword-only, so the positional order of the fields above stays as it was
    nginx_tls_expired: str = field(default="", kw_only=True)
    expired_ca_cert: Path = field(default=Path(), kw_only=True)

    # -- images --------------------------------------------------------------------------------------
    def push(self, registry: str, repo: str, tag: str, *, platforms: Sequence[str] = ("linux/amd64",),
             layer_bytes: int = 1024, layers: int = 1, index: bool | None = None,
             auth: tuple[str, str] | None = None) -> images.Pushed:
        """Push a fresh random image. Addresses that only front the open registry (nginx, its TLS ports,
        the pull-through cache) are pushed to the open registry under the same repository name, and the
        returned ``Pushed.ref`` still names the address asked for."""
        target = self.open_registry if registry in self._fronts() else registry
        pushed = images.push(target, repo, tag, platforms=platforms, layer_bytes=layer_bytes, layers=layers,
                             index=index, auth=auth)
        return images.Pushed(**{**pushed.__dict__, "registry": registry})

    def _fronts(self) -> set[str]:
        return {self.nginx, self.nginx_tls, self.nginx_tls_trusted, self.nginx_tls_wrongname,
                self.nginx_tls_expired, self.proxy_registry}

    def fresh_repo(self, prefix: str, name: str = "app") -> str:
        """A repository name never used before in this lab, e.g. ``ratelimited/r3-1a2b/app``.

        Under ``ratelimited/`` the budget of ``ratelimit_budget`` requests is per first segment, so each
        fresh repository starts with a full budget."""
        return f"{prefix.strip('/')}/r{next(self._counter)}-{secrets.token_hex(3)}/{name}"

    # -- nginx access log -----------------------------------------------------------------------------
    def nginx_requests(self, prefix: str | None = None) -> list[tuple[str, str, int]]:
        """(method, path, status) of every request nginx (HTTP and TLS ports) has logged, oldest first;
        ``prefix`` keeps only paths starting with it (e.g. ``/v2/ratelimited/r3-1a2b/``).
        nginx logs a request right after answering it; allow a few ms before counting."""
        assert self._access_log is not None
        rows = nginx.read_access_log(self._access_log)
        return [r for r in rows if prefix is None or r[1].startswith(prefix)]

    # -- lifetime --------------------------------------------------------------------------------------
    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def stop(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL) and the blackhole; remove the temp dir if ours.
        Idempotent; also runs at interpreter exit for callers outside pytest."""
        atexit.unregister(self.stop)
        procs.stop_all(self._procs)
        if self._blackhole is not None:
            self._blackhole.close()
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)


def start_lab(root: Path | None = None, *, timeout: float = 15.0) -> Lab:
    """Start registries, nginx and the blackhole under ``root`` (a new temp dir when None).

    On any failure everything already started is stopped before the error propagates."""
    t0 = time.monotonic()
    owns_root = root is None
    root = Path(tempfile.mkdtemp(prefix="pulldoctor-lab-")) if root is None else root
    started: list[procs.Proc] = []
    hole: Blackhole | None = None
    timings: dict[str, float] = {}
    try:
        cert = tls.localhost_cert(root / "tls")
        wrong = tls.wrongname_cert(root / "tls")
        expired = tls.expired_cert(root / "tls")
        (root / "auth").mkdir(parents=True, exist_ok=True)
        htpasswd = root / "auth" / "htpasswd"
        registry.write_htpasswd(htpasswd, USER, PASSWORD)
        timings["certs+htpasswd"] = time.monotonic() - t0

        open_proc, open_addr = registry.start_registry("registry-open", root / "reg-open")
        started.append(open_proc)
        auth_proc, auth_addr = registry.start_registry("registry-auth", root / "reg-auth", htpasswd=htpasswd)
        started.append(auth_proc)
        nginx_proc, ports = nginx.start_nginx(root / "nginx", open_addr, cert, wrong, user=USER, password=PASSWORD,
                                              expired=expired)
        started.append(nginx_proc)

        timings["registry-open"] = procs.wait_ready(open_proc, lambda: registry.registry_ready(open_addr),
                                                    timeout=timeout)
        # the pull-through cache panics at start-up if its upstream is down, so it starts now
        proxy_proc, proxy_addr = registry.start_registry("registry-proxy", root / "reg-proxy", upstream=open_addr)
        started.append(proxy_proc)
        nginx_addr = f"127.0.0.1:{ports.http}"
        timings["registry-auth"] = procs.wait_ready(auth_proc, lambda: registry.registry_ready(auth_addr),
                                                    timeout=timeout)
        timings["nginx"] = procs.wait_ready(nginx_proc, lambda: registry.v2_status(nginx_addr) == 200,
                                            timeout=timeout)
        timings["registry-proxy"] = procs.wait_ready(proxy_proc, lambda: registry.registry_ready(proxy_addr),
                                                     timeout=timeout)
        hole = Blackhole()
        closed = procs.free_port()
    except BaseException:
        procs.stop_all(started)
        if hole is not None:
            hole.close()
        if owns_root:
            shutil.rmtree(root, ignore_errors=True)
        raise
    lab = Lab(
        root=root, open_registry=open_addr, auth_registry=auth_addr, proxy_registry=proxy_addr,
        nginx=nginx_addr, nginx_tls=f"127.0.0.1:{ports.tls}", nginx_tls_trusted=f"127.0.0.1:{ports.tls_trusted}",
        nginx_tls_wrongname=f"127.0.0.1:{ports.tls_wrongname}", ca_cert=cert.cert, wrongname_cert=wrong.cert,
        closed_port=f"127.0.0.1:{closed}", blackhole=hole.address, startup_seconds=time.monotonic() - t0,
        timings=timings, _procs=started, _blackhole=hole, _access_log=root / "nginx" / "access.log",
        _owns_root=owns_root, nginx_tls_expired=f"127.0.0.1:{ports.tls_expired}", expired_ca_cert=expired.ca,
    )
    atexit.register(lab.stop)
    return lab
