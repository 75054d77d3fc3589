"""What one ``probe``/``probe_many`` call shares: the HTTP session, each endpoint's DNS/TCP/TLS verdict, each
repository's auth challenge, tokens, digest-addressed documents and the per-registry semaphores.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from yarl import URL

from pulldoctor.causes import Cause
from pulldoctor.reference import ImageRef, is_loopback_host
from pulldoctor.registry import net, tls
from pulldoctor.registry.auth import Challenge, TokenCache, TokenResult, token_from_json
from pulldoctor.registry.hosts import HostConfig
from pulldoctor.registry.models import ProbeOptions, Step
from pulldoctor.registry.wire import MANIFEST_ACCEPT, Response, TransportError

if TYPE_CHECKING:
    from pulldoctor.keyring import Credential


@dataclass
class Endpoint:
    """DNS/TCP/TLS/scheme verdict for one registry endpoint, shared by every probe of it."""

    steps: list[Step]
    cause: Cause | None
    base: URL | None
    insecure: bool
    root: URL | None = None                      # API root: base + "/v2" (or hosts.toml's override_path)
    ssl: ssl.SSLContext | None = None            # the host's own TLS settings (hosts.toml), else the session's
    headers: dict[str, str] = field(default_factory=dict)   # hosts.toml [header]
    why: str = ""                                # why this scheme ("a loopback host", "hosts.toml says …")
    target: Target | None = None


@dataclass(frozen=True)
class Target:
    """One host the node's runtime contacts for a registry: from hosts.toml, or the registry itself."""

    config: HostConfig                  # scheme and host always filled in
    why: str                            # where the scheme comes from, for the evidence
    source: str = ""                    # "certs.d/localhost:5000/hosts.toml" when configured
    label: str = ""                     # unique within a plan: the URL, "+ (server)" if a [host] has it too
    #: HTTPS first, then plain HTTP if the server answers in HTTP or the handshake times out (containerd 1.7+
    #: for an HTTP host with a TLS configuration; containers/image for an insecure registry).
    fallback_http: bool = False

    @property
    def url(self) -> str:
        return self.label or self.config.url


@dataclass(frozen=True)
class Plan:
    """The hosts a node tries for one registry, in order, and the evidence step that says so."""

    targets: tuple[Target, ...]
    step: Step | None = None            # "hosts" step when a hosts dir decides
    configured: bool = False            # the hosts come from a hosts dir entry


def credential_label(cred: Credential | None) -> str:
    if cred is None:
        return "anonymous"
    return f"user {cred.username} (credential {cred.fingerprint})"


