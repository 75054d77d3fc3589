"""A small, defensive HTTP client for the OCI distribution API, on aiohttp.

Every request has a connect and a total timeout, reads at most a capped number of body bytes (whatever
Content-Length says), follows a bounded number of redirects by hand and drops ``Authorization`` when a
redirect leaves the origin it was meant for. Transport failures become ``TransportError`` with a kind the
probe can classify; nothing here raises anything else for network trouble.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from dataclasses import dataclass, field

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from pulldoctor.registry.models import ProbeOptions
from pulldoctor.registry.wire import USER_AGENT, Response, TransportError

# Newer aiohttp names (3.10+); with an older aiohttp these are empty tuples and never match.
_DNS_ERROR = getattr(aiohttp, "ClientConnectorDNSError", ())
_CONNECT_TIMEOUT = getattr(aiohttp, "ConnectionTimeoutError", ())


async def read_capped(resp: aiohttp.ClientResponse, cap: int) -> tuple[bytes, bool]:
    """Read at most ``cap`` bytes; the second value says whether the body went on beyond the cap."""
    chunks: list[bytes] = []
    total = 0
    while total <= cap:
        chunk = await resp.content.read(cap + 1 - total)
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)[:cap], True


def same_origin(a: URL, b: URL) -> bool:
    return (a.scheme, a.host, a.explicit_port or a.port) == (b.scheme, b.host, b.explicit_port or b.port)


def make_session(options: ProbeOptions, ssl_context: ssl.SSLContext, limit: int = 100) -> aiohttp.ClientSession:
    """One session for a whole ``probe_many``: pooled connections, cached DNS, no cookies, no env proxies."""
    connector = aiohttp.TCPConnector(
        limit=limit, limit_per_host=max(1, options.per_registry_concurrency), ssl=ssl_context, ttl_dns_cache=300
    )
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"User-Agent": USER_AGENT},
        trust_env=False,
        auto_decompress=True,
    )


class HTTP:
    """The request primitive: timeouts, caps, manual redirects with credential dropping."""

    def __init__(self, session: aiohttp.ClientSession, options: ProbeOptions) -> None:
        self.session = session
        self.options = options
        self.requests = 0  # every request sent, redirects included (for tests and benchmarks)
        self.timeout = aiohttp.ClientTimeout(
            total=options.request_timeout, connect=options.connect_timeout, sock_connect=options.connect_timeout
        )

    async def request(
        self,
        method: str,
        url: URL,
        *,
        headers: dict[str, str] | None = None,
        authorization: str | None = None,
        cap: int | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> Response:
        """Send one request; ``authorization`` goes only to ``url``'s origin, never across a redirect."""
        opts = self.options
        cap = opts.body_cap if cap is None else cap
        timeout = self.timeout
        origin = url
        current = url
        for _hop in range(opts.max_redirects + 1):
            hdrs = CIMultiDict(headers or {})
            if authorization and same_origin(current, origin):
                hdrs["Authorization"] = authorization
            self.requests += 1
            try:
                async with self.session.request(
                    method, current, headers=hdrs, allow_redirects=False, timeout=timeout,
                    ssl=ssl_context if ssl_context is not None else True,
                ) as resp:
                    if resp.status in (301, 302, 303, 307, 308) and "Location" in resp.headers:
                        try:
                            nxt = current.join(URL(resp.headers["Location"]))
                        except ValueError:
                            raise TransportError("bad_response", "redirect with an invalid Location") from None
                        if nxt.scheme not in ("http", "https"):
                            raise TransportError("bad_response", f"redirect to unsupported scheme {nxt.scheme!r}")
                        if resp.status == 303:
                            method = "GET" if method != "HEAD" else "HEAD"
                        current = nxt
                        continue
                    body, truncated = (b"", False) if method == "HEAD" else await read_capped(resp, cap)
                    return Response(resp.status, resp.headers, body, truncated, current, method,
                                    sent=hdrs.get("Authorization"))
            except TransportError:
                raise
            except Exception as err:  # every aiohttp/OS/SSL failure is classified, none escapes raw
                raise classify_exception(err, opts) from None
        raise TransportError("redirects", f"more than {opts.max_redirects} redirects (last to {current.host})")


@dataclass
class Sample:
    """A bounded download: when the answer and the first body byte came, and (time, bytes) progress."""

    status: int | None = None
    headers_at: float | None = None   # seconds from the start to the response headers
    first_byte_at: float | None = None
    received: int = 0
    elapsed: float = 0.0
    points: list[tuple[float, int]] = field(default_factory=list)
    capped_by: str = ""               # "bytes", "time", "complete", "error"
    error: TransportError | None = None


