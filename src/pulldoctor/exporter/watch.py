"""List, then watch, one kind of object; survive every way an API server connection can end.

The loop client-go's reflector runs, in a thread: list page by page, remember the list's
``resourceVersion``, watch from it, and on each event move the version forward. A watch that ends
normally (the server's ``timeoutSeconds``) resumes from the last version at once; ``410 Gone`` (the
version was compacted) means re-list; any other error or a lost connection waits a bounded,
jittered exponential back-off and resumes. Every wait checks the stop flag, so shutdown is prompt.
Pages, watch lines and the errors (``ApiGone``, ``ApiForbidden``…) are ``pulldoctor.kubeapi``'s, as for
``diagnose``.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import msgspec

from pulldoctor.cluster.model import DocumentError, check_object_count
from pulldoctor.errors import ApiError, ApiForbidden, ApiGone, ApiLineTooLong, ApiStatusError
from pulldoctor.kubeapi import KubeApi, lines, pages, status_error

log = logging.getLogger("pulldoctor.exporter")

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
T_contra = TypeVar("T_contra", contravariant=True)

#: Largest list page and largest single watch line accepted (a pod with huge annotations is < 1.5 MiB,
#: etcd's own object limit).
MAX_PAGE_BYTES = 256 * 1024 * 1024
MAX_LINE_BYTES = 4 * 1024 * 1024
#: Pages per list before giving up (500 × 20 000 = 10 million objects).
MAX_PAGES = 20_000
#: A watch that ends in less than this, having delivered nothing, counts as an error (client-go's
#: reflector treats "very short watches" the same way), so a server that closes at once is not hammered.
SHORT_WATCH_SECONDS = 1.0


class Codec(Protocol[T_co]):
    """Decodes one resource's list pages and watch objects (the cluster package's msgspec schema)."""

    def decode_list(self, data: bytes) -> tuple[Sequence[T_co], str, str]:
        """→ (items, resourceVersion, continue token)."""
        ...

    def decode_object(self, raw: bytes) -> T_co:
        ...


class Sink(Protocol[T_contra]):
    """Where decoded objects go. Called from the watcher's thread only."""

    def begin_list(self) -> None: ...
    def add_listed(self, items: Sequence[T_contra]) -> None: ...
    def end_list(self) -> None: ...
    def upsert(self, item: T_contra) -> None: ...
    def delete(self, item: T_contra) -> None: ...


class _Envelope(msgspec.Struct):
    """A watch event with its object left undecoded until its type is known."""

    type: str
    object: msgspec.Raw = msgspec.Raw(b"null")


class _Meta(msgspec.Struct):
    resourceVersion: str = ""


class _VersionOnly(msgspec.Struct):
    metadata: _Meta = msgspec.field(default_factory=_Meta)


_ENVELOPE = msgspec.json.Decoder(_Envelope)
_VERSION = msgspec.json.Decoder(_VersionOnly)


@dataclass(frozen=True, slots=True)
class Resource:
    """One collection to watch: ``/api/v1/pods`` or ``/api/v1/namespaces/NS/events``."""

    name: str                      # "pods", "events": used in logs and metrics
    path: str
    field_selector: str | None = None
    required: bool = True          # False: readiness does not wait for it once the API refuses it (401/403)


@dataclass
class Backoff:
    """Bounded exponential back-off with jitter: initial, ×2 each failure, never above ``maximum``."""

    initial: float = 1.0
    maximum: float = 30.0
    _next: float = field(default=0.0, init=False)

    def reset(self) -> None:
        self._next = 0.0

    def next_delay(self) -> float:
        self._next = self.initial if self._next == 0.0 else min(self._next * 2, self.maximum)
        return random.uniform(0.5, 1.0) * self._next


@dataclass
class WatchStats:
    """What the exporter reports about one watcher (read by the metrics collector, written by the watcher)."""

    lists: int = 0
    watches: int = 0
    events: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    synced: bool = False
    refused: bool = False          # the API answered 401/403 (RBAC); retried with back-off all the same
    last_event_time: float = 0.0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


