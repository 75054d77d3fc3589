"""The probe agrees with a real node: for each lab case, containerd's CRI PullImage (the kubelet's call) fails
or succeeds as the probe says, and its error text is the one the probe's cause stands for.

This is the check behind "never wrong with confidence": the probe's verdict is compared with the runtime's
own, not with our expectations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from lab import Lab
from pulldoctor.causes import Cause
from pulldoctor.keyring import Credential
from pulldoctor.registry import ProbeOptions, probe_sync

pytestmark = [pytest.mark.lab, pytest.mark.containerd]

#: What containerd 1.6 says for each cause (research/real-components.md §4).
RUNTIME_TEXT: dict[Cause, tuple[str, ...]] = {
    Cause.TAG_NOT_FOUND: (": not found",),
    Cause.REPO_NOT_FOUND: (": not found", "pull access denied"),
    Cause.PLATFORM_MISMATCH: ("no match for platform",),
    Cause.AUTH_MISSING: ("401 Unauthorized", "failed to fetch anonymous token"),
    Cause.AUTH_INVALID: ("401 Unauthorized", "failed to fetch oauth token"),
    Cause.REPO_NOT_FOUND_OR_NO_ACCESS: ("pull access denied",),
    Cause.FORBIDDEN: ("403 Forbidden",),
    Cause.RATE_LIMITED: ("429 Too Many Requests",),
    Cause.REGISTRY_SERVER_ERROR: ("500 Internal Server Error", "503 Service"),  # nginx: "Temporarily Unavailable"
    Cause.NETWORK_UNREACHABLE: ("connection refused",),
    Cause.DNS_FAILURE: ("no such host",),
    Cause.TLS_ERROR: ("x509: ",),
    Cause.HTTP_VS_HTTPS: ("server gave HTTP response to HTTPS client", "400 Bad Request"),
}


@dataclass
class Case:
    name: str
    image: str
    expected: Cause | None
    credential: Credential | None = None
    https: list[str] = field(default_factory=list)
    ca_file: str | None = None
    platform: str = "linux/amd64"


def cases(lab: Lab, ctrd: object) -> list[Case]:
    alice = Credential(lab.user, lab.password)
    ok = lab.push(lab.nginx, lab.fresh_repo("parity"), "v1")
    arm = lab.push(lab.nginx, lab.fresh_repo("parity"), "v1", platforms=("linux/arm64",), index=True)
    private = lab.push(lab.auth_registry, lab.fresh_repo("parity"), "v1", auth=(lab.user, lab.password))
    bearer = lab.push(lab.nginx, lab.fresh_repo("bearer"), "v1")
    tls_repo = lab.fresh_repo("parity")
    lab.push(lab.open_registry, tls_repo, "v1")
    untrusted, trusted = ctrd.tls_untrusted, ctrd.tls_trusted  # type: ignore[attr-defined]
    wrongname, https_to_http = ctrd.tls_wrongname, ctrd.https_to_http  # type: ignore[attr-defined]
    return [
        Case("pullable", ok.ref, None),
        Case("tag missing", f"{lab.nginx}/{ok.repo}:v2", Cause.TAG_NOT_FOUND),
        Case("repository missing", f"{lab.nginx}/{lab.fresh_repo('nosuch')}:v1", Cause.REPO_NOT_FOUND),
        Case("platform", arm.ref, Cause.PLATFORM_MISMATCH),
        Case("basic, no credentials", private.ref, Cause.AUTH_MISSING),
        Case("basic, wrong credentials", private.ref, Cause.AUTH_INVALID, Credential(lab.user, "wrong")),
        Case("basic, right credentials", private.ref, None, alice),
        Case("bearer, right credentials", bearer.ref, None, alice),
        Case("bearer, wrong credentials", bearer.ref, Cause.AUTH_INVALID, Credential(lab.user, "wrong")),
        Case("hub-like missing", f"{lab.nginx}/{lab.fresh_repo('hubmissing')}:v1", Cause.REPO_NOT_FOUND_OR_NO_ACCESS),
        Case("forbidden", f"{lab.nginx}/{lab.fresh_repo('denied')}:v1", Cause.FORBIDDEN),
        Case("rate limited", f"{lab.nginx}/{lab.fresh_repo('toomany')}:v1", Cause.RATE_LIMITED),
        Case("server error", f"{lab.nginx}/{lab.fresh_repo('error503')}:v1", Cause.REGISTRY_SERVER_ERROR),
        Case("refused", f"{lab.closed_port}/a/b:v1", Cause.NETWORK_UNREACHABLE),
        Case("dns", f"{lab.unresolvable}/a/b:v1", Cause.DNS_FAILURE),
        Case("tls untrusted", f"{untrusted}/{tls_repo}:v1", Cause.TLS_ERROR, https=[untrusted]),
        Case("tls trusted", f"{trusted}/{tls_repo}:v1", None, https=[trusted], ca_file=str(lab.ca_cert)),
        Case("tls wrong name", f"{wrongname}/{tls_repo}:v1", Cause.TLS_ERROR, https=[wrongname],
             ca_file=str(lab.wrongname_cert)),
        Case("https to http", f"{https_to_http}/{tls_repo}:v1", Cause.HTTP_VS_HTTPS, https=[https_to_http]),
        Case("http to https", f"{ctrd.http_to_https}/{tls_repo}:v1", Cause.HTTP_VS_HTTPS),  # type: ignore[attr-defined]
    ]


def test_probe_verdicts_match_containerd(lab: Lab, containerd: object) -> None:
    disagreements = []
    for case in cases(lab, containerd):
        opts = ProbeOptions.build(https_registries=case.https, ca_file=case.ca_file, request_timeout=5.0,
                                  connect_timeout=3.0)
        creds = [case.credential] if case.credential else []
        res = probe_sync(case.image, credentials=creds, platform=case.platform, options=opts)
        user = case.credential.username if case.credential else None
        password = case.credential.password if case.credential else None
        pulled = containerd.pull(case.image, user, password, timeout=20)  # type: ignore[attr-defined]
        if res.cause is not case.expected:
            disagreements.append(f"{case.name}: probe said {res.cause}, expected {case.expected}")
        elif (res.cause is None) != pulled.ok:
            disagreements.append(f"{case.name}: probe said {res.cause}, containerd ok={pulled.ok}")
        elif res.cause is not None and not any(t in pulled.kubelet_message for t in RUNTIME_TEXT[res.cause]):
            disagreements.append(f"{case.name}: {res.cause} but containerd said {pulled.kubelet_message[:200]!r}")
        if pulled.ok:
            containerd.remove(case.image)  # type: ignore[attr-defined]
    assert not disagreements, "\n".join(disagreements)
