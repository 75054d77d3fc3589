"""Per-container image timeline from the kubelet's events.

Events are matched to a pod by uid (else namespace/name, for events without one) and to a container by
``fieldPath`` (``spec.containers{app}``, ``spec.initContainers{…}``, ``spec.ephemeralContainers{…}``).
Both event APIs are read: core/v1 (count, first/lastTimestamp) and events.k8s.io/v1 (series,
deprecated*). Reasons and messages: kubelet ``pkg/kubelet/events/event.go`` and
``pkg/kubelet/images/image_manager.go``; back-off: ``pkg/kubelet/kubelet.go`` (10 s doubling to 300 s,
client-go ``util/flowcontrol/backoff.go``, no jitter).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pulldoctor.causes import IMAGE_BACKOFF_INITIAL_SECONDS, IMAGE_BACKOFF_MAX_SECONDS, EventReason
from pulldoctor.cluster.model import Event, ObjectReference

#: Reasons that say something about a container's image (container-level, with a fieldPath).
CONTAINER_REASONS: frozenset[str] = frozenset({
    EventReason.PULLING, EventReason.PULLED, EventReason.FAILED, EventReason.BACK_OFF,
    EventReason.ERR_IMAGE_NEVER_PULL, EventReason.INSPECT_FAILED,
})  # fmt: skip
#: Pod-level reasons (no fieldPath) that concern every container's pull.
POD_REASONS: frozenset[str] = frozenset({EventReason.FAILED_TO_RETRIEVE_IMAGE_PULL_SECRET})
IMAGE_EVENT_REASONS = CONTAINER_REASONS | POD_REASONS

_FIELD_PATH = re.compile(r"^spec\.(containers|initContainers|ephemeralContainers)\{([^}]*)\}$")
# kubectl 1.35+ prefixes messages with the fieldPath when it prints them (kubernetes PR #133627).
_KUBECTL_PREFIX = re.compile(r"^spec\.(?:containers|initContainers|ephemeralContainers)\{[^}]*\}: ")
# The kubelet's second Failed event after a failed start: "Error: ErrImagePull" / "Error: ImagePullBackOff"
# (kuberuntime_container.go startContainer). Counted, but never the failure message.
_ERROR_REASON_ONLY = re.compile(r"^Error: [A-Za-z]+$")
_FAILURE_REASONS = (EventReason.FAILED, EventReason.ERR_IMAGE_NEVER_PULL, EventReason.INSPECT_FAILED)

_SECTION_TYPE = {"containers": "regular", "initContainers": "init", "ephemeralContainers": "ephemeral"}
_UTC = UTC
MAX_EVENT_COUNT = 2**31 - 1          # core/v1 Event.count is an int32


def _utc(t: datetime | None) -> datetime | None:
    if t is not None and t.tzinfo is None:
        return t.replace(tzinfo=_UTC)  # YAML can give naive datetimes; the API's are UTC
    return t


@dataclass(slots=True)
class EventView:
    """One event, the same whichever API it came from."""

    reason: str
    message: str
    count: int
    first: datetime | None
    last: datetime | None
    container: tuple[str, str] | None   # (container_type, name) from fieldPath; None = the pod itself


def view(e: Event) -> tuple[ObjectReference | None, EventView]:
    """Normalise core/v1 and events.k8s.io/v1 fields: object, message, count, first and last time."""
    ref = e.involved_object or e.regarding
    msg = e.message or e.note
    if msg.startswith("spec."):
        msg = _KUBECTL_PREFIX.sub("", msg, count=1)
    if e.series is not None and e.series.count:
        count = e.series.count
        last = e.series.last_observed_time
    else:
        count = e.count or e.deprecated_count or 1
        last = None
    first = e.first_timestamp or e.deprecated_first_timestamp or e.event_time
    last = last or e.last_timestamp or e.deprecated_last_timestamp or e.event_time or first
    container = None
    if ref is not None and ref.field_path:
        m = _FIELD_PATH.match(ref.field_path)
        if m:
            container = (_SECTION_TYPE[m.group(1)], m.group(2))
    # The API's count is an int32; a file can say anything, so keep it in that range.
    count = min(max(int(count), 1), MAX_EVENT_COUNT)
    return ref, EventView(e.reason, msg, count, _utc(first), _utc(last), container)


@dataclass(slots=True)
class ReasonStats:
    count: int = 0
    first: datetime | None = None
    last: datetime | None = None

    def add(self, ev: EventView) -> None:
        self.count += ev.count
        if ev.first and (self.first is None or ev.first < self.first):
            self.first = ev.first
        if ev.last and (self.last is None or ev.last > self.last):
            self.last = ev.last


@dataclass(slots=True)
class Timeline:
    """What the events say about one container's image; diagnosis reads it as it is (``Evidence.timeline``)."""

    reasons: dict[str, ReasonStats] = field(default_factory=dict)  # per event reason: count, first, last
    failed: int = 0                        # Failed events carrying a runtime error (not "Error: ErrImagePull")
    backoff: int = 0                       # BackOff events ("Back-off pulling image")
    last_failure_message: str | None = None  # the NEWEST failure message (Failed/ErrImageNeverPull/InspectFailed)
    last_failure_at: datetime | None = None
    attempts: int | None = None            # real pulls: the Pulling count (None when no events)
    backoff_seconds: int | None = None     # current back-off step: 10, 20, 40 … 300
    next_attempt: datetime | None = None   # an ESTIMATE: last failure + back-off step
    next_attempt_is_estimate: bool = True
    events_expired: bool = False           # events were read but none matched (they expire after ~1 h)
    secret_warnings: list[str] = field(default_factory=list)  # FailedToRetrieveImagePullSecret messages
    notes: list[str] = field(default_factory=list)


