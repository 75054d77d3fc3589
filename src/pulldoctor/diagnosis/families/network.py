"""DNS, connect, TLS and HTTP vs HTTPS: the node's own view (a probe from here can confirm, not refute), and
the resolver, route, CA or hosts.toml that fixes it.
"""

from __future__ import annotations

import re

from pulldoctor.causes import Cause
from pulldoctor.diagnosis.evidence import Evidence, hostname
from pulldoctor.diagnosis.families.base import CERTAIN, LIKELY, NETWORK, POSSIBLE, C, Family, by_cause
from pulldoctor.diagnosis.families.verdicts import probe_cause
from pulldoctor.diagnosis.kubectl import host_of, q, runtime_unit
from pulldoctor.diagnosis.lines import base_lines, no_probe_settle, probe_detail, probe_line
from pulldoctor.diagnosis.model import EvidenceLine, Fix, Verdict
from pulldoctor.reference import is_loopback_host


def network(ev: Evidence, claimed: Cause) -> Verdict:
    """DNS, connect, TLS and HTTP-vs-HTTPS: the node's own view; a probe from here can confirm, not refute."""
    host = ev.registry or "the registry"
    loopback = is_loopback_host(host)
    lines = base_lines(ev)
    if loopback:
        lines.append(EvidenceLine("reference", f"{host} is a loopback address: on a node it means the node "
                                               "itself, not your machine or the registry's host"))
    summaries = {
        C.DNS_FAILURE: f"The node cannot resolve {hostname(host)}.",
        C.NETWORK_UNREACHABLE: f"The node cannot connect to {host}.",
        C.TLS_ERROR: f"The node does not trust {host}'s TLS certificate (or the TLS handshake fails).",
        C.HTTP_VS_HTTPS: f"The node and {host} disagree on HTTP vs HTTPS.",
    }
    summary = summaries.get(claimed, f"The node cannot reach {host}.")
    pc = probe_cause(ev)
    if ev.probe is None:
        lines2, settle = no_probe_settle(ev, "DNS, TCP and TLS from here")
        return Verdict(claimed, LIKELY, summary, [*lines, *lines2], settle=settle, rule="network")
    lines.append(probe_line(ev))
    if pc == claimed:
        note = [] if not loopback else ["the probe ran on this machine's loopback, not the node's"]
        return Verdict(claimed, LIKELY if loopback else CERTAIN, summary, lines, note, rule="network")
    if pc in (C.DNS_FAILURE, C.NETWORK_UNREACHABLE) and claimed not in (C.DNS_FAILURE, C.NETWORK_UNREACHABLE):
        # The probe stopped before the step the node failed at: it proves nothing either way.
        lines[-1] = EvidenceLine("probe", f"could not probe {host}: {probe_detail(ev)}")
        return Verdict(claimed, LIKELY, summary, lines,
                       settle=[f"a probe that reaches {host} (TLS and scheme from here) would settle it"],
                       rule="network")
    if claimed == C.TLS_ERROR and pc == C.HTTP_VS_HTTPS and loopback:
        # Loopback registries are probed over plain HTTP by default (as containerd does without a
        # hosts.toml); the node evidently uses HTTPS, so the probe never reached the TLS step.
        lines[-1] = EvidenceLine("probe", f"the probe spoke plain HTTP to {host} (loopback counts as insecure); "
                                          "it did not test TLS")
        return Verdict(claimed, LIKELY, summary, lines,
                       settle=[f"probing https://{host} with --ca-file would show which CA it needs"],
                       rule="network")
    if pc is None or pc not in NETWORK:
        return Verdict(claimed, LIKELY, summary, lines,
                       [f"{host} answers from where pulldoctor runs; the node's DNS, network, proxy or CA "
                        "differ (or the failure was transient)"],
                       settle=["resolve and connect from the node itself (or a pod on it)"], rule="network")
    return Verdict(claimed, POSSIBLE, summary, lines,
                   [f"the probe from here finds {pc.value} instead"], rule="network")


def _network(ev: Evidence, v: Verdict) -> list[Fix]:
    host = host_of(ev)
    name = hostname(host)
    node = ev.node.name if ev.node else "NODE"
    steps: list[Fix] = []
    if is_loopback_host(host):
        steps.append(Fix(f"{host} is the node itself: a registry on your machine or in the cluster needs an "
                         "address the node can reach (a Service's DNS name won't resolve on the node either; "
                         "use a node port or a name in the node's resolver)."))
    if v.cause == C.DNS_FAILURE:
        steps.append(Fix(f"Make {name} resolve on node {node} (spelling, private DNS zone, the node's "
                         "/etc/resolv.conf):", (f"getent hosts {q(name)}   # on {node}",)))
    elif is_loopback_host(host):
        port = host.rsplit(":", 1)[1] if host.count(":") == 1 or (host.startswith("[") and "]:" in host) else ""
        steps.append(Fix(f"Check that a registry listens on {host} on node {node} itself:",
                         ((f"ss -ltn 'sport = :{port}'   # on {node}",) if port else ())
                         + (f"curl -sv {_scheme_of(ev)}://{host}/v2/   # on {node}",)))
    else:
        steps.append(Fix(f"Check the route from node {node} to {host}: firewall, security groups, and an HTTP(S) "
                         "proxy (HTTPS_PROXY / NO_PROXY in the runtime's service environment):",
                         (f"curl -sv {_scheme_of(ev)}://{host}/v2/   # on {node}",
                          f"systemctl show {runtime_unit(ev)} --property=Environment   # on {node}")))
    return steps


