"""The probe: ask a registry for an image the way a node's runtime would, one recorded step at a time.

Order (stops at the first step that fails): reference → dns → tcp → tls (HTTPS only) → auth → manifest
(HEAD, which does not count as a Docker Hub pull) → tags (only after a 404: repository or tag?) →
platform → size. Plain HTTP is used for ``--insecure-registry`` hosts and loopback hosts, like containerd
and Docker; HTTPS for every other registry.

Decisions (see README "Probing a registry"):
- Bearer ``insufficient_scope`` after a token obtained *with* credentials → ``repo_not_found`` ("as seen
  with these credentials"): Docker Hub, GHCR and Harbor all answer a missing repository and a repository
  the account may not read the same way; anonymously → the hedge ``repo_not_found_or_no_access``.
- A connect timeout is ``network_unreachable``; a connection that opens but whose answer does not come
  within the request timeout is ``pull_timeout_or_progress_deadline`` (the node would hang until its
  deadline, which is what the kubelet then reports).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from yarl import URL

from pulldoctor.causes import Cause
from pulldoctor.reference import ImageRef, is_loopback_host, parse
from pulldoctor.registry import net, tls
from pulldoctor.registry.auth import Challenge, TokenCache, TokenResult, parse_challenges, pick_challenge, token_from_json
from pulldoctor.registry.wire import INDEX_TYPES, MANIFEST_ACCEPT, Response, TransportError
from pulldoctor.registry.manifest import (
    Platform,
    accepts,
    choose,
    config_digest,
    human_size,
    index_platforms,
    layers_size,
    normalize,
    parse_platform,
)
from pulldoctor.registry.models import ProbeOptions, ProbeRequest, ProbeResult, RateLimit, Step
from pulldoctor.registry.ratelimit import parse_ratelimit
from pulldoctor.registry.tags import suggest

if TYPE_CHECKING:
    from pulldoctor.keyring import Credential

DOCKER_HUB_ENDPOINTS = frozenset({"registry-1.docker.io", "index.docker.io", "docker.io"})

#: The kubelet tries every matching credential; a probe stops after this many (each costs requests).
MAX_CREDENTIALS = 20

#: How far an attempt got; when every credential fails, the furthest attempt explains best.
STAGE_AUTH, STAGE_REGISTRY = 1, 2


@dataclass
class _Endpoint:
    """DNS/TCP/TLS/scheme verdict for one registry endpoint, shared by every probe of it."""

    steps: list[Step]
    cause: Cause | None
    base: URL | None
    insecure: bool


@dataclass
class _Attempt:
    steps: list[Step] = field(default_factory=list)
    cause: Cause | None = None
    stage: int = STAGE_AUTH
    status: int | None = None
    credentials_sent: bool = False
    digest: str | None = None
    media_type: str | None = None
    platforms: list[str] = field(default_factory=list)
    size: int | None = None
    suggestions: list[str] = field(default_factory=list)
    ratelimit: RateLimit | None = None
    url: str | None = None


def _credential_label(cred: Credential | None) -> str:
    if cred is None:
        return "anonymous"
    return f"user {cred.username} (credential {cred.fingerprint})"


class _Context:
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
        self._endpoints: dict[str, asyncio.Task[_Endpoint]] = {}
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

    async def endpoint(self, ref: ImageRef) -> _Endpoint:
        insecure = self.is_insecure(ref)
        key = f"{'http' if insecure else 'https'}://{ref.endpoint.lower()}"
        task = self._endpoints.get(key)
        if task is None:
            task = self._endpoints[key] = asyncio.ensure_future(self._check_endpoint(ref.endpoint, insecure))
        return await asyncio.shield(task)

    async def _check_endpoint(self, endpoint: str, insecure: bool) -> _Endpoint:
        opts = self.options
        scheme = "http" if insecure else "https"
        try:
            base = URL(f"{scheme}://{endpoint}")
            host, port = base.raw_host or "", base.port or (80 if insecure else 443)
        except ValueError:
            step = Step("dns", False, f"cannot make a URL from registry host {endpoint!r}")
            return _Endpoint([step], Cause.INVALID_IMAGE_NAME, None, insecure)
        steps: list[Step] = []
        dns = await net.resolve(host, port, opts.dns_timeout)
        steps.append(dns.step)
        if dns.cause:
            return _Endpoint(steps, dns.cause, None, insecure)
        tcp = await net.connect(host, port, opts.connect_timeout)
        steps.append(tcp.step)
        if tcp.cause:
            return _Endpoint(steps, tcp.cause, None, insecure)
        base = URL.build(scheme=scheme, host=host, port=port)
        if insecure:
            why = "declared insecure" if not is_loopback_host(endpoint) else "a loopback host"
            steps.append(Step("scheme", True, f"plain HTTP: {endpoint} is {why} (containerd/Docker do the same)"))
            return _Endpoint(steps, None, base, insecure)
        step, hs = await net.tls_step(host, port, self.ssl_context, opts.ca_file, opts.connect_timeout)
        steps.append(step)
        if hs.ok:
            return _Endpoint(steps, None, base, insecure)
        if hs.cert_error:
            return _Endpoint(steps, Cause.TLS_ERROR, None, insecure)
        # Not TLS at all? A plain HTTP answer on this port is the classic scheme mismatch.
        start = time.monotonic()
        try:
            resp = await self.http.request("GET", base.with_scheme("http") / "v2" / "")
        except TransportError:
            return _Endpoint(steps, Cause.TLS_ERROR, None, insecure)
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
        return _Endpoint(steps, Cause.HTTP_VS_HTTPS, None, insecure)

    async def https_answers(self, base: URL) -> bool:
        """Does this plain-HTTP endpoint complete a TLS handshake (so it is an HTTPS port)?"""
        hs = await net.handshake(base.raw_host or "", base.port or 80, tls.unverified_context(), self.options.connect_timeout)
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
                return TokenResult(None, resp.status, f"token service {realm.host} answered {resp.status}" + (f" ({msg})" if msg else ""))
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
            return cred.basic_auth(), True, f"Basic credentials of {_credential_label(cred)}", None
        result, sent, note = await self.token(ch, scope, cred, insecure)
        who = _credential_label(cred) if sent else "anonymous"
        realm = ch.realm
        text = f"Bearer token from {realm} (service {ch.service or '-'}, {who})" + (f"; {note}" if note else "")
        if not result.ok:
            return None, sent, f"{text}: {result.error}", result
        return f"Bearer {result.token}", sent, text, None

    # -- documents (manifests, configs), cached by digest ------------------------------------------------

    async def document(self, base: URL, repo: str, kind: str, ref: str, authorization: str | None) -> Response | TransportError:
        """GET a manifest or blob; a digest-addressed document is fetched once per repository."""
        url = _repo_url(base, repo, kind, ref)
        key = (str(base), repo, kind, ref)
        cacheable = ref.startswith("sha256:") or ref.startswith("sha512:")
        if cacheable and key in self._docs:
            return await asyncio.shield(self._docs[key])

        async def get() -> Response | TransportError:
            try:
                return await self.http.request(
                    "GET", url, headers={"Accept": MANIFEST_ACCEPT}, authorization=authorization, cap=self.options.manifest_cap
                )
            except TransportError as err:
                return err

        task = asyncio.ensure_future(get())
        if cacheable:
            self._docs[key] = task
        return await asyncio.shield(task)


def _repo_url(base: URL, repo: str, *parts: str) -> URL:
    return base.joinpath("v2", *repo.split("/"), *parts)


def _cause_for_status(status: int) -> Cause:
    if status == 403:
        return Cause.FORBIDDEN
    if status == 429:
        return Cause.RATE_LIMITED
    if status >= 500:
        return Cause.REGISTRY_SERVER_ERROR
    if status == 404:
        return Cause.TAG_NOT_FOUND
    return Cause.OTHER


def _cause_for_transport(err: TransportError) -> Cause:
    return _cause_for_transport_kind(err.kind)


def _cause_for_transport_kind(kind: str) -> Cause:
    return {
        "refused": Cause.NETWORK_UNREACHABLE,
        "connect_timeout": Cause.NETWORK_UNREACHABLE,
        "unreachable": Cause.NETWORK_UNREACHABLE,
        "dns": Cause.DNS_FAILURE,
        "tls": Cause.TLS_ERROR,
        "read_timeout": Cause.PULL_TIMEOUT_OR_PROGRESS_DEADLINE,
    }.get(kind, Cause.REGISTRY_SERVER_ERROR)


class _Prober:
    """One image, one credential (or none): auth → manifest → tags → platform → size."""

    def __init__(self, ctx: _Context, ref: ImageRef, ep: _Endpoint, node: Platform, cred: Credential | None) -> None:
        assert ep.base is not None
        self.ctx, self.ref, self.ep, self.node, self.cred = ctx, ref, ep, node, cred
        self.base: URL = ep.base
        self.scope = f"repository:{ref.repository}:pull"
        self.authorization: str | None = None
        self.bearer_with_credentials = False
        self.a = _Attempt()

    def step(self, name: str, ok: bool, detail: str, start: float) -> None:
        self.a.steps.append(Step(name, ok, detail, time.monotonic() - start))

    def fail(self, cause: Cause, status: int | None = None) -> _Attempt:
        self.a.cause = cause
        if status is not None:
            self.a.status = status
        return self.a

    def note_response(self, resp: Response) -> None:
        self.a.status = resp.status
        rl = parse_ratelimit(resp.headers)
        if rl is not None:
            self.a.ratelimit = rl

    async def send(self, method: str, url: URL, cap: int | None = None, accept: str | None = None) -> Response:
        headers = {"Accept": accept} if accept else None
        resp = await self.ctx.http.request(method, url, headers=headers, authorization=self.authorization, cap=cap)
        self.note_response(resp)
        return resp

    async def _authorize(self, ch: Challenge, start: float) -> bool:
        header, sent, text, failed = await self.ctx.authorize(ch, self.scope, self.cred, self.ep.insecure)
        self.a.credentials_sent |= sent
        self.bearer_with_credentials = ch.scheme == "bearer" and sent
        if header is None:
            self.step("auth", False, text, start)
            if failed is not None and failed.transport:
                self.fail(_cause_for_transport_kind(failed.transport))
            elif failed is not None and failed.status == 429:
                self.fail(Cause.RATE_LIMITED, failed.status)
            elif failed is not None and failed.status is not None and failed.status >= 500:
                self.fail(Cause.REGISTRY_SERVER_ERROR, failed.status)
            else:
                self.fail(Cause.AUTH_INVALID if sent else Cause.AUTH_MISSING, failed.status if failed else None)
            return False
        self.authorization = header
        self.step("auth", True, text, start)
        return True

    async def run(self) -> _Attempt:
        ctx, ref = self.ctx, self.ref
        origin = str(self.base)
        url = _repo_url(self.base, ref.repository, "manifests", ref.reference)
        self.a.url = str(url)
        key = (origin, ref.repository)
        leader = await ctx.discovery_turn(key)
        try:
            start = time.monotonic()
            known = ctx.challenges.get(key)
            if known is not None and not await self._authorize(known, start):
                return self.a
            for round_ in range(2):
                start = time.monotonic()
                try:
                    resp = await self.send("HEAD", url, accept=MANIFEST_ACCEPT)
                except TransportError as err:
                    return await self._transport_failure(err, start)
                if resp.status != 401:
                    break
                chs = parse_challenges(", ".join(resp.headers.getall("WWW-Authenticate", [])))
                ch = pick_challenge(chs)
                if ch is None:
                    self.step("auth", False, "401 without a usable WWW-Authenticate challenge", start)
                    return self.fail(Cause.AUTH_INVALID if self.a.credentials_sent else Cause.AUTH_MISSING, 401)
                if self.authorization is not None or round_ == 1:
                    return self._unauthorized(ch, start)
                ctx.challenges[key] = Challenge(ch.scheme, {k: v for k, v in ch.params.items() if k in ("realm", "service")})
                if leader:
                    ctx.discovery_done(key)
                if not await self._authorize(ch, start):
                    return self.a
        finally:
            if leader:
                ctx.discovery_done(key)
        self.a.stage = STAGE_REGISTRY
        return await self._manifest_answer(resp, start)

    def _unauthorized(self, ch: Challenge, start: float) -> _Attempt:
        """A 401 although we authorised: rejected credentials, or a Hub-style "no such repository"."""
        if ch.error == "insufficient_scope":
            if self.bearer_with_credentials:
                self.step(
                    "auth",
                    False,
                    f"token for {_credential_label(self.cred)} does not grant pull on {self.ref.repository} "
                    "(insufficient_scope): the repository does not exist, or this account cannot see it",
                    start,
                )
                self.a.stage = STAGE_REGISTRY
                return self.fail(Cause.REPO_NOT_FOUND, 401)
            self.step(
                "auth",
                False,
                f"anonymous token does not grant pull on {self.ref.repository} (insufficient_scope): "
                "the repository does not exist or needs credentials",
                start,
            )
            return self.fail(Cause.REPO_NOT_FOUND_OR_NO_ACCESS, 401)
        if self.a.credentials_sent:
            self.step("auth", False, f"registry rejected {_credential_label(self.cred)} (401)", start)
            return self.fail(Cause.AUTH_INVALID, 401)
        self.step("auth", False, "registry requires credentials and none were sent (401)", start)
        return self.fail(Cause.AUTH_MISSING, 401)

    async def _transport_failure(self, err: TransportError, start: float) -> _Attempt:
        if not self.ep.insecure or err.kind not in ("disconnected", "bad_response"):
            self.step("manifest", False, f"HEAD {self.a.url}: {err.detail}", start)
            return self.fail(_cause_for_transport(err))
        if await self.ctx.https_answers(self.base):
            return self._scheme_mismatch(start, err.detail)
        self.step("manifest", False, f"HEAD {self.a.url}: {err.detail}", start)
        return self.fail(_cause_for_transport(err))

    def _scheme_mismatch(self, start: float, seen: str) -> _Attempt:
        self.step(
            "scheme",
            False,
            f"{self.ref.endpoint} is an HTTPS port but a node uses plain HTTP for it ({seen}), because it is "
            + ("declared insecure" if self.ref.endpoint.lower() in self.ctx.options.insecure_registries
               else "a loopback host")
            + ": point the runtime at https:// for it (containerd hosts.toml server/host), or serve plain HTTP",
            start,
        )
        return self.fail(Cause.HTTP_VS_HTTPS)

    async def _manifest_answer(self, resp: Response, start: float) -> _Attempt:
        status = resp.status
        what = f"HEAD {self.a.url} → {status}"
        if status == 200:
            self.a.digest = resp.headers.get("Docker-Content-Digest") or self.ref.digest
            self.a.media_type = (resp.headers.get("Content-Type") or "").split(";")[0].strip() or None
            shown = f"{self.a.digest[:19]}…" if self.a.digest else "no digest header"
            self.step("manifest", True, f"{what}, {shown}, {self.a.media_type or '-'}", start)
            return await self._platform()
        if status == 404:
            self.step("manifest", False, f"{what}: no manifest for {self.ref.reference}", start)
            return await self._tags()
        if status == 400 and self.ep.insecure and await self.ctx.https_answers(self.base):
            return self._scheme_mismatch(start, "HTTP 400 'plain HTTP request was sent to HTTPS port'")
        extra = ""
        if status == 429 and self.a.ratelimit is not None:
            extra = f" (ratelimit {self.a.ratelimit.describe()})"
        elif status == 403:
            who = f"{_credential_label(self.cred)} is authenticated but" if self.a.credentials_sent else "anonymous requests are"
            extra = f": {who} not allowed to pull {self.ref.repository}"
        if status == 403 or status >= 500:
            extra += await self._error_body()
        self.step("manifest", False, what + extra, start)
        return self.fail(_cause_for_status(status))

    async def _error_body(self) -> str:
        """A HEAD has no body: one capped GET fetches the registry's own words (``DENIED: …``, an IAM
        permission name), which are the evidence a person needs. Never done for 429 (no pull to spend)."""
        assert self.a.url is not None
        try:
            resp = await self.ctx.http.request(
                "GET", URL(self.a.url), headers={"Accept": MANIFEST_ACCEPT}, authorization=self.authorization
            )
        except TransportError:
            return ""
        msg = resp.error_message(200) if resp.status >= 400 else ""
        return f"; registry says: {msg}" if msg else ""

    async def _tags(self) -> _Attempt:
        """After a manifest 404: does the repository exist (tag missing) or not (repository missing)?"""
        start = time.monotonic()
        opts = self.ctx.options
        url: URL | None = _repo_url(self.base, self.ref.repository, "tags", "list").with_query(n=str(opts.tags_page_size))
        tags: list[str] = []
        pages = 0
        budget = opts.tags_page_cap * opts.tags_max_pages
        while url is not None and pages < opts.tags_max_pages and budget > 0:
            try:
                resp = await self.send("GET", url, cap=min(opts.tags_page_cap, budget))
            except TransportError as err:
                self.step("tags", False, f"cannot list tags: {err.detail}; the tag or the repository is missing", start)
                return self.fail(Cause.TAG_NOT_FOUND, 404)
            pages += 1
            budget -= len(resp.body)
            if resp.status == 404:
                codes = resp.error_codes()
                code = f" {codes[0]}" if codes else ""
                self.step("tags", False, f"tags list → 404{code}: repository {self.ref.repository} does not exist", start)
                return self.fail(Cause.REPO_NOT_FOUND, 404)
            if resp.status != 200:
                self.step(
                    "tags",
                    False,
                    f"tags list → {resp.status}: cannot tell whether the repository exists; the manifest is missing",
                    start,
                )
                return self.fail(Cause.TAG_NOT_FOUND, 404)
            doc = resp.json()
            page = doc.get("tags") if isinstance(doc, dict) else None
            if isinstance(page, list):
                tags.extend(t for t in page if isinstance(t, str))
            url = self._next_page(resp)
        self.a.status = 404
        shown = f"{len(tags)} tags" + (" (listing capped)" if url is not None else "")
        if self.ref.digest:
            self.step("tags", False, f"repository exists ({shown}); digest {self.ref.digest} is not in it", start)
        else:
            self.a.suggestions = suggest(self.ref.reference, tags, opts.max_suggestions)
            close = f"; closest: {', '.join(self.a.suggestions)}" if self.a.suggestions else ""
            self.step("tags", False, f"repository exists ({shown}); tag {self.ref.reference} is not one of them{close}", start)
        return self.fail(Cause.TAG_NOT_FOUND, 404)

    def _next_page(self, resp: Response) -> URL | None:
        """Follow ``Link: <...>; rel="next"`` only on the same origin."""
        for link in resp.headers.getall("Link", []):
            if 'rel="next"' not in link and "rel=next" not in link:
                continue
            target = link.split(";", 1)[0].strip().strip("<>")
            try:
                nxt = resp.url.join(URL(target))
            except ValueError:
                return None
            return nxt if (nxt.host, nxt.port) == (self.base.host, self.base.port) else None
        return None

    def _may_spend_pull(self) -> bool:
        rl = self.a.ratelimit
        if self.ref.endpoint.lower() not in DOCKER_HUB_ENDPOINTS or rl is None or rl.remaining is None:
            return True
        return rl.remaining >= self.ctx.options.min_ratelimit_remaining

    async def _fetch_json(self, kind: str, ref: str, step: str, start: float) -> dict[str, Any] | None:
        got = await self.ctx.document(self.base, self.ref.repository, kind, ref, self.authorization)
        if isinstance(got, TransportError):
            self.step(step, False, f"GET {kind}/{ref}: {got.detail}", start)
            self.fail(_cause_for_transport(got))
            return None
        self.note_response(got)
        if got.status != 200:
            self.step(step, False, f"GET {kind}/{ref} → {got.status}", start)
            if got.status == 401:
                self.fail(Cause.AUTH_INVALID if self.a.credentials_sent else Cause.AUTH_MISSING)
            else:
                self.fail(_cause_for_status(got.status))
            return None
        doc = got.json()
        if not isinstance(doc, dict):
            why = f"larger than {self.ctx.options.manifest_cap} bytes" if got.truncated else "not a JSON object"
            self.step(step, False, f"GET {kind}/{ref}: the registry's answer is {why}", start)
            self.fail(Cause.REGISTRY_SERVER_ERROR)
            return None
        return doc

    async def _platform(self) -> _Attempt:
        start = time.monotonic()
        if not self.ctx.options.fetch_manifest:
            return self.a
        if not self._may_spend_pull():
            self.step("platform", True, "not checked: reading the manifest would spend a Docker Hub pull", start)
            return self.a
        ref = self.a.digest or self.ref.reference
        doc = await self._fetch_json("manifests", ref, "platform", start)
        if doc is None:
            return self.a
        media = doc.get("mediaType") if isinstance(doc.get("mediaType"), str) else self.a.media_type
        if media in INDEX_TYPES or isinstance(doc.get("manifests"), list):
            entries = index_platforms(doc)
            self.a.platforms = [str(p) for p, _d, _s in entries]
            chosen = choose(self.node, entries)
            if chosen is None:
                offered = ", ".join(self.a.platforms) or "no platforms"
                self.step("platform", False, f"index offers {offered}; the node is {self.node}", start)
                return self.fail(Cause.PLATFORM_MISMATCH)
            self.step("platform", True, f"{chosen[0]} from the index ({len(entries)} platforms) for a {self.node} node", start)
            start = time.monotonic()
            doc = await self._fetch_json("manifests", chosen[1], "size", start)
            if doc is None:
                return self.a
        else:
            plat = await self._config_platform(doc)
            if plat is None:
                self.step("platform", True, "single-platform image; its config could not be read, platform not checked", start)
            else:
                self.a.platforms = [str(plat)]
                if accepts(self.node, plat) is None:
                    self.step("platform", False, f"image is {plat} only; the node is {self.node}", start)
                    return self.fail(Cause.PLATFORM_MISMATCH)
                self.step("platform", True, f"image is {plat}; the node is {self.node}", start)
            start = time.monotonic()
        sized = layers_size(doc)
        if sized is None:
            self.step("size", True, "manifest lists no layers", start)
        else:
            self.a.size = sized[0]
            plural = "layer" if sized[1] == 1 else "layers"
            self.step("size", True, f"{human_size(sized[0])} compressed in {sized[1]} {plural}", start)
        return self.a

    async def _config_platform(self, manifest: dict[str, Any]) -> Platform | None:
        if isinstance(manifest.get("architecture"), str):  # schema 1
            return normalize("linux", manifest["architecture"])
        digest = config_digest(manifest)
        if digest is None:
            return None
        got = await self.ctx.document(self.base, self.ref.repository, "blobs", digest, self.authorization)
        if isinstance(got, TransportError) or got.status != 200:
            return None
        cfg = got.json()
        if not isinstance(cfg, dict) or not isinstance(cfg.get("architecture"), str):
            return None
        return normalize(str(cfg.get("os", "")), cfg["architecture"], str(cfg.get("variant", "") or ""))


# -- public API ------------------------------------------------------------------------------------------


def _as_ref(image: str | ImageRef) -> ImageRef:
    return image if isinstance(image, ImageRef) else parse(image)


def _dedupe_key(ref: ImageRef, creds: Sequence[Credential], platform: str) -> tuple[str, ...]:
    return (ref.endpoint.lower(), ref.repository, ref.reference, platform, *(c.fingerprint for c in creds))


async def _probe_ref(ctx: _Context, image: str, ref: ImageRef, creds: Sequence[Credential], node: Platform) -> ProbeResult:
    result = ProbeResult(image=image, platform=str(node))
    result.steps.append(
        Step("reference", True, f"{ref.normalized} → {ref.endpoint}, repository {ref.repository}, {ref.reference}")
    )
    ep = await ctx.endpoint(ref)
    result.steps.extend(dataclasses.replace(s) for s in ep.steps)
    if ep.cause is not None:
        result.cause = ep.cause
        return result
    attempts: list[_Attempt] = []
    tried: list[Credential | None] = list(creds[:MAX_CREDENTIALS]) or [None]
    if len(creds) > MAX_CREDENTIALS:
        result.steps.append(Step("auth", True, f"{len(creds)} matching credentials; trying the first {MAX_CREDENTIALS}"))
    async with ctx.semaphore(ref.endpoint.lower()):
        for cred in tried:
            attempt = await _Prober(ctx, ref, ep, node, cred).run()
            if len(creds) > 1:
                for s in attempt.steps:
                    s.detail = f"[{_credential_label(cred)}] {s.detail}"
            attempts.append(attempt)
            if attempt.cause is None:
                result.credential = _credential_label(cred) if cred is not None else None
                break
    best = attempts[-1] if attempts[-1].cause is None else max(attempts, key=lambda a: a.stage)
    for a in attempts:
        result.steps.extend(a.steps)
    result.cause = best.cause
    result.status = best.status
    result.credentials_sent = any(a.credentials_sent for a in attempts)
    result.digest, result.media_type, result.url = best.digest, best.media_type, best.url
    result.platforms, result.size, result.suggestions = best.platforms, best.size, best.suggestions
    result.ratelimit = next((a.ratelimit for a in reversed(attempts) if a.ratelimit), None)
    return result


async def _guarded(ctx: _Context, image: str, ref: ImageRef, creds: Sequence[Credential], node: Platform) -> ProbeResult:
    """One probe whose unexpected failure (a bug) becomes a result, so the other probes still finish."""
    try:
        return await _probe_ref(ctx, image, ref, creds, node)
    except Exception as err:  # noqa: BLE001 - reported as a result, never with its text (it may hold a URL)
        res = ProbeResult(image=image, cause=Cause.OTHER, platform=str(node))
        res.steps.append(Step("probe", False, f"internal error in the probe ({type(err).__name__}); please report it"))
        return res


async def probe(
    image: str | ImageRef,
    *,
    credentials: Sequence[Credential] = (),
    platform: str = "linux/amd64",
    options: ProbeOptions | None = None,
) -> ProbeResult:
    """Probe one image with the credentials the kubelet would try (in order). Raises InvalidReference."""
    return (await probe_many([ProbeRequest(_as_ref(image), tuple(credentials), platform)], options or ProbeOptions(), _raise=True))[0]


async def probe_many(
    requests: Sequence[ProbeRequest], options: ProbeOptions | None = None, *, _raise: bool = False
) -> list[ProbeResult]:
    """Probe many images with one session; identical probes run once, tokens are shared.

    An invalid reference gives a result with cause ``invalid_image_name`` instead of an exception.
    """
    from pulldoctor.errors import InvalidReference

    options = options or ProbeOptions()
    ctx = _Context(options)
    try:
        tasks: dict[tuple[str, ...], asyncio.Task[ProbeResult]] = {}
        order: list[tuple[str, tuple[str, ...] | ProbeResult]] = []
        for req in requests:
            node = parse_platform(req.platform)
            original = req.image.original if isinstance(req.image, ImageRef) else req.image
            try:
                ref = _as_ref(req.image)
            except InvalidReference as err:
                if _raise:
                    raise
                bad = ProbeResult(image=original, cause=Cause.INVALID_IMAGE_NAME, platform=str(node))
                bad.steps.append(Step("reference", False, str(err)))
                order.append((original, bad))
                continue
            key = _dedupe_key(ref, req.credentials, str(node))
            if key not in tasks:
                tasks[key] = asyncio.ensure_future(_guarded(ctx, original, ref, req.credentials, node))
            order.append((original, key))
        if tasks:
            try:
                await asyncio.wait(list(tasks.values()))
            finally:
                for task in tasks.values():
                    task.cancel()  # no-op for finished ones; cleans up on cancellation
        out: list[ProbeResult] = []
        for original, item in order:
            if isinstance(item, ProbeResult):
                out.append(item)
                continue
            res = tasks[item].result()
            out.append(res if res.image == original else dataclasses.replace(res, image=original))
        return out
    finally:
        await ctx.close()


def probe_sync(
    image: str | ImageRef,
    *,
    credentials: Sequence[Credential] = (),
    platform: str = "linux/amd64",
    options: ProbeOptions | None = None,
) -> ProbeResult:
    """``probe`` for synchronous callers (the CLI)."""
    return asyncio.run(probe(image, credentials=credentials, platform=platform, options=options))
