"""``pulldoctor ref IMAGE``: what the kubelet and containerd make of an image reference.

A refused reference raises ``InvalidReference``; the CLI prints its one line and exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys

from pulldoctor.reference import parse

_TEXT_KEYS = ("original", "normalized", "registry", "repository", "tag", "digest", "endpoint",
              "default_pull_policy")


def run(args: argparse.Namespace) -> int:
    ref = parse(args.image)
    doc = ref.to_json()
    if getattr(args, "output", "text") == "json":
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return 0
    width = max(len(k) for k in _TEXT_KEYS) + 1
    lines = [f"{k + ':':<{width}} {'-' if doc[k] is None else doc[k]}" for k in _TEXT_KEYS]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
