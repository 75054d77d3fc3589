"""``KubeApi``: bounded GETs and watch streams through the official client's connection pool, and the one
mapping from an HTTP status or a transport exception to a ``pulldoctor.errors.ApiError``.

The ``kubernetes`` client does what it is good at (kubeconfig, service accounts, exec plugins, TLS,
proxies, auth headers) and hands back the undecoded ``urllib3`` response; callers decode the bytes with
msgspec. Its generated models and ``kubernetes.watch`` are not used: they decode every object twice and
keep whole pods in memory (bench/bench_serve.py has the figures).

Deadlines without signals, so that they hold in any thread: urllib3 bounds the connect (at most
``CONNECT_TIMEOUT``) and each wait for the headers, and a ``deadline.Deadline`` timer the headers as a
whole; the body is read chunk by chunk with the socket's timeout set to what is left of the request's
deadline before every read, and the clock checked after it. A server that never answers and one that
drips a byte at a time (headers or body) both end at the deadline.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Sequence
from typing import Any

from pulldoctor.errors import (
    ApiError,
    ApiForbidden,
    ApiGone,
    ApiNotFound,
    ApiStatusError,
    ApiTimeout,
    ApiTooLarge,
    ApiUnauthorized,
    ApiUnavailable,
)
from pulldoctor.kubeapi.credentials import credential_problem
from pulldoctor.kubeapi.deadline import Deadline, install
from pulldoctor.redact import printable

CONNECT_TIMEOUT = 5.0        # seconds; the API server is one hop away
ERROR_BODY_CAP = 64 * 1024   # a Status object is a few hundred bytes
READ_CHUNK = 64 * 1024

#: The one mapping of an HTTP status to its error (anything else not 2xx is an ``ApiStatusError``).
STATUS_ERRORS: dict[int, type[ApiStatusError]] = {
    401: ApiUnauthorized,
    403: ApiForbidden,
    404: ApiNotFound,
    410: ApiGone,
}

#: What a transport error's text is shortened to, when it holds one of these (case-insensitive).
_KNOWN_FAILURES = ("Connection refused", "timed out", "Name or service not known", "No route to host",
                   "certificate verify failed", "Connection reset")


def status_error(status: int, reason: str, body: bytes, host: str) -> ApiStatusError:
    """The error for a non-2xx answer (or a watch ERROR event), from its ``metav1.Status`` body if any:
    its ``reason`` and ``message`` (one line, at most 300 characters), else the HTTP reason."""
    message = ""
    try:
        doc = json.loads(body or b"{}")
        if isinstance(doc, dict):
            reason = str(doc.get("reason") or reason)
            message = str(doc.get("message") or "")
            status = int(doc.get("code") or status)
    except (ValueError, TypeError):
        pass
    # The server's words reach a terminal (the CLI's error line) and log lines: one line, controls escaped.
    text = printable(" ".join((message or reason or f"HTTP {status}").split()))[:300]
    reason = printable(" ".join(reason.split()))[:100] or f"HTTP {status}"
    return STATUS_ERRORS.get(status, ApiStatusError)(status, reason, text, host=host)


def transport_error(err: BaseException, host: str, *, timeout: float, reading: bool = False) -> ApiError:
    """The error for an exception raised while connecting to ``host`` or reading its answer: a timeout is an
    ``ApiTimeout`` (named by ``--request-timeout``), anything else ``ApiUnavailable``."""
    if isinstance(err, ApiError):
        return err
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import MaxRetryError, ReadTimeoutError

    cause: BaseException = err
    if isinstance(err, MaxRetryError) and err.reason is not None:
        cause = err.reason
    if isinstance(cause, ApiException) and cause.status:  # the client's own retry-after handling gave up
        body = cause.body if isinstance(cause.body, bytes) else str(cause.body or "").encode()
        return status_error(int(cause.status), str(cause.reason or ""), body, host)
    if isinstance(cause, ReadTimeoutError | TimeoutError):  # urllib3's ConnectTimeoutError is neither
        return ApiTimeout(f"the Kubernetes API at {host} did not answer within {timeout:g} s (--request-timeout)",
                          host=host)
    if reading:
        return ApiUnavailable(f"the Kubernetes API at {host} broke off a response ({_short(cause)})", host=host)
    return ApiUnavailable(f"cannot reach the Kubernetes API at {host} ({_short(cause)})", host=host)


def _short(err: BaseException) -> str:
    """A transport failure in a few words; its text may quote the server (a bad status line): escaped."""
    reason = getattr(err, "reason", None) or err
    text = " ".join(str(reason).split())
    for known in _KNOWN_FAILURES:
        if known.lower() in text.lower():
            return known.lower()
    return printable(text[-200:])


class KubeApi:
    """One authenticated connection pool to one API server; thread-safe (urllib3's pool is).

    ``namespace`` is the kubeconfig context's (or the service account's) namespace; ``request_timeout``
    bounds each whole GET (``--request-timeout``).
    """

    def __init__(self, api_client: Any, *, request_timeout: float = 30.0, namespace: str = "default") -> None:
        self.api_client = api_client
        self.request_timeout = request_timeout
        self.namespace = namespace
        install(api_client)

    @property
    def host(self) -> str:
        return str(self.api_client.configuration.host)

    def close(self) -> None:
        """Drop the connection pool (after every reader has stopped)."""
        with contextlib.suppress(Exception):  # closing a pool is best effort; it must not mask a result
            self.api_client.close()

    def open(self, path: str, query: Sequence[tuple[str, str]] = (), *, read_timeout: float) -> Any:
        """GET ``path`` and return the open ``urllib3`` response (2xx only); the caller releases it.
        Raises an ``ApiError``: the one place where a status or a transport failure becomes one."""
        deadline = Deadline(read_timeout)  # the headers as a whole; socket timeouts bound each wait only
        try:
            request = self.api_client.param_serialize(
                "GET", path, query_params=list(query), header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"])
            with deadline:
                rest = self.api_client.call_api(
                    *request, _request_timeout=(min(CONNECT_TIMEOUT, read_timeout), read_timeout))
        except Exception as err:  # urllib3's errors, and the client's ApiException(status=0) for TLS
            if deadline.expired:
                raise self._timeout(read_timeout) from None
            problem = credential_problem(self.api_client.configuration) if isinstance(err, ValueError) else None
            if problem:  # a refreshed token (exec plugin) http.client refuses: its ValueError quotes the token
                raise ApiUnavailable(f"the kubeconfig's credentials for {self.host}: {problem}",
                                     host=self.host) from None
            raise transport_error(err, self.host, timeout=read_timeout) from None
        resp = rest.response
        if not 200 <= resp.status <= 299:
            try:
                body = resp.read(ERROR_BODY_CAP)
            except Exception:  # the status is the answer; a broken error body changes nothing
                body = b""
            finally:
                resp.release_conn()
            raise status_error(resp.status, resp.reason or "", body, self.host)
        return resp

    def get(self, path: str, query: Sequence[tuple[str, str]] = (), *, cap: int,
            timeout: float | None = None) -> bytes:
        """The whole body of a GET (a list page, one object), at most ``cap`` bytes, within ``timeout``
        (default ``request_timeout``) from the first byte sent to the last one read."""
        timeout = self.request_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        resp = self.open(path, query, read_timeout=timeout)
        parts: list[bytes] = []
        size = 0
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._timeout(timeout)
                _socket_timeout(resp, left)
                try:
                    chunk = resp.read1(READ_CHUNK)
                except Exception as err:  # urllib3's ReadTimeoutError/ProtocolError, an OSError
                    if time.monotonic() >= deadline:  # the header timer may have shut the socket at the end
                        raise self._timeout(timeout) from None
                    raise transport_error(err, self.host, timeout=timeout, reading=True) from None
                if not chunk:
                    break
                size += len(chunk)
                if size > cap:
                    raise ApiTooLarge(f"a response from {self.host} exceeds {_size(cap)}; use -n NAMESPACE",
                                      host=self.host)
                parts.append(chunk)
        except BaseException:
            resp.close()  # unread data: the connection must not go back to the pool
            raise
        finally:
            resp.release_conn()
        return b"".join(parts)

    def _timeout(self, seconds: float) -> ApiTimeout:
        return ApiTimeout(f"the Kubernetes API at {self.host} did not answer within {seconds:g} s "
                          "(--request-timeout)", host=self.host)


def _socket_timeout(resp: Any, seconds: float) -> None:
    """Let the next read wait at most ``seconds``: what is left of the request's deadline."""
    sock = getattr(getattr(resp, "connection", None), "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.settimeout(max(seconds, 0.001))


def _size(cap: int) -> str:
    return f"{cap >> 20} MiB" if cap >= 1 << 20 else f"{cap} bytes"
