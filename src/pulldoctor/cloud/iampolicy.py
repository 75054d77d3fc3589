"""A local IAM policy evaluator for the actions an ECR pull needs, as AWS documents policy evaluation.

Why local: ``iam:SimulatePrincipalPolicy`` evaluates resource-based policies only for IAM users, never for
an assumed role (a node's session), so a Deny in a repository policy against the node role is decided here.

The rules (IAM User Guide, "Policy evaluation logic" and "Cross-account policy evaluation logic"):

- an explicit ``Deny`` in any applicable policy wins;
- same account: an ``Allow`` in the identity policies OR in the resource policy suffices (a resource policy
  naming the account, not the role, delegates to the identity policies);
- cross account: an ``Allow`` is needed in both;
- otherwise the request is implicitly denied.

``Action``/``NotAction`` match case-insensitively with ``*``/``?``; ``Resource``/``NotResource`` match ARNs
case-sensitively with ``*``/``?``; ``Principal`` is ``*``, an account id, an account root ARN, a role ARN
(which also matches the role's sessions) or an assumed-role session ARN. A ``Condition`` is decided only
for ``aws:PrincipalArn`` / ``aws:PrincipalAccount``; any other is named and the result is then not certain.
Not read here: SCPs, permissions boundaries, session policies (they can only deny more).
Pure Python; no boto3.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

MAX_POLICY_CHARS = 256 * 1024  # IAM's own limits are 6-10 KB (managed 6,144; ECR repository 10,240)
MAX_STATEMENTS = 1000

PULL_ACTIONS = ("ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                "ecr:BatchCheckLayerAvailability")


class PolicyError(ValueError):
    """A policy document that cannot be evaluated; the message never quotes the document."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: a role session (``arn:aws:sts::ACCT:assumed-role/ROLE/SESSION``) and its role's ARN."""

    account: str
    role_arn: str | None = None      # arn:aws:iam::ACCT:role[/path]/NAME
    session_arn: str | None = None   # arn:aws:sts::ACCT:assumed-role/NAME/SESSION

    @staticmethod
    def for_role(role_arn: str, session: str = "") -> Principal:
        m = re.match(r"^arn:(aws[a-z-]*):iam::(\d{12}):role/(?:.*/)?([^/]+)$", role_arn)
        if m is None:
            raise PolicyError("not a role ARN")
        part, account, name = m.groups()
        return Principal(account, role_arn,
                         f"arn:{part}:sts::{account}:assumed-role/{name}/{session}" if session else None)


@dataclass(frozen=True, slots=True)
class Statement:
    policy: str                 # "repository policy of app", "role policy AmazonEC2ContainerRegistryReadOnly"
    index: int
    sid: str
    effect: Literal["Allow", "Deny"]
    raw: dict[str, Any]

    @property
    def name(self) -> str:
        return f"statement {self.sid!r}" if self.sid else f"statement #{self.index + 1}"

    def describe(self) -> str:
        """Sid, effect, principal and actions in one line (safe: policies hold no secrets, but escape it)."""
        parts = [self.name, f"Effect {self.effect}"]
        for key in ("Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"):
            if key in self.raw:
                text = json.dumps(self.raw[key], separators=(",", ":"), sort_keys=True)
                parts.append(f"{key} {text if len(text) <= 200 else text[:199] + '…'}")
        return ", ".join(parts) + f" (in the {self.policy})"


@dataclass(frozen=True, slots=True)
class Policy:
    label: str
    statements: tuple[Statement, ...]


def parse(text: str | dict[str, Any], label: str) -> Policy:
    """A policy document (JSON text or the decoded object); PolicyError for anything AWS would not accept."""
    if isinstance(text, str):
        if len(text) > MAX_POLICY_CHARS:
            raise PolicyError(f"the {label} is longer than {MAX_POLICY_CHARS} characters; not evaluated")
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError):
            raise PolicyError(f"the {label} is not valid JSON; not evaluated") from None
    else:
        doc = text
    if not isinstance(doc, dict):
        raise PolicyError(f"the {label} is not a JSON object; not evaluated")
    raw = doc.get("Statement")
    items = [raw] if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise PolicyError(f"the {label} has no Statement; not evaluated")
    if len(items) > MAX_STATEMENTS:
        raise PolicyError(f"the {label} has more than {MAX_STATEMENTS} statements; not evaluated")
    out = []
    for i, st in enumerate(items):
        if not isinstance(st, dict):
            raise PolicyError(f"statement #{i + 1} of the {label} is not an object; not evaluated")
        effect = st.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"statement #{i + 1} of the {label} has no Effect Allow or Deny; not evaluated")
        if ("Action" in st) == ("NotAction" in st):
            raise PolicyError(f"statement #{i + 1} of the {label} needs exactly one of Action and NotAction")
        for key in ("Action", "NotAction", "Resource", "NotResource"):
            if key in st and not _strings(st[key]):
                raise PolicyError(f"statement #{i + 1} of the {label} has a {key} that is not a string or list")
        sid = st.get("Sid", "")
        out.append(Statement(label, i, sid if isinstance(sid, str) else "", effect, st))
    return Policy(label, tuple(out))


