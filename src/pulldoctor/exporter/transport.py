"""Raw GETs to the API server through the official ``kubernetes`` client.

The client does what it is good at — kubeconfig, in-cluster service accounts, exec plugins, TLS, proxies —
and hands back the undecoded ``urllib3`` response, which the cluster package's msgspec schema decodes.
Its generated models and ``kubernetes.watch`` are not used: they decode every object twice and keep
whole pods in memory (see bench/bench_serve.py for the figures).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

from pulldoctor.cluster.live import CONNECT_TIMEOUT
from pulldoctor.errors import ClusterAccessError
from pulldoctor.kubeapi.credentials import credential_problem

ERROR_BODY_CAP = 64 * 1024
READ_CHUNK = 64 * 1024


class ApiStatusError(Exception):
    """The API server answered with a non-2xx status (410 Gone, 403, 500…).

    ``reason`` is the Status object's reason (``Expired``, ``Forbidden``); ``message`` its text, which
    the API server builds from object names, never from secret values.
    """

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}" if message else f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.message = message


class LineTooLong(Exception):
    """A watch line exceeded the size cap; the stream is dropped and the resource re-listed."""


def status_error(status: int, reason: str, body: bytes) -> ApiStatusError:
    """Build an ``ApiStatusError`` from a ``metav1.Status`` body when there is one."""
    message = ""
    try:
        doc = json.loads(body)
        if isinstance(doc, dict):
            reason = str(doc.get("reason") or reason)
            message = str(doc.get("message") or "")[:500]
            status = int(doc.get("code") or status)
    except (ValueError, TypeError):
        pass
    return ApiStatusError(status, reason, message)


class ApiTransport:
    """One authenticated connection pool to the API server; thread-safe (urllib3's pool is)."""

    def __init__(self, api_client: Any, request_timeout: float = 30.0) -> None:
        self._client = api_client
        self.request_timeout = request_timeout  # a whole list page or object GET (``--request-timeout``)

    def close(self) -> None:
        """Drop the connection pool (after the watchers have stopped)."""
        with contextlib.suppress(Exception):  # closing is best effort at shutdown
            self._client.close()

    @property
    def host(self) -> str:
        return str(self._client.configuration.host)

    def open(self, path: str, query: Sequence[tuple[str, str]], *, read_timeout: float) -> Any:
        """GET ``path`` and return the open ``urllib3`` response (2xx only); the caller closes it."""
        try:
            request = self._client.param_serialize(
                "GET",
                path,
                query_params=list(query),
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
            )
            rest = self._client.call_api(*request, _request_timeout=(CONNECT_TIMEOUT, read_timeout))
        except Exception as err:
            # urllib3 connection errors, and the client's own ApiException(status=0) for TLS errors; a
            # ValueError from http.client quotes a token it refuses as a header, so it is named, not shown.
            problem = credential_problem(self._client.configuration) if isinstance(err, ValueError) else None
            if problem:
                raise ConnectionError(f"the kubeconfig's credentials for {self.host}: {problem}") from None
            raise ConnectionError(f"cannot reach the API server at {self.host}: {type(err).__name__}") from None
        resp = rest.response
        if not 200 <= resp.status <= 299:
            try:
                body = resp.read(ERROR_BODY_CAP)
            except Exception:
                body = b""
            finally:
                resp.release_conn()
            raise status_error(resp.status, resp.reason or "", body)
        return resp

    def get_bytes(self, path: str, query: Sequence[tuple[str, str]], *, cap: int,
                  timeout: float | None = None) -> bytes:
        """GET a whole body, refusing more than ``cap`` bytes (a list page, one object). ``timeout`` bounds
        each socket wait and, checked between chunks, the whole body: a server that drips a byte at a time
        restarts socket timeouts but not this one (``cluster.live`` bounds the CLI's requests alike)."""
        timeout = self.request_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        resp = self.open(path, query, read_timeout=timeout)
        try:
            parts: list[bytes] = []
            size = 0
            while True:
                chunk = resp.read1(READ_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > cap:
                    raise ClusterAccessError(f"API response for {path} is larger than {cap // (1024 * 1024)} MiB")
                parts.append(chunk)
                if time.monotonic() > deadline:
                    raise ClusterAccessError(f"API response for {path} took more than {timeout:g} s")
        except BaseException:
            resp.close()
            raise
        finally:
            resp.release_conn()
        return b"".join(parts)


def iter_lines(resp: Any, *, max_line: int) -> Iterator[bytes]:
    """Split a watch stream into JSON lines without decoding them to ``str`` (msgspec reads bytes).

    ``kubernetes.watch.iter_resp_lines`` copies the rest of its buffer after every line and has no size
    cap; this keeps one ``bytearray`` and drops the stream when a line grows past ``max_line``.
    """
    buf = bytearray()
    start = 0
    while True:
        chunk = resp.read1(READ_CHUNK)
        if not chunk:
            break
        buf += chunk
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            if nl > start:
                yield bytes(buf[start:nl])
            start = nl + 1
        if start:
            del buf[:start]
            start = 0
        if len(buf) > max_line:
            raise LineTooLong(f"watch line longer than {max_line} bytes")
    if buf.strip():
        yield bytes(buf)