def backoff_step(attempts: int) -> int:
    """The kubelet's image back-off after ``attempts`` failed pulls: 10 s doubling, capped at 300 s."""
    if attempts <= 0:
        return 0
    step = IMAGE_BACKOFF_INITIAL_SECONDS
    for _ in range(min(attempts - 1, 32)):  # bounded: the cap is reached after 5 doublings
        step = min(step * 2, IMAGE_BACKOFF_MAX_SECONDS)
    return step


#: FailedToRetrieveImagePullSecret messages kept per container (the rules quote the first): a bound, so
#: that thousands of distinct messages about one pod are not copied into each of its containers.
MAX_SECRET_WARNINGS = 10


@dataclass(slots=True)
class PodEvents:
    """One pod's image events, split once: per container (by fieldPath) and about the pod itself
    (``POD_REASONS``). Each container then reads only its own events: the cost stays linear in events,
    whatever the number of containers."""

    by_container: dict[tuple[str, str], list[EventView]] = field(default_factory=dict)
    pod_level: list[EventView] = field(default_factory=list)
    _summary: tuple[dict[str, ReasonStats], list[str]] | None = None

    def add(self, ev: EventView) -> None:
        if ev.container is not None:
            self.by_container.setdefault(ev.container, []).append(ev)
        elif ev.reason in POD_REASONS:
            self.pod_level.append(ev)

    def summary(self) -> tuple[dict[str, ReasonStats], list[str]]:
        """The pod-level events' stats by reason and their distinct messages (first ``MAX_SECRET_WARNINGS``),
        computed once per pod."""
        if self._summary is None:
            reasons: dict[str, ReasonStats] = {}
            messages: dict[str, None] = {}  # ordered and unique
            for ev in self.pod_level:
                reasons.setdefault(ev.reason, ReasonStats()).add(ev)
                if ev.message and len(messages) < MAX_SECRET_WARNINGS:
                    messages.setdefault(ev.message, None)
            self._summary = (reasons, list(messages))
        return self._summary


_NO_EVENTS = PodEvents()