def _strings(v: Any) -> list[str] | None:
    if isinstance(v, str):
        return [v]
    if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
        return list(v)
    return None


@functools.lru_cache(maxsize=2048)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    # IAM wildcards: * any run of characters (also across ':' and '/'), ? one character; nothing else.
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _any_glob(patterns: list[str], value: str, ignore_case: bool) -> bool:
    return any(_glob(p, ignore_case).fullmatch(value) for p in patterns)


def _action_applies(st: Statement, action: str) -> bool:
    if "Action" in st.raw:
        return _any_glob(_strings(st.raw["Action"]) or [], action, True)
    return not _any_glob(_strings(st.raw["NotAction"]) or [], action, True)


def _resource_applies(st: Statement, resource: str, implicit: bool) -> bool:
    """``implicit``: a resource policy's statement without Resource applies to the resource it is on."""
    if "Resource" in st.raw:
        return _any_glob(_strings(st.raw["Resource"]) or [], resource, False)
    if "NotResource" in st.raw:
        return not _any_glob(_strings(st.raw["NotResource"]) or [], resource, False)
    return implicit


# What a principal value names: "*", an account, a role (and its sessions) or one session.
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ROOT = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):root$")


def _principal_values(v: Any) -> list[str] | None:
    """The AWS principals a Principal element lists; ``["*"]`` for everyone; None when malformed."""
    if v == "*":
        return ["*"]
    if not isinstance(v, dict):
        return None
    out: list[str] = []
    for kind, val in v.items():
        vals = _strings(val)
        if vals is None:
            return None
        if kind == "AWS":
            out += vals
        # Service / Federated / CanonicalUser principals are never a node's role session.
    return out


Match = Literal["role", "account", "none"]


def _names(value: str, who: Principal) -> Match:
    """Does one principal value name ``who``: ``role`` (the role or the session itself), ``account`` (the
    whole account: delegates to its identity policies), or ``none``."""
    if value == "*":
        return "role"
    if _ACCOUNT_ID.match(value):
        return "account" if value == who.account else "none"
    m = _ROOT.match(value)
    if m:
        return "account" if m.group(1) == who.account else "none"
    if who.role_arn and value == who.role_arn:
        return "role"  # a role ARN in a resource policy matches every session of that role
    if who.session_arn and value == who.session_arn:
        return "role"
    return "none"


def _principal_applies(st: Statement, who: Principal) -> Match | None:
    """How a resource-policy statement's principal names ``who``; None when the element is malformed."""
    if "Principal" in st.raw:
        vals = _principal_values(st.raw["Principal"])
        if vals is None:
            return None
        found = {_names(v, who) for v in vals}
        return "role" if "role" in found else "account" if "account" in found else "none"
    if "NotPrincipal" in st.raw:
        vals = _principal_values(st.raw["NotPrincipal"])
        if vals is None:
            return None
        found = {_names(v, who) for v in vals}
        # Excluded only when both the caller and its account are listed (IAM User Guide, NotPrincipal).
        return "none" if {"role", "account"} <= found else "role"
    return None


_DECIDABLE = {"aws:principalarn", "aws:principalaccount"}


def _condition(st: Statement, who: Principal) -> tuple[bool, list[str]]:
    """(holds, undecided keys): a condition on any key but aws:PrincipalArn/PrincipalAccount is undecided."""
    cond = st.raw.get("Condition")
    if cond is None:
        return True, []
    if not isinstance(cond, dict):
        return True, ["Condition (malformed)"]
    undecided: list[str] = []
    holds = True
    for op, block in cond.items():
        if not isinstance(block, dict):
            undecided.append(f"{op} (malformed)")
            continue
        for key, want in block.items():
            k = str(key).lower()
            vals = _strings(want)
            base = str(op).removesuffix("IfExists")
            if k not in _DECIDABLE or vals is None or base not in _OPS:
                undecided.append(f"{op} {key}")
                continue
            # aws:PrincipalArn of a role session is the role's ARN (IAM global condition context keys).
            actual = (who.role_arn or who.session_arn or "") if k == "aws:principalarn" else who.account
            if not _OPS[base](vals, actual):
                holds = False
    return holds, undecided


