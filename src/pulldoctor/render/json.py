"""JSON output: ``Diagnosis.to_json()`` (schema_version 1, documented in the README), pretty-printed.

msgspec encodes and indents in C: for thousands of findings the stdlib's indenting encoder was the
slowest step of a whole diagnosis.
"""

from __future__ import annotations

import msgspec

from pulldoctor.diagnosis.model import Diagnosis
from pulldoctor.render.safe import printable_json_text


def render(diagnosis: Diagnosis) -> str:
    text = msgspec.json.format(msgspec.json.encode(diagnosis.to_json()), indent=2).decode()
    # The JSON gate (redact.printable_json, line by line): DEL and C1 (U+009B is a terminal's CSI) escaped, no
    # user:password@ echoed by a runtime.
    return printable_json_text(text) + "\n"
