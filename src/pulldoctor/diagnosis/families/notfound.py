"""What does not exist: a missing tag or digest (``tag_not_found``) or repository (``repo_not_found``); a probe's
tags/list tells which, and its closest tags become the fix.
"""

from __future__ import annotations

from pulldoctor.causes import Cause
from pulldoctor.diagnosis.evidence import Evidence
from pulldoctor.diagnosis.families.access import access
from pulldoctor.diagnosis.families.base import ACCESS, CERTAIN, NOT_FOUND, C, Family, by_cause
from pulldoctor.diagnosis.families.cloud import aws_verdict
from pulldoctor.diagnosis.families.verdicts import (
    disagree,
    from_message_only,
    probe_cause,
    probe_state,
    ref_what,
    tag_verdict,
)
from pulldoctor.diagnosis.kubectl import host_of, set_image
from pulldoctor.diagnosis.lines import base_lines, keyring_lines, probe_line
from pulldoctor.diagnosis.model import Confidence, Fix, Verdict


def not_found(ev: Evidence, claimed: Cause) -> Verdict:
    """"not found" / "manifest unknown": a probe (or ECR's DescribeImages) tells a missing tag (or digest)
    from a missing repository."""
    cloud = aws_verdict(ev, "not_found")
    if cloud is not None:
        return cloud
    state = probe_state(ev)
    if state in ("skipped", "unreachable"):
        hedge = " (containerd reports a missing repository the same way)" if claimed == C.TAG_NOT_FOUND else ""
        return from_message_only(
            ev, claimed,
            f"{ev.registry} has no {ref_what(ev.ref)} in {ev.ref.repository if ev.ref else ev.image}{hedge}.",
            "not_found", "tags/list tells a missing tag from a missing repository")
    lines = [*base_lines(ev), probe_line(ev), *keyring_lines(ev)]
    pc = probe_cause(ev)
    if pc == C.TAG_NOT_FOUND:
        return tag_verdict(ev, lines, "not_found")
    if pc == C.REPO_NOT_FOUND:
        return Verdict(C.REPO_NOT_FOUND, CERTAIN,
                       f"The repository {ev.ref.repository if ev.ref else ''} does not exist on {ev.registry}.",
                       lines, rule="not_found")
    if pc in ACCESS:
        return access(ev, pc)
    return disagree(ev, claimed, "not_found")


def _tag(ev: Evidence, v: Verdict) -> list[Fix]:
    ref = ev.ref
    repo_name = ref.name if ref else ev.image
    sugg = list(ev.probe.suggestions) if ev.probe is not None else []
    if not sugg and ev.cloud is not None:
        sugg = list(ev.cloud.closest_tags)
    if ref is not None and ref.digest:
        return [Fix(f"The digest {ref.digest} is not in {repo_name} (deleted, or from another repository). "
                    "Use a digest the registry has, e.g. resolve a tag to its digest and put it for DIGEST:",
                    (f"skopeo inspect --format '{{{{.Digest}}}}' docker://{repo_name}:TAG",
                     set_image(ev, f"{repo_name}@DIGEST")))]
    tag = (ref.tag if ref else None) or "latest"
    if sugg:
        # A guessed version is never pasted: the nearest lower one is a downgrade, a higher one may be a
        # major release. The candidates are named; the command carries TAG.
        return [Fix(f"Tag {tag} does not exist in {repo_name}. Tags that do, closest by name first (the registry's "
                    f"tag list gives no dates): {', '.join(sugg[:5])}. Put the one you meant for TAG:",
                    (set_image(ev, f"{repo_name}:TAG"),))]
    unsure = ("" if v.confidence == Confidence.CERTAIN else
              " If skopeo says the repository is unknown, the repository path is wrong instead (containerd "
              "reports a missing repository as \"not found\" too).")
    return [Fix(f"Tag {tag} does not exist in {repo_name} (or was never pushed).{unsure} List the tags and use one:",
                (f"skopeo list-tags docker://{repo_name}", set_image(ev, f"{repo_name}:TAG")))]


def _repo(ev: Evidence, v: Verdict) -> list[Fix]:
    ref = ev.ref
    repo = ref.repository if ref else ev.image
    return [Fix(f"{host_of(ev)} has no repository {repo}: check the spelling and the organisation/project path "
                "(and that the credentials in use can see it), then fix the image:",
                (set_image(ev, f"{host_of(ev)}/CORRECT/PATH:{(ref.tag if ref else None) or 'TAG'}"),))]


NOT_FOUND_FAMILY = Family("not_found", NOT_FOUND, "tag, digest or repository missing: a probe tells which",
                          not_found, by_cause({C.REPO_NOT_FOUND: _repo}, _tag))
