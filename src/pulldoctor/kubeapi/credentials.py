"""Whether the credentials the ``kubernetes`` client loaded can be sent at all, decided before a request.

http.client refuses a header value with CR/LF (``ValueError: Invalid header value b'Bearer …'``) and
latin-1 cannot encode others (``UnicodeEncodeError``): both texts quote the token, and both surfaced as an
internal error (or, quoted, as the error line). Here the condition is named, never the value.
"""

from __future__ import annotations

from typing import Any


def credential_problem(cfg: Any) -> str | None:
    """Why the client's credentials cannot go into an HTTP header (http.client would raise a ValueError
    quoting the token), in words that never quote it; None when they can. Token files written with
    ``echo`` end in a newline, which client-go trims and the Python client keeps."""
    for value in [*(cfg.api_key or {}).values(), *(cfg.api_key_prefix or {}).values()]:
        text = str(value)
        if "\r" in text or "\n" in text:
            return ("the token contains a line break (CR or LF), which an HTTP header cannot carry; remove it "
                    "(a token file that ends in a newline?)")
        if any(not " " <= c <= "~" for c in text):
            return "the token contains a control or non-ASCII character, which an HTTP header cannot carry"
    return None
