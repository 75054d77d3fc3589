"""JSON output: ``Diagnosis.to_json()`` (schema_version 1, documented in the README), pretty-printed."""

from __future__ import annotations

import json

from pulldoctor.diagnosis.model import Diagnosis


def render(diagnosis: Diagnosis) -> str:
    return json.dumps(diagnosis.to_json(), indent=2, ensure_ascii=False) + "\n"
