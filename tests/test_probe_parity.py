"""The probe agrees with a real node: for each lab case, containerd's CRI PullImage (the kubelet's call) fails
or succeeds as the probe says, and its error text is the one the probe's cause stands for.

This is the check behind "never wrong with confidence": the probe's verdict is compared with the runtime's
own, not with our expectations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lab import Lab
from parts import need
from pulldoctor.causes import Cause
from pulldoctor.keyring import Credential
from pulldoctor.registry import ProbeOptions, probe_sync

pytestmark = [pytest.mark.lab, pytest.mark.containerd]

#: The lab's containerd is Debian 12's: the probe follows that version's rules (loopback stays plain HTTP).
LAB_CONTAINERD = "containerd://1.6.20"

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
        Case("tls expired", f"{ctrd.tls_expired}/{tls_repo}:v1", Cause.TLS_ERROR,  # type: ignore[attr-defined]
             https=[ctrd.tls_expired], ca_file=str(lab.expired_ca_cert)),  # type: ignore[attr-defined]
    ]


def _disagreement(case: Case, res: object, pulled: object) -> str | None:
    """Why the probe's verdict and containerd's CRI pull of the same case disagree (None: they agree)."""
    cause, ok, said = res.cause, pulled.ok, pulled.kubelet_message  # type: ignore[attr-defined]
    if cause is not case.expected:
        return f"{case.name}: probe said {cause}, expected {case.expected}"
    if (cause is None) != ok:
        return f"{case.name}: probe said {cause}, containerd ok={ok}"
    if cause is not None and not any(t in said for t in RUNTIME_TEXT[cause]):
        return f"{case.name}: {cause} but containerd said {said[:200]!r}"
    return None


def test_probe_verdicts_match_containerd(lab: Lab, containerd: object) -> None:
    disagreements = []
    for case in cases(lab, containerd):
        opts = ProbeOptions.build(https_registries=case.https, ca_file=case.ca_file, runtime=LAB_CONTAINERD, request_timeout=5.0,
                                  connect_timeout=3.0)
        creds = [case.credential] if case.credential else []
        res = probe_sync(case.image, credentials=creds, platform=case.platform, options=opts)
        user = case.credential.username if case.credential else None
        password = case.credential.password if case.credential else None
        pulled = containerd.pull(case.image, user, password, timeout=20)  # type: ignore[attr-defined]
        if (why := _disagreement(case, res, pulled)) is not None:
            disagreements.append(why)
        if pulled.ok:
            containerd.remove(case.image)  # type: ignore[attr-defined]
    assert not disagreements, "\n".join(disagreements)


# -- the node's own registry config: the very hosts.toml files containerd reads --------------------------------


def _hosts_dir(lab: Lab, tmp: Path) -> Path:
    """The lab containerd's certs.d, written again by the same function (same files, same content)."""
    from lab.containerd import _write_hosts

    tmp.mkdir(parents=True, exist_ok=True)
    _write_hosts(tmp, lab)
    return tmp


def _containerd_certs_d(ctrd: object) -> Path | None:
    """containerd's own certs.d (next to its socket unless the root path was too long for a socket)."""
    d = Path(ctrd.socket_path).parent / "certs.d"  # type: ignore[attr-defined]
    return d if d.is_dir() else None


def test_hosts_dir_gives_the_probe_containerds_verdicts(lab: Lab, containerd: object, tmp_path: Path) -> None:
    """No --https-registry/--ca-file hints: only the hosts.toml files containerd uses. Every case, the
    TLS and scheme ones included, must come out as containerd's CRI pull does."""
    hosts_dir = _hosts_dir(lab, tmp_path / "certs.d")
    real = _containerd_certs_d(containerd)
    if real is not None:  # the copy is byte-identical to what containerd reads
        for f in real.glob("*/hosts.toml"):
            assert (hosts_dir / f.parent.name / "hosts.toml").read_text() == f.read_text()
    opts = ProbeOptions.build(hosts_dir=str(hosts_dir), runtime=LAB_CONTAINERD, request_timeout=5.0, connect_timeout=3.0)
    disagreements = []
    seen: set[Cause | None] = set()
    for case in cases(lab, containerd):
        creds = [case.credential] if case.credential else []
        res = probe_sync(case.image, credentials=creds, platform=case.platform, options=opts)
        user = case.credential.username if case.credential else None
        password = case.credential.password if case.credential else None
        pulled = containerd.pull(case.image, user, password, timeout=20)  # type: ignore[attr-defined]
        seen.add(res.cause)
        if (why := _disagreement(case, res, pulled)) is not None:
            disagreements.append(why)
        if pulled.ok:
            containerd.remove(case.image)  # type: ignore[attr-defined]
    assert not disagreements, "\n".join(disagreements)
    assert {Cause.TLS_ERROR, Cause.HTTP_VS_HTTPS, None} <= seen