def _eq(vals: list[str], actual: str) -> bool:
    return actual in vals


def _like(vals: list[str], actual: str) -> bool:
    return any(fnmatch.fnmatchcase(actual, v) for v in vals)


def _not(f: Callable[[list[str], str], bool]) -> Callable[[list[str], str], bool]:
    def neg(vals: list[str], actual: str) -> bool:
        return not f(vals, actual)
    return neg


def _eq_fold(vals: list[str], actual: str) -> bool:
    return actual.lower() in [x.lower() for x in vals]


_OPS: dict[str, Callable[[list[str], str], bool]] = {
    "StringEquals": _eq, "StringNotEquals": _not(_eq), "StringEqualsIgnoreCase": _eq_fold,
    "StringLike": _like, "StringNotLike": _not(_like),
    "ArnEquals": _like, "ArnLike": _like, "ArnNotEquals": _not(_like), "ArnNotLike": _not(_like),
}


@dataclass
class Decision:
    """One action's outcome: ``allow``, ``explicit_deny`` or ``implicit_deny``; ``certain`` unless a
    condition that could change it was undecided (named in ``undecided``)."""

    action: str
    effect: Literal["allow", "explicit_deny", "implicit_deny"]
    certain: bool
    statements: list[Statement] = field(default_factory=list)   # the Deny (or the Allows) that decided
    undecided: list[str] = field(default_factory=list)          # "statement 'x' (in the …): StringEquals …"
    why: str = ""


def evaluate(action: str, resource: str, who: Principal, identity: Sequence[Policy],
             resource_policy: Policy | None, resource_account: str) -> Decision:
    """AWS's evaluation of ``action`` on ``resource`` by ``who`` (see the module's docstring)."""
    denies: list[Statement] = []
    maybe_denies: list[str] = []
    id_allow: list[Statement] = []
    res_allow: list[Statement] = []
    res_allow_account: list[Statement] = []
    maybe_allows: list[str] = []

    def consider(st: Statement, match: str) -> None:
        holds, undecided = _condition(st, who)
        if not holds:
            return
        if undecided:
            (maybe_denies if st.effect == "Deny" else maybe_allows).append(
                f"{st.name} (in the {st.policy}): {', '.join(undecided)}")
            return
        if st.effect == "Deny":
            denies.append(st)
        elif match == "identity":
            id_allow.append(st)
        elif match == "role":
            res_allow.append(st)
        else:
            res_allow_account.append(st)

    for pol in identity:
        for st in pol.statements:
            if _action_applies(st, action) and _resource_applies(st, resource, implicit=False):
                consider(st, "identity")
    if resource_policy is not None:
        for st in resource_policy.statements:
            if not (_action_applies(st, action) and _resource_applies(st, resource, implicit=True)):
                continue
            m = _principal_applies(st, who)
            if m is None:
                maybe_denies.append(f"{st.name} (in the {st.policy}): a Principal pulldoctor cannot read")
            elif m != "none":
                consider(st, m)

    if denies:
        return Decision(action, "explicit_deny", True, denies, why=f"{denies[0].describe()} denies {action}")
    same = who.account == resource_account
    if same:
        allowed = id_allow or res_allow
    else:
        allowed = id_allow and (res_allow or res_allow_account)
    if allowed:
        return Decision(action, "allow", not maybe_denies, [*id_allow, *res_allow], maybe_denies,
                        why=f"allowed by {(id_allow or res_allow)[0].describe()}")
    where = ("the role's policies" if resource_policy is None or action == "ecr:GetAuthorizationToken"
             else "the role's policies or the repository policy" if same
             else "both the role's policies and the repository policy (cross-account)")
    if not same and id_allow and not (res_allow or res_allow_account):
        why = f"the repository policy grants {action} to neither this role nor its account (cross-account)"
    elif not same and (res_allow or res_allow_account) and not id_allow:
        why = f"no Allow for {action} in the role's policies (cross-account needs one on both sides)"
    else:
        why = f"no Allow for {action} in {where}"
    return Decision(action, "implicit_deny", not (maybe_allows or maybe_denies), [],
                    [*maybe_denies, *maybe_allows], why=why)


def evaluate_pull(who: Principal, identity: Sequence[Policy], repository_policy: Policy | None,
                  repository_arn: str, resource_account: str) -> list[Decision]:
    """Every pull action in order; ``ecr:GetAuthorizationToken`` is identity-only with resource ``*``."""
    out = [evaluate(PULL_ACTIONS[0], "*", who, identity, None, who.account)]
    out += [evaluate(a, repository_arn, who, identity, repository_policy, resource_account) for a in PULL_ACTIONS[1:]]
    return out
