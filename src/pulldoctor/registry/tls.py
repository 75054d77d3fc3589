"""TLS for registries: the trust a node has (system CAs + ``--ca-file``) and, when a handshake fails,
the peer's certificate fetched a second time without verification so the user sees what is served.
"""

from __future__ import annotations

import asyncio
import functools
import os
import ssl
from dataclasses import dataclass, field

from pulldoctor.errors import InputError


def client_context(ca_file: str | None) -> ssl.SSLContext:
    """System trust plus ``ca_file``; an unreadable or non-PEM CA file is bad input (exit 2).

    Loading the system store costs ~15 ms, so the default context is built once per process and shared
    (nothing mutates it); one with a CA file is rebuilt when that file changes."""
    stamp = None
    if ca_file:
        try:
            st = os.stat(ca_file)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError as err:
            raise InputError(f"cannot use --ca-file {ca_file}: {err.strerror or type(err).__name__}") from None
    return _cached_context(ca_file, stamp)


@functools.lru_cache(maxsize=16)
def _cached_context(ca_file: str | None, _stamp: tuple[int, int] | None) -> ssl.SSLContext:
    return _new_client_context(ca_file)


def _new_client_context(ca_file: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if ca_file:
        try:
            ctx.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as err:
            raise InputError(f"cannot use --ca-file {ca_file}: {getattr(err, 'strerror', None) or err}") from None
    return ctx


def host_context(
    ca_file: str | None, cas: tuple[str, ...], clients: tuple[tuple[str, str], ...], skip_verify: bool
) -> ssl.SSLContext:
    """A hosts.toml host's TLS, as containerd builds it: system + ``ca`` files, client pairs, ``skip_verify``."""
    ctx = _new_client_context(ca_file)  # a context of its own: it is changed below
    for ca in cas:
        try:
            ctx.load_verify_locations(cafile=ca)
        except (OSError, ssl.SSLError) as err:
            raise InputError(f"cannot use hosts.toml ca {ca}: {getattr(err, 'strerror', None) or err}") from None
    for cert, key in clients:
        try:
            ctx.load_cert_chain(cert, key or None)
        except (OSError, ssl.SSLError) as err:
            raise InputError(f"cannot use hosts.toml client {cert}: {getattr(err, 'strerror', None) or err}") from None
    if skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def unverified_context() -> ssl.SSLContext:
    """Only for looking at a certificate that already failed verification; never for requests."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@dataclass
class CertInfo:
    """What a person needs to see to fix a certificate problem."""

    subject: str = ""
    issuer: str = ""
    sans: list[str] = field(default_factory=list)
    not_before: str = ""
    not_after: str = ""
    self_signed: bool = False

    def describe(self) -> str:
        sans = ", ".join(self.sans) if self.sans else "none"
        signed = " (self-signed)" if self.self_signed else ""
        return (
            f"subject {self.subject or '-'}; issuer {self.issuer or '-'}{signed}; SANs {sans}; "
            f"valid {self.not_before} to {self.not_after}"
        )


def describe_der(der: bytes) -> CertInfo:
    """Decode a DER certificate with ``cryptography`` (imported only here, on the failure path)."""
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = [str(n) for n in ext.get_values_for_type(x509.DNSName)]
        sans += [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        sans = []
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sans=sans,
        not_before=cert.not_valid_before_utc.strftime("%Y-%m-%d"),
        not_after=cert.not_valid_after_utc.strftime("%Y-%m-%d"),
        self_signed=cert.subject == cert.issuer,
    )


async def fetch_peer_cert(host: str, port: int, server_name: str, timeout: float) -> bytes | None:
    """The DER certificate the server presents, or None when even an unverified handshake fails."""
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=unverified_context(), server_hostname=server_name),
            timeout,
        )
    except (TimeoutError, OSError, ssl.SSLError):
        return None
    try:
        sslobj = writer.get_extra_info("ssl_object")
        return sslobj.getpeercert(binary_form=True) if sslobj is not None else None
    finally:
        writer.close()


def verify_with(der: bytes, ctx: ssl.SSLContext) -> bool:
    """Would ``ctx`` trust this leaf as its own issuer chain? Used for "would --ca-file fix it"."""
    # Not a full chain check: it answers the common case (a private CA or a self-signed certificate
    # whose CA/cert is in --ca-file) by comparing issuers with the CA file's subjects.
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    return any(x509.load_der_x509_certificate(ca).subject == cert.issuer for ca in ctx.get_ca_certs(binary_form=True))