class Watcher(Generic[T]):
    """Keeps one ``Sink`` in step with one ``Resource``. ``run`` blocks; ``stop`` ends it from any thread."""

    def __init__(
        self,
        api: KubeApi,
        resource: Resource,
        codec: Codec[T],
        sink: Sink[T],
        *,
        page_size: int = 500,
        watch_timeout: float = 300.0,
        backoff: Backoff | None = None,
        on_synced: Callable[[], None] | None = None,
    ) -> None:
        self.api = api
        self.resource = resource
        self.codec = codec
        self.sink = sink
        self.page_size = page_size
        self.watch_timeout = watch_timeout
        self.backoff = backoff or Backoff()
        self.on_synced = on_synced
        self.stats = WatchStats()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._resp: Any = None

    # -- control -------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask ``run`` to return, and unblock a read in progress by shutting its socket down."""
        self._stop.set()
        with self._lock:
            resp = self._resp
        if resp is not None:
            with contextlib.suppress(ValueError, RuntimeError, OSError):
                resp.shutdown()  # raises when already closed or released: nothing to unblock then

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        """List and watch until ``stop``; never raises for API or network trouble."""
        version: str | None = None
        while not self._stop.is_set():
            try:
                if version is None:
                    version = self._list()
                    self.backoff.reset()
                    if not self.stats.synced:
                        self.stats.synced = True
                        if self.on_synced is not None:
                            self.on_synced()
                version = self._watch(version)
            except ApiGone:
                # The version we hold was compacted away: only a fresh list is consistent again.
                self.stats.error("gone")
                log.info("%s: 410 Gone, re-listing", self.resource.name)
                version = None
            except ApiStatusError as err:
                self.stats.error(f"http_{err.status}")
                if isinstance(err, ApiForbidden):
                    self.stats.refused = True
                log.warning("%s: %s", self.resource.name, _one_line(err))
                self._wait(self.backoff.next_delay())
            except (ApiError, OSError, msgspec.DecodeError, DocumentError, _ShortWatch) as err:
                if self._stop.is_set():
                    break
                kind = "connection"
                if isinstance(err, ApiLineTooLong):
                    kind = "line_too_long"
                elif isinstance(err, _ShortWatch):
                    kind = "short_watch"
                elif isinstance(err, msgspec.DecodeError | DocumentError):
                    kind = "decode"
                self.stats.error(kind)
                log.warning("%s: %s; retrying", self.resource.name, _one_line(err))
                if kind in ("line_too_long", "decode"):
                    version = None  # we may have missed an object: re-list
                self._wait(self.backoff.next_delay())
            except Exception as err:
                if self._stop.is_set():
                    break
                self.stats.error("connection")
                log.warning("%s: %s; retrying", self.resource.name, _one_line(err))
                self._wait(self.backoff.next_delay())

    # -- steps ---------------------------------------------------------------------------------------

    def _wait(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def _query(self, **extra: str) -> list[tuple[str, str]]:
        query = list(extra.items())
        if self.resource.field_selector:
            query.append(("fieldSelector", self.resource.field_selector))
        return query

    def _list(self) -> str:
        """Read every page; hand items to the sink page by page; return the list's resourceVersion."""
        self.sink.begin_list()
        version = ""
        for items, page_version, _token in pages(self.api, self.resource.path, self._query(), self.codec.decode_list,
                                                 page_size=self.page_size, cap=MAX_PAGE_BYTES, max_pages=MAX_PAGES,
                                                 what=self.resource.name):
            if self._stop.is_set():
                raise ConnectionError("stopping")
            self.sink.add_listed(items)
            version = page_version or version
        self.sink.end_list()
        self.stats.lists += 1
        return version

    def _watch(self, version: str) -> str:
        """Follow one watch stream; return the last version seen when the server ends it."""
        timeout = max(1, int(self.watch_timeout * random.uniform(1.0, 1.25)))  # spread reconnects
        query = self._query(
            watch="1", resourceVersion=version, allowWatchBookmarks="true", timeoutSeconds=str(timeout)
        )
        started = time.monotonic()
        delivered = 0
        resp = self.api.open(self.resource.path, query, read_timeout=timeout + 30)
        with self._lock:
            self._resp = resp
        try:
            if self._stop.is_set():
                return version
            self.stats.watches += 1
            for line in lines(resp, max_line=MAX_LINE_BYTES, host=self.api.host, timeout=timeout + 30):
                if self._stop.is_set():
                    break
                env = _ENVELOPE.decode(line)
                if env.type == "ERROR":  # a Status object: the one mapping makes it ApiGone, ApiForbidden…
                    raise status_error(500, "Error", bytes(env.object), self.api.host)
                if env.type == "BOOKMARK":
                    version = _VERSION.decode(env.object).metadata.resourceVersion or version
                    continue
                item = self.codec.decode_object(env.object)
                if env.type == "DELETED":
                    self.sink.delete(item)
                elif env.type in ("ADDED", "MODIFIED"):
                    self.sink.upsert(item)
                version = _VERSION.decode(env.object).metadata.resourceVersion or version
                delivered += 1
                self.stats.events += 1
                self.stats.last_event_time = time.time()
                self.backoff.reset()
        finally:
            with self._lock:
                self._resp = None
            _discard(resp)
        if not delivered and not self._stop.is_set() and time.monotonic() - started < SHORT_WATCH_SECONDS:
            raise _ShortWatch("watch ended at once with no events")
        return version


class _ShortWatch(Exception):
    """The server closed a watch immediately: treat as an error so the back-off applies."""


def _discard(resp: Any) -> None:
    """Close a stream that may have unread data (so its connection is not reused) and free it."""
    with contextlib.suppress(Exception):  # the socket may already be gone; nothing is left to free then
        resp.close()
        resp.release_conn()


def _one_line(err: BaseException) -> str:
    text = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {text}"[:300]


class _ListMeta(msgspec.Struct):
    resourceVersion: str = ""
    continue_: str = msgspec.field(default="", name="continue")


class StructCodec(Generic[T]):
    """Decodes list pages and watch objects of one kind with a cluster-package Struct (e.g. ``Pod``)."""

    def __init__(self, item_type: type[T]) -> None:
        page = msgspec.defstruct(
            f"{item_type.__name__}Page",
            [("metadata", _ListMeta, msgspec.field(default_factory=_ListMeta)), ("items", list[item_type], [])],  # type: ignore[valid-type]
        )
        self._page = msgspec.json.Decoder(page)
        self._item = msgspec.json.Decoder(item_type)

    def decode_list(self, data: bytes) -> tuple[list[T], str, str]:
        check_object_count(data)  # a page of 500 asked for; a server may send millions (as cluster.live)
        page: Any = self._page.decode(data)
        return page.items, page.metadata.resourceVersion, page.metadata.continue_

    def decode_object(self, raw: bytes) -> T:
        return self._item.decode(raw)
