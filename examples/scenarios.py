"""One scenario per known case: make the lab produce the real failure, then write what the cluster holds.

Each scenario pushes what it needs to the test lab (tests/lab), pulls through containerd's CRI plugin
(the kubelet's own call) to get the exact error text, and returns the pod, events, secrets and service
accounts the kubelet and the API server would show, plus what a correct diagnosis must say. Shared by
``generate.py`` (the bundled example) and tests/test_diagnose_e2e.py.

Three cases cannot be produced by the lab and use the kubelet's own text instead of a runtime's:
``never-pull`` and ``invalid-name`` (the kubelet fails before calling the runtime) and ``disk-full``
(containerd 1.6's extract error, research/kubelet-semantics.md §6).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import kubelet_objects as k

NODE = "node-a"            # linux/amd64, healthy
NODE_FULL = "node-b"       # linux/amd64, DiskPressure
FAKE_PASSWORD = "example-not-a-real-password"


@dataclass
class Built:
    name: str                                   # pod name (and scenario name)
    cause: str                                  # root cause a diagnosis with a working probe must find
    objects: list[dict[str, Any]]
    mentions: list[str] = field(default_factory=list)   # the fix must name these (secret, registry, tag…)
    message: str = ""                           # the runtime's error as the kubelet keeps it
    registry: str = ""                          # the lab address the image names (rewritten in the example)
    transient: bool = False                     # the registry serves the image by the time it is diagnosed


@dataclass
class Ctx:
    lab: Any
    ctrd: Any
    ns: str
    now: datetime
    password: str                               # what secrets hold for the lab's user (canary in tests)


def _pull(ctx: Ctx, image: str, creds: tuple[str, str] | None = None, timeout: float = 30) -> str:
    out = ctx.ctrd.pull(image, *(creds or (None, None)), timeout=timeout)
    if out.ok:
        raise RuntimeError(f"expected {image} to fail, it pulled")
    return out.kubelet_message


def _failing(ctx: Ctx, name: str, image: str, message: str, *, attempts: int = 6, node: str = NODE,
             **pod_kw: Any) -> list[dict[str, Any]]:
    """A Deployment's pod in ImagePullBackOff after ``attempts`` pulls, and its events."""
    reason = "ImagePullBackOff" if attempts > 1 else "ErrImagePull"
    waiting = k.backoff_message(image, message) if attempts > 1 else message
    pod_kw.setdefault("owner", ("ReplicaSet", f"{name}-7c9d8f6b5"))
    p = k.pod(ctx.ns, f"{name}-7c9d8f6b5-x2x4q", "app", image, reason=reason, message=waiting, node=node,
              created=ctx.now - timedelta(minutes=30), **pod_kw)
    return [p, *k.pull_failure_events(p, message, attempts=attempts, last=ctx.now - timedelta(seconds=95))]


def wrong_tag(ctx: Ctx) -> Built:
    reg = ctx.lab.open_registry
    for tag in ("1.4.0", "1.4.1", "1.5.0"):
        ctx.lab.push(reg, "shop/web", tag)
    image = f"{reg}/shop/web:1.4"
    msg = _pull(ctx, image)
    return Built("web", "tag_not_found", _failing(ctx, "web", image, msg), ["1.4.0", "shop/web"], msg, reg)


def wrong_name(ctx: Ctx) -> Built:
    reg = ctx.lab.open_registry
    ctx.lab.push(reg, "shop/cart", "2.0")
    image = f"{reg}/shop/crat:2.0"
    msg = _pull(ctx, image)
    return Built("cart", "repo_not_found", _failing(ctx, "cart", image, msg), ["shop/crat"], msg, reg)


def wrong_digest(ctx: Ctx) -> Built:
    reg = ctx.lab.open_registry
    ctx.lab.push(reg, "shop/search", "3.1")
    image = f"{reg}/shop/search@sha256:{'0' * 63}1"
    msg = _pull(ctx, image)
    return Built("search", "tag_not_found", _failing(ctx, "search", image, msg), ["sha256:"], msg, reg)


