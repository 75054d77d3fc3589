"""ECR IAM evidence from AWS (``pip install 'pulldoctor[aws]'``): the node's role, what it may do, what the
repository allows, and whether the repository and tag exist; then the local evaluation of a pull.

Read-only calls only, each with boto3's default credential chain, short timeouts, two attempts at most and
one time budget for the whole step. A refused call (AccessDenied) or an AWS that does not answer becomes a
note naming the call, never a failure. boto3 is imported only when a collection runs.
"""

from __future__ import annotations

import copy
import difflib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pulldoctor.cloud.ecrtoken import EcrHost
from pulldoctor.cloud.iampolicy import Decision, Policy, PolicyError, Principal, evaluate_pull, parse
from pulldoctor.cloud.providers import region_of_zone
from pulldoctor.redact import printable

EXTRA_HINT = "pip install 'pulldoctor[aws]'"
_MAX_POLICIES = 50       # attached + inline policies read per role
_MAX_TAGS = 1000         # tags listed for the closest-tag hint


def missing_extra() -> str | None:
    """Why AWS evidence cannot be read by this install (None: boto3 is there)."""
    try:
        import boto3  # noqa: F401
    except ImportError:
        return f"ECR IAM evidence not read: boto3 is not installed ({EXTRA_HINT} brings it)"
    return None


def has_credentials() -> bool:
    """Whether boto3's default chain finds credentials (environment, profiles, SSO, web identity, IMDS)."""
    import boto3

    try:
        return boto3.session.Session().get_credentials() is not None
    except Exception:  # a broken profile file: botocore raises its own family; treat as "none"
        return False


@dataclass
class AwsEvidence:
    """What AWS said about one ECR pull by one node, and the local evaluation of it."""

    instance_id: str
    registry: EcrHost
    repository: str
    reference: str                         # the tag or digest pulled
    role_arn: str | None = None
    instance_profile: str | None = None
    identity_policies: list[Policy] = field(default_factory=list)
    identity_complete: bool = False        # every attached and inline policy was read whole
    policy_arns: dict[str, str] = field(default_factory=dict)  # label of a managed policy -> its ARN
    repository_policy: Policy | None = None
    repository_policy_read: bool = False   # read whole (or known to be absent)
    repository_policy_text: str | None = None  # the policy as read (statement wording; policies hold no secrets)
    repo_exists: bool | None = None
    image_exists: bool | None = None
    closest_tags: list[str] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def role_name(self) -> str | None:
        return self.role_arn.rsplit("/", 1)[-1] if self.role_arn else None

    @property
    def repository_arn(self) -> str:
        part = "aws-cn" if self.registry.region.startswith("cn-") else "aws"
        return f"arn:{part}:ecr:{self.registry.region}:{self.registry.account}:repository/{self.repository}"

    @property
    def denied(self) -> Decision | None:
        """The first pull action that is not allowed, if the evaluation ran."""
        return next((d for d in self.decisions if d.effect != "allow"), None)