async def sample_download(
    http: HTTP, url: URL, *, headers: dict[str, str], authorization: str | None, ssl_context: ssl.SSLContext | None,
    max_bytes: int, max_seconds: float,
) -> Sample:
    """GET ``url`` with ``Range: bytes=0-(max_bytes-1)`` and read until ``max_bytes`` or ``max_seconds``
    (whichever first, the wait for headers included). Follows redirects like ``request`` (credentials stay on
    the origin). Never raises for network trouble: a failure is ``Sample.error``."""
    out = Sample()
    start = time.monotonic()
    hdrs = {**headers, "Range": f"bytes=0-{max(0, max_bytes - 1)}"}
    opts = http.options
    timeout = aiohttp.ClientTimeout(total=None, connect=opts.connect_timeout, sock_connect=opts.connect_timeout)
    try:
        async with asyncio.timeout(max_seconds):
            current, origin = url, url
            for _hop in range(opts.max_redirects + 1):
                h = CIMultiDict(hdrs)
                if authorization and same_origin(current, origin):
                    h["Authorization"] = authorization
                http.requests += 1
                async with http.session.get(current, headers=h, allow_redirects=False, timeout=timeout,
                                            ssl=ssl_context if ssl_context is not None else True) as resp:
                    if resp.status in (301, 302, 303, 307, 308) and "Location" in resp.headers:
                        current = current.join(URL(resp.headers["Location"]))
                        if current.scheme not in ("http", "https"):
                            raise TransportError("bad_response", "redirect to an unsupported scheme")
                        continue
                    out.status = resp.status
                    out.headers_at = time.monotonic() - start
                    if resp.status not in (200, 206):
                        out.capped_by = "error"
                        break
                    while out.received < max_bytes:
                        chunk = await resp.content.readany()
                        if not chunk:
                            out.capped_by = "complete"
                            break
                        now = time.monotonic() - start
                        if out.first_byte_at is None:
                            out.first_byte_at = now
                        out.received += len(chunk)
                        if len(out.points) < 10_000:
                            out.points.append((now, out.received))
                    else:
                        out.capped_by = "bytes"
                    break
            else:
                raise TransportError("redirects", f"more than {opts.max_redirects} redirects")
    except TimeoutError:
        out.capped_by = "time"
    except TransportError as err:
        out.capped_by, out.error = "error", err
    except Exception as err:
        out.capped_by, out.error = "error", classify_exception(err, opts)
    out.elapsed = time.monotonic() - start
    return out


def classify_exception(err: BaseException, opts: ProbeOptions) -> TransportError:
    """Map an aiohttp/asyncio/ssl exception to a ``TransportError`` kind with a short reason."""
    if isinstance(err, aiohttp.ClientConnectorCertificateError):
        return TransportError("tls", f"certificate verification failed: {_ssl_reason(err.certificate_error)}")
    if isinstance(err, aiohttp.ClientConnectorSSLError | aiohttp.ClientSSLError):
        return TransportError("tls", f"TLS handshake failed: {_ssl_reason(err)}")
    if isinstance(err, _DNS_ERROR):
        reason = getattr(err.os_error, "strerror", "") or "lookup failed"
        return TransportError("dns", f"name does not resolve: {reason}")
    if isinstance(err, _CONNECT_TIMEOUT):
        return TransportError("connect_timeout", f"no connection within {opts.connect_timeout:g} s")
    if isinstance(err, aiohttp.ClientConnectorError):
        os_err = err.os_error
        if isinstance(os_err, socket.gaierror):
            return TransportError("dns", f"name does not resolve: {os_err.strerror or 'lookup failed'}")
        if isinstance(os_err, ConnectionRefusedError):
            return TransportError("refused", "connection refused")
        if isinstance(os_err, ssl.SSLError):
            return TransportError("tls", f"TLS handshake failed: {_ssl_reason(os_err)}")
        return TransportError("unreachable", os_err.strerror or type(os_err).__name__)
    if isinstance(err, aiohttp.ServerTimeoutError | asyncio.TimeoutError | TimeoutError):
        return TransportError("read_timeout", f"no complete answer within {opts.request_timeout:g} s")
    if isinstance(err, aiohttp.ServerDisconnectedError):
        return TransportError("disconnected", "the server closed the connection without answering")
    if isinstance(err, aiohttp.ClientPayloadError):
        return TransportError("payload", "the response body was cut short or malformed")
    if isinstance(err, aiohttp.ClientResponseError):
        return TransportError("bad_response", f"not a valid HTTP response ({type(err).__name__})")
    if isinstance(err, aiohttp.TooManyRedirects):
        return TransportError("redirects", "too many redirects")
    if isinstance(err, ssl.SSLError):
        return TransportError("tls", f"TLS failed: {_ssl_reason(err)}")
    if isinstance(err, aiohttp.ClientOSError | OSError):
        if isinstance(err, ConnectionResetError):
            return TransportError("disconnected", "the connection was reset")
        return TransportError("unreachable", getattr(err, "strerror", None) or type(err).__name__)
    if isinstance(err, aiohttp.ClientError | ValueError | UnicodeError):
        return TransportError("bad_response", f"unusable response ({type(err).__name__})")
    return TransportError("bad_response", f"unexpected failure ({type(err).__name__})")


def _ssl_reason(err: BaseException) -> str:
    """The short OpenSSL reason (``certificate verify failed: self-signed certificate``)."""
    if isinstance(err, ssl.SSLCertVerificationError):
        return err.verify_message or err.reason or "verification failed"
    reason = getattr(err, "reason", None)
    if reason:
        return str(reason).replace("_", " ").lower()
    inner = getattr(err, "os_error", None) or getattr(err, "certificate_error", None)
    if inner is not None and inner is not err:
        return _ssl_reason(inner)
    return str(err)[:200]