def _private(ctx: Ctx, repo: str) -> tuple[str, str]:
    reg = ctx.lab.auth_registry
    ctx.lab.push(reg, repo, "2.1", auth=(ctx.lab.user, ctx.lab.password))
    return reg, f"{reg}/{repo}:2.1"


def no_secret(ctx: Ctx) -> Built:
    reg, image = _private(ctx, "payments/api")
    msg = _pull(ctx, image)
    return Built("payments", "auth_missing", _failing(ctx, "payments", image, msg),
                 [f"--docker-server={reg}", "kubectl patch serviceaccount default", "kubectl patch deployment payments"],
                 msg, reg)


def secret_missing(ctx: Ctx) -> Built:
    reg, image = _private(ctx, "billing/worker")
    msg = _pull(ctx, image)
    objs = _failing(ctx, "billing", image, msg, pull_secrets=("acme-pull",))
    objs.append(k.missing_secret_event(objs[0], ("acme-pull",), ctx.now - timedelta(seconds=95)))
    objs.append(k.secret("ci", "acme-pull", {reg: (ctx.lab.user, ctx.password)}))
    return Built("billing", "auth_missing", objs, ["acme-pull", "-n ci"], msg, reg)


def secret_wrong_type(ctx: Ctx) -> Built:
    reg, image = _private(ctx, "orders/api")
    msg = _pull(ctx, image)
    objs = _failing(ctx, "orders", image, msg, pull_secrets=("orders-registry",))
    objs.append(k.secret(ctx.ns, "orders-registry", {reg: (ctx.lab.user, ctx.password)}, type_="Opaque"))
    return Built("orders", "auth_missing", objs, ["orders-registry", "Opaque"], msg, reg)


def secret_no_entry(ctx: Ctx) -> Built:
    reg, image = _private(ctx, "reports/gen")
    msg = _pull(ctx, image)
    objs = _failing(ctx, "reports", image, msg, service_account="reporter")
    objs.append(k.service_account(ctx.ns, "reporter", ("ghcr-token",)))
    objs.append(k.secret(ctx.ns, "ghcr-token", {"ghcr.io": ("bot", FAKE_PASSWORD)}))
    return Built("reports", "auth_missing", objs, ["ghcr-token", "ghcr.io", reg], msg, reg)


def wrong_password(ctx: Ctx) -> Built:
    reg, image = _private(ctx, "ledger/api")
    msg = _pull(ctx, image, (ctx.lab.user, "expired-" + FAKE_PASSWORD))
    objs = _failing(ctx, "ledger", image, msg, pull_secrets=("ledger-pull",))
    objs.append(k.secret(ctx.ns, "ledger-pull", {reg: (ctx.lab.user, "expired-" + FAKE_PASSWORD)}))
    return Built("ledger", "auth_invalid", objs, ["ledger-pull", reg], msg, reg)


def private_wrong_tag(ctx: Ctx) -> Built:
    """Good credentials (the canary password), missing tag: the probe must send them to see it."""
    reg, _ = _private(ctx, "vault/agent")
    image = f"{reg}/vault/agent:2.2"
    msg = _pull(ctx, image, (ctx.lab.user, ctx.password))
    objs = _failing(ctx, "vault", image, msg, pull_secrets=("vault-pull",))
    objs.append(k.secret(ctx.ns, "vault-pull", {reg: (ctx.lab.user, ctx.password)}))
    return Built("vault", "tag_not_found", objs, ["2.1"], msg, reg)


def bearer_wrong_password(ctx: Ctx) -> Built:
    """Token auth (Docker Hub style): the realm refuses the secret's password."""
    reg = ctx.lab.nginx
    ctx.lab.push(reg, "bearer/api", "3.0")
    image = f"{reg}/bearer/api:3.0"
    creds = (ctx.lab.user, "rotated-" + FAKE_PASSWORD)
    msg = _pull(ctx, image, creds)
    objs = _failing(ctx, "gateway", image, msg, pull_secrets=("gateway-pull",))
    objs.append(k.secret(ctx.ns, "gateway-pull", {reg: creds}))
    return Built("gateway", "auth_invalid", objs, ["gateway-pull"], msg, reg)


