"""The core errors: which text means which cause, and how specific each one is.

Each rule names the cause, a specificity tier (higher = says more about the root cause), the substrings
that must be present before its pattern is even tried (cheap ``in`` checks on the lower-cased text), and
optionally a pattern that confirms it. Patterns are linear: every repetition is bounded, none is nested.

Where the texts come from (checked against real events, ``/work/shared/research/kubelet-semantics.md``
§6 and ``real-components.md`` §4–5):

- containerd ``core/remotes/docker/resolver.go`` / ``fetcher.go`` / ``remotes/errors``: ``<ref>: not found``,
  ``unexpected status from HEAD request to <url>: 401 Unauthorized`` (2.x), ``unexpected status code <url>:
  502 Bad Gateway`` (1.x), ``pulling from host H failed with status code [manifests v1]: 403 Forbidden``,
  ``failed to fetch oauth token`` / ``failed to fetch anonymous token``, ``pull access denied, repository does
  not exist or may require authorization: server message: insufficient_scope``, ``no match for platform``;
- containers/image (CRI-O, skopeo) ``docker/docker_client.go``, ``docker/errors.go``: ``reading manifest T in
  R: manifest unknown``, ``pinging container registry H``, ``unable to retrieve auth token: invalid
  username/password``, ``authentication required``, ``too many requests to registry``, ``no image found in
  manifest list for architecture``, ``invalid status code from registry 503 (Service Unavailable)``;
- Docker (moby ``distribution/errors.go``, ``registry``): ``manifest for X not found``, ``pull access denied for
  X, repository does not exist or may require 'docker login'``, ``no basic auth credentials``, ``received
  unexpected HTTP status: 500 Internal Server Error``, ``no matching manifest for linux/arm64 in the manifest
  list entries``;
- the registries' error bodies (distribution spec error codes ``MANIFEST_UNKNOWN``, ``NAME_UNKNOWN``,
  ``DENIED``, ``UNAUTHORIZED``, ``TOOMANYREQUESTS``; ECR, GCR/Artifact Registry, ACR, Quay, Harbor, GHCR);
- Go's ``net``, ``net/http`` and ``crypto/tls`` errors (``no such host``, ``connection refused``, ``x509:``,
  ``server gave HTTP response to HTTPS client``, ``context canceled``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import NamedTuple

from pulldoctor.causes import Cause
from pulldoctor.messages.lexicon import Index, remember, words

C = Cause


@dataclass(frozen=True, slots=True)
class Rule:
    """One core error: triggers (lower-case substrings, any one suffices) and an optional confirming pattern."""

    name: str
    cause: Cause
    tier: int
    triggers: tuple[str, ...]
    pattern: re.Pattern[str] | None = None
    also: tuple[Cause, ...] = ()  # what the same text can honestly also mean


class Signal(NamedTuple):
    """A cause seen in the text: how specific, where (the innermost error is last), by which rule.

    A NamedTuple whose natural order is (tier, position): sorting signals in reverse puts the root first.
    Not a dataclass: several are made per message and creation cost matters here."""

    tier: int
    pos: int
    cause: Cause
    rule: str
    also: tuple[Cause, ...] = ()
    status: int | None = None


# Tiers: the root signal is the most specific one (see messages/__init__.py for the whole rule).
DEFINITIVE = 95   # the text states the cause outright (policy Never, bad reference, no space, signature)
SPECIFIC = 85     # a precise mechanism (DNS, scheme, platform, oauth token 401, IAM denial)
TRANSPORT = 80    # a transport-level failure (TLS, refused, unreachable)
REGISTRY = 70     # the registry's answer about the image (not found, hedges)
STATUS_HIGH = 60  # rate limits and server errors, by status or error code
STATUS = 50       # bare 401/403/400 and their error codes
WEAK = 40
TIMEOUT = 30      # the pull was cancelled: any real reason found elsewhere wins
FALLBACK = 15


def _r(name: str, cause: Cause, tier: int, triggers: tuple[str, ...] | str, pattern: str | None = None,
       also: tuple[Cause, ...] = ()) -> Rule:
    trig = (triggers,) if isinstance(triggers, str) else triggers
    return Rule(name, cause, tier, trig, re.compile(pattern) if pattern else None, also)


RULES: tuple[Rule, ...] = (
    # --- stated outright -------------------------------------------------------------------------
    _r("never_pull", C.NEVER_PULL_ABSENT, DEFINITIVE, ("pull policy of never", "errimageneverpull")),
    _r("bad_reference", C.INVALID_IMAGE_NAME, DEFINITIVE,
       ("invalid reference format", "couldn't parse image reference", "failed to parse image reference",
        "invalidimagename", "repository name must be lowercase", "invalid image name",
        "repository name must be canonical")),
    _r("short_name", C.INVALID_IMAGE_NAME, DEFINITIVE, "short-name",
       r"short-name .{0,600}?(?:did not resolve to an alias|resolution enforced|unqualified-search)"),
    # the same fault before short-name aliases existed: CRI-O <= 1.19 (server/image_pull.go, pkg/storage/image.go
    # ErrNoRegistriesConfigured) had no registry to complete an unqualified name with
    _r("no_search_registries", C.INVALID_IMAGE_NAME, DEFINITIVE,
       "no registries configured while trying to pull an unqualified image"),
    # containerd 2.0 dropped schema 1 (core/remotes/docker/schema1 removed; the resolver's error reads
    # 'media type "application/vnd.docker.distribution.manifest.v1+prettyjws" is no longer supported since
    # containerd v2.0, please rebuild the image as …')
    _r("schema1", C.UNSUPPORTED_MANIFEST, DEFINITIVE, "no longer supported since containerd v2",
       r"manifest\.v1\+(?:prettyjws|json).{0,40}no longer supported since containerd v2"),
    # Short names in enforcing mode, several unqualified-search-registries and no alias: CRI-O
    # (internal/storage/image.go) "short name mode is enforcing, but image name %s returns ambiguous list";
    # containers/image (pkg/shortnames, podman) "short-name resolution enforced but cannot prompt without a TTY"
    _r("short_name", C.AMBIGUOUS_SHORT_NAME, DEFINITIVE, ("returns ambiguous list", "cannot prompt without a tty"),
       r"short.name mode is enforcing, but image name \S{1,512} returns ambiguous list"
       r"|short-name resolution enforced but cannot prompt without a tty"),
    _r("signature", C.SIGNATURE_INVALID, DEFINITIVE,
       ("signaturevalidationfailed", "signature validation failed", "source image rejected",
        "signature verification failed", "a signature was required", "is rejected by policy",
        "signature for identity", "no valid signature", "invalid signature")),
    _r("disk_full", C.DISK_FULL, DEFINITIVE, ("no space left on device", "disk quota exceeded")),
    _r("kubelet_qps", C.RATE_LIMITED, DEFINITIVE, "pull qps exceeded"),
    # --- precise mechanisms ----------------------------------------------------------------------
    _r("proxy", C.NETWORK_UNREACHABLE, SPECIFIC + 3, "proxyconnect"),
    _r("platform", C.PLATFORM_MISMATCH, SPECIFIC,
       ("no match for platform", "no matching manifest for", "no image found in manifest list",
        "no image found in image index", "does not match the specified platform",
        "image operating system", "no manifest found for platform")),
    _r("http_to_https", C.HTTP_VS_HTTPS, SPECIFIC,
       ("server gave http response to https client", "first record does not look like a tls handshake",
        "client sent an http request to an https server", "plain http request was sent to https port",
        "malformed http response", "oversized record received")),
    _r("dns_lookup", C.DNS_FAILURE, SPECIFIC, "lookup ",
       r"dial (?:tcp|udp)[46]?: lookup \S|lookup \S{1,255} on \S{1,64}:\d{1,5}"),
    _r("dns", C.DNS_FAILURE, SPECIFIC,
       ("no such host", "server misbehaving", "temporary failure in name resolution",
        "name or service not known", "no answer from dns server", "nodename nor servname")),
    _r("oauth_401", C.AUTH_INVALID, SPECIFIC, "failed to fetch oauth token",
       r"failed to fetch oauth token.{0,600}?\b401\b"),
    _r("oauth_403", C.FORBIDDEN, SPECIFIC, "failed to fetch oauth token",
       r"failed to fetch oauth token.{0,600}?\b403\b"),
    _r("anonymous_token", C.AUTH_MISSING, SPECIFIC, "failed to fetch anonymous token",
       r"failed to fetch anonymous token.{0,600}?\b40[13]\b"),
    _r("bad_credentials", C.AUTH_INVALID, SPECIFIC,
       ("invalid username/password", "incorrect username or password", "authorization token has expired",
        "token has expired", "token is expired", "expired token", "bad credentials",
        "invalid username or password", "unauthorized: invalid credentials", "bad_credential",
        "http basic: access denied", "personal access token")),
    # Docker's own login step: credentials were sent (moby registry/auth.go "login attempt to %s failed")
    _r("docker_login_401", C.AUTH_INVALID, SPECIFIC, "login attempt to ",
       r"login attempt to \S{1,512} failed with status: 401"),
    _r("no_credentials", C.AUTH_MISSING, SPECIFIC,
       ("no basic auth credentials", "no credentials found", "unauthenticated request")),
    # the registry says the request carried no login: Huawei SWR's DENIED body for an anonymous request is
    # "You may not login yet" (eip-work/kuboard-press#291, ikechan8370/chatgpt-plugin#639); it answers so for a
    # missing repository too, hence the hedge kept in also
    _r("not_logged_in", C.AUTH_MISSING, SPECIFIC, ("may not login yet", "not logged in"),
       also=(C.REPO_NOT_FOUND_OR_NO_ACCESS,)),
    _r("iam_denied", C.FORBIDDEN, SPECIFIC,
       ("denied: permission \"", "is not authorized to perform", "token exchange failed",
        "caller does not have permission", "does not have permission", "not allowed access",
        "you don't have the needed permissions", "permission_denied", "access is forbidden")),
    # --- transport -------------------------------------------------------------------------------
    _r("tls", C.TLS_ERROR, TRANSPORT,
       ("x509:", "tls:", "tls handshake timeout", "certificate signed by unknown authority",
        "certificate has expired", "certificate is valid for", "unknown certificate authority")),
    # Windows nodes and Docker Desktop print Winsock's own texts after Go's "connectex:"/"wsarecv:" (net/fd_windows.go
    # wraps the errno with os.NewSyscallError; the text is FormatMessage's): WSAECONNREFUSED, WSAETIMEDOUT,
    # WSAECONNRESET, WSAENETUNREACH, WSAEHOSTUNREACH
    _r("dial", C.NETWORK_UNREACHABLE, TRANSPORT,
       ("connection refused", "no route to host", "network is unreachable", "connection reset by peer",
        "connection timed out", "host is unreachable", "operation timed out", "cannot assign requested address",
        "target machine actively refused it", "did not properly respond after a period of time",
        "forcibly closed by the remote host", "unreachable network", "unreachable host")),
    _r("dial_timeout", C.NETWORK_UNREACHABLE, TRANSPORT, "dial tcp ", r"dial tcp \S{1,300}: i/o timeout"),
    _r("no_connection", C.NETWORK_UNREACHABLE, TRANSPORT - 5, "while waiting for connection"),
    # Go's net.OpError for any failed TCP connect, whatever the errno ("dial tcp 0.0.8.90:443: connect: invalid
    # argument"; before Go 1.10 "getsockopt: connection refused")
    _r("dial_errno", C.NETWORK_UNREACHABLE, TRANSPORT - 5, "dial tcp",
       r"dial tcp[46]? \S{0,300}: (?:connect|connectex|getsockopt): "),
    # a dial to a unix socket is the runtime's own plumbing (kubelet→CRI, dockerd→containerd), never the
    # registry: the runtime is down or wedged ("transport: Error while dialing dial unix …containerd.sock")
    _r("runtime_socket", C.OTHER, TRANSPORT + 2, "dial unix", r"dial unix[: ]"),
    # --- the registry's answer about the image ---------------------------------------------------
    _r("hedge", C.REPO_NOT_FOUND_OR_NO_ACCESS, REGISTRY,
       ("pull access denied", "insufficient_scope", "may require authorization", "may require 'docker login'",
        "requested access to the resource is denied", "does not exist or no pull access",
        "access to the requested resource is not authorized", "unauthorized to access repository",
        "repository does not exist or may require")),
    _r("old_docker_image", C.REPO_NOT_FOUND_OR_NO_ACCESS, REGISTRY, "not found",
       r"error: image \S{1,2048} not found"),
    _r("repo_unknown", C.REPO_NOT_FOUND, REGISTRY,
       ("name_unknown", "name unknown", "repository name not known", "does not exist in the registry")),
    _r("repo_not_found", C.REPO_NOT_FOUND, REGISTRY, "repository ", r"repository \S{1,2048} not found"),
    _r("project_not_found", C.REPO_NOT_FOUND, REGISTRY, "project ", r"project \S{1,256} not found"),
    # a proxy or portal answering HTML instead of a manifest: not the image's fault, and no cause of ours.
    # containerd's unpacker names what it got ("unexpected media type text/html for sha256:…: not found",
    # core/unpack): that precise account outranks the NotFound it is wrapped in
    _r("html_descriptor", C.OTHER, REGISTRY + 2, "unexpected media type text/html"),
    _r("not_a_manifest", C.OTHER, STATUS - 5, "invalid character '<'"),
    # a client too old for what the registry stores (an OCI index, a newer manifest type): not the image
    _r("client_too_old", C.OTHER, REGISTRY + 2,
       ("accept header does not support oci indexes", "unsupported manifest media type",
        "unsupported manifest format")),
    # the /v2/ ping itself 404s: whatever answers there is not a registry API (wrong host, path or port)
    _r("ping_404", C.OTHER, REGISTRY + 2, "pinging ",
       r"pinging (?:container|docker) registry \S{1,300}: .{0,80}\b404\b"),
    _r("blob_missing", C.OTHER, REGISTRY + 2, ("blob unknown", "blob_unknown", "content at "),
       r"blob.unknown|content at \S{1,4096} not found"),
    _r("containerd_not_found", C.TAG_NOT_FOUND, REGISTRY,
       ("failed to resolve reference", "failed to resolve image", "failed to get sandbox image"),
       r": not found\b",
       also=(C.REPO_NOT_FOUND, C.REPO_NOT_FOUND_OR_NO_ACCESS)),
    _r("manifest_unknown", C.TAG_NOT_FOUND, REGISTRY,
       ("manifest unknown", "manifest_unknown", "requested image not found", "was deleted or has expired"),
       also=(C.REPO_NOT_FOUND,)),
    _r("manifest_not_found", C.TAG_NOT_FOUND, REGISTRY, "manifest ", r"manifest (?:for )?\S{1,2048} not found"),
    _r("artifact_not_found", C.TAG_NOT_FOUND, REGISTRY, "artifact ", r"artifact \S{1,2048} not found"),
    _r("tag_not_in_repo", C.TAG_NOT_FOUND, REGISTRY, "tag ", r"tag \S{1,256} not found in repository"),
    # --- status codes and error codes ------------------------------------------------------------
    _r("rate_limit", C.RATE_LIMITED, STATUS_HIGH,
       ("toomanyrequests", "too many requests", "pull rate limit", "rate limit exceeded", "rate exceeded")),
    # Docker Hub locks an account or address out (429) after repeated wrong credentials: the lockout is a rate
    # limit, its reason usually a bad password somewhere. Docker 1.x printed the v1 login answer as "Login: <body>
    # (Code: 429; Headers: …)" (moby registry/auth.go loginV1); later clients show "toomanyrequests: too many
    # failed login attempts for username or IP address"
    _r("login_lockout", C.RATE_LIMITED, STATUS_HIGH, "too many failed login attempts", also=(C.AUTH_INVALID,)),
    _r("server_error", C.REGISTRY_SERVER_ERROR, STATUS_HIGH - 5,
       ("internal server error", "bad gateway", "service unavailable", "gateway timeout",
        "temporarily unavailable", "gateway time-out")),
    _r("io_timeout", C.NETWORK_UNREACHABLE, STATUS_HIGH, "i/o timeout"),
    # Docker 1.x's v1 registry client says "Authentication is required." for a 401 (registry/session.go
    # errLoginRequired; the kubelet 1.1 wrapper appends it as "details: (Authentication is required.)")
    _r("unauthorized", C.AUTH_MISSING, STATUS,
       ("authentication required", "authentication is required", "unauthorized", "unauthenticated"),
       also=(C.AUTH_INVALID,)),
    # the registry's DENIED error code, "…: denied" or "denied: …", never a local "permission denied"
    _r("denied", C.FORBIDDEN, STATUS, "denied", r": denied(?::(?! requested access)|$)"),
    _r("denied_first", C.FORBIDDEN, STATUS, "denied", r"^denied(?::(?! requested access)|$)"),
    # Docker's containerd image store prints the registry's own error messages after "error from registry: ",
    # joined by newlines and each "message - detail" (moby daemon/containerd/errors.go convertOCIErrors):
    # "error from registry: denied\ndenied" is the DENIED error code with no more said
    _r("registry_denied", C.FORBIDDEN, STATUS, "error from registry: denied"),
    # the distribution spec's error body (spec "Error Codes": {"errors":[{"code":"DENIED","message":…}]}) printed
    # raw after the client's HTTP-level word, as Docker did against Huawei SWR: "unauthorized: {"errors":[{"code":
    # "DENIED","message":"you do not have the permission"}]}" (kweaver-ai/kweaver-core#55). The registry's own code
    # is the inner, more precise account; it wins over the outer "unauthorized" by position at the same tier
    _r("json_denied", C.FORBIDDEN, STATUS, "denied", r'"code": ?"denied"'),
    _r("forbidden", C.FORBIDDEN, STATUS, ("forbidden",)),
    _r("client_timeout", C.NETWORK_UNREACHABLE, WEAK, ("client.timeout exceeded", "timeout exceeded while")),
    # The connection closed under the client: Go's net/http answers io.EOF when the peer hangs up before a
    # response (net/url url.Error prints 'Get "URL": EOF') and io.ErrUnexpectedEOF when a body is cut short
    # (containerd remotes/docker/httpreadseeker.go, containers/image "happened during read: …: unexpected EOF").
    # Something on the path (proxy, firewall, load balancer, a TLS/plain-HTTP mix-up) or the registry dropped
    # it: the weakest transport evidence, beaten by anything more specific.
    _r("eof", C.NETWORK_UNREACHABLE, WEAK, "eof", r"(?:^|[\s:\"])(?:unexpected )?eof(?:$|[\s.,;:\]])"),
    # --- cancelled: the reason is elsewhere when there is one ------------------------------------
    _r("cancelled", C.PULL_TIMEOUT_OR_PROGRESS_DEADLINE, TIMEOUT,
       ("context canceled", "context cancelled", "context deadline exceeded", "request canceled",
        "because of no progress", "exceeded image pull deadline", "deadline exceeded", "operation was canceled",
        "pull progress timeout")),
    _r("registry_unavailable", C.NETWORK_UNREACHABLE, FALLBACK - 5,
       ("registryunavailable", "registry is unavailable")),
    _r("not_found", C.TAG_NOT_FOUND, FALLBACK, "not found", r"not found\W{0,3}$",
       also=(C.REPO_NOT_FOUND, C.REPO_NOT_FOUND_OR_NO_ACCESS)),
)

# HTTP status codes in the text, with their reason phrase so a bare number (a port, a size) never counts:
# "401 Unauthorized", "invalid status code from registry 503 (Service Unavailable)", "status code: 403".
_STATUS_CODE = re.compile(r"status(?: ?code)?:? (\d{3})\b")
_PHRASES: dict[int, str] = {int(s): s.phrase.lower() for s in HTTPStatus}
_CODE_WORDS = frozenset(str(c).encode() for c in _PHRASES if c >= 400)
_STATUS_WORDS = _CODE_WORDS | {b"status", b"statuscode"}
remember(_STATUS_WORDS | {b"rpc"})  # looked up by statuses() and by the classifier's gRPC fallback


def _same_reason(got: list[str], expected: list[str]) -> bool:
    """First word equal and, for longer phrases, the last expected word among the next few."""
    if not got or got[0] != expected[0]:
        return False
    return len(expected) == 1 or expected[-1] in {w.replace("-", "") for w in got[1:4]}


def statuses(low: str, text_words: frozenset[bytes] | None = None) -> list[tuple[int, int]]:
    """Every HTTP status named in the text as (code, position), in order of position.

    A three-digit word that is a status code counts when its reason phrase follows ("401 Unauthorized",
    "503 (Service Unavailable)"), or when it follows "status"/"status code" ("status code: 403").
    """
    if text_words is None:
        text_words = words(low)
    found: list[tuple[int, int]] = []
    for cw in text_words & _CODE_WORDS:
        code_s = cw.decode()
        expected = _PHRASES[int(code_s)].split()
        i = low.find(code_s)
        while i != -1 and len(found) < 32:
            before = low[i - 1] if i else " "
            if not (before.isalnum() or before in "._"):
                got = [w.strip("()[]{}:;,.-") for w in low[i + 3: i + 40].split()]
                if _same_reason(got, expected) or low[max(0, i - 5): i] == "http ":  # "HTTP 403 response"
                    found.append((int(code_s), i))
            i = low.find(code_s, i + 3)
    if b"status" in text_words or b"statuscode" in text_words:
        for n, m2 in enumerate(_STATUS_CODE.finditer(low)):
            code = int(m2.group(1))
            if code in _PHRASES and all(p != m2.start(1) for _, p in found):
                found.append((code, m2.start(1)))
            if n >= 16:
                break
    if len(found) > 1:
        found.sort(key=lambda cp: cp[1])
    return found


def status_signal(code: int, pos: int, low: str) -> Signal | None:
    """What one HTTP status says on its own (the texts above may say more)."""
    if code == 401:
        # Basic auth answers the same 401 to no and to wrong credentials; Quay and Docker Hub also answer
        # 401 for a repository that does not exist
        return Signal(STATUS, pos, C.AUTH_MISSING, "status_401", (C.AUTH_INVALID, C.REPO_NOT_FOUND_OR_NO_ACCESS),
                      code)
    if code == 403:
        return Signal(STATUS, pos, C.FORBIDDEN, "status_403", (), code)
    if code == 429:
        return Signal(STATUS_HIGH, pos, C.RATE_LIMITED, "status_429", (), code)
    if 500 <= code <= 599:
        return Signal(STATUS_HIGH, pos, C.REGISTRY_SERVER_ERROR, "status_5xx", (), code)
    if code == 400 and ("[manifests" in low or "http://" in low) and "https://" not in low and "token" not in low:
        # containerd speaking plain HTTP to a TLS port gets 400 on the manifest (real-components.md §4); any
        # other 400 (a token endpoint, a blob store's signed URL) is not about the scheme
        return Signal(STATUS, pos, C.HTTP_VS_HTTPS, "status_400", (), code)
    if code == 404 and "/manifests/" in low:
        return Signal(STATUS, pos, C.TAG_NOT_FOUND, "status_404", (C.REPO_NOT_FOUND,), code)
    if code == 408:
        return Signal(TIMEOUT, pos, C.PULL_TIMEOUT_OR_PROGRESS_DEADLINE, "status_408", (), code)
    return None


GRPC_NAMES: tuple[str, ...] = (
    "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists",
    "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented",
    "Internal", "Unavailable", "DataLoss", "Unauthenticated",
)
_GRPC_SIGNAL: dict[str, Cause] = {
    "Canceled": C.PULL_TIMEOUT_OR_PROGRESS_DEADLINE,
    "DeadlineExceeded": C.PULL_TIMEOUT_OR_PROGRESS_DEADLINE,
    "NotFound": C.TAG_NOT_FOUND,
    "Unauthenticated": C.AUTH_MISSING,
    "PermissionDenied": C.FORBIDDEN,
}


def grpc_signal(code: str | None) -> Signal | None:
    """The weakest evidence: what the gRPC status code alone suggests (containerd's errgrpc mapping)."""
    if code is None or code not in _GRPC_SIGNAL:
        return None
    return Signal(FALLBACK - 2, -1, _GRPC_SIGNAL[code], "grpc_" + code)


_INDEX: Index[int] = Index((trig, i) for i, rule in enumerate(RULES) for trig in rule.triggers)


def match(low: str, text_words: frozenset[bytes] | None = None) -> tuple[list[Signal], list[tuple[int, int]]]:
    """Every rule that fires on the lower-cased core text (with its position), and the HTTP statuses named."""
    if text_words is None:
        text_words = words(low)
    best: dict[int, int] = {}
    for group in _INDEX.groups(text_words):
        for trig, i in group:
            p = low.rfind(trig)
            if p > best.get(i, -1):
                best[i] = p
    out: list[Signal] = []
    for i, pos in best.items():
        rule = RULES[i]
        if rule.pattern is not None:
            m = rule.pattern.search(low)
            if m is None:
                continue
            pos = max(pos, m.start())  # position only breaks ties: the trigger's last place is close enough
        out.append(Signal(rule.tier, pos, rule.cause, rule.name, rule.also))
    found = statuses(low, text_words) if text_words & _STATUS_WORDS else []
    if found and len(out) > 0:
        # an HTTP status in the same text means the server did answer (containers/image reconnects after an
        # unexpected EOF and reports "(after reconnecting, fetching blob: StatusCode: 400, …)"): the dropped
        # connection is not the story then
        out = [sig for sig in out if sig.rule != "eof"]
    for code, pos in found:
        sig = status_signal(code, pos, low)
        if sig is not None:
            out.append(sig)
    return out, found
