"""``Exporter``: wires the watchers, the store, the diagnosis worker, the probes and the HTTP server.

Concurrency model: threads. The official ``kubernetes`` client and ``wsgiref`` are blocking, so each
long wait gets its own thread — one per watch (pods, events), one diagnosis worker, one probe worker
(which runs the asyncio registry client on its own event loop), and the HTTP server's event loop with
its one render thread (``server``). Threads share only the ``Store`` and the findings map, each behind
one lock; ``version`` counts changes to what /metrics shows, so a cached rendering knows it is stale. Shutdown sets a
flag and closes the watch sockets, so every thread returns within about a second.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from pulldoctor.cluster.model import Event, Pod
from pulldoctor.exporter.config import ExporterConfig
from pulldoctor.exporter.context import ContextCache
from pulldoctor.exporter.diagnoser import Diagnoser
from pulldoctor.exporter.metrics import ExporterCollector, Series, build_registry
from pulldoctor.exporter.probes import ProbeKey, ProbeScheduler
from pulldoctor.exporter.scrape import ScrapeCache, metrics_renderer
from pulldoctor.exporter.server import Endpoints, HttpServer, Limits
from pulldoctor.exporter.store import PodKey, Store
from pulldoctor.exporter.watch import Backoff, Resource, StructCodec, Watcher
from pulldoctor.kubeapi import KubeApi, connect

log = logging.getLogger("pulldoctor.exporter")

#: Pods re-diagnosed per batch; the rest wait for the next turn (a re-list can dirty thousands).
BATCH = 200
#: Seconds to wait after a change before diagnosing, so a burst of events costs one pass.
DEBOUNCE = 0.02


class Exporter:
    """The running exporter. ``start`` returns once the HTTP port is bound; ``stop`` is idempotent."""

    def __init__(self, config: ExporterConfig, *, api_client: Any = None, default_namespace: str = "default",
                 probe_many: Callable[..., Any] | None = None) -> None:
        self.config = config
        if api_client is None:  # the same client, kubeconfig rules, bounds and errors as ``diagnose``
            self.api = connect(kubeconfig=config.kubeconfig, context=config.context,
                               request_timeout=config.request_timeout)
            default_namespace = self.api.namespace
        else:
            self.api = KubeApi(api_client, request_timeout=config.request_timeout, namespace=default_namespace)
        if config.all_namespaces:
            self.namespaces: list[str] | None = None
        else:
            self.namespaces = [config.namespace or default_namespace]
        self.store = Store()
        self._lock = threading.Lock()
        self._findings: dict[PodKey, list[Any]] = {}
        self._depends: dict[PodKey, set[ProbeKey]] = {}
        self._ready = False
        self._version = 0  # bumped whenever the findings, readiness or probe results change
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.diagnosed = 0
        self.diagnosis_errors = 0

        collector = ExporterCollector(self._series, self._ratelimits, lambda: self._ready, self._watch_stats)
        self.registry, observe = build_registry(collector)
        self.probes: ProbeScheduler | None = None
        if config.probe:
            from pulldoctor.registry.models import ProbeOptions

            options = ProbeOptions.build(config.insecure_registries, config.ca_file, hosts_dir=config.hosts_dir)
            self.probes = ProbeScheduler(options, config.probe_interval, on_results=self._on_probe_results,
                                         observe=observe, probe_many=probe_many)
        context_ttl = min(60.0, config.probe_interval)
        self.watchers = [self._watcher("pods", Pod, self.store.pod_sink()),
                         self._watcher("events", Event, self.store.event_sink())]
        cloud = None
        if config.cloud:
            from pulldoctor.cloud.aws import Cache
            from pulldoctor.diagnosis import cloudstep

            self.cloud_cache: Cache | None = Cache(ttl=max(60.0, config.probe_interval))
            cloud = cloudstep.aws(budget=config.cloud_budget, cache=self.cloud_cache)
        else:
            self.cloud_cache = None
        self.diagnoser = Diagnoser(ContextCache(self.api, ttl=context_ttl), self.probes, self.namespaces,
                                   events_listed=lambda: self.watchers[1].stats.synced, cloud=cloud)

        endpoints = Endpoints(self._healthz, self._readyz, metrics_renderer(self.registry),
                              self.findings_json if config.findings_endpoint else None)
        limits = Limits(header_timeout=config.header_timeout, max_connections=config.max_connections)
        self.http = HttpServer(config.listen_host, config.listen_port, endpoints,
                               ScrapeCache(lambda: self._version, ttl=config.metrics_ttl), limits)

    # -- wiring ---------------------------------------------------------------------------------------

    def _watcher(self, kind: str, item_type: type, sink: Any) -> Watcher[Any]:
        ns = self.namespaces[0] if self.namespaces else None
        path = f"/api/v1/namespaces/{quote(ns, safe='')}/{kind}" if ns else f"/api/v1/{kind}"
        # Events are evidence, not the subject: without RBAC for them the exporter still works (and is
        # ready), from the waiting messages alone.
        selector, required = ("involvedObject.kind=Pod", False) if kind == "events" else (None, True)
        return Watcher(
            self.api, Resource(kind, path, selector, required), StructCodec(item_type), sink,
            page_size=self.config.page_size, watch_timeout=self.config.watch_timeout,
            backoff=Backoff(self.config.backoff_initial, self.config.backoff_max),
        )

    @property
    def port(self) -> int:
        return self.http.port

    def start(self) -> int:
        """Start every thread; return the bound HTTP port."""
        self.http.start()
        if self.probes is not None:
            self.probes.start()
        for w in self.watchers:
            self._spawn(w.run, f"pulldoctor-watch-{w.resource.name}")
        self._spawn(self._diagnose_loop, "pulldoctor-diagnose")
        log.info("pulldoctor exporter listening on %s:%d, watching %s", self.config.listen_host, self.port,
                 ", ".join(self.namespaces) if self.namespaces else "all namespaces")
        return self.port

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching, diagnosing, probing and serving; each join is bounded."""
        self._stop.set()
        for w in self.watchers:
            w.stop()
        self.store.wake()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.1, deadline - time.monotonic()))
        if self.probes is not None:
            self.probes.stop(max(0.1, deadline - time.monotonic()))
        self.http.stop(max(0.1, deadline - time.monotonic()))
        if not any(t.is_alive() for t in self._threads):
            self.api.close()

    def wait(self, stop: threading.Event) -> None:
        """Block until ``stop`` is set (the command's signal handlers set it)."""
        while not stop.wait(0.5):
            pass

    # -- the diagnosis worker -------------------------------------------------------------------------

    def _synced(self) -> bool:
        return all(w.stats.synced or (not w.resource.required and w.stats.refused) for w in self.watchers)

    def _diagnose_loop(self) -> None:
        while not self._stop.is_set():
            keys = self.store.take_dirty(BATCH, timeout=0.5)
            if keys:
                if DEBOUNCE:
                    time.sleep(DEBOUNCE)
                self._diagnose(keys)
            if not self._ready and self._synced() and not self.store.has_dirty():
                self._ready = True
                self._version += 1
                log.info("first full list done: %d failing pod(s)", len(self._findings))

    def _diagnose(self, keys: list[PodKey]) -> None:
        pods, events = self.store.get(keys)
        try:
            by_pod, depends = self.diagnoser.diagnose(pods, events) if pods else ({}, {})
        except Exception as err:  # a bug in a rule must not stop the exporter; keep the last findings
            self.diagnosis_errors += 1
            log.error("diagnosis failed for %d pod(s): %s", len(pods), type(err).__name__,
                      exc_info=os.environ.get("PULLDOCTOR_DEBUG") == "1")
            return
        self.diagnosed += len(pods)
        with self._lock:
            self._version += 1
            for key in keys:
                found = by_pod.get(key)
                if found:
                    self._findings[key] = found
                    self._depends[key] = depends.get(key, set())
                else:
                    self._findings.pop(key, None)
                    self._depends.pop(key, None)

    def _on_probe_results(self, updated: set[ProbeKey]) -> None:
        with self._lock:
            self._version += 1  # rate limits may have moved even if no finding does
            keys = [k for k, deps in self._depends.items() if deps & updated]
        self.store.mark_dirty(keys)

    # -- what the endpoints read ----------------------------------------------------------------------

    def findings(self) -> list[Any]:
        with self._lock:
            items = [f for fs in self._findings.values() for f in fs]
        return sorted(items, key=lambda f: (f.namespace, f.pod, f.container_type, f.container))

    def _series(self) -> list[Series]:
        return [
            Series(f.namespace, f.pod, f.container, f.image, f.registry or "", f.cause.value, f.waiting_reason)
            for f in self.findings()
        ]

    def _ratelimits(self) -> dict[str, int]:
        return self.probes.ratelimits() if self.probes is not None else {}

    def _watch_stats(self) -> dict[str, Any]:
        return {w.resource.name: w.stats for w in self.watchers}

    def findings_json(self) -> bytes:
        """The JSON ``pulldoctor diagnose -o json`` prints, for the current findings."""
        from pulldoctor.diagnosis import Diagnosis, group
        from pulldoctor.render.json import render as render_json

        findings = self.findings()
        notes = [] if self._ready else ["not ready: the first list of pods and events is not complete"]
        notes += [f"cannot list {w.resource.name} (no permission): verdicts rest on the waiting messages"
                  for w in self.watchers if w.stats.refused and not w.stats.synced]
        diagnosis = Diagnosis(findings, group(findings), {}, notes, self.probes is not None)
        return render_json(diagnosis).encode()

    @property
    def ready(self) -> bool:
        return self._ready

    def _healthz(self) -> tuple[bool, str]:
        dead = [t.name for t in self._threads if not t.is_alive()]
        if dead and not self._stop.is_set():
            return False, "threads stopped: " + ", ".join(dead)
        return True, "ok"

    def _readyz(self) -> tuple[bool, str]:
        if self._ready:
            return True, "ready"
        pending = [w.resource.name for w in self.watchers if not w.stats.synced]
        return False, "not ready: waiting for the first list of " + (", ".join(pending) or "diagnoses")

    def status(self) -> dict[str, Any]:
        """Counters for logs, tests and the benchmark."""
        return {"ready": self._ready, "findings": len(self.findings()), "diagnosed": self.diagnosed,
                **self.store.sizes(), "context_gets": self.diagnoser.context.gets}
