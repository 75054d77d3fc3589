"""``pulldoctor probe IMAGE``: ask the registry for an image the way a node would, and say what happens.

Exit 0 when a node could pull the image, 1 when it could not, 2 on bad usage (invalid reference,
unreadable ``--docker-config``, bad ``--platform``/``--ca-file``, malformed ``--hosts-dir`` hosts.toml).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from pulldoctor.render.probe import render as render_text

if TYPE_CHECKING:
    from pulldoctor.keyring import Credential

def credentials_from_docker_config(path: str, image: str) -> tuple[list[Credential], str]:
    """Credentials the kubelet would try for ``image`` from a docker config file, and who they are."""
    from pulldoctor.keyring import Keyring, entries_from_docker_config_file

    lookup = Keyring(entries_from_docker_config_file(path)).lookup(image)
    creds = [e.credential for e in lookup.matches if e.credential is not None]
    return creds, lookup.explanation


def run(args: argparse.Namespace) -> int:
    from pulldoctor.reference import parse
    from pulldoctor.registry import probe_sync
    from pulldoctor.registry.manifest import parse_platform
    from pulldoctor.registry.models import ProbeOptions

    ref = parse(args.image)  # InvalidReference → exit 2
    platform = str(parse_platform(args.platform)) if args.platform else "linux/amd64"
    creds: list[Credential] = []
    note = ""
    if args.docker_config:
        creds, note = credentials_from_docker_config(args.docker_config, args.image)
    options = ProbeOptions.build(insecure_registries=args.insecure_registry, ca_file=args.ca_file,
                                 hosts_dir=getattr(args, "hosts_dir", None), runtime=args.runtime,
                                 registries_conf=args.registries_conf)
    result = probe_sync(ref, credentials=creds, platform=platform, options=options)
    if args.output == "json":
        doc = result.to_json()
        if args.docker_config:
            doc["credentials"] = {"tried": len(creds), "explanation": note}
        from pulldoctor.redact import printable_json  # the same gate as text: details quote registries

        sys.stdout.write(printable_json(json.dumps(doc, indent=2)) + "\n")
    else:
        sys.stdout.write(render_text(result, note))
    return 0 if result.cause is None else 1
