"""The local IAM evaluator against AWS's documented evaluation rules (IAM User Guide: "Policy evaluation
logic", "Cross-account policy evaluation logic", "AWS JSON policy elements: Principal / NotPrincipal /
Action / Resource / Condition"), plus properties that must hold for any policy."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulldoctor.cloud.iampolicy import (
    MAX_POLICY_CHARS,
    PULL_ACTIONS,
    Policy,
    PolicyError,
    Principal,
    evaluate,
    evaluate_pull,
    parse,
)

ACCT, OTHER = "111122223333", "444455556666"
ROLE = f"arn:aws:iam::{ACCT}:role/eks/node-role"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/node-role/i-0123456789abcdef0"
WHO = Principal.for_role(ROLE, session="i-0123456789abcdef0")
REPO = f"arn:aws:ecr:us-east-1:{ACCT}:repository/shop/app"
XREPO = f"arn:aws:ecr:us-east-1:{OTHER}:repository/shop/app"
READ_ONLY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
    "ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer",
    "ecr:BatchGetImage", "ecr:DescribeImages"]}]}


def pol(label: str, *statements: dict) -> Policy:
    return parse({"Version": "2012-10-17", "Statement": list(statements)}, label)


def ident(*statements: dict) -> list[Policy]:
    return [pol("role's inline policy p", *statements)]


def repo_policy(*statements: dict) -> Policy:
    return pol("repository policy of shop/app", *statements)


def allow(action="ecr:BatchGetImage", resource="*", **kw) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **kw}


def ev(action="ecr:BatchGetImage", identity=(), resource_policy=None, resource=REPO, account=ACCT):
    return evaluate(action, resource, WHO, list(identity), resource_policy, account)


def test_session_principal_from_role() -> None:
    assert WHO.session_arn == SESSION and WHO.account == ACCT
    with pytest.raises(PolicyError):
        Principal.for_role("arn:aws:iam::111122223333:user/bob")


def test_nothing_allows_is_an_implicit_deny() -> None:
    d = ev()
    assert (d.effect, d.certain) == ("implicit_deny", True)
    assert "no Allow for ecr:BatchGetImage" in d.why


def test_managed_read_only_policy_allows_every_pull_action() -> None:
    ds = evaluate_pull(WHO, [parse(READ_ONLY, "role's managed policy AmazonEC2ContainerRegistryReadOnly")], None,
                       REPO, ACCT)
    assert [d.action for d in ds] == list(PULL_ACTIONS) and all(d.effect == "allow" and d.certain for d in ds)


def test_the_field_report_repository_deny_naming_the_role_wins_over_the_managed_allow() -> None:
    deny = {"Sid": "DenyNodeGroup", "Effect": "Deny", "Principal": {"AWS": ROLE}, "Action": ["ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer"]}
    d = ev(identity=[parse(READ_ONLY, "role's managed policy RO")], resource_policy=repo_policy(deny))
    assert (d.effect, d.certain) == ("explicit_deny", True)
    assert d.statements[0].sid == "DenyNodeGroup" and "repository policy" in d.statements[0].policy
    assert "DenyNodeGroup" in d.why and "Effect Deny" in d.why and ROLE in d.why


def test_explicit_deny_in_an_identity_policy_wins_over_a_resource_allow() -> None:
    d = ev(identity=ident({"Effect": "Deny", "Action": "ecr:*", "Resource": "*"}),
           resource_policy=repo_policy(allow(Principal={"AWS": ROLE})))
    assert d.effect == "explicit_deny"


def test_same_account_resource_policy_naming_the_role_suffices_alone() -> None:
    d = ev(resource_policy=repo_policy({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "ecr:BatchGetImage"}))
    assert d.effect == "allow"


def test_same_account_resource_policy_naming_the_session_suffices() -> None:
    d = ev(resource_policy=repo_policy({"Effect": "Allow", "Principal": {"AWS": SESSION}, "Action": "ecr:*"}))
    assert d.effect == "allow"


def test_resource_policy_naming_only_the_account_delegates_to_identity_policies() -> None:
    for principal in (ACCT, f"arn:aws:iam::{ACCT}:root"):
        d = ev(resource_policy=repo_policy({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "ecr:*"}))
        assert d.effect == "implicit_deny", principal
        assert ev(identity=ident(allow()), resource_policy=repo_policy(
            {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "ecr:*"})).effect == "allow"


def test_cross_account_needs_both_sides() -> None:
    other = repo_policy({"Sid": "Pull", "Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "ecr:BatchGetImage"})
    assert ev(identity=ident(allow()), resource=XREPO, account=OTHER).effect == "implicit_deny"
    assert ev(resource_policy=other, resource=XREPO, account=OTHER).effect == "implicit_deny"
    assert ev(identity=ident(allow()), resource_policy=other, resource=XREPO, account=OTHER).effect == "allow"
    root = repo_policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"}, "Action": "ecr:*"})
    assert ev(identity=ident(allow()), resource_policy=root, resource=XREPO, account=OTHER).effect == "allow"
    d = ev(identity=ident(allow()), resource=XREPO, account=OTHER, resource_policy=repo_policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "ecr:*"}))
    assert d.effect == "implicit_deny" and "cross-account" in d.why


def test_principal_star_and_unknown_principals() -> None:
    assert ev(resource_policy=repo_policy({"Effect": "Allow", "Principal": "*", "Action": "ecr:*"})).effect == "allow"
    assert ev(resource_policy=repo_policy({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "ecr:*"})).effect \
        == "allow"
    other_role = f"arn:aws:iam::{ACCT}:role/someone-else"
    assert ev(resource_policy=repo_policy({"Effect": "Deny", "Principal": {"AWS": other_role},
                                           "Action": "ecr:*"}), identity=ident(allow())).effect == "allow"
    assert ev(resource_policy=repo_policy({"Effect": "Deny", "Principal": {"Service": "ec2.amazonaws.com"},
                                           "Action": "ecr:*"}), identity=ident(allow())).effect == "allow"
    # A role ARN without its path does not name the role (IAM compares the whole ARN).
    no_path = f"arn:aws:iam::{ACCT}:role/node-role"
    assert ev(resource_policy=repo_policy({"Effect": "Deny", "Principal": {"AWS": no_path},
                                           "Action": "ecr:*"}), identity=ident(allow())).effect == "allow"


def test_malformed_principal_makes_the_verdict_uncertain() -> None:
    d = ev(identity=ident(allow()), resource_policy=repo_policy({"Effect": "Deny", "Principal": {"AWS": 42},
                                                                 "Action": "ecr:*"}))
    assert d.effect == "allow" and not d.certain and "Principal" in d.undecided[0]


def test_not_principal_deny_applies_unless_role_and_account_are_excluded() -> None:
    deny = {"Effect": "Deny", "NotPrincipal": {"AWS": [ROLE]}, "Action": "ecr:*"}
    assert ev(identity=ident(allow()), resource_policy=repo_policy(deny)).effect == "explicit_deny"
    deny["NotPrincipal"] = {"AWS": [ROLE, f"arn:aws:iam::{ACCT}:root"]}
    assert ev(identity=ident(allow()), resource_policy=repo_policy(deny)).effect == "allow"


@pytest.mark.parametrize(("pattern", "hit"), [
    ("ecr:*", True), ("ECR:batchgetimage", True), ("ecr:Batch*", True), ("ecr:BatchGetImag?", True),
    ("*", True), ("ecr:Get*", False), ("s3:*", False), ("ecr:BatchGetImages", False),
])
def test_action_wildcards_case_insensitive(pattern: str, hit: bool) -> None:
    assert (ev(identity=ident(allow(action=pattern))).effect == "allow") is hit


def test_not_action() -> None:
    assert ev(identity=ident({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})).effect == "allow"
    assert ev(identity=ident({"Effect": "Allow", "NotAction": "ecr:Batch*", "Resource": "*"})).effect != "allow"
    d = ev(identity=ident(allow(), {"Effect": "Deny", "NotAction": "ecr:DescribeImages", "Resource": "*"}))
    assert d.effect == "explicit_deny"


@pytest.mark.parametrize(("resource", "hit"), [
    (REPO, True), (f"arn:aws:ecr:*:{ACCT}:repository/*", True), (f"arn:aws:ecr:us-east-1:{ACCT}:repository/shop/*",
                                                                True),
    (f"arn:aws:ecr:us-east-1:{ACCT}:repository/other", False), (f"arn:aws:ecr:us-east-1:{ACCT}:repository/Shop/app",
                                                                False),
    (f"arn:aws:ecr:us-east-1:{OTHER}:repository/*", False), ("arn:aws:ecr:*", True),
])
def test_resource_arn_wildcards_case_sensitive(resource: str, hit: bool) -> None:
    assert (ev(identity=ident(allow(resource=resource))).effect == "allow") is hit


def test_not_resource_and_resource_policy_without_resource() -> None:
    assert ev(identity=ident({"Effect": "Allow", "Action": "ecr:*", "NotResource": XREPO})).effect == "allow"
    assert ev(identity=ident({"Effect": "Allow", "Action": "ecr:*", "NotResource": REPO})).effect != "allow"
    # Identity statements need a Resource; a repository policy's statement applies to its repository.
    assert ev(identity=ident({"Effect": "Allow", "Action": "ecr:*"})).effect != "allow"


def test_get_authorization_token_ignores_the_repository_policy() -> None:
    ds = evaluate_pull(WHO, [], repo_policy({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "ecr:*"}),
                       REPO, ACCT)
    assert ds[0].action == "ecr:GetAuthorizationToken" and ds[0].effect == "implicit_deny"
    assert all(d.effect == "allow" for d in ds[1:])


def test_undecidable_condition_is_named_and_not_certain() -> None:
    deny = {"Sid": "OnlyFromVpce", "Effect": "Deny", "Principal": "*", "Action": "ecr:*",
            "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}}
    d = ev(identity=ident(allow()), resource_policy=repo_policy(deny))
    assert d.effect == "allow" and not d.certain
    assert "OnlyFromVpce" in d.undecided[0] and "aws:SourceVpce" in d.undecided[0]
    d = ev(identity=ident(allow(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})))
    assert d.effect == "implicit_deny" and not d.certain and "aws:SourceIp" in d.undecided[0]


def test_principal_arn_condition_is_decided() -> None:
    deny = {"Effect": "Deny", "Principal": "*", "Action": "ecr:*",
            "Condition": {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCT}:role/eks/*"}}}
    d = ev(identity=ident(allow()), resource_policy=repo_policy(deny))
    assert (d.effect, d.certain) == ("explicit_deny", True)
    deny["Condition"] = {"StringNotEquals": {"aws:PrincipalAccount": ACCT}}
    assert ev(identity=ident(allow()), resource_policy=repo_policy(deny)).effect == "allow"


@pytest.mark.parametrize(("text", "needle"), [
    ("{", "not valid JSON"), ("[]", "not a JSON object"), ('{"Statement": 3}', "no Statement"),
    ('{"Statement": [{"Effect": "Maybe", "Action": "*"}]}', "Effect"),
    ('{"Statement": [{"Effect": "Allow"}]}', "Action and NotAction"),
    ('{"Statement": [{"Effect": "Allow", "Action": {"a": 1}}]}', "Action"),
    ('{"Statement": [' + ",".join(['{"Effect":"Allow","Action":"*"}'] * 1001) + "]}", "more than 1000"),
    ("[" * 100_000, "not valid JSON"),
    (" " * (MAX_POLICY_CHARS + 1), "longer than"),
])
def test_malformed_policies_raise_one_line_policy_error(text: str, needle: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse(text, "repository policy of x")
    assert needle in str(err.value) and "\n" not in str(err.value) and len(str(err.value)) < 200


# --- Properties --------------------------------------------------------------------------------------

_ACTIONS = st.sampled_from(["ecr:*", "ecr:BatchGetImage", "ecr:Get*", "*", "s3:*", "ECR:batch*", "ecr:Describe*"])
_RESOURCES = st.sampled_from(["*", REPO, XREPO, f"arn:aws:ecr:*:{ACCT}:repository/*", "arn:aws:ecr:*"])
_PRINCIPALS = st.sampled_from(["*", {"AWS": ROLE}, {"AWS": SESSION}, {"AWS": ACCT}, {"AWS": OTHER},
                               {"AWS": f"arn:aws:iam::{ACCT}:root"}, {"Service": "ec2.amazonaws.com"}])


@st.composite
def statements(draw, resource_policy: bool) -> dict:
    s: dict = {"Effect": draw(st.sampled_from(["Allow", "Deny"]))}
    s["NotAction" if draw(st.booleans()) and draw(st.booleans()) else "Action"] = draw(_ACTIONS)
    if resource_policy:
        s["Principal"] = draw(_PRINCIPALS)
        if draw(st.booleans()):
            s["Resource"] = draw(_RESOURCES)
    else:
        s["Resource"] = draw(_RESOURCES)
    return s


_IDENTITY = st.lists(statements(False), max_size=5)
_REPO = st.lists(statements(True), max_size=5)
_WHERE = st.sampled_from([(REPO, ACCT), (XREPO, OTHER)])


def _run(idl: list[dict], rpl: list[dict], where: tuple[str, str]) -> str:
    resource, account = where
    return evaluate("ecr:BatchGetImage", resource, WHO, [pol("role's inline policy p", *idl)] if idl else [],
                    repo_policy(*rpl) if rpl else None, account).effect


@settings(max_examples=300, deadline=None)
@given(_IDENTITY, _REPO, _WHERE, st.booleans())
def test_adding_an_explicit_deny_never_turns_a_deny_into_an_allow(idl, rpl, where, to_identity) -> None:
    before = _run(idl, rpl, where)
    deny = {"Effect": "Deny", "Action": "ecr:*", "Resource": "*"}
    after = _run([*idl, deny], rpl, where) if to_identity else _run(idl, [*rpl, {**deny, "Principal": "*"}], where)
    assert after == "explicit_deny"
    assert not (before != "allow" and after == "allow")


@settings(max_examples=300, deadline=None)
@given(_IDENTITY, _REPO, _WHERE, st.randoms(use_true_random=False))
def test_statement_order_does_not_matter(idl, rpl, where, rnd) -> None:
    before = _run(idl, rpl, where)
    a, b = list(idl), list(rpl)
    rnd.shuffle(a)
    rnd.shuffle(b)
    assert _run(a, b, where) == before


@settings(max_examples=300, deadline=None)
@given(_IDENTITY, _REPO, _WHERE)
def test_adding_an_allow_never_turns_an_allow_into_a_deny(idl, rpl, where) -> None:
    before = _run(idl, rpl, where)
    after = _run([*idl, allow()], rpl, where)
    if before == "allow":
        assert after == "allow"
    assert after != "implicit_deny" or where[1] != ACCT


@settings(max_examples=200, deadline=None)
@given(_IDENTITY, _REPO)
def test_cross_account_allow_implies_same_account_allow(idl, rpl) -> None:
    """Cross-account needs both sides, same-account either: whatever allows across accounts allows within
    (identity statements on every resource, so that only the account differs)."""
    idl = [{**s, "Resource": "*"} for s in idl]
    rpl = [{k: v for k, v in s.items() if k != "Resource"} for s in rpl]
    x = _run(idl, rpl, (XREPO, OTHER))
    if x == "allow":
        assert _run(idl, rpl, (REPO, ACCT)) == "allow"


@given(st.text(max_size=500))
def test_parse_never_raises_anything_but_policy_error(text: str) -> None:
    try:
        parse(text, "x")
    except PolicyError:
        pass


def test_describe_quotes_sid_effect_principal_actions() -> None:
    st_ = repo_policy({"Sid": "DenyNodes", "Effect": "Deny", "Principal": {"AWS": ROLE},
                       "Action": ["ecr:BatchGetImage"]}).statements[0]
    text = st_.describe()
    assert "'DenyNodes'" in text and "Effect Deny" in text and ROLE in text and "ecr:BatchGetImage" in text
    assert json.dumps({"AWS": ROLE}, separators=(",", ":")) in text
