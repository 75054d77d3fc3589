"""Preflight's three outputs: text for people, JSON for scripts, SARIF 2.1.0 for code-scanning UIs.

SARIF: one rule per cause (``ruleId`` is the cause name), one result per finding, located at the file and
line of its ``image:`` (or ``imagePullSecrets`` entry), so GitHub annotates the line to change.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from pulldoctor import __version__
from pulldoctor.causes import Cause
from pulldoctor.preflight.findings import Finding, Severity
from pulldoctor.preflight.inputs import STDIN
from pulldoctor.preflight.report import Report
from pulldoctor.redact import printable

WIDTH = 100
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

#: What each cause means, for SARIF's rule descriptions (causes.md's "meaning" column).
RULES: dict[Cause, str] = {
    Cause.INVALID_IMAGE_NAME: "The image reference breaks the reference grammar",
    Cause.NEVER_PULL_ABSENT: "Pull policy Never: the image must already be on every node",
    Cause.TAG_NOT_FOUND: "The repository exists, the tag or digest does not",
    Cause.REPO_NOT_FOUND: "No such repository (as seen with these credentials)",
    Cause.REPO_NOT_FOUND_OR_NO_ACCESS: "The registry will not say whether the repository exists or access is missing",
    Cause.AUTH_MISSING: "A private image, and no credentials would reach the registry",
    Cause.AUTH_INVALID: "The credentials the kubelet would send are rejected",
    Cause.FORBIDDEN: "Authenticated, but not allowed to pull",
    Cause.RATE_LIMITED: "The registry answers 429 Too Many Requests",
    Cause.DNS_FAILURE: "The registry host name does not resolve",
    Cause.NETWORK_UNREACHABLE: "The registry cannot be reached",
    Cause.TLS_ERROR: "The registry's certificate is not trusted or the handshake fails",
    Cause.HTTP_VS_HTTPS: "The registry and the runtime disagree on HTTP vs HTTPS",
    Cause.PLATFORM_MISMATCH: "No image for the nodes' OS/architecture",
    Cause.PULL_TIMEOUT_OR_PROGRESS_DEADLINE: "The registry did not answer in time",
    Cause.REGISTRY_SERVER_ERROR: "The registry answers 5xx",
    Cause.OTHER: "A pull-policy or image risk",
}


def _where(f: Finding) -> str:
    return str(f.location)


def render_text(report: Report) -> str:
    """One block per finding, then a summary line; every text from a manifest or registry escaped."""
    lines: list[str] = []
    for f in report.findings:
        head = f"{_where(f)}: {f.severity.value} {f.cause.value}: {f.subject}"
        if f.image:
            head += f": {f.image}"
        lines.append(head)
        lines += textwrap.wrap(f.summary, WIDTH, initial_indent="    ", subsequent_indent="    ",
                               break_long_words=True, break_on_hyphens=False)
        for fix in f.fixes:
            lines += textwrap.wrap(fix.text, WIDTH, initial_indent="    fix: ", subsequent_indent="         ")
            lines += [f"         $ {c}" for c in fix.commands]
    for note in report.notes:
        lines += textwrap.wrap(note, WIDTH, initial_indent="note: ", subsequent_indent="      ")
    probed = "registries not asked" if report.probed is None else f"{report.probed} probed"
    verdict = "clean" if not report.findings else f"{_n(report.errors, 'error')}, {_n(report.warnings, 'warning')}"
    lines.append(f"preflight: {verdict} — {_n(report.workloads, 'pod template')}, {_n(report.images, 'image')} "
                 f"({report.distinct_images} distinct, {probed}) in {_n(report.files, 'file')}; "
                 f"platforms {', '.join(report.platforms)}")
    return printable("\n".join(lines) + "\n")


def _n(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def render_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2) + "\n"


def artifact_uri(file: str) -> str:
    """A SARIF artifact URI: a relative path as given (what GitHub resolves against the checkout), an
    absolute one as a file: URI."""
    path = Path(file)
    if path.is_absolute():
        return path.as_uri()
    posix = PurePosixPath(*path.parts).as_posix() if path.parts else file
    return quote(posix, safe="/._-~")


def _location(f: Finding) -> dict[str, Any]:
    loc = f.location
    if loc.file == STDIN:
        # Lines of stdin are not lines of any file in the repository; the template the chart rendered is.
        phys: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(loc.source or "stdin")}}
    else:
        phys = {"artifactLocation": {"uri": artifact_uri(loc.file)}}
        if loc.line is not None:
            phys["region"] = {"startLine": loc.line}
    return {"physicalLocation": phys,
            "logicalLocations": [{"name": f.subject, "kind": "resource"}]}


def render_sarif(report: Report) -> str:
    causes = sorted({f.cause for f in report.findings}, key=lambda c: c.value)
    index = {c: i for i, c in enumerate(causes)}
    rules = [{"id": c.value, "name": "".join(w.title() for w in c.value.split("_")),
              "shortDescription": {"text": RULES.get(c, c.value)}} for c in causes]
    results = []
    for f in report.findings:
        text = f"{f.subject}: {f.image + ': ' if f.image else ''}{f.summary}"
        if f.fixes:
            text += " Fix: " + " ".join(fix.text for fix in f.fixes)
        results.append({
            "ruleId": f.cause.value,
            "ruleIndex": index[f.cause],
            "level": "error" if f.severity is Severity.ERROR else "warning",
            "message": {"text": text},
            "locations": [_location(f)],
            "properties": {"check": f.check.value, "kind": f.kind, "name": f.name, "namespace": f.namespace,
                           "container": f.container, "image": f.image, "source": f.location.source},
        })
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "pulldoctor", "version": __version__, "rules": rules}},
            "results": results,
        }],
    }
    return json.dumps(doc, indent=2) + "\n"
