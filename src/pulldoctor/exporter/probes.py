"""Registry probes for the exporter: cached, gated, and off the watch threads.

Why gated: a failing pod is retried by the kubelet every 5 minutes for ever, and each retry changes the
pod; probing on every change would spend a Docker Hub rate limit that the cluster's own pulls need.
Rules:
- one (image, platform, credentials) is probed when first seen failing, then at most once per
  ``interval``;
- a registry that answered 429 or ``ratelimit-remaining: 0`` for a credential is not probed again with
  that credential until ``interval`` (or its ``Retry-After``, if longer) has passed;
- a re-probe only HEADs the manifest (``fetch_manifest=False``): on Docker Hub a manifest GET counts as a
  pull, and an exporter that spent one per failing image every few minutes would eat the limit that the
  cluster's own pulls need. The first probe of an image reads it in full (platforms, size);
- probes run in batches of at most ``MAX_BATCH`` on one thread with its own event loop, each batch
  bounded in time, so the watchers and the HTTP server never wait for a registry.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pulldoctor.causes import Cause

log = logging.getLogger("pulldoctor.exporter")

MAX_BATCH = 64
#: Cached results kept (the oldest are dropped beyond this): one per failing image and credential set.
MAX_CACHED = 5_000

ProbeKey = tuple[str, str, tuple[str, ...]]     # (image, platform, credential fingerprints)
GateKey = tuple[str, tuple[str, ...]]           # (registry, credential fingerprints)


def _image_name(image: Any) -> str:
    return str(getattr(image, "normalized", None) or image)


def _registry(image: Any) -> str:
    reg = getattr(image, "registry", None)
    if reg:
        return str(reg)
    text = str(image)
    first = text.split("/", 1)[0]
    return first if "/" in text and ("." in first or ":" in first or first == "localhost") else "docker.io"


def probe_key(request: Any) -> ProbeKey:
    creds = tuple(str(getattr(c, "fingerprint", "")) for c in getattr(request, "credentials", ()) or ())
    runtime = getattr(request, "runtime", None)  # nodes of another runtime probe apart (their scheme rules)
    return (_image_name(request.image), str(getattr(request, "platform", "")) + (f"@{runtime}" if runtime else ""),
            creds)


@dataclass(slots=True)
class _Entry:
    result: Any
    at: float


class ProbeScheduler:
    """Cache + gate + worker thread around ``pulldoctor.registry.probe_many``."""

    def __init__(
        self,
        options: Any,
        interval: float,
        *,
        on_results: Callable[[set[ProbeKey]], None],
        observe: Callable[[str, float], None] | None = None,
        probe_many: Callable[..., Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self.interval = interval
        self.on_results = on_results
        self.observe = observe
        self._probe_many = probe_many
        self._clock = clock
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._cache: dict[ProbeKey, _Entry] = {}
        self._pending: dict[ProbeKey, Any] = {}
        self._inflight: set[ProbeKey] = set()
        self._held: dict[GateKey, float] = {}      # gate -> monotonic time when probing may resume
        self._stop = threading.Event()
        self.batches = 0
        self._thread: threading.Thread | None = None

    # -- callers (the diagnosis worker) --------------------------------------------------------------

    def lookup(self, requests: Sequence[Any]) -> dict[ProbeKey, Any]:
        """Cached results for ``requests`` (any age); schedule those due for a (re-)probe."""
        now = self._clock()
        found: dict[ProbeKey, Any] = {}
        with self._lock:
            for req in requests:
                key = probe_key(req)
                entry = self._cache.get(key)
                if entry is not None:
                    found[key] = entry.result
                due = entry is None or now - entry.at >= self.interval
                if due and key not in self._inflight and not self._is_held(req, now):
                    self._pending[key] = req
            if self._pending:
                self._wake.notify_all()
        return found

    def ratelimits(self) -> dict[str, int]:
        """Latest known ``ratelimit-remaining`` per registry (the smallest over credentials)."""
        out: dict[str, int] = {}
        with self._lock:
            for (image, _platform, _creds), entry in self._cache.items():
                rl = getattr(entry.result, "ratelimit", None)
                remaining = getattr(rl, "remaining", None)
                if remaining is None:
                    continue
                reg = _registry(image)
                out[reg] = min(remaining, out.get(reg, remaining))
        return out

    # -- the worker ------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pulldoctor-probes", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._lock:
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def _is_held(self, request: Any, now: float) -> bool:
        until = self._held.get(self._gate(request))
        return until is not None and now < until

    @staticmethod
    def _gate(request: Any) -> GateKey:
        key = probe_key(request)
        return (_registry(request.image), key[2])

    def _take(self) -> list[tuple[ProbeKey, Any]]:
        with self._lock:
            while not self._pending and not self._stop.is_set():  # bounded by stop(); 1 s ticks
                self._wake.wait(1.0)
            batch: list[tuple[ProbeKey, Any]] = []
            now = self._clock()
            for key in list(self._pending):
                req = self._pending.pop(key)
                if self._is_held(req, now):
                    continue
                batch.append((key, req))
                self._inflight.add(key)
                if len(batch) >= MAX_BATCH:
                    break
            return batch

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            while not self._stop.is_set():
                batch = self._take()
                if not batch:
                    continue
                with self._lock:
                    fresh = [(k, r) for k, r in batch if k not in self._cache]
                    again = [(k, r) for k, r in batch if k in self._cache]
                for part, options in ((fresh, self.options), (again, self._repeat_options())):
                    if part:
                        self._record(part, self._probe(loop, [req for _, req in part], options))
        finally:
            loop.close()

    def _repeat_options(self) -> Any:
        if dataclasses.is_dataclass(self.options) and not isinstance(self.options, type) \
                and hasattr(self.options, "fetch_manifest"):
            return dataclasses.replace(self.options, fetch_manifest=False)
        return self.options

    def _probe(self, loop: asyncio.AbstractEventLoop, requests: list[Any], options: Any) -> list[Any]:
        probe_many = self._probe_many
        if probe_many is None:
            from pulldoctor.registry import (
                probe_many as real,  # aiohttp: imported only when probing
            )

            probe_many = self._probe_many = real
        # Bounded: every request has its own timeouts; this caps the batch as a whole.
        limit = float(getattr(self.options, "request_timeout", 15.0)) * 4 + 30.0
        self.batches += 1
        try:
            return list(loop.run_until_complete(asyncio.wait_for(probe_many(requests, options), limit)))
        except Exception as err:
            log.warning("registry probes failed: %s", type(err).__name__)
            return [None] * len(requests)

    def _record(self, batch: list[tuple[ProbeKey, Any]], results: Iterable[Any]) -> None:
        now = self._clock()
        updated: set[ProbeKey] = set()
        with self._lock:
            for (key, req), result in zip(batch, results, strict=False):
                self._inflight.discard(key)
                if result is None:
                    continue
                self._cache.pop(key, None)  # re-insert: the dict's order is the age order
                self._cache[key] = _Entry(result, now)
                updated.add(key)
                if self.observe is not None:
                    elapsed = sum(float(getattr(s, "elapsed", 0.0) or 0.0) for s in getattr(result, "steps", ()))
                    self.observe(_registry(req.image), elapsed)
                if _rate_limited(result):
                    retry_after = getattr(getattr(result, "ratelimit", None), "retry_after", None) or 0
                    self._held[self._gate(req)] = now + max(self.interval, float(retry_after))
            for key, _ in batch:
                self._inflight.discard(key)
            while len(self._cache) > MAX_CACHED:
                self._cache.pop(next(iter(self._cache)))
        if updated:
            self.on_results(updated)


def _rate_limited(result: Any) -> bool:
    if getattr(result, "cause", None) == Cause.RATE_LIMITED:
        return True
    remaining = getattr(getattr(result, "ratelimit", None), "remaining", None)
    return remaining is not None and remaining <= 0
