"""429 / toomanyrequests and the kubelet's own pull QPS: a HEAD reads the remaining budget; the fix
authenticates, mirrors or raises the kubelet's limit.
"""

from __future__ import annotations

from pulldoctor.causes import Cause
from pulldoctor.diagnosis.evidence import Evidence
from pulldoctor.diagnosis.families.base import CERTAIN, C, Family
from pulldoctor.diagnosis.families.verdicts import disagree, from_message_only, probe_cause, probe_state
from pulldoctor.diagnosis.kubectl import DOCKER_HUB, create_secret, host_of, patch_secret_in
from pulldoctor.diagnosis.lines import base_lines, keyring_lines, probe_line, ratelimit_text
from pulldoctor.diagnosis.model import EvidenceLine, Fix, Verdict
from pulldoctor.nodelogs import Kind
from pulldoctor.redact import printable


def kubelet_qps_limited(ev: Evidence) -> bool:
    """The kubelet's own registryPullQPS refused the pull (its message or its log says so): no request left
    the node, so the registry's answer (now or then) says nothing about it."""
    return "pull QPS exceeded" in (ev.message or "") or any(h.kind == Kind.QPS for h in ev.log_hits)


def _qps_values(ev: Evidence) -> str:
    """The node's registryPullQPS / registryBurst as read (flag or config file), with the defaults."""
    log = ev.node_log
    if log is None:
        return ""
    parts = []
    for flag, key, default in (("--registry-qps", "registryPullQPS", "5"), ("--registry-burst", "registryBurst", "10")):
        s = log.settings.kubelet.get(flag) or log.settings.kubelet.get(key)
        parts.append(f"{key} is {printable(s.value or '?')} (set in {s.where})" if s is not None
                     else f"{key} is not set (default {default})")
    serial = log.settings.kubelet.get("--serialize-image-pulls") or log.settings.kubelet.get("serializeImagePulls")
    if serial is not None:
        parts.append(f"serializeImagePulls is {printable(serial.value or '?')}")
    return f" On {log.node}: " + "; ".join(parts) + "."


def rate_limit(ev: Evidence, claimed: Cause) -> Verdict:
    """429 / toomanyrequests (or the kubelet's own pull QPS): a HEAD reads the remaining budget."""
    if kubelet_qps_limited(ev):
        return Verdict(C.RATE_LIMITED, CERTAIN,
                       "The kubelet's own registryPullQPS limit refused the pull (no request left the node).",
                       base_lines(ev), rule="rate_limit")
    state = probe_state(ev)
    if state in ("skipped", "unreachable"):
        return from_message_only(ev, C.RATE_LIMITED, f"{ev.registry} rate-limits the pulls (429).",
                                  "rate_limit", "a HEAD reads the remaining budget without spending a pull",
                                  keyring_lines(ev))
    lines = [*base_lines(ev), probe_line(ev), *keyring_lines(ev)]
    rl = ratelimit_text(ev)
    if rl:
        lines.append(EvidenceLine("probe", rl))
    if probe_cause(ev) == C.RATE_LIMITED:
        return Verdict(C.RATE_LIMITED, CERTAIN, f"{ev.registry} rate-limits the pulls (429 now too).",
                       lines, rule="rate_limit")
    return disagree(ev, claimed, "rate_limit")


def _rate(ev: Evidence, v: Verdict) -> list[Fix]:
    host = host_of(ev)
    steps: list[Fix] = []
    budget = ratelimit_text(ev)
    if budget:
        steps.append(Fix(f"{host} reports {budget.removeprefix('rate limit: ')}."))
    if kubelet_qps_limited(ev):
        return [Fix("Raise the kubelet's registryPullQPS / registryBurst (KubeletConfiguration, or the flags "
                    "--registry-qps / --registry-burst: on EKS the node group's --kubelet-extra-args), or pull "
                    f"fewer images at once; 0 means no limit.{_qps_values(ev)}",
                    ("systemctl restart kubelet   # on the node, after the change",) if ev.node_log else ())]
    if host in DOCKER_HUB or "docker.com/increase-rate-limit" in (ev.message or ""):
        steps.append(Fix("Authenticate the pulls (an account's limit is higher than the anonymous per-IP one):",
                         (create_secret(ev, "dockerhub"), *[f.commands[0] for f in patch_secret_in(ev, "dockerhub")
                                                             if f.commands][:1])))
        steps.append(Fix("Or pull through a cache/mirror: a registry in proxy mode and a containerd hosts.toml "
                         "for docker.io (/etc/containerd/certs.d/docker.io/hosts.toml, "
                         'server = "https://registry-1.docker.io", [host."https://MIRROR"] capabilities = '
                         '["pull", "resolve"]).'))
    else:
        steps.append(Fix(f"{host} limits the pull rate: authenticate, spread the rollout, or pull through a cache."))
    return steps


RATE_LIMIT = Family("rate_limit", frozenset({C.RATE_LIMITED}), "429: the remaining budget from a HEAD", rate_limit,
                    _rate)