class Cache:
    """Whole AWS answers for ``ttl`` seconds, per node instance, per role and per repository and tag; at most
    ``max_entries`` (the oldest go first). Thread-safe: ``serve`` diagnoses on a worker thread."""

    def __init__(self, ttl: float = 300.0, max_entries: int = 2000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._items: dict[tuple[str, ...], tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: tuple[str, ...]) -> Any:
        with self._lock:
            item = self._items.get(key)
            if item is None or time.monotonic() - item[0] >= self.ttl:
                self.misses += 1
                return None
            self.hits += 1
            return item[1]

    def put(self, key: tuple[str, ...], value: Any) -> None:
        with self._lock:
            self._items.pop(key, None)
            self._items[key] = (time.monotonic(), value)
            while len(self._items) > self.max_entries:
                self._items.pop(next(iter(self._items)))


class _Budget:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


def collect(instance_id: str, zone: str, registry: EcrHost, repository: str, reference: str, *,
            budget: float = 20.0, timeout: float = 5.0, cache: Cache | None = None) -> AwsEvidence:
    """Read the evidence for one pull (see the module docstring); never raises for AWS's answers.

    With ``cache``, the node's role (per instance), the role's policies (per role) and the repository's
    answers (per repository and tag) are read once per TTL, however many pods ask."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as AwsConnectionError

    ev = AwsEvidence(instance_id, registry, repository, reference)
    clock = _Budget(budget)
    cfg = Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 2, "mode": "standard"},
                 user_agent_extra="pulldoctor")
    session = boto3.session.Session()
    node_region = region_of_zone(zone) or registry.region

    silent: list[str] = []  # the call AWS did not answer: the others would stall the same way

    def call(what: str, client: Any, method: str, **kw: Any) -> Any:
        """One AWS call, or None with a note: refused, not found (the caller decides), timed out."""
        if silent:
            return None
        if clock.left() <= 0:
            if not any("time budget" in n for n in ev.notes):
                ev.notes.append(f"AWS evidence stopped at {what}: the {budget:g}s time budget is spent")
            return None
        try:
            return getattr(client, method)(**kw)
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", ""))
            if code in _NOT_FOUND:
                return _NotFound(code)
            if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation"):
                ev.notes.append(f"AWS refused {what} ({code}): the credentials pulldoctor runs with need that "
                                "read permission")
            else:
                ev.notes.append(f"AWS answered {what} with {printable(code or 'an error')}")
        except BotoCoreError as err:
            silent.append(what)
            kind = printable(type(err).__name__)
            if isinstance(err, HTTPClientError | AwsConnectionError):
                ev.notes.append(f"AWS did not answer {what}: {kind} (timeouts {timeout:g}s, 2 attempts); "
                                "the other AWS reads were skipped")
            else:
                ev.notes.append(f"boto3 could not call {what}: {kind}; the other AWS reads were skipped")
        return None

    ec2 = session.client("ec2", region_name=node_region, config=cfg)
    iam = session.client("iam", region_name=node_region, config=cfg)
    ecr = session.client("ecr", region_name=registry.region, config=cfg)

    def layer(key: tuple[str, ...], fields: tuple[str, ...], read: Callable[[], None]) -> None:
        """One part of the evidence, from ``cache`` when it holds a whole answer for ``key``."""
        hit = cache.get(key) if cache is not None else None
        if hit is not None:
            values, notes = hit
            for name, value in values.items():
                setattr(ev, name, copy.copy(value))
            ev.notes += [n for n in notes if n not in ev.notes]
            return
        before = len(ev.notes)
        read()
        if cache is not None and not silent and clock.left() > 0:  # cut short: not a whole answer
            cache.put(key, ({name: copy.copy(getattr(ev, name)) for name in fields}, ev.notes[before:]))

    layer(("role", instance_id), ("role_arn", "instance_profile"), lambda: _role(ev, call, ec2, iam))
    if ev.role_arn is not None:
        layer(("policies", ev.role_arn), ("identity_policies", "identity_complete", "policy_arns"),
              lambda: _identity(ev, call, iam))
    layer(("repository", registry.account, registry.region, repository, reference),
          ("repo_exists", "image_exists", "closest_tags", "repository_policy", "repository_policy_read",
           "repository_policy_text"), lambda: _repository(ev, call, ecr))
    if ev.role_arn is not None and ev.identity_complete and ev.repository_policy_read:
        try:
            who = Principal.for_role(ev.role_arn, session=instance_id)
        except PolicyError:
            ev.notes.append("the node's role ARN is not one pulldoctor can read; the policies were not evaluated")
        else:
            ev.decisions = evaluate_pull(who, ev.identity_policies, ev.repository_policy, ev.repository_arn,
                                         registry.account)
    return ev


_NOT_FOUND = {"ImageNotFoundException", "RepositoryNotFoundException", "RepositoryPolicyNotFoundException",
              "NoSuchEntity", "InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"}


@dataclass(frozen=True, slots=True)
class _NotFound:
    code: str


def _role(ev: AwsEvidence, call: Any, ec2: Any, iam: Any) -> None:
    out = call("ec2:DescribeInstances", ec2, "describe_instances", InstanceIds=[ev.instance_id])
    if isinstance(out, _NotFound):
        ev.notes.append(f"EC2 has no instance {ev.instance_id} (the node's providerID) in the caller's account")
        return
    if out is None:
        return
    insts = [i for r in out.get("Reservations", []) for i in r.get("Instances", [])]
    arn = (insts[0].get("IamInstanceProfile") or {}).get("Arn") if insts else None
    if not arn:
        ev.notes.append(f"instance {ev.instance_id} has no instance profile: the node has no IAM role for ECR")
        return
    name = arn.rsplit("/", 1)[-1]
    ev.instance_profile = name
    prof = call("iam:GetInstanceProfile", iam, "get_instance_profile", InstanceProfileName=name)
    if prof is None or isinstance(prof, _NotFound):
        return
    roles = prof.get("InstanceProfile", {}).get("Roles", [])
    if not roles:
        ev.notes.append(f"instance profile {printable(name)} holds no role")
        return
    ev.role_arn = roles[0].get("Arn")


def _identity(ev: AwsEvidence, call: Any, iam: Any) -> None:
    name = ev.role_name
    complete = True
    attached = call("iam:ListAttachedRolePolicies", iam, "list_attached_role_policies", RoleName=name,
                    MaxItems=_MAX_POLICIES)
    inline = call("iam:ListRolePolicies", iam, "list_role_policies", RoleName=name, MaxItems=_MAX_POLICIES)
    if not isinstance(attached, dict) or not isinstance(inline, dict):
        ev.identity_complete = False
        return
    if attached.get("IsTruncated") or inline.get("IsTruncated"):
        ev.notes.append(f"role {name} has more than {_MAX_POLICIES} policies; only the first were read")
        complete = False
    for ap in attached.get("AttachedPolicies", []):
        arn, pname = ap.get("PolicyArn", ""), ap.get("PolicyName", "")
        pol = call("iam:GetPolicy", iam, "get_policy", PolicyArn=arn)
        version = pol.get("Policy", {}).get("DefaultVersionId") if isinstance(pol, dict) else None
        doc = call("iam:GetPolicyVersion", iam, "get_policy_version", PolicyArn=arn, VersionId=version) \
            if version else None
        label = printable(f"role's managed policy {pname}")
        ev.policy_arns[label] = arn
        complete &= _add(ev, doc.get("PolicyVersion", {}).get("Document") if isinstance(doc, dict) else None,
                         label)
    for pname in inline.get("PolicyNames", []):
        doc = call("iam:GetRolePolicy", iam, "get_role_policy", RoleName=name, PolicyName=pname)
        complete &= _add(ev, doc.get("PolicyDocument") if isinstance(doc, dict) else None,
                         f"role's inline policy {pname}")
    ev.identity_complete = complete


def _add(ev: AwsEvidence, doc: Any, label: str) -> bool:
    if doc is None:
        return False
    try:
        ev.identity_policies.append(parse(doc, printable(label)))
    except PolicyError as err:
        ev.notes.append(str(err))
        return False
    return True


def _repository(ev: AwsEvidence, call: Any, ecr: Any) -> None:
    repo, ref = ev.repository, ev.reference
    image_id = {"imageDigest": ref} if ref.startswith("sha256:") else {"imageTag": ref}
    out = call("ecr:DescribeImages", ecr, "describe_images", registryId=ev.registry.account, repositoryName=repo,
               imageIds=[image_id])
    if isinstance(out, _NotFound):
        if out.code == "RepositoryNotFoundException":
            ev.repo_exists, ev.image_exists = False, False
            return
        ev.repo_exists, ev.image_exists = True, False
        listed = call("ecr:ListImages", ecr, "list_images", registryId=ev.registry.account, repositoryName=repo,
                      maxResults=_MAX_TAGS, filter={"tagStatus": "TAGGED"})
        if isinstance(listed, dict):
            tags = [i["imageTag"] for i in listed.get("imageIds", []) if i.get("imageTag")][:_MAX_TAGS]
            ev.closest_tags = difflib.get_close_matches(ref, tags, n=5, cutoff=0.3)
    elif out is not None:
        ev.repo_exists, ev.image_exists = True, bool(out.get("imageDetails"))
    pol = call("ecr:GetRepositoryPolicy", ecr, "get_repository_policy", registryId=ev.registry.account,
               repositoryName=repo)
    if isinstance(pol, _NotFound):
        ev.repository_policy_read = ev.repo_exists is not False
        return
    if pol is None:
        return
    text = pol.get("policyText", "")
    try:
        ev.repository_policy = parse(text, f"repository policy of {printable(repo)}")
    except PolicyError as err:
        ev.notes.append(str(err))
        return
    ev.repository_policy_text = text
    ev.repository_policy_read = True
