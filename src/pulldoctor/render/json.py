"""JSON output: ``Diagnosis.to_json()`` (schema_version 1, documented in the README), pretty-printed.

msgspec encodes and indents in C: for thousands of findings the stdlib's indenting encoder was the
slowest step of a whole diagnosis.
"""

from __future__ import annotations

import msgspec

from pulldoctor.diagnosis.model import Diagnosis


def render(diagnosis: Diagnosis) -> str:
    return msgspec.json.format(msgspec.json.encode(diagnosis.to_json()), indent=2).decode() + "\n"
