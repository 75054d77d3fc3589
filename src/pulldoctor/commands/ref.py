"""``pulldoctor ref IMAGE``: what the kubelet and containerd make of an image reference.

A refused reference raises ``InvalidReference``; the CLI prints its one line and exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys

from pulldoctor.reference import parse


def run(args: argparse.Namespace) -> int:
    ref = parse(args.image)
    doc = ref.to_json()
    if getattr(args, "output", "text") == "json":
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return 0
    from pulldoctor.render.ref import text

    sys.stdout.write(text(doc))
    return 0
