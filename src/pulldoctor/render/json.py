"""JSON output: ``Diagnosis.to_json()`` (schema_version 1, documented in the README), pretty-printed.

msgspec encodes and indents in C: for thousands of findings the stdlib's indenting encoder was the
slowest step of a whole diagnosis.
"""

from __future__ import annotations

import re

import msgspec

from pulldoctor.diagnosis.model import Diagnosis
from pulldoctor.render.safe import masked_text

_C1_RE = re.compile("[\x7f-\x9f]")


def render(diagnosis: Diagnosis) -> str:
    text = msgspec.json.format(msgspec.json.encode(diagnosis.to_json()), indent=2).decode()
    # JSON escapes C0 controls but not DEL and C1 (U+009B is a terminal's CSI): escape them too, still JSON.
    text = _C1_RE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)
    return masked_text(text) + "\n"  # no user:password@ echoed from a runtime (the mask keeps JSON valid)