def _scheme_of(ev: Evidence) -> str:
    """The scheme the node used, from the URL in its message (containerd uses plain HTTP for localhost)."""
    m = re.search(r'"(https?)://' + re.escape(host_of(ev)) + "/", ev.message or "")
    if m:
        return m.group(1)
    return "http" if is_loopback_host(host_of(ev)) else "https"


def _hosts_toml(host: str, server: str, extra: str) -> str:
    """A shell line writing containerd's hosts.toml for ``host`` (needs the CRI plugin's
    ``config_path = "/etc/containerd/certs.d"``, the default in containerd 2.x packages)."""
    d = f"/etc/containerd/certs.d/{host}"
    body = f'server = "{server}"\\n[host."{server}"]\\n  capabilities = ["pull", "resolve"]\\n{extra}'
    return f"mkdir -p {q(d)} && printf '{body}' > {q(d + '/hosts.toml')}"


def _tls(ev: Evidence, v: Verdict) -> list[Fix]:
    """Go's x509 errors say which check failed: trusting a CA does not help an expired certificate or one
    issued for other names, so those get their own fix."""
    host = host_of(ev)
    ca = f"/etc/containerd/certs.d/{host}/ca.crt"
    msg = ev.message or ""
    connect = f"{host if ':' in host else host + ':443'}"
    if "certificate has expired or is not yet valid" in msg:
        node = ev.node.name if ev.node else "NODE"
        return [Fix(f"{host}'s certificate is outside its validity dates as the node sees them: renew it on "
                    f"the registry, or fix the clock of node {node} if it is wrong. Its dates, and the node's time:",
                    (f"openssl s_client -connect {connect} </dev/null 2>/dev/null | openssl x509 -noout -dates",
                     f"date -u   # on {node}"))]
    if "x509: certificate is valid for" in msg:
        return [Fix(f"{host}'s certificate is issued for other names: reissue it with {hostname(host)} in its "
                    "subjectAltName, or pull by one of the names it has. The names it has:",
                    (f"openssl s_client -connect {connect} </dev/null 2>/dev/null | openssl x509 -noout -ext "
                     "subjectAltName",))]
    return [
        Fix(f"See who signed {host}'s certificate and for which names:",
            (f"openssl s_client -connect {connect} -showcerts </dev/null",)),
        Fix(f"On each node, trust that CA for {host} (containerd: hosts.toml in its config_path, then no "
            "restart is needed; CRI-O/podman: /etc/containers/certs.d; Docker: /etc/docker/certs.d), or "
            "fix the certificate's name:",
            (_hosts_toml(host, f"https://{host}", f'  ca = "{ca}"\\n') + f"   # then copy the CA to {ca}",
             f"mkdir -p /etc/containers/certs.d/{host} && cp ca.crt /etc/containers/certs.d/{host}/ca.crt",
             f"mkdir -p /etc/docker/certs.d/{host} && cp ca.crt /etc/docker/certs.d/{host}/ca.crt")),
    ]


def _scheme(ev: Evidence, v: Verdict) -> list[Fix]:
    host = host_of(ev)
    if "HTTP response to HTTPS client" in (ev.message or ""):
        # CRI-O reads drop-ins from /etc/containers/registries.conf.d (containers-registries.conf.d(5)) and
        # reloads them on SIGHUP (systemctl reload crio).
        conf = f"/etc/containers/registries.conf.d/{re.sub(r'[^A-Za-z0-9.-]+', '-', host)}.conf"
        body = f'[[registry]]\\nlocation = "{host}"\\ninsecure = true\\n'
        return [Fix(f"{host} serves plain HTTP while the node speaks HTTPS: put TLS in front of it, or tell "
                    "the runtime on each node to use HTTP for it (containerd: the hosts.toml below; CRI-O: the "
                    "registries.conf.d drop-in, then reload crio):",
                    (_hosts_toml(host, f"http://{host}", ""),
                     f"printf '{body}' > {q(conf)} && systemctl reload crio"))]
    return [Fix(f"{host} speaks HTTPS but the runtime uses plain HTTP for it: remove that setting (containerd: "
                "the server line of its hosts.toml):", (_hosts_toml(host, f"https://{host}", ""),))]


NETWORK_FAMILY = Family("network", NETWORK, "DNS, connect, TLS, HTTP vs HTTPS; loopback means the node", network,
                        by_cause({C.TLS_ERROR: _tls, C.HTTP_VS_HTTPS: _scheme}, _network))
