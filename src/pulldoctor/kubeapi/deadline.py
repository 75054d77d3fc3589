"""A deadline on the part of a request that socket timeouts cannot bound: the status line and headers.

urllib3 sets one read timeout before ``getresponse`` and each ``recv`` restarts it, so a server that
drips its headers a byte at a time is never timed out. ``Deadline`` arms a timer around the request;
the connections of a ``KubeApi``'s pool report their socket as they start reading the answer, and a
timer that fires shuts that socket down, which ends the blocked read in whatever thread it is (a signal
could reach only the main thread). The body is bounded by ``transport`` itself, read by read.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import threading
from typing import Any

_current = threading.local()


class Deadline:
    """``with Deadline(seconds) as d:`` one request in this thread; ``d.expired`` after it fired."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self.expired = False

    def __enter__(self) -> Deadline:
        _current.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._timer.cancel()
        _current.deadline = None
        with self._lock:
            self._sock = None

    def watch(self, sock: socket.socket | None) -> None:
        """The socket the answer is read from (shut at once if the deadline has already passed)."""
        with self._lock:
            self._sock = sock
            if self.expired:
                _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.expired = True
            _shut(self._sock)


def _shut(sock: socket.socket | None) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed: nothing is waiting on it
            sock.shutdown(socket.SHUT_RDWR)


def _report(conn: Any) -> None:
    deadline: Deadline | None = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.watch(getattr(conn, "sock", None))


def install(api_client: Any) -> None:
    """Make the connections of ``api_client``'s pool report to the ``Deadline`` of their thread. A pool
    pulldoctor does not know (a SOCKS proxy's) keeps its own classes, and the socket timeouts."""
    import urllib3

    manager = getattr(getattr(api_client, "rest_client", None), "pool_manager", None)
    if manager is not None and type(manager) in (urllib3.PoolManager, urllib3.ProxyManager):
        manager.pool_classes_by_scheme = _pool_classes()


@functools.cache
def _pool_classes() -> dict[str, type[Any]]:
    """urllib3's pools, with connections that report their socket when the answer is read (defined on
    first use: importing ``kubeapi`` does not import urllib3)."""
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class Connection(HTTPConnection):
        def getresponse(self) -> Any:
            _report(self)
            return super().getresponse()

    class TLSConnection(HTTPSConnection):
        def getresponse(self) -> Any:
            _report(self)
            return super().getresponse()

    class Pool(HTTPConnectionPool):
        ConnectionCls = Connection

    class TLSPool(HTTPSConnectionPool):
        ConnectionCls = TLSConnection

    return {"http": Pool, "https": TLSPool}
