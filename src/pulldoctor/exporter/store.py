"""What the exporter remembers between events: only failing pods, and their image events.

A 10 000-pod cluster with three failing pods keeps three pods. A pod enters when one of its containers
waits for an image-pull reason, and leaves when it recovers, is deleted or is absent from a re-list — so
"forget containers that recovered or were deleted" needs no extra bookkeeping. Changed pods are marked
dirty; the diagnosis worker re-diagnoses only those.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from pulldoctor.cluster.failing import is_image_failing
from pulldoctor.cluster.model import Event, Pod
from pulldoctor.cluster.timeline import IMAGE_EVENT_REASONS

PodKey = tuple[str, str]   # (namespace, name)

#: Image events kept per pod (the newest; the kubelet repeats the same few) and pods with events kept.
EVENTS_PER_POD = 16
MAX_EVENT_PODS = 20_000


def _pod_key(pod: Pod) -> PodKey:
    return (pod.metadata.namespace, pod.metadata.name)


def _event_pod_key(event: Event) -> PodKey | None:
    ref = event.involved_object or event.regarding
    if ref is None or ref.kind != "Pod" or not ref.name:
        return None
    return (ref.namespace or event.metadata.namespace, ref.name)


def _event_id(event: Event) -> str:
    return event.metadata.uid or f"{event.metadata.namespace}/{event.metadata.name}"


class Store:
    """Thread-safe: watchers write, the diagnosis worker and the HTTP server read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dirty_cond = threading.Condition(self._lock)
        self._pods: dict[PodKey, Pod] = {}
        self._events: OrderedDict[PodKey, dict[str, Event]] = OrderedDict()
        self._dirty: set[PodKey] = set()
        self._listing_pods: set[PodKey] | None = None
        self._listing_events: OrderedDict[PodKey, dict[str, Event]] | None = None
        self.pods_seen = 0  # pods decoded since start (a figure for /healthz and the benchmark)

    # -- pods (Sink for the pod watcher) ------------------------------------------------------------

    def pod_sink(self) -> _PodSink:
        return _PodSink(self)

    def event_sink(self) -> _EventSink:
        return _EventSink(self)

    def _put_pod(self, pod: Pod) -> PodKey:
        key = _pod_key(pod)
        self.pods_seen += 1
        if is_image_failing(pod):
            old = self._pods.get(key)
            if old != pod:
                self._pods[key] = pod
                self._mark(key)
        elif key in self._pods:
            del self._pods[key]
            self._mark(key)
        return key

    def _drop_pod(self, pod: Pod) -> None:
        key = _pod_key(pod)
        if self._pods.pop(key, None) is not None:
            self._mark(key)
        self._events.pop(key, None)

    def _mark(self, key: PodKey) -> None:
        self._dirty.add(key)
        self._dirty_cond.notify_all()

    # -- events -----------------------------------------------------------------------------------

    def _put_event(self, event: Event, target: OrderedDict[PodKey, dict[str, Event]]) -> PodKey | None:
        if event.reason not in IMAGE_EVENT_REASONS:
            return None
        key = _event_pod_key(event)
        if key is None:
            return None
        bucket = target.get(key)
        if bucket is None:
            bucket = target[key] = {}
            while len(target) > MAX_EVENT_PODS:
                target.popitem(last=False)
        else:
            target.move_to_end(key)
        bucket.pop(_event_id(event), None)
        bucket[_event_id(event)] = event
        while len(bucket) > EVENTS_PER_POD:
            bucket.pop(next(iter(bucket)))
        return key

    # -- readers (the diagnosis worker) ---------------------------------------------------------------

    def take_dirty(self, limit: int, timeout: float) -> list[PodKey]:
        """Wait up to ``timeout`` for dirty pods; return at most ``limit`` of them (the rest stay dirty)."""
        with self._dirty_cond:
            if not self._dirty:
                self._dirty_cond.wait(timeout)
            taken: list[PodKey] = []
            while self._dirty and len(taken) < limit:
                taken.append(self._dirty.pop())
            return taken

    def wake(self) -> None:
        """Release a ``take_dirty`` wait early (shutdown)."""
        with self._dirty_cond:
            self._dirty_cond.notify_all()

    def has_dirty(self) -> bool:
        with self._lock:
            return bool(self._dirty)

    def mark_dirty(self, keys: Sequence[PodKey]) -> None:
        with self._lock:
            for key in keys:
                if key in self._pods:
                    self._mark(key)

    def get(self, keys: Sequence[PodKey]) -> tuple[list[Pod], list[Event]]:
        """The failing pods among ``keys`` and their image events."""
        with self._lock:
            pods = [self._pods[k] for k in keys if k in self._pods]
            events = [e for k in keys for e in self._events.get(k, {}).values()]
        return pods, events

    def failing_keys(self) -> list[PodKey]:
        with self._lock:
            return list(self._pods)

    def sizes(self) -> dict[str, int]:
        with self._lock:
            return {
                "failing_pods": len(self._pods),
                "event_pods": len(self._events),
                "events": sum(len(b) for b in self._events.values()),
            }


class _PodSink:
    """Adapts the store to the pod watcher: a re-list forgets failing pods that are no longer listed."""

    def __init__(self, store: Store) -> None:
        self.s = store

    def begin_list(self) -> None:
        with self.s._lock:
            self.s._listing_pods = set()

    def add_listed(self, items: Sequence[Any]) -> None:
        with self.s._lock:
            seen = self.s._listing_pods
            for pod in items:
                key = self.s._put_pod(pod)
                if seen is not None:
                    seen.add(key)

    def end_list(self) -> None:
        with self.s._lock:
            seen = self.s._listing_pods or set()
            for key in [k for k in self.s._pods if k not in seen]:
                del self.s._pods[key]
                self.s._mark(key)
            for key in [k for k in self.s._events if k not in seen]:
                # events of pods that no longer exist are useless; keep those of live pods
                del self.s._events[key]
            self.s._listing_pods = None

    def upsert(self, item: Any) -> None:
        with self.s._lock:
            self.s._put_pod(item)

    def delete(self, item: Any) -> None:
        with self.s._lock:
            self.s._drop_pod(item)


class _EventSink:
    """Adapts the store to the event watcher: an image event for a failing pod re-diagnoses it."""

    def __init__(self, store: Store) -> None:
        self.s = store

    def begin_list(self) -> None:
        with self.s._lock:
            self.s._listing_events = OrderedDict()

    def add_listed(self, items: Sequence[Any]) -> None:
        with self.s._lock:
            target = self.s._listing_events
            if target is None:
                return
            for event in items:
                self.s._put_event(event, target)

    def end_list(self) -> None:
        with self.s._lock:
            if self.s._listing_events is not None:
                self.s._events = self.s._listing_events
                self.s._listing_events = None
            for key in self.s._pods:
                self.s._mark(key)

    def upsert(self, item: Any) -> None:
        with self.s._lock:
            key = self.s._put_event(item, self.s._events)
            if key is not None and key in self.s._pods:
                self.s._mark(key)

    def delete(self, item: Any) -> None:
        # An expired event (the API server's TTL, 1 h by default) says nothing new about the pod;
        # dropping it would only make the evidence thinner. Keep it until the pod goes.
        return
