"""The wire-level types of the registry client, without aiohttp: constants, ``Response``, ``TransportError``.

Kept apart from ``client`` so that importing ``pulldoctor.registry`` does not import aiohttp.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from multidict import CIMultiDictProxy
from yarl import URL

from pulldoctor.redact import mask_all

#: What containerd 1.6 sends when it resolves a reference (remotes/docker/resolver.go), same order.
MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "*/*",
    ]
)
INDEX_TYPES = frozenset(
    {"application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"}
)
#: Docker schema 1 (signed and unsigned): served only when an image was never re-pushed with a current tool.
SCHEMA1_TYPES = frozenset(
    {"application/vnd.docker.distribution.manifest.v1+json",
     "application/vnd.docker.distribution.manifest.v1+prettyjws"}
)
USER_AGENT = "pulldoctor (registry probe)"
_UNSET = object()


class TransportError(Exception):
    """The request got no usable HTTP answer. ``kind`` is one of:

    ``refused``, ``connect_timeout``, ``unreachable``, ``dns``, ``tls``, ``read_timeout``,
    ``disconnected``, ``bad_response``, ``payload``, ``redirects``.
    The message never contains a header value.
    """

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


class UnreadableJSON(Exception):
    """A registry answer whose JSON cannot be read at all: nested deeper than a parser recurses (a real
    registry never sends that). The registry's fault, not the probe's: the probe reports it as
    ``registry_server_error`` at the step that read it. The message names the request, never a header."""

    def __init__(self, method: str, url: URL) -> None:
        path = url.path
        self.step = ("tags" if path.endswith("/tags/list") else "platform" if "/blobs/" in path
                     else "manifest" if "/manifests/" in path else "auth")
        who = "token service" if self.step == "auth" else "registry"
        where = f"{url.host}:{url.port}" if url.port else str(url.host)  # never url.authority: it has userinfo
        super().__init__(f"{method} {where}{path[:200]}: the {who}'s answer is JSON nested too deeply to read; "
                         f"the {who} (or a proxy in front of it) is broken")


@dataclass
class Response:
    """Status, headers and at most ``cap`` bytes of body (``truncated`` when there was more)."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    truncated: bool
    url: URL
    method: str
    sent: str | None = field(default=None, repr=False)  # the Authorization value sent in this exchange

    def json(self) -> Any:
        """Parsed body, or None when it is not JSON; raises ``UnreadableJSON`` when it is JSON nested too
        deeply to parse (the one place the registry client decodes JSON). Parsed once: a digest-addressed
        document is shared by every probe of its repository, so callers must not mutate it."""
        memo = self.__dict__.get("_parsed", _UNSET)
        if isinstance(memo, UnreadableJSON):
            raise memo
        if memo is not _UNSET:
            return memo
        doc = None
        if not self.truncated and self.body:
            try:
                doc = json.loads(self.body)
            except ValueError:
                doc = None
            except RecursionError:
                self.__dict__["_parsed"] = UnreadableJSON(self.method, self.url)
                raise self.__dict__["_parsed"] from None
        self.__dict__["_parsed"] = doc
        return doc

    def error_codes(self) -> list[str]:
        """Distribution error codes (``MANIFEST_UNKNOWN``, ``NAME_UNKNOWN``, ``DENIED`` …) in the body."""
        doc = self.json()
        errors = doc.get("errors") if isinstance(doc, dict) else None
        if not isinstance(errors, list):
            return []
        return [str(e.get("code")) for e in errors[:16] if isinstance(e, dict) and e.get("code")]

    def error_message(self, limit: int = 200) -> str:
        """First distribution error ``code: message``, or the start of a text body: the only way a body is
        quoted, so the credentials of this exchange are removed here (a proxy may echo the Authorization
        header: the Basic pair, its base64 at any alignment, the Bearer token, in any case)."""
        return quoted(self._error_text(limit), self.sent)

    def _error_text(self, limit: int) -> str:
        doc = self.json()
        errors = doc.get("errors") if isinstance(doc, dict) else None
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            e = errors[0]
            return f"{e.get('code', '')}: {e.get('message', '')}"[:limit]
        text = self.body[:limit].decode("utf-8", "replace")
        return " ".join(text.split()) if text.isprintable() or "\n" in text else ""


def quoted(text: str, *sent: str | None) -> str:
    """Text a registry wrote, fit to quote: the credentials sent to it (Authorization values) in every form
    an echo can take, header-like ``Basic``/``Bearer`` values and ``user:password@`` masked."""
    return mask_all(text, sent, known=False) if text else text
