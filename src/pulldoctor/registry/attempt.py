"""One image probed with one credential (or none): auth → manifest → tags → platform → size.

Decisions (see README "Probing a registry"):
- Bearer ``insufficient_scope`` after a token obtained *with* credentials → ``repo_not_found`` ("as seen
  with these credentials"): Docker Hub, GHCR and Harbor all answer a missing repository and a repository
  the account may not read the same way; anonymously → the hedge ``repo_not_found_or_no_access``.
- A connect timeout is ``network_unreachable``; a connection that opens but whose answer does not come
  within the request timeout is ``pull_timeout_or_progress_deadline`` (the node would hang until its
  deadline, which is what the kubelet then reports).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from yarl import URL

from pulldoctor.causes import Cause
from pulldoctor.redact import mask_all
from pulldoctor.reference import ImageRef
from pulldoctor.registry.auth import Challenge, parse_challenges, pick_challenge
from pulldoctor.registry.manifest import (
    Platform,
    accepts,
    choose,
    config_digest,
    human_size,
    index_platforms,
    largest_layer,
    layers_size,
    normalize,
)
from pulldoctor.registry.models import RateLimit, Step, Throughput
from pulldoctor.registry.ratelimit import parse_ratelimit
from pulldoctor.registry.session import Endpoint, Session, credential_label, repo_url
from pulldoctor.registry.tags import suggest
from pulldoctor.registry.wire import INDEX_TYPES, MANIFEST_ACCEPT, SCHEMA1_TYPES, Response, TransportError
from pulldoctor.similar import closest

if TYPE_CHECKING:
    from pulldoctor.keyring import Credential

DOCKER_HUB_ENDPOINTS = frozenset({"registry-1.docker.io", "index.docker.io", "docker.io"})

CATALOG_PAGE = 1000   # repositories read from /v2/_catalog (one page, at most tags_page_cap bytes)

#: How far an attempt got; when every credential fails, the furthest attempt explains best.
STAGE_AUTH, STAGE_REGISTRY, STAGE_DEADLINE = 1, 2, 3


@dataclass
class Attempt:
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
    throughput: Throughput | None = None
    similar_repositories: list[str] = field(default_factory=list)


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


class Prober:
    """One image, one credential (or none): auth → manifest → tags → platform → size."""

    def __init__(self, ctx: Session, ref: ImageRef, ep: Endpoint, node: Platform, cred: Credential | None,
                 sample: bool = False) -> None:
        assert ep.base is not None
        self.ctx, self.ref, self.ep, self.node, self.cred = ctx, ref, ep, node, cred
        self.sample = sample
        self.base: URL = ep.base
        self.root: URL = ep.root if ep.root is not None else ep.base.with_path("/v2")
        # containerd adds ?ns=<registry> when the host is not the registry itself (a mirror): isProxy
        host = ep.target.config.host.lower() if ep.target is not None else ""
        self.ns = ref.registry if host and host not in (ref.endpoint.lower(), ref.registry.lower()) else ""
        self.scope = f"repository:{ref.repository}:pull"
        self.authorization: str | None = None
        self.bearer_with_credentials = False
        self.a = Attempt()

    def step(self, name: str, ok: bool, detail: str, start: float) -> None:
        # Details quote registries and token services: nothing sent in this attempt may come back out.
        sent = (self.authorization, self.cred.basic_auth() if self.cred is not None else None)
        self.a.steps.append(Step(name, ok, mask_all(detail, sent, known=False), time.monotonic() - start))

    def fail(self, cause: Cause, status: int | None = None) -> Attempt:
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
        headers = {"Accept": accept, **self.ep.headers} if accept else (self.ep.headers or None)
        resp = await self.ctx.http.request(method, url, headers=headers, authorization=self.authorization, cap=cap,
                                           ssl_context=self.ep.ssl)
        self.note_response(resp)
        return resp

    async def _authorize(self, ch: Challenge, start: float) -> bool:
        header, sent, text, failed = await self.ctx.authorize(ch, self.scope, self.cred, self.ep.insecure, self.ep.ssl)
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

    async def run(self) -> Attempt:
        ctx, ref = self.ctx, self.ref
        origin = str(self.root)
        url = self._with_ns(repo_url(self.root, ref.repository, "manifests", ref.reference))
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
                learnt = {k: v for k, v in ch.params.items() if k in ("realm", "service")}
                ctx.challenges[key] = Challenge(ch.scheme, learnt)
                if leader:
                    ctx.discovery_done(key)
                if not await self._authorize(ch, start):
                    return self.a
        finally:
            if leader:
                ctx.discovery_done(key)
        self.a.stage = STAGE_REGISTRY
        return await self._manifest_answer(resp, start)

    def _with_ns(self, url: URL) -> URL:
        return url.with_query(ns=self.ns) if self.ns else url

    def _unauthorized(self, ch: Challenge, start: float) -> Attempt:
        """A 401 although we authorised: rejected credentials, or a Hub-style "no such repository"."""
        if ch.error == "insufficient_scope":
            if self.bearer_with_credentials:
                self.step(
                    "auth",
                    False,
                    f"token for {credential_label(self.cred)} does not grant pull on {self.ref.repository} "
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
            self.step("auth", False, f"registry rejected {credential_label(self.cred)} (401)", start)
            return self.fail(Cause.AUTH_INVALID, 401)
        self.step("auth", False, "registry requires credentials and none were sent (401)", start)
        return self.fail(Cause.AUTH_MISSING, 401)

    async def _transport_failure(self, err: TransportError, start: float) -> Attempt:
        if not self.ep.insecure or err.kind not in ("disconnected", "bad_response"):
            self.step("manifest", False, f"HEAD {self.a.url}: {err.detail}", start)
            return self.fail(_cause_for_transport(err))
        if await self.ctx.https_answers(self.base):
            return self._scheme_mismatch(start, err.detail)
        self.step("manifest", False, f"HEAD {self.a.url}: {err.detail}", start)
        return self.fail(_cause_for_transport(err))

    def _scheme_mismatch(self, start: float, seen: str) -> Attempt:
        self.step(
            "scheme",
            False,
            f"{self.base.raw_authority} is an HTTPS port but a node uses plain HTTP for it ({seen}), because "
            + (self.ep.why if self.ep.target is not None and self.ep.target.source else
               f"it is {self.ep.why or 'a loopback host'}")
            + ": point the runtime at https:// for it (containerd hosts.toml server/host), or serve plain HTTP",
            start,
        )
        return self.fail(Cause.HTTP_VS_HTTPS)

    async def _manifest_answer(self, resp: Response, start: float) -> Attempt:
        status = resp.status
        what = f"HEAD {self.a.url} → {status}"
        if status == 200:
            self.a.digest = resp.headers.get("Docker-Content-Digest") or self.ref.digest
            self.a.media_type = (resp.headers.get("Content-Type") or "").split(";")[0].strip() or None
            shown = f"{self.a.digest[:19]}…" if self.a.digest else "no digest header"
            runtime = self.ctx.options.runtime
            if self.a.media_type in SCHEMA1_TYPES and runtime.rejects_schema1:
                self.step("manifest", False, f"{what}, {shown}: a Docker schema 1 manifest ({self.a.media_type}), "
                          f"which {runtime} refuses (schema 1 support ended in containerd 2.0)", start)
                return self.fail(Cause.UNSUPPORTED_MANIFEST)
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
            who = (f"{credential_label(self.cred)} is authenticated but" if self.a.credentials_sent
                   else "anonymous requests are")
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
                "GET", URL(self.a.url), headers={"Accept": MANIFEST_ACCEPT, **self.ep.headers},
                authorization=self.authorization, ssl_context=self.ep.ssl,
            )
        except TransportError:
            return ""
        msg = resp.error_message(200) if resp.status >= 400 else ""
        return f"; registry says: {msg}" if msg else ""

    async def _tags(self) -> Attempt:
        """After a manifest 404: does the repository exist (tag missing) or not (repository missing)?"""
        start = time.monotonic()
        opts = self.ctx.options
        first = repo_url(self.root, self.ref.repository, "tags", "list")
        url: URL | None = first.with_query(n=str(opts.tags_page_size), **({"ns": self.ns} if self.ns else {}))
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
                what = f"tags list → 404{code}: repository {self.ref.repository} does not exist"
                self.step("tags", False, what, start)
                await self._catalog()
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
            what = f"repository exists ({shown}); tag {self.ref.reference} is not one of them{close}"
            self.step("tags", False, what, start)
        return self.fail(Cause.TAG_NOT_FOUND, 404)

    async def _catalog(self) -> None:
        """A missing repository: the names close to it in one bounded page of ``/v2/_catalog`` ("did you mean").
        Cheap or nothing: an open registry answers it; a token scoped to one repository gets a 401, Docker Hub
        and mirrors (``?ns=``) have none, a failure is ignored. Not a step: it decides nothing."""
        if self.ns or self.ref.endpoint.lower() in DOCKER_HUB_ENDPOINTS:
            return
        key = (str(self.root), self.cred.fingerprint if self.cred is not None else "")
        if key not in self.ctx.catalogs:   # once per registry and credential in a run (None: refused)
            self.ctx.catalogs[key] = None
            url = self.root.joinpath("_catalog").with_query(n=str(CATALOG_PAGE))
            status = self.a.status
            try:
                resp = await self.send("GET", url, cap=self.ctx.options.tags_page_cap)
            except TransportError:
                return
            finally:
                self.a.status = status   # the catalog's answer is not the probe's
            doc = resp.json() if resp.status == 200 else None
            names = doc.get("repositories") if isinstance(doc, dict) else None
            if isinstance(names, list):
                self.ctx.catalogs[key] = [n for n in names[:CATALOG_PAGE] if isinstance(n, str)]
        repos = self.ctx.catalogs[key]
        if repos:
            self.a.similar_repositories = closest(self.ref.repository, repos, limit=3)

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
        got = await self.ctx.document(self.ep, self.ref.repository, kind, ref, self.authorization, self.ns)
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
        if kind == "manifests" and self.a.digest is None and isinstance(doc, dict):
            # No Docker-Content-Digest header on the HEAD: the digest is the hash of the bytes served.
            self.a.digest = "sha256:" + hashlib.sha256(got.body).hexdigest()
        if not isinstance(doc, dict):
            why = f"larger than {self.ctx.options.manifest_cap} bytes" if got.truncated else "not a JSON object"
            self.step(step, False, f"GET {kind}/{ref}: the registry's answer is {why}", start)
            self.fail(Cause.REGISTRY_SERVER_ERROR)
            return None
        return doc

    async def _platform(self) -> Attempt:
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
            what = f"{chosen[0]} from the index ({len(entries)} platforms) for a {self.node} node"
            self.step("platform", True, what, start)
            if not self.ctx.options.fetch_size:
                return self.a
            start = time.monotonic()
            doc = await self._fetch_json("manifests", chosen[1], "size", start)
            if doc is None:
                return self.a
        else:
            plat = await self._config_platform(doc)
            if plat is None:
                what = "single-platform image; its config could not be read, platform not checked"
                self.step("platform", True, what, start)
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
            biggest = largest_layer(doc)
            if self.sample and biggest is not None:
                await self._throughput(*biggest)
        return self.a

    async def _throughput(self, digest: str, size: int) -> None:
        """Time a bounded ranged GET of the largest layer: time to first byte and sustained rate. A failed
        or stalled sample is evidence, never a verdict: the step stays ok."""
        from pulldoctor.registry.client import sample_download

        opts = self.ctx.options
        start = time.monotonic()
        url = repo_url(self.root, self.ref.repository, "blobs", digest)
        got = await sample_download(
            self.ctx.http, self._with_ns(url), headers=dict(self.ep.headers), authorization=self.authorization,
            ssl_context=self.ep.ssl, max_bytes=min(opts.sample_bytes, max(size, 1)), max_seconds=opts.sample_seconds,
        )
        tp = Throughput(digest, size, got.received, got.elapsed, got.first_byte_at, None, got.status, got.capped_by)
        if got.error is not None:
            tp.error = got.error.detail
        elif got.status not in (200, 206):
            tp.error = f"the registry answered {got.status}"
        tp.rate = sustained_rate(got.points, got.elapsed, got.capped_by)
        self.a.throughput = tp
        self.step("throughput", True, tp.describe(), start)

    async def _config_platform(self, manifest: dict[str, Any]) -> Platform | None:
        if isinstance(manifest.get("architecture"), str):  # schema 1
            return normalize("linux", manifest["architecture"])
        digest = config_digest(manifest)
        if digest is None:
            return None
        got = await self.ctx.document(self.ep, self.ref.repository, "blobs", digest, self.authorization, self.ns)
        if isinstance(got, TransportError) or got.status != 200:
            return None
        cfg = got.json()
        if not isinstance(cfg, dict) or not isinstance(cfg.get("architecture"), str):
            return None
        return normalize(str(cfg.get("os", "")), cfg["architecture"], str(cfg.get("variant", "") or ""))


def sustained_rate(points: list[tuple[float, int]], elapsed: float, capped_by: str) -> float | None:
    """Bytes/s once the opening burst is over (socket buffers and rate limiters' ``limit_rate_after`` let the
    first kilobytes through at once): measured from the last chunk of the first 0.1 s (or tenth of the
    transfer) to the last chunk, or to the time cap when the chunks stopped coming long before it (more than
    twice their usual gap): a trickle that stopped is slower than its chunks say. A transfer that is over
    within the burst window is measured whole."""
    if not points:
        return None
    t_first = points[0][0]
    t_last, b_last = points[-1]
    settle = t_first + max(0.1, 0.1 * (t_last - t_first))
    base = max(i for i, (t, _b) in enumerate(points) if t <= settle)
    if base == len(points) - 1:
        end = elapsed if capped_by == "time" else t_last
        return b_last / end if end > 0 else None
    t_base, b_base = points[base]
    gap = (t_last - t_base) / (len(points) - 1 - base)
    end = elapsed if capped_by == "time" and elapsed - t_last > 2 * gap else t_last
    return (b_last - b_base) / (end - t_base)
