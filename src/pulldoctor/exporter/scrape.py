"""One rendering of /metrics (and /findings) shared by every scrape that asks while it is current.

Why: rendering thousands of failing series is ~2 MB of text and tens of milliseconds of CPU each time;
100 scrapers arriving together used to run 100 renders at once. Here renders run one at a time (the
server calls ``get`` from a single worker thread), and a request is answered from the cache when the
cached body was rendered after the request arrived, or when nothing it shows has changed (the
exporter's ``version``) and it is younger than ``ttl`` (process and watch counters move on their own).
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Distinct renderings kept (text and OpenMetrics, each plain and gzip); a client cannot grow it.
MAX_ENTRIES = 4
#: Longest Content-Type taken from prometheus_client's negotiation; longer or odd ones get the default.
MAX_CONTENT_TYPE = 200


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    content_type: str
    gzipped: bool
    version: int
    started: float


def metrics_renderer(registry: Any) -> Callable[[str, bool], tuple[bytes, str]]:
    """Render ``registry`` for an Accept header with prometheus_client's own content negotiation."""
    from prometheus_client.exposition import choose_encoder

    def render(accept: str, gz: bool) -> tuple[bytes, str]:
        encoder, content_type = choose_encoder(accept)
        body = encoder(registry)
        return (gzip.compress(body, compresslevel=6) if gz else body), content_type

    return render


def negotiated(accept: str) -> tuple[str, str]:
    """(the Accept header to render with, the Content-Type it gives): a cache key chosen before rendering.

    The Content-Type echoes parts of the Accept header (version, escaping); anything but plain printable
    ASCII of bounded length falls back to the default text format.
    """
    from prometheus_client.exposition import choose_encoder

    try:
        _, content_type = choose_encoder(accept)
    except (TypeError, ValueError):  # prometheus_client compares an odd version= string with ints
        content_type = ""
    if not content_type or len(content_type) > MAX_CONTENT_TYPE or not content_type.isascii() \
            or not content_type.isprintable():
        accept = ""
        _, content_type = choose_encoder(accept)
    return accept, content_type


class ScrapeCache:
    """Thread-safe. ``fresh`` is cheap (the server calls it on its event loop); ``get`` may render, and the
    server calls it from its one render thread only, so renders never overlap."""

    def __init__(self, version: Callable[[], int], ttl: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._version = version
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, bool], Rendered] = {}
        self.renders = 0  # a figure for tests and the benchmark

    def now(self) -> float:
        return self._clock()

    def fresh(self, key: tuple[str, bool], asked_at: float) -> Rendered | None:
        """The cached rendering for ``key`` if it is current for a request made at ``asked_at``."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and (entry.started >= asked_at or (
                entry.version == self._version() and self._clock() - entry.started < self._ttl)):
            return entry
        return None

    def get(self, key: tuple[str, bool], asked_at: float, render: Callable[[], tuple[bytes, str]]) -> Rendered:
        """``fresh``, or a new rendering (made now, on the caller's thread)."""
        entry = self.fresh(key, asked_at)
        if entry is not None:
            return entry
        version, started = self._version(), self._clock()  # read before rendering: a change during it shows next
        body, content_type = render()
        entry = Rendered(body, content_type, key[1], version, started)
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = entry
            while len(self._entries) > MAX_ENTRIES:
                self._entries.pop(next(iter(self._entries)))
            self.renders += 1
        return entry