def pushed_since(ctx: Ctx) -> Built:
    """The tag was missing when the node pulled and has been pushed since: transient."""
    reg = ctx.lab.open_registry
    image = f"{reg}/shop/checkout:6.1"
    msg = _pull(ctx, image)
    ctx.lab.push(reg, "shop/checkout", "6.1")
    return Built("checkout", "tag_not_found", _failing(ctx, "checkout", image, msg, attempts=3),
                 ["kubectl delete pod checkout-"], msg, reg, transient=True)


def hub_private(ctx: Ctx) -> Built:
    reg = ctx.lab.nginx
    image = f"{reg}/hubmissing/app:latest"
    msg = _pull(ctx, image)
    return Built("hubapp", "auth_missing", _failing(ctx, "hubapp", image, msg), ["kubectl create secret"], msg, reg)


def rate_limited(ctx: Ctx) -> Built:
    reg = ctx.lab.nginx
    image = f"{reg}/toomany/app:1.0"
    msg = _pull(ctx, image)
    return Built("frontend", "rate_limited", _failing(ctx, "frontend", image, msg), [reg], msg, reg)


def forbidden(ctx: Ctx) -> Built:
    reg = ctx.lab.nginx
    image = f"{reg}/denied/app:1.0"
    msg = _pull(ctx, image)
    return Built("analytics", "forbidden", _failing(ctx, "analytics", image, msg), ["403"], msg, reg)


def dns(ctx: Ctx) -> Built:
    image = f"{ctx.lab.unresolvable}/shop/catalog:5.2"
    msg = _pull(ctx, image)
    return Built("catalog", "dns_failure", _failing(ctx, "catalog", image, msg),
                 [ctx.lab.unresolvable], msg, ctx.lab.unresolvable)


def refused(ctx: Ctx) -> Built:
    reg = ctx.lab.closed_port
    image = f"{reg}/tools/debug:1"
    msg = _pull(ctx, image)
    return Built("debug", "network_unreachable", _failing(ctx, "debug", image, msg), ["node itself"], msg, reg)


def tls_untrusted(ctx: Ctx) -> Built:
    reg = ctx.ctrd.tls_untrusted
    ctx.lab.push(reg, "secure/app", "1.0")
    image = f"{reg}/secure/app:1.0"
    msg = _pull(ctx, image)
    return Built("secure", "tls_error", _failing(ctx, "secure", image, msg),
                 [f"/etc/containerd/certs.d/{reg}/hosts.toml"], msg, reg)


def http_vs_https(ctx: Ctx) -> Built:
    reg = ctx.ctrd.https_to_http
    ctx.lab.push(ctx.lab.open_registry, "plain/app", "1.0")
    image = f"{reg}/plain/app:1.0"
    msg = _pull(ctx, image)
    return Built("plain", "http_vs_https", _failing(ctx, "plain", image, msg), [f'server = "http://{reg}"'],
                 msg, reg)


def platform(ctx: Ctx) -> Built:
    reg = ctx.lab.open_registry
    ctx.lab.push(reg, "edge/agent", "0.9", platforms=("linux/arm64",), index=True)
    image = f"{reg}/edge/agent:0.9"
    msg = _pull(ctx, image)
    return Built("edge", "platform_mismatch", _failing(ctx, "edge", image, msg), ["linux/arm64", "linux/amd64"],
                 msg, reg)


def slow(ctx: Ctx) -> Built:
    """A stalled layer download; the kubelet sees what containerd returns when its deadline cancels it."""
    reg = ctx.lab.nginx
    repo = ctx.lab.fresh_repo("slow", "ml-model")
    ctx.lab.push(reg, repo, "7", layer_bytes=512 * 1024)
    image = f"{reg}/{repo}:7"
    out = ctx.ctrd.pull(image, timeout=3)
    if out.ok:
        raise RuntimeError(f"expected {image} to stall, it pulled")
    msg = _canceled_from_log(ctx, image)
    return Built("model", "pull_timeout_or_progress_deadline", _failing(ctx, "model", image, msg, attempts=3),
                 ["image_pull_progress_timeout"], msg, reg)


