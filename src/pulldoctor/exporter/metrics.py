"""The Prometheus side: one collector that reads the current findings at scrape time.

Why a collector and not ``Gauge.labels(...).set(1)``: a failing container's series must vanish the
moment it recovers, and a cause can change between scrapes. Building the families from the current
findings on each scrape makes stale series impossible, with no bookkeeping of what to remove.
Label values are names (namespace, pod, container, image, registry) and closed sets (cause, waiting
reason): never message text, so cardinality is bounded by the failing containers themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pulldoctor.causes import Cause

FAILING = "pulldoctor_image_pull_failing"
#: A gauge, so no ``_total`` (Prometheus keeps that suffix for counters; ``promtool check metrics`` says so).
FAILING_CONTAINERS = "pulldoctor_image_pull_failing_containers"
RATELIMIT = "pulldoctor_registry_ratelimit_remaining"
PROBE_SECONDS = "pulldoctor_probe_duration_seconds"
READY = "pulldoctor_ready"
WATCH_EVENTS = "pulldoctor_watch_events"
WATCH_ERRORS = "pulldoctor_watch_errors"
LAST_EVENT = "pulldoctor_watch_last_event_timestamp_seconds"

FAILING_LABELS = ("namespace", "pod", "container", "image", "registry", "cause", "waiting_reason")
#: Longest label value exported; an image reference with a digest is ~150 characters.
MAX_LABEL = 512
#: Every series name the exporter exposes (the deploy/ tests check PromQL against this list).
EXPOSED = (FAILING, FAILING_CONTAINERS, RATELIMIT, PROBE_SECONDS, READY, WATCH_EVENTS + "_total",
           WATCH_ERRORS + "_total", LAST_EVENT)  # fmt: skip

PROBE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True, slots=True)
class Series:
    """One failing container as the metric sees it."""

    namespace: str
    pod: str
    container: str
    image: str
    registry: str
    cause: str
    waiting_reason: str

    def labels(self) -> list[str]:
        return [_clip(v) for v in (self.namespace, self.pod, self.container, self.image, self.registry,
                                   self.cause, self.waiting_reason)]  # fmt: skip


def _clip(value: str) -> str:
    return value if len(value) <= MAX_LABEL else value[: MAX_LABEL - 1] + "…"


class ExporterCollector:
    """Reads the exporter's state through plain callables, so it can be tested without threads."""

    def __init__(
        self,
        series: Callable[[], Iterable[Series]],
        ratelimits: Callable[[], dict[str, int]],
        ready: Callable[[], bool],
        watch_stats: Callable[[], dict[str, Any]],
    ) -> None:
        self._series = series
        self._ratelimits = ratelimits
        self._ready = ready
        self._watch_stats = watch_stats

    def describe(self) -> list[Any]:
        return []  # collected on demand; nothing to check at registration

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        failing = GaugeMetricFamily(
            FAILING,
            "1 while a container cannot get its image; the series goes away when it recovers. "
            "cause is pulldoctor's root cause.",
            labels=FAILING_LABELS,
        )
        per_cause = {c.value: 0 for c in Cause}
        for s in self._series():
            failing.add_metric(s.labels(), 1.0)
            per_cause[s.cause] = per_cause.get(s.cause, 0) + 1
        yield failing

        # The current number of failing containers per cause: every cause present, 0 when unused.
        total = GaugeMetricFamily(FAILING_CONTAINERS, "Containers failing to get their image now, by cause.",
                                  labels=("cause",))
        for cause, n in sorted(per_cause.items()):
            total.add_metric([cause], float(n))
        yield total

        rl = GaugeMetricFamily(RATELIMIT, "Pulls left in the registry's rate-limit window (ratelimit-remaining), "
                               "where the registry says.", labels=("registry",))
        for registry, remaining in sorted(self._ratelimits().items()):
            rl.add_metric([_clip(registry)], float(remaining))
        yield rl

        yield GaugeMetricFamily(READY, "1 after the first full list of pods and events.",
                                value=1.0 if self._ready() else 0.0)

        stats = self._watch_stats()
        events = CounterMetricFamily(WATCH_EVENTS, "Watch events received.", labels=("resource",))
        errors = CounterMetricFamily(WATCH_ERRORS, "Watch restarts by reason (gone = 410, connection, "
                                     "http_NNN, short_watch, decode).", labels=("resource", "reason"))
        last = GaugeMetricFamily(LAST_EVENT, "Unix time of the last watch event.", labels=("resource",))
        for resource, st in sorted(stats.items()):
            events.add_metric([resource], float(st.events))
            for reason, n in sorted(st.errors.items()):
                errors.add_metric([resource, reason], float(n))
            last.add_metric([resource], float(st.last_event_time))
        yield events
        yield errors
        yield last


def build_registry(collector: ExporterCollector) -> tuple[Any, Callable[[str, float], None]]:
    """A fresh registry (never the global one: tests run several exporters in one process) with the
    process, platform and GC collectors, our collector, and the probe-time histogram."""
    from prometheus_client import CollectorRegistry, Histogram
    from prometheus_client.gc_collector import GCCollector
    from prometheus_client.platform_collector import PlatformCollector
    from prometheus_client.process_collector import ProcessCollector

    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    registry.register(collector)
    hist = Histogram(PROBE_SECONDS, "Time one registry probe took (DNS to manifest), by registry.",
                     labelnames=("registry",), buckets=PROBE_BUCKETS, registry=registry)

    def observe(registry_host: str, seconds: float) -> None:
        hist.labels(_clip(registry_host)).observe(seconds)

    return registry, observe
