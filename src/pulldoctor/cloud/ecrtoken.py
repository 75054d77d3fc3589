"""An ECR docker credential, read offline: user ``AWS`` and a password that is base64 of a JSON envelope
(``payload``, ``datakey``, ``version``, ``type``, ``expiration`` in epoch seconds; tokens last 12 hours).

Only the expiry is taken out. The token itself never leaves :class:`pulldoctor.keyring.Credential`, and no
error text here quotes any part of it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

#: ``ACCOUNT.dkr.ecr.REGION.amazonaws.com`` and the China partition's ``.amazonaws.com.cn`` (and FIPS hosts,
#: ``dkr.ecr-fips``), as the kubelet's ECR provider matches them.
_ECR_HOST = re.compile(r"^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?(?::443)?$")
_MAX_PASSWORD = 64 * 1024  # an ECR token is ~2-3 KB; a bigger "token" is not one, and is not decoded


@dataclass(frozen=True, slots=True)
class EcrHost:
    account: str
    region: str


def ecr_host(host: str) -> EcrHost | None:
    """The account and region of an ECR registry host, or None when ``host`` is not ECR."""
    m = _ECR_HOST.match(host.lower())
    return EcrHost(m.group(1), m.group(2)) if m else None


@dataclass(frozen=True, slots=True)
class EcrToken:
    """What the envelope says: its expiry, or a note on why it could not be read (never the token)."""

    expires_at: datetime | None
    note: str | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


def decode(password: str) -> EcrToken:
    """The expiry of an ECR token; a malformed one gives a note, never an exception."""
    if len(password) > _MAX_PASSWORD:
        return EcrToken(None, f"the ECR token is longer than {_MAX_PASSWORD} characters; not decoded")
    try:
        raw = base64.b64decode(password + "=" * (-len(password) % 4), validate=True)
        doc = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        return EcrToken(None, "the password is not an ECR token envelope (base64 of JSON); its expiry is unknown")
    exp = doc.get("expiration") if isinstance(doc, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return EcrToken(None, "the ECR token envelope has no numeric expiration; its expiry is unknown")
    try:
        return EcrToken(datetime.fromtimestamp(float(exp), UTC))
    except (OverflowError, OSError, ValueError):
        return EcrToken(None, "the ECR token envelope's expiration is out of range; its expiry is unknown")