def _canceled_from_log(ctx: Ctx, image: str, wait: float = 15.0) -> str:
    """containerd's own error for the cancelled pull (not code Unknown: the kubelet keeps the rpc prefix)."""
    import time

    # containerd reports the cancelled context as Canceled or, when the client's deadline reached it
    # first, DeadlineExceeded; both are what a node's kubelet shows for a pull cut short.
    pattern = re.compile(r'error="(rpc error: code = (?:Canceled|DeadlineExceeded) desc = failed to pull and unpack image '
                         + re.escape(f'\\"{image}\\"') + r'[^"]*(?:\\"[^"]*)*?)"\s*$', re.MULTILINE)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:  # bounded: containerd logs the cancel right after the deadline
        m = pattern.search(ctx.ctrd.log_text())
        if m:
            return m.group(1).replace('\\"', '"')
        time.sleep(0.1)
    tail = [line for line in ctx.ctrd.log_text().splitlines() if image in line][-3:]
    raise RuntimeError(f"containerd logged no cancelled pull for {image}: {tail}")


def never_pull(ctx: Ctx) -> Built:
    image = f"{ctx.lab.open_registry}/tools/migrate:3.3"
    msg = f'Container image "{image}" is not present with pull policy of Never'
    p = k.pod(ctx.ns, "migrate-6b7c9-q8w2e", "app", image, reason="ErrImageNeverPull", message=msg, node=NODE,
              policy="Never", owner=("ReplicaSet", "migrate-6b7c9"), created=ctx.now - timedelta(minutes=20))
    return Built("migrate", "never_pull_absent",
                 [p, *k.never_pull_events(p, count=12, last=ctx.now - timedelta(seconds=40))],
                 ["IfNotPresent"], msg, ctx.lab.open_registry)


def invalid_name(ctx: Ctx) -> Built:
    image = f"{ctx.lab.open_registry}/Shop/Legacy:1.0"
    detail = "invalid reference format: repository name (Shop/Legacy) must be lowercase"
    msg = f'Failed to apply default image tag "{image}": couldn\'t parse image name "{image}": {detail}'
    p = k.pod(ctx.ns, "legacy-5f6d7-p9k3m", "app", image, reason="InvalidImageName", message=msg, node=NODE,
              owner=("ReplicaSet", "legacy-5f6d7"), created=ctx.now - timedelta(minutes=20))
    return Built("legacy", "invalid_image_name",
                 [p, *k.inspect_failed_events(p, msg, count=9, last=ctx.now - timedelta(seconds=30))],
                 ["lowercase"], msg, ctx.lab.open_registry)


def disk_full(ctx: Ctx) -> Built:
    reg = ctx.lab.open_registry
    pushed = ctx.lab.push(reg, "data/etl", "4.0", layer_bytes=64 * 1024)
    image = f"{reg}/data/etl:4.0"
    layer = pushed.layer_digests[0]
    msg = (f'failed to pull and unpack image "{image}": failed to extract layer {layer}: write '
           f"/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/412/fs/usr/lib/libetl.so: "
           "no space left on device: unknown")
    return Built("etl", "disk_full", _failing(ctx, "etl", image, msg, node=NODE_FULL, attempts=4),
                 ["crictl rmi --prune", NODE_FULL], msg, reg)


SCENARIOS: tuple[Callable[[Ctx], Built], ...] = (
    wrong_tag, wrong_name, wrong_digest, no_secret, secret_missing, secret_wrong_type, secret_no_entry,
    wrong_password, bearer_wrong_password, private_wrong_tag, pushed_since, hub_private, rate_limited, forbidden, dns, refused, tls_untrusted,
    http_vs_https, platform, slow, never_pull, invalid_name, disk_full,
)


def cluster_objects(ns: str) -> list[dict[str, Any]]:
    """What every scenario shares: the nodes and the namespace's default service account."""
    return [k.node(NODE), k.node(NODE_FULL, disk_pressure=True), k.service_account(ns, "default")]


def make_ctx(lab: Any, ctrd: Any, ns: str = "shop", password: str | None = None) -> Ctx:
    return Ctx(lab, ctrd, ns, datetime.now(UTC).replace(microsecond=0), password or lab.password)
