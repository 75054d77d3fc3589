"""``pulldoctor probe IMAGE``: ask the registry for an image the way a node would, and say what happens.

Exit 0 when a node could pull the image, 1 when it could not, 2 on bad usage (invalid reference,
unreadable ``--docker-config``, bad ``--platform``/``--ca-file``, malformed ``--hosts-dir`` hosts.toml).
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from typing import TYPE_CHECKING

from pulldoctor.redact import printable

if TYPE_CHECKING:
    from pulldoctor.keyring import Credential
    from pulldoctor.registry.models import ProbeResult

WIDTH = 80


def credentials_from_docker_config(path: str, image: str) -> tuple[list[Credential], str]:
    """Credentials the kubelet would try for ``image`` from a docker config file, and who they are."""
    from pulldoctor.keyring import Keyring, entries_from_docker_config_file

    lookup = Keyring(entries_from_docker_config_file(path)).lookup(image)
    creds = [e.credential for e in lookup.matches if e.credential is not None]
    return creds, lookup.explanation


def render_text(result: ProbeResult, credentials_note: str = "") -> str:
    """Verdict line first, then one line per step (wrapped at 80 columns)."""
    lines = [result.summary()]
    if result.facts():
        lines.append(f"  {result.facts()}")
    if result.host is not None:
        lines.append(f"  host: {result.host} (from the hosts dir)")
    failed = result.failed_step
    if failed is not None and result.cause is not None:
        lines += textwrap.wrap(failed.detail, WIDTH, initial_indent="  ", subsequent_indent="  ")
    if result.ratelimit is not None:
        lines.append(f"  rate limit: {result.ratelimit.describe()}")
    if result.platforms:
        lines += textwrap.wrap("platforms: " + ", ".join(result.platforms), WIDTH, initial_indent="  ",
                               subsequent_indent="    ")
    if credentials_note:
        lines += textwrap.wrap("credentials: " + credentials_note, WIDTH, initial_indent="  ", subsequent_indent="    ")
    lines.append("steps:")
    for step in result.steps:
        mark = "ok  " if step.ok else "FAIL"
        ms = f"{step.elapsed * 1000:.0f} ms"
        head = f"  {mark} {step.name:<9} "
        lines += textwrap.wrap(
            f"{step.detail} ({ms})", WIDTH, initial_indent=head, subsequent_indent=" " * len(head),
            break_long_words=True, break_on_hyphens=False,
        )
    # Details quote the registry's own error bodies: no escape sequence of theirs reaches the terminal.
    return printable("\n".join(lines) + "\n")


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
