"""Watch lines: a watch stream split into its JSON lines, as bytes (msgspec decodes bytes), each at most
``max_line`` long.

``kubernetes.watch.iter_resp_lines`` copies the rest of its buffer after every line and has no size cap;
this keeps one ``bytearray`` and drops the stream when a line grows past the cap.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulldoctor.errors import ApiLineTooLong
from pulldoctor.kubeapi.transport import READ_CHUNK, transport_error


def lines(resp: Any, *, max_line: int, host: str = "", timeout: float = 0.0) -> Iterator[bytes]:
    """The non-empty lines of the open response ``resp``. A read that fails is an ``ApiError`` (the one
    mapping, with ``timeout`` the stream's read timeout); a line past ``max_line`` is ``ApiLineTooLong``."""
    buf = bytearray()
    start = 0
    while True:
        try:
            chunk = resp.read1(READ_CHUNK)
        except Exception as err:  # urllib3's ProtocolError/ReadTimeoutError, an OSError after a shutdown
            raise transport_error(err, host, timeout=timeout, reading=True) from None
        if not chunk:
            break
        buf += chunk
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            if nl > start:
                yield bytes(buf[start:nl])
            start = nl + 1
        if start:
            del buf[:start]
            start = 0
        if len(buf) > max_line:
            raise ApiLineTooLong(f"watch line longer than {max_line} bytes", host=host)
    if buf.strip():
        yield bytes(buf)
