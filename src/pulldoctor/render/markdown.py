"""Markdown for a ticket: a summary table, then one section per finding with evidence and fix."""

from __future__ import annotations

from pulldoctor.diagnosis.model import Diagnosis
from pulldoctor.render.safe import printable_text


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _named(pods: list[str], count: int) -> str:
    """`` (`shop/a`, `shop/b`, …)``: the pods behind a count, a few of them."""
    return f" ({', '.join(f'`{_cell(p)}`' for p in pods)}{', …' if count > len(pods) else ''})" if pods else ""


def render(diagnosis: Diagnosis) -> str:
    fs = diagnosis.findings
    out = ["# Image pull diagnosis", ""]
    if not fs:
        out += ["No container is failing to get its image.", ""]
    else:
        out += ["| namespace | pod | container | image | cause | confidence |", "|---|---|---|---|---|---|"]
        out += [f"| {_cell(f.namespace)} | {_cell(f.pod)} | {_cell(f.container)} | `{_cell(f.image)}` | "
                f"`{f.cause.value}` | {f.confidence.value} |" for f in fs]
        out.append("")
    if diagnosis.groups:
        out += ["## Shared causes", ""] + [f"- {g.summary}" for g in diagnosis.groups] + [""]
    others_of = {id(g.members[0]): g.members[1:] for g in diagnosis.groups}
    skip = {id(m) for g in diagnosis.groups for m in g.members[1:]}
    for f in fs:
        if id(f) in skip:
            continue
        v = f.verdict
        out += [f"## {f.namespace}/{f.pod} — {f.container}: `{f.cause.value}` ({f.confidence.value})", "",
                v.summary, "", f"- image: `{f.image}`"]
        if f.node:
            out.append(f"- node: `{f.node}`")
        out += ["", "### Evidence", ""] + [f"- **{e.source}**: {e.text}" for e in v.evidence]
        out += [f"- **against**: {c}" for c in v.contradictions]
        out += [f"- **to settle**: {s}" for s in v.settle]
        out += ["", "### Fix", ""]
        for i, fix in enumerate(f.fixes, 1):
            out.append(f"{i}. {fix.text}")
            if fix.commands:
                out += ["", "   ```sh", *[f"   {c}" for c in fix.commands], "   ```", ""]
        others = others_of.get(id(f), [])
        if others:
            out += ["", f"Same cause for {len(others)} more: "
                    + ", ".join(f"`{o.namespace}/{o.pod}`" for o in others[:20]) + (", …" if len(others) > 20 else "")]
        out.append("")
    if diagnosis.not_image:
        out.append("Stuck for other reasons (not image pulls): "
                   + ", ".join(f"{r} {n}{_named(diagnosis.not_image_pods.get(r, []), n)}"
                               for r, n in sorted(diagnosis.not_image.items())) + ".")
    out += [f"> note: {n}" for n in diagnosis.notes]
    return printable_text("\n".join(out).rstrip() + "\n")  # no escape sequence, no user:password@ from a runtime
