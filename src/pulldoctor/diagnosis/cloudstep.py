"""The cloud step of the pipeline: for an ECR pull refused or not found on an ``aws://`` node, read what AWS
says (``cloud.aws``, pulldoctor[aws]) and attach it to the evidence; one time budget for all of them.

On by default only where it can run: the extra installed and credentials in boto3's chain. Otherwise one
note says why (and which ``pip install`` brings the extra); ``--no-cloud`` leaves the step out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

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


def aws(*, budget: float = 30.0, timeout: float = 5.0, cache: Any = None, recheck: float = 300.0) -> CloudReader:
    """The live reader: one ``cloud.aws.collect`` per distinct (node, image), within ``budget`` seconds per
    call. ``cache`` (a ``cloud.aws.Cache``) keeps AWS's answers between calls (``serve``); whether the extra
    and credentials are there is asked again after ``recheck`` seconds."""
    checked: list[tuple[float, str | None]] = []

    def unavailable() -> str | None:
        if checked and time.monotonic() - checked[0][0] < recheck:
            return checked[0][1]
        from pulldoctor.cloud import aws as cloud_aws

        why = cloud_aws.missing_extra()
        if why is None and not cloud_aws.has_credentials():
            why = ("ECR IAM evidence not read: no AWS credentials in boto3's chain (environment, profile, SSO, "
                   "web identity, instance metadata); --no-cloud silences this")
        checked[:] = [(time.monotonic(), why)]
        return why

    def read(evidences: Sequence[Evidence]) -> list[str]:
        todo = [(ev, w) for ev in evidences if (w := wanted(ev)) is not None]
        if not todo:
            return []
        why = unavailable()
        if why is not None:
            for ev, _ in todo:
                ev.cloud_note = why
            return [why]
        from pulldoctor.cloud import aws as cloud_aws

        end = time.monotonic() + budget
        seen: dict[Key, cloud_aws.AwsEvidence | None] = {}
        notes: list[str] = []
        for ev, (key, host) in todo:
            if key not in seen:
                left = end - time.monotonic()
                if left <= 0:
                    ev.cloud_note = f"not read: the {budget:g}s budget for AWS evidence is spent"
                    continue
                instance, zone, _, repo, ref = key
                try:
                    got = cloud_aws.collect(instance, zone, host, repo, ref, budget=left, timeout=timeout,
                                            cache=cache)
                except Exception as err:  # an answer in a shape nobody expected: a note, not a crash
                    got = None
                    note = f"ECR IAM evidence not read: {type(err).__name__} while reading AWS's answers"
                    notes += [note] if note not in notes else []
                seen[key] = got
                notes += [n for n in got.notes if n not in notes] if got is not None else []
            ev.cloud = seen[key]
            if ev.cloud is None:
                ev.cloud_note = "not read: AWS's answers could not be read"
        return notes
    return read
