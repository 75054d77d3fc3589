"""Registry auth: parse ``WWW-Authenticate`` challenges and cache Bearer tokens.

The token flow is the one distribution documents (docs/spec/auth/token.md) and containerd/Docker follow:
a 401 names a realm, a service and a scope; the client GETs the realm (with Basic credentials when it
has them) and retries with ``Authorization: Bearer <token>``. Tokens are cached per
(realm, service, scope, credential) and fetched once however many probes ask at the same time.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

# RFC 9110 §11: challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
_SCHEME = re.compile(r"\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?:\s+|$)")
_PARAM = re.compile(
    r"""\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)\s*(,|$)"""
)
MAX_HEADER = 8192  # longer challenges are not parsed (bounded work on hostile input)


@dataclass(frozen=True)
class Challenge:
    """One auth challenge: ``scheme`` in lower case (``basic``, ``bearer``) and its parameters."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")

    @property
    def service(self) -> str:
        return self.params.get("service", "")

    @property
    def scope(self) -> str:
        return self.params.get("scope", "")

    @property
    def error(self) -> str:
        return self.params.get("error", "")


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a ``WWW-Authenticate`` value into challenges; garbage gives an empty list, never an error."""
    out: list[Challenge] = []
    text = header[:MAX_HEADER]
    pos = 0
    while pos < len(text) and len(out) < 8:
        m = _SCHEME.match(text, pos)
        if not m:
            break
        scheme = m.group(1).lower()
        pos = m.end()
        params: dict[str, str] = {}
        while pos < len(text):
            p = _PARAM.match(text, pos)
            if not p:
                break
            key, value = p.group(1).lower(), p.group(2)
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            params[key] = value
            pos = p.end()  # a following "Scheme key=..." fails _PARAM and starts the next challenge
        out.append(Challenge(scheme, params))
        while pos < len(text) and text[pos] in " ,":
            pos += 1
    return out


def pick_challenge(challenges: list[Challenge]) -> Challenge | None:
    """The challenge a runtime acts on: Bearer before Basic, as containerd's authorizer does."""
    for scheme in ("bearer", "basic"):
        for ch in challenges:
            if ch.scheme == scheme:
                return ch
    return None


@dataclass(frozen=True)
class TokenResult:
    """A token, or why there is none (status and a one-line reason without any credential)."""

    token: str | None
    status: int | None = None
    error: str = ""
    expires_at: float = 0.0
    transport: str = ""  # TransportError kind when the realm could not be reached at all

    @property
    def ok(self) -> bool:
        return self.token is not None


TokenKey = tuple[str, str, tuple[str, ...], str]  # realm, service, scopes, credential fingerprint ("" = anonymous)

#: Distribution's token spec: when ``expires_in`` is absent, assume 60 seconds.
DEFAULT_TOKEN_SECONDS = 60
#: Failed fetches are remembered briefly so that 500 probes do not hammer a refusing realm.
FAILURE_TTL = 30.0


class TokenCache:
    """Tokens per key with single-flight fetching: concurrent callers share one request."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._done: dict[TokenKey, TokenResult] = {}
        self._inflight: dict[TokenKey, asyncio.Future[TokenResult]] = {}
        self.fetches = 0

    async def get(self, key: TokenKey, fetch: Callable[[], Awaitable[TokenResult]]) -> TokenResult:
        cached = self._done.get(key)
        if cached is not None and cached.expires_at > self._clock():
            return cached
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[TokenResult] = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            self.fetches += 1
            result = await fetch()
            if result.ok:
                # Refresh a little early so a token never expires between fetch and use.
                ttl = max(1.0, result.expires_at - 5.0)
            else:
                ttl = FAILURE_TTL
            result = TokenResult(result.token, result.status, result.error, self._clock() + ttl, result.transport)
            self._done[key] = result
            fut.set_result(result)
            return result
        except BaseException as err:
            fut.set_exception(err)
            fut.exception()  # mark retrieved: waiters re-raise it, nobody logs "never retrieved"
            raise
        finally:
            self._inflight.pop(key, None)


def token_from_json(doc: object) -> tuple[str | None, float]:
    """``token`` or ``access_token`` and its lifetime in seconds from a token endpoint's JSON."""
    if not isinstance(doc, dict):
        return None, 0.0
    token = doc.get("token") or doc.get("access_token")
    if not isinstance(token, str) or not token:
        return None, 0.0
    expires = doc.get("expires_in")
    seconds = float(expires) if isinstance(expires, int | float) and expires > 0 else DEFAULT_TOKEN_SECONDS
    return token, min(seconds, 24 * 3600.0)
