"""Self-signed certificates for the lab's HTTPS servers, made with the openssl CLI.

EC P-256 keys keep generation in milliseconds. The "good" certificate names localhost and 127.0.0.1 so it can
serve as its own CA for clients that are told to trust it; the other names only ``wrong.example``.

``openssl req`` cannot back-date a certificate, so the expired one (a valid CA, and a localhost leaf it
signed whose validity ended yesterday) is made with ``cryptography``.
"""

from __future__ import annotations

import datetime
import ipaddress
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path


def make_cert(directory: Path, stem: str, common_name: str, sans: str) -> CertPair:
    """Write ``stem.crt``/``stem.key`` valid for two days; ``sans`` like ``DNS:localhost,IP:127.0.0.1``."""
    directory.mkdir(parents=True, exist_ok=True)
    pair = CertPair(directory / f"{stem}.crt", directory / f"{stem}.key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(pair.key), "-out", str(pair.cert), "-days", "2",
         "-subj", f"/CN={common_name}", "-addext", f"subjectAltName={sans}"],
        check=True, capture_output=True, timeout=30,
    )
    return pair


def localhost_cert(directory: Path) -> CertPair:
    return make_cert(directory, "localhost", "localhost", "DNS:localhost,IP:127.0.0.1")


def wrongname_cert(directory: Path) -> CertPair:
    return make_cert(directory, "wrongname", "wrong.example", "DNS:wrong.example")


@dataclass(frozen=True)
class ExpiredCert:
    """A localhost leaf that expired, and the (still valid) CA that signed it: trusting ``ca`` leaves expiry
    as the only problem."""

    leaf: CertPair
    ca: Path


def expired_cert(directory: Path, *, days_ago: int = 1) -> ExpiredCert:
    """Write ``expired-ca.crt`` (valid now) and ``expired.crt``/``expired.key`` (CN=localhost, SAN
    localhost + 127.0.0.1, valid from 10 days ago until ``days_ago`` days ago)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pulldoctor lab expiry CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=10)).not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False),
                         critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=10))
            .not_valid_after(now - datetime.timedelta(days=days_ago))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    out = ExpiredCert(CertPair(directory / "expired.crt", directory / "expired.key"), directory / "expired-ca.crt")
    out.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    out.leaf.cert.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    out.leaf.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    out.leaf.key.chmod(0o600)
    return out
