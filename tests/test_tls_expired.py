"""An expired registry certificate, end to end against the lab: the message a real containerd produces
classifies as ``tls_error``, and the probe — given the node's own hosts.toml (which trusts the CA, so expiry
is the only problem) or ``--ca-file`` — answers ``tls_error`` with the certificate's validity dates and the
word "expired" in its TLS step, as containerd does.

The lab's certificate (tests/lab/tls.py ``expired_cert``): CA-signed, CN/SAN localhost + 127.0.0.1, valid from
10 days ago until yesterday; its CA is valid now.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from helpers import LAB_FAST as FAST
from lab import Lab
from pulldoctor.causes import Cause
from pulldoctor.messages import classify
from pulldoctor.registry import ProbeOptions, probe_sync

pytestmark = [pytest.mark.lab, pytest.mark.containerd]

GO_EXPIRED = "x509: certificate has expired or is not yet valid"  # Go crypto/x509/verify.go, reason Expired


@pytest.fixture(scope="module")
def image(lab: Lab) -> str:
    """A real image behind the expired-certificate port (stored in the open registry)."""
    return lab.push(lab.nginx_tls_expired, lab.fresh_repo("expired"), "v1").ref


def _validity(lab: Lab) -> str:
    """The served certificate's validity as the probe prints it: ``valid YYYY-MM-DD to YYYY-MM-DD``."""
    host, port = lab.nginx_tls_expired.rsplit(":", 1)
    leaf = x509.load_pem_x509_certificate(ssl.get_server_certificate((host, int(port)), timeout=5).encode())
    return f"valid {leaf.not_valid_before_utc:%Y-%m-%d} to {leaf.not_valid_after_utc:%Y-%m-%d}"


def _certs_d(lab: Lab, containerd: object, tmp_path: Path) -> Path:
    """containerd's own certs.d when it sits next to its socket, else the same files written again."""
    real = Path(containerd.socket_path).parent / "certs.d"  # type: ignore[attr-defined]
    if (real / lab.nginx_tls_expired / "hosts.toml").is_file():
        return real
    from lab.containerd import _write_hosts

    _write_hosts(tmp_path, lab)
    return tmp_path


def test_real_message_classifies_as_tls_error(lab: Lab, containerd: object, image: str) -> None:
    out = containerd.pull(image)  # type: ignore[attr-defined]
    assert not out.ok and GO_EXPIRED in out.kubelet_message, out.raw
    event = f'Failed to pull image "{image}": {out.kubelet_message}'
    got = classify(event)
    assert got.cause is Cause.TLS_ERROR, (event, got)
    assert got.fields["runtime"] == "containerd" and got.fields["wrapper"] == "failed_to_pull"
    assert got.fields["image"] == image and got.fields["host"] == lab.nginx_tls_expired
    assert got.signals == [Cause.TLS_ERROR]  # nothing else in the message points elsewhere


def test_probe_with_the_nodes_hosts_toml(lab: Lab, containerd: object, image: str, tmp_path: Path) -> None:
    """The very hosts.toml the lab's containerd reads (its ``ca`` trusts the issuer): the probe's verdict
    is containerd's, and its TLS step says expired, shows the dates and clears trust as the problem."""
    certs_d = _certs_d(lab, containerd, tmp_path)
    res = probe_sync(image, options=ProbeOptions.build(hosts_dir=str(certs_d), **FAST))
    pulled = containerd.pull(image)  # type: ignore[attr-defined]
    assert res.cause is Cause.TLS_ERROR and not pulled.ok and GO_EXPIRED in pulled.kubelet_message
    step = res.failed_step
    assert step is not None and step.name == "tls", res.steps
    assert step.host == f"https://{lab.nginx_tls_expired}"  # the hosts.toml [host] that has the ca
    assert "certificate has expired" in step.detail, step.detail
    assert _validity(lab) in step.detail, step.detail
    assert "hosts.toml ca" in step.detail and "holds its issuer, so the problem is not trust alone" in step.detail
    assert "issuer CN=pulldoctor lab expiry CA" in step.detail and "SANs localhost, 127.0.0.1" in step.detail


def test_probe_cli_with_hosts_dir(lab: Lab, containerd: object, image: str, tmp_path: Path) -> None:
    """``pulldoctor probe IMAGE --hosts-dir CERTS_D -o json``: exit 1, ``tls_error``, the TLS step says
    expired and shows the dates."""
    certs_d = _certs_d(lab, containerd, tmp_path)
    out = subprocess.run([sys.executable, "-m", "pulldoctor", "probe", image, "--hosts-dir", str(certs_d),
                          "-o", "json"], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    assert doc["cause"] == "tls_error" and doc["pullable"] is False
    assert doc["host"] == f"https://{lab.nginx_tls_expired}"
    tls = [s for s in doc["steps"] if s["name"] == "tls" and s.get("host") == doc["host"]]
    assert len(tls) == 1 and not tls[0]["ok"], doc["steps"]
    assert "certificate has expired" in tls[0]["detail"] and _validity(lab) in tls[0]["detail"], tls[0]


def test_probe_options_with_ca_file(lab: Lab, image: str) -> None:
    host = f"localhost:{lab.nginx_tls_expired.rpartition(':')[2]}"  # the name the certificate is for
    res = probe_sync(image.replace(lab.nginx_tls_expired, host),
                     options=ProbeOptions.build(https_registries=[host], ca_file=str(lab.expired_ca_cert), **FAST))
    assert res.cause is Cause.TLS_ERROR
    assert res.failed_step is not None and res.failed_step.name == "tls"
    assert "certificate has expired" in res.failed_step.detail and _validity(lab) in res.failed_step.detail

