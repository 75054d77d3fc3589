"""The per-container timeline from events: both event APIs, series, the newest failure message, attempts,
the back-off step and the next attempt (an estimate), and expired events."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kubeapi import objects as o
from pulldoctor.causes import IMAGE_BACKOFF_INITIAL_SECONDS, IMAGE_BACKOFF_MAX_SECONDS
from pulldoctor.cluster import Snapshot, find_failing
from pulldoctor.cluster.model import convert_python
from pulldoctor.cluster.timeline import backoff_step

IMG = "ghcr.io/acme/web:1.0"


def pod() -> dict:
    return o.pod("web", init_containers=[o.container("init", IMG)], containers=[o.container("app", IMG)],
                 init_statuses=[o.waiting("init", IMG, "ImagePullBackOff", "Back-off pulling image")],
                 statuses=[o.waiting("app", IMG, "PodInitializing")])


def timeline(*objs: dict, events_listed: bool = True):
    s = Snapshot()
    for obj in objs:
        s.add(convert_python(obj).objects)
    if events_listed:
        s.mark_listed("Event", "default")
    (f,) = find_failing(s).failing
    return f.timeline


def test_core_v1_counts_newest_message_and_backoff() -> None:
    p = pod()
    t = timeline(
        p,
        o.event(p, "Pulling", f'Pulling image "{IMG}"', container="init", section="initContainers",
                count=4, first=0, last=150),
        o.event(p, "Failed", f'Failed to pull image "{IMG}": first error', container="init",
                section="initContainers", first=1),
        o.event(p, "Failed", f'Failed to pull image "{IMG}": newest error', container="init",
                section="initContainers", count=3, first=31, last=151),
        o.event(p, "Failed", "Error: ErrImagePull", container="init", section="initContainers", count=4,
                first=1, last=152),
        o.event(p, "BackOff", f'Back-off pulling image "{IMG}"', container="init", section="initContainers",
                count=9, first=2, last=160),
        # the regular container's events and another pod's must not leak in
        o.event(p, "Failed", "Failed to pull image: other container", container="app", first=500),
        o.event(o.pod("other"), "Failed", "Failed to pull image: other pod", container="init",
                section="initContainers", first=600),
    )
    assert t.reasons["Pulling"].count == 4
    assert t.reasons["Failed"].count == 8  # the "Error: ErrImagePull" events are counted…
    assert t.failed == 4                    # …but are not failures with a message
    assert t.backoff == 9
    assert t.last_failure_message == f'Failed to pull image "{IMG}": newest error'
    assert t.last_failure_at == o.T0 + timedelta(seconds=151)
    assert t.reasons["Failed"].first == o.T0 + timedelta(seconds=1)
    assert t.reasons["Failed"].last == o.T0 + timedelta(seconds=152)
    assert t.attempts == 4
    assert t.backoff_seconds == 80
    assert t.next_attempt == o.T0 + timedelta(seconds=151 + 80)
    assert t.next_attempt_is_estimate and any("estimate" in n for n in t.notes)
    assert not t.events_expired


def test_events_k8s_io_series_and_deprecated_fields() -> None:
    p = pod()
    t = timeline(
        p,
        o.event_v1(p, "Pulling", f'Pulling image "{IMG}"', container="init", section="initContainers",
                   series_count=7, first=0, last=900),
        o.event_v1(p, "Failed", f'Failed to pull image "{IMG}": v1 error', container="init",
                   section="initContainers", first=5),
        o.event_v1(p, "Failed", f'Failed to pull image "{IMG}": v1 newest', container="init",
                   section="initContainers", series_count=6, first=35, last=901),
    )
    assert t.attempts == 7 and t.reasons["Pulling"].last == o.T0 + timedelta(seconds=900)
    assert t.last_failure_message.endswith("v1 newest")
    assert t.failed == 7
    assert t.backoff_seconds == IMAGE_BACKOFF_MAX_SECONDS


def test_kubectl_prefix_is_stripped_and_uidless_events_match_by_name() -> None:
    p = pod()
    t = timeline(p, o.event(p, "Failed", f'spec.initContainers{{init}}: Failed to pull image "{IMG}": x',
                            container="init", section="initContainers", with_uid=False))
    assert t.last_failure_message == f'Failed to pull image "{IMG}": x'


def test_an_earlier_pod_with_the_same_name_does_not_count() -> None:
    p, old = pod(), pod()
    t = timeline(p, o.event(old, "Failed", "Failed to pull image: old pod", container="init",
                            section="initContainers"))
    assert t.events_expired and t.last_failure_message is None


def test_pod_level_secret_warning() -> None:
    p = pod()
    msg = "Unable to retrieve some image pull secrets (regcred); attempting to pull the image may not succeed."
    t = timeline(p, o.event(p, "FailedToRetrieveImagePullSecret", msg, count=3),
                 o.event(p, "Pulling", "Pulling image", container="init", section="initContainers"))
    assert t.secret_warnings == [msg]
    assert t.reasons["FailedToRetrieveImagePullSecret"].count == 3


def test_no_matching_events_means_expired_and_the_waiting_message_is_the_evidence() -> None:
    p = pod()
    t = timeline(p)
    assert t.events_expired and t.attempts is None and t.next_attempt is None
    assert any("waiting message is the evidence" in n for n in t.notes)
    t = timeline(p, events_listed=False)  # events not read at all: not "expired"
    assert not t.events_expired and any("no events in the input" in n for n in t.notes)


@pytest.mark.parametrize(("attempts", "step"), [(0, 0), (1, 10), (2, 20), (3, 40), (4, 80), (5, 160),
                                                 (6, 300), (7, 300), (1000, 300)])
def test_backoff_steps(attempts: int, step: int) -> None:
    assert backoff_step(attempts) == step
    assert backoff_step(1) == IMAGE_BACKOFF_INITIAL_SECONDS


def test_never_pull_has_no_backoff() -> None:
    p = o.pod("p", containers=[o.container("app", IMG, policy="Never")],
              statuses=[o.waiting("app", IMG, "ErrImageNeverPull", "not present")])
    t = timeline(p, o.event(p, "ErrImageNeverPull", f'Container image "{IMG}" is not present with pull policy '
                            "of Never", container="app", count=5))
    assert t.attempts == 0 and t.backoff_seconds is None
    assert t.last_failure_message.startswith("Container image")


def test_two_copies_of_one_event_keep_the_newest() -> None:
    """Snapshot.dedupe on events: the same uid twice (overlapping files) keeps the higher resourceVersion, whose
    count is the kubelet's latest (the lean Event metadata must carry resourceVersion for this)."""
    import json as _json

    from pulldoctor.cluster.model import decode_json
    from pulldoctor.cluster.snapshot import Snapshot

    def copy(rv: str, count: int) -> dict[str, object]:
        return {"kind": "Event", "metadata": {"name": "web.1", "namespace": "shop", "uid": "e-1",
                                              "resourceVersion": rv},
                "involvedObject": {"kind": "Pod", "name": "web", "namespace": "shop", "uid": "p-1"},
                "reason": "Failed", "message": "Failed to pull image", "count": count}

    snap = Snapshot()
    for doc in (copy("9", 7), copy("5", 1)):  # the newer one first: order must not matter
        snap.add(decode_json(_json.dumps({"kind": "List", "items": [doc]}).encode()).objects)
    snap.dedupe()
    assert [e.count for e in snap.events] == [7]
