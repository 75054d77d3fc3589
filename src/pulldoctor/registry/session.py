"""What one ``probe``/``probe_many`` call shares: the HTTP session, each endpoint's DNS/TCP/TLS verdict, each
repository's auth challenge, tokens, digest-addressed documents and the per-registry semaphores.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from yarl import URL

from pulldoctor.causes import Cause
from pulldoctor.reference import ImageRef, is_loopback_host
from pulldoctor.registry import net, tls
from pulldoctor.registry.auth import Challenge, TokenCache, TokenResult, token_from_json
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
        self._endpoints: dict[str, asyncio.Task[Endpoint]] = {}
        self._docs: dict[tuple[str, str, str, str], asyncio.Task[Response | TransportError]] = {}
        self._sems: dict[str, asyncio.Semaphore] = {}

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
            except asyncio.TimeoutError:
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

    # -- endpoint: dns → tcp → tls/scheme ----------------------------------------------------------------

    async def endpoint(self, ref: ImageRef) -> Endpoint:
        insecure = self.is_insecure(ref)
        key = f"{'http' if insecure else 'https'}://{ref.endpoint.lower()}"
        task = self._endpoints.get(key)
        if task is None:
            task = self._endpoints[key] = asyncio.ensure_future(self._check_endpoint(ref.endpoint, insecure))
        return await asyncio.shield(task)

    async def _check_endpoint(self, endpoint: str, insecure: bool) -> Endpoint:
        opts = self.options
        scheme = "http" if insecure else "https"
        try:
            base = URL(f"{scheme}://{endpoint}")
            host, port = base.raw_host or "", base.port or (80 if insecure else 443)
        except ValueError:
            step = Step("dns", False, f"cannot make a URL from registry host {endpoint!r}")
            return Endpoint([step], Cause.INVALID_IMAGE_NAME, None, insecure)
        steps: list[Step] = []
        dns = await net.resolve(host, port, opts.dns_timeout)
        steps.append(dns.step)
        if dns.cause:
            return Endpoint(steps, dns.cause, None, insecure)
        tcp = await net.connect(host, port, opts.connect_timeout)
        steps.append(tcp.step)
        if tcp.cause:
            return Endpoint(steps, tcp.cause, None, insecure)
        base = URL.build(scheme=scheme, host=host, port=port)
        if insecure:
            why = "declared insecure" if not is_loopback_host(endpoint) else "a loopback host"
            steps.append(Step("scheme", True, f"plain HTTP: {endpoint} is {why} (containerd/Docker do the same)"))
            return Endpoint(steps, None, base, insecure)
        step, hs = await net.tls_step(host, port, self.ssl_context, opts.ca_file, opts.connect_timeout)
        steps.append(step)
        if hs.ok:
            return Endpoint(steps, None, base, insecure)
        if hs.cert_error:
            return Endpoint(steps, Cause.TLS_ERROR, None, insecure)
        # Not TLS at all? A plain HTTP answer on this port is the classic scheme mismatch.
        start = time.monotonic()
        try:
            resp = await self.http.request("GET", base.with_scheme("http") / "v2" / "")
        except TransportError:
            return Endpoint(steps, Cause.TLS_ERROR, None, insecure)
        steps.append(
            Step(
                "scheme",
                False,
                f"{endpoint} speaks plain HTTP (GET /v2/ over HTTP → {resp.status}); a node using HTTPS fails with "
                "'server gave HTTP response to HTTPS client': serve TLS there, or declare the registry insecure "
                "in the runtime's configuration (and pass --insecure-registry)",
                time.monotonic() - start,
            )
        )
        return Endpoint(steps, Cause.HTTP_VS_HTTPS, None, insecure)

    async def https_answers(self, base: URL) -> bool:
        """Does this plain-HTTP endpoint complete a TLS handshake (so it is an HTTPS port)?"""
        host, port = base.raw_host or "", base.port or 80
        hs = await net.handshake(host, port, tls.unverified_context(), self.options.connect_timeout)
        return hs.ok

    # -- auth ------------------------------------------------------------------------------------------

    async def token(
        self, ch: Challenge, scope: str, cred: Credential | None, insecure: bool
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
                resp = await self.http.request("GET", url, authorization=authorization)
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
        self, ch: Challenge, scope: str, cred: Credential | None, insecure: bool
    ) -> tuple[str | None, bool, str, TokenResult | None]:
        """Authorization value for a challenge: (header, credentials sent, step text, failed token)."""
        if ch.scheme == "basic":
            if cred is None:
                return None, False, "registry asks for Basic credentials; none to send", None
            return cred.basic_auth(), True, f"Basic credentials of {credential_label(cred)}", None
        result, sent, note = await self.token(ch, scope, cred, insecure)
        who = credential_label(cred) if sent else "anonymous"
        realm = ch.realm
        text = f"Bearer token from {realm} (service {ch.service or '-'}, {who})" + (f"; {note}" if note else "")
        if not result.ok:
            return None, sent, f"{text}: {result.error}", result
        return f"Bearer {result.token}", sent, text, None

    # -- documents (manifests, configs), cached by digest ------------------------------------------------

    async def document(
        self, base: URL, repo: str, kind: str, ref: str, authorization: str | None
    ) -> Response | TransportError:
        """GET a manifest or blob; a digest-addressed document is fetched once per repository."""
        url = repo_url(base, repo, kind, ref)
        key = (str(base), repo, kind, ref)
        cacheable = ref.startswith("sha256:") or ref.startswith("sha512:")
        if cacheable and key in self._docs:
            return await asyncio.shield(self._docs[key])

        async def get() -> Response | TransportError:
            try:
                return await self.http.request(
                    "GET", url, headers={"Accept": MANIFEST_ACCEPT}, authorization=authorization,
                    cap=self.options.manifest_cap,
                )
            except TransportError as err:
                return err

        task = asyncio.ensure_future(get())
        if cacheable:
            self._docs[key] = task
        return await asyncio.shield(task)


def repo_url(base: URL, repo: str, *parts: str) -> URL:
    return base.joinpath("v2", *repo.split("/"), *parts)
