"""The cloud step of the pipeline: for an ECR pull refused or not found on an ``aws://`` node, read what AWS
says (``cloud.aws``, pulldoctor[aws]) and attach it to the evidence; one time budget for all of them.

On by default only where it can run: the extra installed and credentials in boto3's chain. Otherwise one
note says why (and which ``pip install`` brings the extra); ``--no-cloud`` leaves the step out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from pulldoctor.causes import Cause
from pulldoctor.cloud.ecrtoken import EcrHost, ecr_host
from pulldoctor.cloud.providers import aws_instance
from pulldoctor.diagnosis.evidence import Evidence

#: Attach cloud evidence to the evidences that want it; return notes for the report.
CloudReader = Callable[[Sequence[Evidence]], list[str]]
C = Cause
_WANTED = {C.FORBIDDEN, C.AUTH_MISSING, C.AUTH_INVALID, C.REPO_NOT_FOUND_OR_NO_ACCESS, C.TAG_NOT_FOUND,
           C.REPO_NOT_FOUND}

Key = tuple[str, str, str, str, str]  # instance, zone, registry host, repository, tag or digest


def wanted(ev: Evidence) -> tuple[Key, EcrHost] | None:
    """The AWS question this evidence asks (an ECR pull refused or not found on an EC2 node), if any."""
    if ev.ref is None or ev.message_cause not in _WANTED:
        return None
    host = ecr_host(ev.ref.registry)
    inst = aws_instance(ev.node.provider_id if ev.node else None)
    if host is None or inst is None:
        return None
    zone, instance = inst
    return (instance, zone, ev.ref.registry, ev.ref.repository, ev.ref.digest or ev.ref.tag or "latest"), host


def aws(*, budget: float = 30.0, timeout: float = 5.0) -> CloudReader:
    """The live reader: one ``cloud.aws.collect`` per distinct (node, image), within ``budget`` seconds."""
    def read(evidences: Sequence[Evidence]) -> list[str]:
        todo = [(ev, w) for ev in evidences if (w := wanted(ev)) is not None]
        if not todo:
            return []
        from pulldoctor.cloud import aws as cloud_aws

        why = cloud_aws.missing_extra()
        if why is None and not cloud_aws.has_credentials():
            why = ("ECR IAM evidence not read: no AWS credentials in boto3's chain (environment, profile, SSO, "
                   "web identity, instance metadata); --no-cloud silences this")
        if why is not None:
            for ev, _ in todo:
                ev.cloud_note = why
            return [why]
        end = time.monotonic() + budget
        seen: dict[Key, cloud_aws.AwsEvidence] = {}
        notes: list[str] = []
        for ev, (key, host) in todo:
            if key not in seen:
                left = end - time.monotonic()
                if left <= 0:
                    ev.cloud_note = f"not read: the {budget:g}s budget for AWS evidence is spent"
                    continue
                instance, zone, _, repo, ref = key
                seen[key] = got = cloud_aws.collect(instance, zone, host, repo, ref, budget=left, timeout=timeout)
                notes += [n for n in got.notes if n not in notes]
            ev.cloud = seen[key]
        return notes
    return read