class Session:
    """Everything one ``probe``/``probe_many`` shares: one session, token and endpoint caches, semaphores."""

    def __init__(self, options: ProbeOptions) -> None:
        self.options = options
        from pulldoctor.registry import client  # aiohttp: loaded only when a probe really runs

        self.ssl_context = tls.client_context(options.ca_file)
        self.session = client.make_session(options, self.ssl_context)
        self.http = client.HTTP(self.session, options)
        self.tokens = TokenCache()
        self.challenges: dict[tuple[str, str], Challenge] = {}  # (origin, repository) → learnt challenge
        self._discovery: dict[tuple[str, str], asyncio.Future[None]] = {}
        self._endpoints: dict[tuple[object, ...], asyncio.Task[Endpoint]] = {}
        self._plans: dict[tuple[str, str, bool], Plan] = {}
        self._ssl: dict[tuple[object, ...], ssl.SSLContext] = {}
        self._docs: dict[tuple[URL, str, str, str], asyncio.Task[Response | TransportError]] = {}
        self._sems: dict[str, asyncio.Semaphore] = {}
        #: (API root, credential fingerprint) → repository names of its /v2/_catalog page, None when refused
        self.catalogs: dict[tuple[str, str], list[str] | None] = {}

    async def close(self) -> None:
        await self.session.close()

    async def discovery_turn(self, key: tuple[str, str]) -> bool:
        """The first probe of a repository learns its auth challenge alone; the others wait for it
        (bounded) and then authorise at once, so 500 tags cost one 401, not 500. True for the leader."""
        gate = self._discovery.get(key)
        if gate is None:
            self._discovery[key] = asyncio.get_running_loop().create_future()
            return True
        if not gate.done():
            try:
                await asyncio.wait_for(asyncio.shield(gate), self.options.request_timeout * 2)
            except TimeoutError:
                pass
        return False

    def discovery_done(self, key: tuple[str, str]) -> None:
        gate = self._discovery.get(key)
        if gate is not None and not gate.done():
            gate.set_result(None)

    def semaphore(self, endpoint: str) -> asyncio.Semaphore:
        sem = self._sems.get(endpoint)
        if sem is None:
            sem = self._sems[endpoint] = asyncio.Semaphore(max(1, self.options.per_registry_concurrency))
        return sem

    def is_insecure(self, ref: ImageRef) -> bool:
        names = {ref.registry.lower(), ref.endpoint.lower()}
        hosts = {n.rsplit(":", 1)[0] if n.count(":") == 1 else n for n in names}
        if (names | hosts) & self.options.insecure_registries:
            return True
        if names & self.options.https_registries:
            return False
        return is_loopback_host(ref.registry) or is_loopback_host(ref.endpoint)

    def _default_why(self, ref: ImageRef, insecure: bool) -> str:
        if not insecure:
            return ""
        declared = {ref.registry.lower(), ref.endpoint.lower()}
        hosts = {n.rsplit(":", 1)[0] if n.count(":") == 1 else n for n in declared}
        if (declared | hosts) & self.options.insecure_registries:
            return "declared insecure"
        return "a loopback host"

    # -- which hosts a node tries: hosts.toml or the registry itself -------------------------------------

    def plan(self, ref: ImageRef) -> Plan:
        """The hosts a node's runtime tries for ``ref``, cached per registry (and resolve vs pull)."""
        needs_resolve = ref.digest is None
        key = (ref.registry, ref.endpoint, needs_resolve)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._make_plan(ref, needs_resolve)
        return plan

    def _make_plan(self, ref: ImageRef, needs_resolve: bool) -> Plan:
        hosts_dir = self.options.hosts
        found = hosts_dir.lookup(ref.registry) if hosts_dir is not None else None
        if found is None:
            return Plan((self._default_target(ref),))
        if found.source == "registries.conf":  # a CRI-O node's file, not a certs.d directory
            source = hosts_dir.root  # type: ignore[union-attr]
            if not found.hosts:
                return Plan((), Step("hosts", False, f"{source}: [[registry]] {found.directory} has blocked = true, so "
                                     "the node refuses every pull from it"), True)
        else:
            source = f"{hosts_dir.root.rstrip('/')}/{found.directory}/" + (  # type: ignore[union-attr]
                "hosts.toml" if found.source == "hosts.toml" else "")
        targets: list[Target] = []
        for cfg in found.hosts:
            if not cfg.host:  # no server line: the registry itself, with containerd's defaults
                insecure = self.is_insecure(ref)
                cfg = HostConfig("http" if insecure else "https", ref.endpoint, cfg.path, cfg.capabilities, cfg.ca,
                                 cfg.client, cfg.skip_verify, cfg.header, True)
                targets.append(Target(cfg, self._default_why(ref, insecure), source))
            elif cfg.fallback_http:  # registries.conf `insecure`: HTTPS unverified, then plain HTTP
                targets.append(Target(cfg, f"{source} says insecure = true for {cfg.host}: HTTPS without verifying "
                                      "the certificate, then plain HTTP", source, fallback_http=True))
            elif cfg.scheme == "http" and cfg.has_tls_config and self._https_first(cfg.host):
                https = dataclasses.replace(cfg, scheme="https")
                targets.append(Target(https, f"{source} says {cfg.url} with a TLS configuration: "
                                      f"{self.options.runtime} tries HTTPS first", source, fallback_http=True))
            else:
                targets.append(Target(cfg, f"{source} says {cfg.url}", source))
        urls = [t.config.url for t in targets[:-1]]
        if targets[-1].config.url in urls:
            targets[-1] = dataclasses.replace(targets[-1], label=f"{targets[-1].config.url} (server)")
        need = "resolve" if needs_resolve else "pull"
        usable = tuple(t for t in targets if need in t.config.capabilities)
        listed = ", then ".join(t.config.describe() for t in targets)
        what = f"{source or found.directory}: {listed}"
        if found.no_host_tree:
            what += ("; careful: it has no [host] table, which containerd 1.6 (and 1.7 before a fix) rejects "
                     "as 'invalid `host` tree' and then uses the registry's defaults: add an empty [host] line")
        if not usable:
            detail = (f"{what}; no host has the {need} capability, so the runtime fails with "
                      f"'no {need} hosts: not found'")
            return Plan((), Step("hosts", False, detail), True)
        skipped = len(targets) - len(usable)
        if skipped:
            what += f" ({skipped} without the {need} capability skipped)"
        return Plan(usable, Step("hosts", True, what), True)

    def _https_first(self, host: str) -> bool:
        """containerd 1.7+ upgrades an HTTP host with TLS configured to HTTPS-with-fallback unless its port is
        80 or not given (hosts.go: the scheme is ambiguous only on another port)."""
        _, sep, port = host.rpartition(":")
        return self.options.runtime.https_first_when_tls_configured and bool(sep) and port.isdigit() \
            and port != "80"

    def _default_target(self, ref: ImageRef) -> Target:
        """The registry itself, with the runtime's defaults (no hosts.toml entry for it)."""
        runtime = self.options.runtime
        declared = self._declared_insecure(ref)
        if runtime.insecure_tries_https_first:  # CRI-O: loopback is not special; insecure = HTTPS, then HTTP
            if declared:
                cfg = HostConfig("https", ref.endpoint, skip_verify=True, is_server=True)
                return Target(cfg, f"declared insecure: {runtime} tries HTTPS without verifying the certificate, "
                                   "then plain HTTP", fallback_http=True)
            return Target(HostConfig("https", ref.endpoint, is_server=True), "")
        insecure = self.is_insecure(ref)
        if insecure and not declared and self.options.ca_file and self._https_first(ref.endpoint):
            cfg = HostConfig("https", ref.endpoint, is_server=True)
            return Target(cfg, f"a loopback host with a CA configured (--ca-file): {runtime} tries HTTPS first, "
                               "plain HTTP only if the server answers in HTTP", fallback_http=True)
        cfg = HostConfig("http" if insecure else "https", ref.endpoint, is_server=True)
        return Target(cfg, self._default_why(ref, insecure))

    def _declared_insecure(self, ref: ImageRef) -> bool:
        names = {ref.registry.lower(), ref.endpoint.lower()}
        hosts = {n.rsplit(":", 1)[0] if n.count(":") == 1 else n for n in names}
        return bool((names | hosts) & self.options.insecure_registries)

    def ssl_for(self, cfg: HostConfig) -> ssl.SSLContext:
        """The TLS settings containerd builds for a host: system + --ca-file + ``ca``, ``client``, ``skip_verify``."""
        if not cfg.has_tls_config:
            return self.ssl_context
        key = (cfg.ca, cfg.client, cfg.skip_verify)
        ctx = self._ssl.get(key)
        if ctx is None:
            ctx = tls.host_context(self.options.ca_file, cfg.ca, cfg.client, bool(cfg.skip_verify))
            self._ssl[key] = ctx
        return ctx

    # -- endpoint: dns → tcp → tls/scheme ----------------------------------------------------------------

    async def endpoint(self, ref: ImageRef, target: Target | None = None) -> Endpoint:
        """DNS/TCP/TLS verdict for ``target`` (default: the registry itself), shared by every probe."""
        if target is None:
            target = self.plan(ref).targets[0] if self.plan(ref).targets else \
                Target(HostConfig("https", ref.endpoint, is_server=True), "")
        cfg = target.config
        key = (cfg.scheme, cfg.host.lower(), cfg.path, cfg.ca, cfg.client, cfg.skip_verify, cfg.header)
        task = self._endpoints.get(key)
        if task is None:
            task = self._endpoints[key] = asyncio.ensure_future(self._check_endpoint(target))
        return await asyncio.shield(task)

    async def _check_endpoint(self, target: Target) -> Endpoint:
        cfg = target.config
        endpoint = cfg.host
        opts = self.options
        insecure = cfg.scheme == "http"
        scheme = cfg.scheme
        headers = {k: ", ".join(v) for k, v in cfg.header}
        ctx = None if insecure else self.ssl_for(cfg)

        def done(steps: list[Step], cause: Cause | None, base: URL | None) -> Endpoint:
            root = base.with_path(cfg.path or "/") if base is not None else None
            return Endpoint(steps, cause, base, insecure, root, ctx, headers, target.why, target)

        try:
            base = URL(f"{scheme}://{endpoint}")
            host, port = base.raw_host or "", base.port or (80 if insecure else 443)
        except ValueError:
            step = Step("dns", False, f"cannot make a URL from registry host {endpoint!r}")
            return done([step], Cause.INVALID_IMAGE_NAME, None)
        steps: list[Step] = []
        dns = await net.resolve(host, port, opts.dns_timeout)
        steps.append(dns.step)
        if dns.cause:
            return done(steps, dns.cause, None)
        tcp = await net.connect(host, port, opts.connect_timeout)
        steps.append(tcp.step)
        if tcp.cause:
            return done(steps, tcp.cause, None)
        base = URL.build(scheme=scheme, host=host, port=port)
        if insecure:
            if target.source:
                text = f"plain HTTP: {target.why}"
            else:
                text = f"plain HTTP: {endpoint} is {target.why} (containerd/Docker do the same)"
            steps.append(Step("scheme", True, text))
            return done(steps, None, base)
        if target.fallback_http:
            steps.append(Step("scheme", True, f"HTTPS first: {target.why}"))
        ca_file = cfg.ca[0] if cfg.ca else opts.ca_file
        label = "hosts.toml ca" if cfg.ca else "--ca-file"
        assert ctx is not None
        step, hs = await net.tls_step(host, port, ctx, ca_file, opts.connect_timeout, ca_label=label)
        if hs.ok and cfg.skip_verify:
            step.detail = "handshake ok, certificate NOT verified: skip_verify = true in " + (
                target.source or "hosts.toml") + " (the node accepts any certificate from this host)"
        steps.append(step)
        if hs.ok:
            return done(steps, None, base)
        if hs.cert_error:
            return done(steps, Cause.TLS_ERROR, None)
        # Not TLS at all? A plain HTTP answer on this port is the classic scheme mismatch.
        start = time.monotonic()
        try:
            resp = await self.http.request("GET", base.with_scheme("http").with_path(cfg.path or "/") / "")
        except TransportError:
            if target.fallback_http and hs.timed_out:  # isTLSError: a handshake timeout falls back too
                steps.append(Step("scheme", False, f"the TLS handshake timed out and {self.options.runtime} "
                                  "falls back to plain HTTP, which did not answer either"))
                return done(steps, Cause.NETWORK_UNREACHABLE, None)
            return done(steps, Cause.TLS_ERROR, None)
        if target.fallback_http:
            insecure, ctx = True, None
            steps.append(Step("scheme", True, f"plain HTTP: {endpoint} answered the TLS handshake in HTTP, and "
                              f"{self.options.runtime} falls back to HTTP then ({target.why})",
                              time.monotonic() - start))
            return done(steps, None, base.with_scheme("http"))
        fix = (f"serve TLS there, or point {target.source} at http://{endpoint}" if target.source else
               "serve TLS there, or declare the registry insecure in the runtime's configuration "
               "(and pass --insecure-registry)")
        steps.append(
            Step(
                "scheme",
                False,
                f"{endpoint} speaks plain HTTP (GET /v2/ over HTTP → {resp.status}); a node using HTTPS fails with "
                f"'server gave HTTP response to HTTPS client': {fix}",
                time.monotonic() - start,
            )
        )
        return done(steps, Cause.HTTP_VS_HTTPS, None)

    async def https_answers(self, base: URL) -> bool:
        """Does this plain-HTTP endpoint complete a TLS handshake (so it is an HTTPS port)?"""
        host, port = base.raw_host or "", base.port or 80
        hs = await net.handshake(host, port, tls.unverified_context(), self.options.connect_timeout)
        return hs.ok

    # -- auth ------------------------------------------------------------------------------------------

    async def token(
        self, ch: Challenge, scope: str, cred: Credential | None, insecure: bool,
        ssl_context: ssl.SSLContext | None = None,
    ) -> tuple[TokenResult, bool, str]:
        """A Bearer token for ``scope``; returns (result, credentials were sent, note)."""
        try:
            realm = URL(ch.realm)
        except ValueError:
            return TokenResult(None, None, "the challenge's realm is not a URL"), False, ""
        if realm.scheme not in ("http", "https") or not realm.host:
            return TokenResult(None, None, f"the challenge's realm {ch.realm!r} is not an http(s) URL"), False, ""
        send = cred is not None
        note = ""
        if send and realm.scheme == "http" and not (insecure or is_loopback_host(realm.host)):
            # Never send a password over plain HTTP to a host nobody declared insecure.
            send, note = False, f"credentials withheld: realm {realm.host} is plain HTTP"
        scopes = tuple(sorted({scope, *(s for s in ch.scope.split(" ") if s)}))
        key = (ch.realm, ch.service, scopes, cred.fingerprint if send and cred is not None else "")
        query = list(realm.query.items())
        if ch.service:
            query.append(("service", ch.service))
        query += [("scope", s) for s in scopes]
        url = realm.with_query(query)
        authorization = cred.basic_auth() if send and cred is not None else None

        async def fetch() -> TokenResult:
            try:
                resp = await self.http.request("GET", url, authorization=authorization, ssl_context=ssl_context)
            except TransportError as err:
                return TokenResult(None, None, f"token service {realm.host}: {err.detail}", transport=err.kind)
            if resp.status != 200:
                msg = resp.error_message(120)
                said = f"token service {realm.host} answered {resp.status}" + (f" ({msg})" if msg else "")
                return TokenResult(None, resp.status, said)
            token, seconds = token_from_json(resp.json())
            if token is None:
                return TokenResult(None, 200, f"token service {realm.host} answered 200 without a token")
            return TokenResult(token, 200, "", seconds)

        return await self.tokens.get(key, fetch), send, note

    async def authorize(
        self, ch: Challenge, scope: str, cred: Credential | None, insecure: bool,
        ssl_context: ssl.SSLContext | None = None,
    ) -> tuple[str | None, bool, str, TokenResult | None]:
        """Authorization value for a challenge: (header, credentials sent, step text, failed token)."""
        if ch.scheme == "basic":
            if cred is None:
                return None, False, "registry asks for Basic credentials; none to send", None
            return cred.basic_auth(), True, f"Basic credentials of {credential_label(cred)}", None
        result, sent, note = await self.token(ch, scope, cred, insecure, ssl_context)
        who = credential_label(cred) if sent else "anonymous"
        realm = ch.realm
        text = f"Bearer token from {realm} (service {ch.service or '-'}, {who})" + (f"; {note}" if note else "")
        if not result.ok:
            return None, sent, f"{text}: {result.error}", result
        return f"Bearer {result.token}", sent, text, None

    # -- documents (manifests, configs), cached by digest ------------------------------------------------

    async def document(
        self, ep: Endpoint, repo: str, kind: str, ref: str, authorization: str | None, query: str = ""
    ) -> Response | TransportError:
        """GET a manifest or blob; a digest-addressed document is fetched once per repository."""
        assert ep.root is not None
        key = (ep.root, repo, kind, ref)
        cacheable = ref.startswith(("sha256:", "sha512:"))
        if cacheable:
            known = self._docs.get(key)
            if known is not None:
                return known.result() if known.done() else await asyncio.shield(known)

        async def get() -> Response | TransportError:
            url = repo_url(ep.root, repo, kind, ref)  # type: ignore[arg-type]
            if query:
                url = url.with_query(ns=query)
            try:
                return await self.http.request(
                    "GET", url, headers={"Accept": MANIFEST_ACCEPT, **ep.headers}, authorization=authorization,
                    cap=self.options.manifest_cap, ssl_context=ep.ssl,
                )
            except TransportError as err:
                return err

        task = asyncio.ensure_future(get())
        if cacheable:
            self._docs[key] = task
        return await asyncio.shield(task)


def repo_url(root: URL, repo: str, *parts: str) -> URL:
    """``<root>/<repo>/<parts>``; ``root`` is the API root (``…/v2``)."""
    return root.joinpath(*repo.split("/"), *parts)
