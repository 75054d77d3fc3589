"""Which containers cannot get their image: init, regular and ephemeral, every image waiting reason;
everything else that is stuck (unschedulable, CrashLoopBackOff, …) counted apart, never as an image failure."""

from __future__ import annotations

import pytest

from kubeapi import objects as o
from pulldoctor.causes import IMAGE_WAITING_REASONS
from pulldoctor.cluster import Snapshot, find_failing
from pulldoctor.cluster.model import convert_python


def snap(*objs: dict) -> Snapshot:
    s = Snapshot()
    for obj in objs:
        s.add(convert_python(obj).objects)
    return s


@pytest.mark.parametrize("reason", sorted(IMAGE_WAITING_REASONS))
def test_every_image_waiting_reason_is_a_failure(reason: str) -> None:
    p = o.pod("p", containers=[o.container("app", "reg.example/app:1")],
              statuses=[o.waiting("app", "reg.example/app:1", reason, f"message for {reason}")])
    rep = find_failing(snap(p))
    assert [(f.container, f.waiting_reason, f.waiting_message) for f in rep.failing] == [
        ("app", reason, f"message for {reason}")]
    assert rep.not_image == {}


def test_init_regular_and_ephemeral_containers() -> None:
    p = o.pod(
        "p", namespace="shop", owner=("ReplicaSet", "p-7d9"),
        init_containers=[o.container("migrate", "reg.example/migrate:2", policy="Always")],
        containers=[o.container("app", "reg.example/app:1"), o.container("side", "reg.example/side:1")],
        ephemeral_containers=[o.container("debug", "busybox", policy=None)],
        init_statuses=[o.waiting("migrate", "reg.example/migrate:2", "ImagePullBackOff", "Back-off pulling image")],
        statuses=[o.waiting("app", "reg.example/app:1", "PodInitializing"),
                  o.waiting("side", "reg.example/side:1", "ErrImagePull", "boom")],
        ephemeral_statuses=[o.waiting("debug", "docker.io/library/busybox:latest", "InvalidImageName", "bad")],
    )
    rep = find_failing(snap(p))
    got = {(f.container, f.container_type, f.image, f.pull_policy, f.pull_policy_defaulted) for f in rep.failing}
    assert got == {
        ("migrate", "init", "reg.example/migrate:2", "Always", False),
        ("side", "regular", "reg.example/side:1", "IfNotPresent", False),
        # no policy in the spec: the API server's default (no tag → Always); spec image, not status image
        ("debug", "ephemeral", "busybox", "Always", True),
    }
    debug = next(f for f in rep.failing if f.container == "debug")
    assert debug.status_image == "docker.io/library/busybox:latest"
    assert all(f.owner == ("ReplicaSet", "p-7d9") and f.namespace == "shop" for f in rep.failing)
    assert rep.not_image == {"PodInitializing": 1}


@pytest.mark.parametrize(("image", "policy"), [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.25", "IfNotPresent"),
    ("nginx@sha256:" + "a" * 64, "IfNotPresent"), ("reg.example:5000/a/b:latest", "Always"),
    ("reg.example:5000/a/b", "Always"), ("reg.example:5000/a/b:2", "IfNotPresent"),
])
def test_default_pull_policy_when_the_spec_has_none(image: str, policy: str) -> None:
    p = o.pod("p", containers=[o.container("app", image, policy=None)],
              statuses=[o.waiting("app", image, "ErrImagePull")])
    (f,) = find_failing(snap(p)).failing
    assert (f.pull_policy, f.pull_policy_defaulted) == (policy, True)


def test_other_stuck_pods_are_counted_apart() -> None:
    objs = [
        o.pod("unsched", unschedulable=True, node=None),
        o.pod("crash", phase="Running", statuses=[o.waiting("app", "nginx:1.25", "CrashLoopBackOff", restarts=7)]),
        o.pod("config", statuses=[o.waiting("app", "nginx:1.25", "CreateContainerConfigError", "secret x not found")]),
        o.pod("creating", statuses=[o.waiting("app", "nginx:1.25", "ContainerCreating")]),
        o.pod("sandbox"),  # scheduled, Pending, no container status yet (sandbox, volumes)
        o.pod("fine", phase="Running", statuses=[o.running("app", "nginx:1.25")]),
        o.pod("pull", statuses=[o.waiting("app", "nginx:1.25", "ImagePullBackOff")]),
    ]
    rep = find_failing(snap(*objs))
    assert [f.pod for f in rep.failing] == ["pull"]
    assert rep.not_image == {"Unschedulable": 1, "CrashLoopBackOff": 1, "CreateContainerConfigError": 1,
                             "ContainerCreating": 1, "Pending": 1}
    assert rep.pods_seen == len(objs)


def test_a_pod_with_an_image_failure_and_a_crash_counts_both_apart() -> None:
    p = o.pod("p", phase="Running", containers=[o.container("a", "x:1"), o.container("b", "y:1")],
              statuses=[o.waiting("a", "x:1", "ErrImagePull"), o.waiting("b", "y:1", "CrashLoopBackOff")])
    rep = find_failing(snap(p))
    assert [f.container for f in rep.failing] == ["a"]
    assert rep.not_image == {"CrashLoopBackOff": 1}


def test_filter_by_pod_name_and_namespace() -> None:
    objs = [o.pod(n, namespace=ns, statuses=[o.waiting("app", "nginx:1.25", "ErrImagePull")])
            for n, ns in (("a", "x"), ("b", "x"), ("a", "y"))]
    s = snap(*objs)
    assert sorted((f.namespace, f.pod) for f in find_failing(s, "a").failing) == [("x", "a"), ("y", "a")]
    assert [(f.namespace, f.pod) for f in find_failing(s, "a", namespace="y").failing] == [("y", "a")]
    rep = find_failing(s, "zzz")
    assert rep.failing == [] and any("no pod named zzz" in n for n in rep.notes)


def test_node_context() -> None:
    p = o.pod("p", node="n1", statuses=[o.waiting("app", "nginx:1.25", "ErrImageNeverPull")])
    n = o.node("n1", arch="arm64", images=["docker.io/library/redis:7"], disk_pressure=True)
    (f,) = find_failing(snap(p, n)).failing
    ni = f.node_info
    assert ni is not None and (ni.os, ni.arch, ni.disk_pressure) == ("linux", "arm64", True)
    assert "docker.io/library/redis:7" in (ni.images or ())
    assert ni.runtime_version == "containerd://1.7.24" and ni.kubelet_version == "v1.31.4"
    (g,) = find_failing(snap(p)).failing  # node not in the snapshot: name only, nothing invented
    assert g.node_info is not None and g.node_info.images is None and g.node_info.arch is None