class EventIndex:
    """Image events grouped by pod, built once for the pods given (a cluster has far more events than
    failing pods). An event names its pod by uid; one without a uid by namespace/name, and goes to the pod
    that holds that name: the one with the highest resourceVersion, else the last read (two pods can
    share a name only across time: a pod deleted and created again)."""

    def __init__(self, events: Iterable[Event], pods: Iterable[tuple[str, str, str, str]]) -> None:
        """``pods``: (uid, namespace, name, resourceVersion) of each pod to index."""
        self._groups: dict[object, PodEvents] = {}
        uids: set[str] = set()
        owner: dict[tuple[str, str], tuple[int, int, object]] = {}  # name -> (rv, order, pod key)
        for order, (uid, ns, name, rv) in enumerate(pods):
            if uid:
                uids.add(uid)
            pod_key: object = uid or (ns, name)
            rank = (int(rv) if rv.isdigit() and len(rv) < 30 else -1, order, pod_key)
            if (ns, name) not in owner or rank[:2] > owner[(ns, name)][:2]:
                owner[(ns, name)] = rank
        by_name = {name: rank[2] for name, rank in owner.items()}
        groups = self._groups
        reasons = IMAGE_EVENT_REASONS
        for e in events:
            if e.reason not in reasons:
                continue
            ref = e.involved_object or e.regarding
            if ref is None or (ref.kind and ref.kind != "Pod"):
                continue
            if ref.uid:
                if ref.uid not in uids:
                    continue
                key: object = ref.uid
            else:
                found = by_name.get((ref.namespace or e.metadata.namespace, ref.name))
                if found is None:
                    continue
                key = found
            group = groups.get(key)
            if group is None:
                group = groups[key] = PodEvents()
            group.add(view(e)[1])

    def for_pod(self, uid: str, namespace: str, name: str) -> PodEvents:
        return self._groups.get(uid or (namespace, name), _NO_EVENTS)


def build(pod_events: PodEvents | Iterable[EventView], container_type: str, container: str, *,
          events_read: bool, waiting_reason: str = "") -> Timeline:
    """The timeline of one container from its pod's image events (a ``PodEvents``, or any events)."""
    if not isinstance(pod_events, PodEvents):
        grouped = PodEvents()
        for ev in pod_events:
            grouped.add(ev)
        pod_events = grouped
    t = Timeline()
    newest: EventView | None = None
    pod_reasons, warnings = pod_events.summary()
    t.secret_warnings = list(warnings)
    t.reasons = {r: ReasonStats(s.count, s.first, s.last) for r, s in pod_reasons.items()}
    for ev in pod_events.by_container.get((container_type, container), ()):
        t.reasons.setdefault(ev.reason, ReasonStats()).add(ev)
        if ev.reason == EventReason.BACK_OFF:
            t.backoff += ev.count
        elif ev.reason in _FAILURE_REASONS and not _ERROR_REASON_ONLY.match(ev.message):
            if ev.reason == EventReason.FAILED:
                t.failed += ev.count
            if newest is None or (ev.last or datetime.min.replace(tzinfo=_UTC)) >= (
                newest.last or datetime.min.replace(tzinfo=_UTC)
            ):
                newest = ev
    if newest is not None:
        t.last_failure_message, t.last_failure_at = newest.message, newest.last
    container_level = {r for r in t.reasons if r not in POD_REASONS}
    if not events_read:
        t.notes.append("no events in the input; the waiting message is the only evidence")
    elif not container_level:
        t.events_expired = True
        t.notes.append("no events for this container (events expire after about 1 h); "
                       "the waiting message is the evidence")
    else:
        pulling = t.reasons.get(EventReason.PULLING)
        t.attempts = pulling.count if pulling else 0
        if t.attempts and waiting_reason in ("ErrImagePull", "ImagePullBackOff", ""):
            t.backoff_seconds = backoff_step(t.attempts)
            base = t.last_failure_at or (pulling.last if pulling else None)
            if base is not None and base < datetime.max.replace(tzinfo=UTC) - timedelta(days=1):
                t.next_attempt = base + timedelta(seconds=t.backoff_seconds)
                t.notes.append(f"next pull estimated from {t.attempts} attempt(s) and the last failure; "
                               "the kubelet's pod worker adds 10-15 s")
    return t