def test_hosts_dir_tls_evidence_names_the_hosts_toml(lab: Lab, containerd: object, tmp_path: Path) -> None:
    hosts_dir = _hosts_dir(lab, tmp_path / "certs.d")
    repo = lab.fresh_repo("parity")
    lab.push(lab.open_registry, repo, "v1")
    opts = ProbeOptions.build(hosts_dir=str(hosts_dir), runtime=LAB_CONTAINERD, request_timeout=5.0, connect_timeout=3.0)
    trusted = probe_sync(f"{containerd.tls_trusted}/{repo}:v1", options=opts)  # type: ignore[attr-defined]
    assert trusted.cause is None
    steps = {s.name: s.detail for s in trusted.steps}
    assert "hosts.toml" in steps["hosts"] and "ca " in steps["hosts"]
    assert "through hosts.toml ca" in steps["tls"]
    wrong = probe_sync(f"{containerd.tls_wrongname}/{repo}:v1", options=opts)  # type: ignore[attr-defined]
    assert wrong.cause is Cause.TLS_ERROR
    assert "hosts.toml ca" in wrong.failed_step.detail  # type: ignore[union-attr]


def _write(certs_d: Path, host: str, text: str) -> None:
    (certs_d / host).mkdir(parents=True, exist_ok=True)
    (certs_d / host / "hosts.toml").write_text(text)


def test_mirrors_are_tried_in_order_like_containerd(lab: Lab, containerd: object) -> None:
    """Mirrors for a name that does not resolve, written into containerd's own certs.d (it re-reads it on
    each pull): refused → 404 → serving mirror pulls; refused → 404 ends with the first non-404 error."""
    certs_d = _containerd_certs_d(containerd)
    need(certs_d is not None, "the lab containerd's certs.d next to its socket")
    assert certs_d is not None
    repo = lab.fresh_repo("mirrored")
    lab.push(lab.open_registry, repo, "v1")
    empty = f"127.0.0.1:{lab.auth_registry.rpartition(':')[2]}"  # answers 401 (needs credentials) / not here
    name_ok = f"mirrors-ok-{tmp_token()}.pulldoctor.invalid"
    name_bad = f"mirrors-bad-{tmp_token()}.pulldoctor.invalid"
    _write(certs_d, name_ok, f'server = "https://{name_ok}"\n\n'
           f'[host."http://{lab.closed_port}"]\n  capabilities = ["pull", "resolve"]\n\n'
           f'[host."http://{lab.nginx}"]\n  capabilities = ["pull", "resolve"]\n')
    _write(certs_d, name_bad, f'server = "https://{name_bad}"\n\n'
           f'[host."http://{lab.closed_port}"]\n  capabilities = ["pull", "resolve"]\n\n'
           f'[host."http://{lab.open_registry}"]\n  capabilities = ["pull", "resolve"]\n')
    opts = ProbeOptions.build(hosts_dir=str(certs_d), runtime=LAB_CONTAINERD, request_timeout=5.0, connect_timeout=3.0)

    ok_image = f"{name_ok}/{repo}:v1"
    res = probe_sync(ok_image, options=opts)
    pulled = containerd.pull(ok_image, timeout=20)  # type: ignore[attr-defined]
    assert pulled.ok, pulled.kubelet_message
    containerd.remove(ok_image)  # type: ignore[attr-defined]
    assert res.cause is None and res.host == f"http://{lab.nginx}"
    tried = [s.host for s in res.steps if s.host]
    assert tried.index(f"http://{lab.closed_port}") < tried.index(f"http://{lab.nginx}")
    assert any(not s.ok and s.name == "tcp" and s.host == f"http://{lab.closed_port}" for s in res.steps)
    assert not any(s.host == f"https://{name_ok}" for s in res.steps)  # the server is never reached

    bad_image = f"{name_bad}/{repo}:nosuchtag"
    res = probe_sync(bad_image, options=opts)
    pulled = containerd.pull(bad_image, timeout=20)  # type: ignore[attr-defined]
    assert not pulled.ok
    assert res.cause is Cause.NETWORK_UNREACHABLE, res.steps  # the first error that is not a 404
    assert res.host == f"http://{lab.closed_port}"
    assert any(t in pulled.kubelet_message for t in RUNTIME_TEXT[Cause.NETWORK_UNREACHABLE])
    assert any(s.name == "tags" and s.host == f"http://{lab.open_registry}" for s in res.steps)
    assert any(s.name == "dns" and s.host == f"https://{name_bad}" for s in res.steps)
    del empty


def tmp_token() -> str:
    import secrets

    return secrets.token_hex(3)
