"""Self-signed certificates for the lab's HTTPS servers, made with the openssl CLI.

EC P-256 keys keep generation in milliseconds. The "good" certificate names localhost and 127.0.0.1 so it can
serve as its own CA for clients that are told to trust it; the other names only ``wrong.example``.
"""

from __future__ import annotations

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
