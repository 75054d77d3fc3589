"""The test lab: real docker-registry, nginx and containerd on 127.0.0.1, started per test session.

Usage in tests (fixtures from tests/conftest.py)::

    def test_something(lab):                       # session-scoped, registry side only (no root needed)
        pushed = lab.push(lab.open_registry, "demo/hello", "v1")
        ...

    def test_pull(lab, containerd):                # session-scoped, needs root + containerd
        out = containerd.pull(pushed.ref)

Outside pytest (bench/): put tests/ on sys.path, then ``lab = start_lab()`` … ``lab.stop()`` (an atexit hook
also stops every process this package started).

``Lab`` attributes (addresses are "127.0.0.1:PORT"):

- ``open_registry`` — docker-registry, no auth.
- ``auth_registry`` — docker-registry with htpasswd Basic auth for ``user`` ("alice") / ``password``
  ("CANARY-pw-7f3a9c", the canary that secret-leak tests grep for). Wrong and missing creds: identical 401s.
- ``proxy_registry`` — docker-registry as a pull-through cache of ``open_registry`` (push refused, 405).
- ``nginx`` — plain HTTP in front of ``open_registry``; ``/v2/`` answers 200. Repository prefixes:
  ``denied/`` 403 DENIED · ``toomany/`` always 429 with Docker Hub's ratelimit-limit/-remaining and
  docker-ratelimit-source headers · ``ratelimited/<key>/...`` real content for ``ratelimit_budget`` (5)
  requests per ``<key>``, then 429 (use ``lab.fresh_repo("ratelimited")`` for a fresh budget) ·
  ``hubmissing/`` Hub-like Bearer challenge → anonymous token → ``insufficient_scope`` · ``tokenfail/``
  Bearer challenge whose realm answers 401 ``incorrect username or password`` · ``bearer/`` Bearer-protected:
  the realm (``/bearer-token``, GET with Basic auth) gives a token only for alice/the canary password (401
  otherwise; an OAuth POST gets 401 so clients fall back to GET), and only that token opens the repository ·
  ``error500/`` 500 UNKNOWN and ``error503/`` 503 UNAVAILABLE JSON bodies · hostile proxies quoting the
  request's ``Authorization`` in error bodies: ``echobasic/`` (Basic challenge, then 403), ``echotoken/`` (a
  realm whose 401 quotes the Basic header), ``echobearer/`` (a realm granting ``nginx.ECHO_TOKEN``, then a 500
  quoting the Bearer header) · ``userinfo500/`` 500 quoting ``https://alice:<password>@…`` · ``stall/`` response headers never
  complete · ``slow/<repo>/blobs/`` 4 KiB fast, then 2 KiB/s.
- ``nginx_requests(prefix=None)`` — [(method, path-without-query, status)] from nginx's access log (all its
  ports), oldest first.
- ``nginx_tls`` — HTTPS, self-signed cert CN=localhost, SAN DNS:localhost, IP:127.0.0.1; ``ca_cert`` is its
  path (usable as a CA). ``nginx_tls_trusted`` — the same server and cert on a second port (so containerd can
  trust one port and not the other). ``nginx_tls_wrongname`` — HTTPS with a cert for ``wrong.example``
  (``wrongname_cert``). ``nginx_tls_expired`` — HTTPS with a localhost/127.0.0.1 cert whose validity ended
  yesterday, signed by a CA that is valid now (``expired_ca_cert``; trust it and expiry is the only problem).
- ``closed_port`` — nothing listens. ``blackhole`` — accepts TCP, never answers. ``unresolvable`` —
  "registry.pulldoctor.invalid" (never resolves; RFC 2606).
- ``push(registry, repo, tag, *, platforms=("linux/amd64",), layer_bytes=1024, layers=1, index=None,
  auth=None) -> Pushed`` — fresh random OCI image (index when several platforms or ``index=True``). Pushing
  to nginx/TLS/proxy addresses stores into ``open_registry`` under the same repo; ``Pushed.ref`` still names
  the address given. ``Pushed``: registry, repo, tag, digest, size (bytes of the tagged document),
  media_type, platforms, manifests (platform → digest), layers_size, layer_digests, ``.ref``, ``.by_digest``.
- ``fresh_repo(prefix)`` — a never-used repository name under ``prefix`` ("denied/r4-1a2b3c/app"). The lab is
  shared by the whole session: use fresh names so another test's push never changes what yours reads.
- ``startup_seconds``, ``timings`` (per part), ``pids``, ``stop()``.

``Containerd`` (tests/lab/containerd.py, fixture ``containerd``; outside pytest ``start_containerd(lab)``): ``pull(image, username=None, password=None,
timeout=30) -> PullOutcome(ok, code, raw, kubelet_message, image_ref, elapsed)`` through containerd's CRI
plugin (the kubelet's own call), ``log_text()``, and host names set up in its certs.d — see that module.
"""

from .images import Pushed, PushError
from .procs import LabStartError, alive_pids
from .startup import PASSWORD, UNRESOLVABLE, USER, Lab, start_lab

__all__ = [
           "PASSWORD",
           "UNRESOLVABLE",
           "USER",
           "Lab",
           "LabStartError",
           "PushError",
           "Pushed",
           "alive_pids",
           "start_lab",
]
