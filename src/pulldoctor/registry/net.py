"""The steps before HTTP: resolve the name, open a TCP connection, complete a TLS handshake.

Each returns a ``Step`` and, on failure, the cause a node would hit. They use the event loop's resolver
and sockets directly so that a failure is seen where it happens (DNS vs connect vs handshake) instead of
being read back from a wrapped client exception.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass

from pulldoctor.causes import Cause
from pulldoctor.registry import tls
from pulldoctor.registry.models import Step


@dataclass
class NetOutcome:
    step: Step
    cause: Cause | None = None
    addresses: tuple[str, ...] = ()


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


async def resolve(host: str, port: int, timeout: float) -> NetOutcome:
    """DNS step: what the name resolves to, as the system resolver says (like the node's runtime)."""
    start = time.monotonic()
    if is_ip(host):
        return NetOutcome(Step("dns", True, f"{host} is an IP address; nothing to resolve", 0.0), None, (host,))
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP), timeout
        )
    except TimeoutError:
        return NetOutcome(
            Step("dns", False, f"no answer for {host} within {timeout:g} s", time.monotonic() - start),
            Cause.DNS_FAILURE,
        )
    except (socket.gaierror, OSError, UnicodeError) as err:
        reason = getattr(err, "strerror", None) or type(err).__name__
        return NetOutcome(
            Step("dns", False, f"{host} does not resolve: {reason}", time.monotonic() - start), Cause.DNS_FAILURE
        )
    addrs = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    shown = ", ".join(addrs[:4]) + (f" (+{len(addrs) - 4} more)" if len(addrs) > 4 else "")
    return NetOutcome(Step("dns", True, f"{host} → {shown}", time.monotonic() - start), None, addrs)


async def connect(host: str, port: int, timeout: float) -> NetOutcome:
    """TCP step: can a connection be opened at all (refused, timed out, no route)."""
    start = time.monotonic()
    target = f"{host}:{port}"
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(host.strip("[]"), port), timeout)
    except TimeoutError:
        detail = f"connecting to {target} timed out after {timeout:g} s (dropped by a firewall or no route)"
        return NetOutcome(Step("tcp", False, detail, time.monotonic() - start), Cause.NETWORK_UNREACHABLE)
    except ConnectionRefusedError:
        detail = f"connection to {target} refused (nothing listens there)"
        return NetOutcome(Step("tcp", False, detail, time.monotonic() - start), Cause.NETWORK_UNREACHABLE)
    except OSError as err:
        detail = f"cannot connect to {target}: {err.strerror or type(err).__name__}"
        return NetOutcome(Step("tcp", False, detail, time.monotonic() - start), Cause.NETWORK_UNREACHABLE)
    peer = writer.get_extra_info("peername")
    writer.close()
    if isinstance(peer, tuple) and len(peer) >= 2:
        shown = f"[{peer[0]}]:{peer[1]}" if ":" in str(peer[0]) else f"{peer[0]}:{peer[1]}"
    else:
        shown = target
    return NetOutcome(Step("tcp", True, f"connected to {shown}", time.monotonic() - start))


@dataclass
class HandshakeResult:
    ok: bool
    cert_error: bool = False  # verification failed (as opposed to "not TLS at all")
    reason: str = ""
    der: bytes | None = None
    timed_out: bool = False  # no handshake within the bound (containerd's HTTP fallback counts it as not TLS)


async def handshake(host: str, port: int, ctx: ssl.SSLContext, timeout: float) -> HandshakeResult:
    """One verified TLS handshake with the name the runtime would check (SNI and hostname)."""
    name = host.strip("[]")
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(name, port, ssl=ctx, server_hostname=name, ssl_handshake_timeout=timeout),
            timeout + 1.0,
        )
    except ssl.SSLCertVerificationError as err:
        return HandshakeResult(False, True, err.verify_message or err.reason or "certificate verify failed")
    except ssl.SSLError as err:
        return HandshakeResult(False, False, str(err.reason or err).replace("_", " ").lower())
    except TimeoutError:
        return HandshakeResult(False, False, f"TLS handshake timed out after {timeout:g} s", timed_out=True)
    except (ConnectionResetError, asyncio.IncompleteReadError, EOFError) as err:
        return HandshakeResult(False, False, f"connection closed during the TLS handshake ({type(err).__name__})")
    except OSError as err:
        return HandshakeResult(False, False, err.strerror or type(err).__name__)
    sslobj = writer.get_extra_info("ssl_object")
    der = sslobj.getpeercert(binary_form=True) if sslobj is not None else None
    writer.close()
    return HandshakeResult(True, der=der)


async def tls_step(
    host: str, port: int, ctx: ssl.SSLContext, ca_file: str | None, timeout: float, ca_label: str = "--ca-file"
) -> tuple[Step, HandshakeResult]:
    """TLS step; on a certificate failure the detail shows the served certificate and the --ca-file verdict."""
    start = time.monotonic()
    hs = await handshake(host, port, ctx, timeout)
    if hs.ok:
        detail = "handshake ok, certificate trusted"
        if ca_file and hs.der is not None and _issued_by_ca_file(hs.der, ca_file):
            detail += f" through {ca_label} {ca_file}" + (
                " (the nodes' runtime must trust that CA too)" if ca_label == "--ca-file" else "")
        return Step("tls", True, detail, time.monotonic() - start), hs
    if not hs.cert_error:
        return Step("tls", False, f"TLS handshake failed: {hs.reason}", time.monotonic() - start), hs
    der = await tls.fetch_peer_cert(host.strip("[]"), port, host.strip("[]"), timeout)
    parts = [f"certificate not accepted: {hs.reason}"]
    if der is not None:
        try:
            parts.append("served " + tls.describe_der(der).describe())
        except Exception:  # a certificate cryptography cannot read is still a TLS error; say so
            parts.append("served certificate could not be decoded")
        if ca_file:
            fixes = _issued_by_ca_file(der, ca_file)
            parts.append(
                f"{ca_label} {ca_file} holds its issuer, so the problem is not trust alone"
                if fixes
                else f"{ca_label} {ca_file} does not hold its issuer"
            )
        elif "self-signed" in hs.reason or "unable to get local issuer" in hs.reason:
            parts.append("if the nodes trust its CA, pass that CA with --ca-file" if ca_label == "--ca-file"
                         else "add its CA to the host's ca in hosts.toml")
    return Step("tls", False, "; ".join(parts), time.monotonic() - start), hs


def _issued_by_ca_file(der: bytes, ca_file: str) -> bool:
    try:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=ca_file)
        return tls.verify_with(der, ctx)
    except (OSError, ssl.SSLError, ValueError, ImportError):
        return False
