"""Cloud registry evidence inside the ``access``, ``forbidden`` and ``not_found`` families: a credential
provider that failed, an expired ECR token in a pull secret, and AWS's own answer for an ECR pull (the
node's role, its policies and the repository policy, evaluated locally). Not a family of its own: each
verdict is one of those families' causes, reached with better evidence.
"""

from __future__ import annotations

import re

from pulldoctor.cloud.ecrtoken import ecr_host
from pulldoctor.cloud.iampolicy import Statement
from pulldoctor.diagnosis.evidence import Evidence, ago
from pulldoctor.diagnosis.families.base import CERTAIN, LIKELY, POSSIBLE, C
from pulldoctor.diagnosis.kubectl import host_of, q, recreate_pod
from pulldoctor.diagnosis.lines import base_lines, keyring_lines, probe_line, retry_line
from pulldoctor.diagnosis.model import EvidenceLine, Fix, Verdict

_READ_ONLY = "arn:{part}:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"


def provider_untested(ev: Evidence, rule: str) -> Verdict | None:
    """A probe refused for an image whose credentials come from the node's credential provider: the probe
    could not send them (they are the node's identity), so its 401/403 says nothing about the node's pull.
    The verdict is then the message's, not the probe's."""
    p = ev.provider
    pc = ev.probe.cause if ev.probe is not None else None
    if p is None or ev.probe is None or ev.probe.credentials_sent or ev.kubelet_sends_credentials:
        return None
    if pc not in (C.AUTH_MISSING, C.AUTH_INVALID, C.REPO_NOT_FOUND_OR_NO_ACCESS, C.FORBIDDEN):
        return None
    claimed = ev.message_cause or C.OTHER
    if claimed not in (C.AUTH_MISSING, C.AUTH_INVALID, C.REPO_NOT_FOUND_OR_NO_ACCESS, C.FORBIDDEN):
        return None
    lines = [*base_lines(ev), *keyring_lines(ev), probe_line(ev),
             EvidenceLine("probe", f"the probe could not send what {p.name} supplies on the node ({p.identity}): "
                                   "its refusal says nothing about the node's own pull")]
    return Verdict(claimed, POSSIBLE if claimed == C.REPO_NOT_FOUND_OR_NO_ACCESS else LIKELY,
                   f"{ev.registry} refused the pull ({claimed.value}); the node's credential provider {p.name} "
                   "supplies its credentials, which pulldoctor cannot test from here.", lines,
                   settle=["the registry's answer to the node's own identity (e.g. crictl pull on the node, or "
                           "pulldoctor[aws] for ECR) would settle it"], rule=rule)


def provider_failed(ev: Evidence, rule: str) -> Verdict | None:
    """A credential provider that failed: the kubelet then pulls without its credentials (``auth_missing``)."""
    if ev.provider_failure is None:
        return None
    named = ev.provider_failure[1] or (ev.provider.name if ev.provider else None) or "the credential provider"
    sure = CERTAIN if not ev.kubelet_sends_credentials else LIKELY
    return Verdict(C.AUTH_MISSING, sure,
                   f"The kubelet's credential provider {named} failed to get credentials for {ev.registry}, "
                   "so the pull went without them.",
                   [*base_lines(ev), *keyring_lines(ev)],
                   settle=[] if sure == CERTAIN else ["a pull secret matches too; the registry's answer to it is "
                                                      "not known"],
                   rule=rule)


def provider_fixes(ev: Evidence) -> list[Fix]:
    named = (ev.provider_failure[1] if ev.provider_failure else None) or \
        (ev.provider.name if ev.provider else "the credential provider")
    node = ev.node.name if ev.node else "NODE"
    first = (f"Find why {named} fails on node {node}: the kubelet logs its error, and its flags name the config "
             "and the plugin directory:" if ev.provider_failure else
             f"The kubelet on node {node} should get credentials for {host_of(ev)} from {named}"
             f"{' with ' + ev.provider.identity if ev.provider else ''}, yet the registry saw none: check that the "
             "kubelet runs it (its flags name the config and the plugin directory) and what it logs:")
    steps = [Fix(first,
                 ("journalctl -u kubelet --since -1h | grep -i 'credential provider'",
                  "systemctl cat kubelet | grep -e image-credential-provider-config "
                  "-e image-credential-provider-bin-dir"))]
    if ecr_host(host_of(ev)) is not None:
        steps.append(Fix("On EKS the config is /etc/eks/image-credential-provider/config.json and the node role "
                         "needs ecr:GetAuthorizationToken (AmazonEC2ContainerRegistryReadOnly grants it)."))
    steps.append(Fix(f"Then retry: {retry_line(ev)}.", recreate_pod(ev)))
    return steps


def expired_token(ev: Evidence, rule: str) -> Verdict | None:
    """An ECR token in a pull secret whose envelope says it expired: ECR refuses it (``auth_invalid``)."""
    found = ev.expired_ecr_token()
    if found is None or found[1].expires_at is None:
        return None
    src, tok = found
    when = f"{tok.expires_at:%Y-%m-%d %H:%M:%S}Z ({ago(tok.expires_at, ev.now)})"
    return Verdict(C.AUTH_INVALID, CERTAIN,
                   f"The ECR token in {src} expired at {when}; ECR refuses expired tokens (they last 12 hours).",
                   [*base_lines(ev), *keyring_lines(ev)], rule=rule)


def expired_token_fixes(ev: Evidence) -> list[Fix]:
    found = ev.expired_ecr_token()
    src = found[0] if found else "the pull secret"
    name = src.removeprefix("secret ").split("/", 1)[-1]
    host = host_of(ev)
    eh = ecr_host(host)
    region = eh.region if eh else "REGION"
    via_node = ("The node's credential provider ecr-credential-provider already supplies credentials with the "
                "node's IAM role: remove the secret from the pod (or its service account)"
                if ev.provider is not None else
                "On EKS the node's credential provider (ecr-credential-provider) supplies credentials with the "
                "node's IAM role: prefer it to a secret")
    return [
        Fix(f"A token copied into {src} stops working after 12 hours. {via_node}, or refresh the secret on a "
            "schedule (a CronJob, or an external-secrets ECR generator). To refresh it now:",
            (f"kubectl create secret docker-registry {q(name)} --docker-server={q(host)} --docker-username=AWS "
             f'--docker-password="$(aws ecr get-login-password --region {region})" -n {q(ev.namespace)} '
             "--dry-run=client -o yaml | kubectl apply -f -",)),
        Fix(f"Then retry: {retry_line(ev)}.", recreate_pod(ev)),
    ]


# --- AWS's answer ---------------------------------------------------------------------------------


def aws_lines(ev: Evidence) -> list[EvidenceLine]:
    a = ev.cloud
    if a is None:
        return [EvidenceLine("aws", ev.cloud_note)] if ev.cloud_note else []
    out: list[EvidenceLine] = []
    if a.role_arn:
        prof = f" (instance profile {a.instance_profile})" if a.instance_profile else ""
        out.append(EvidenceLine("aws", f"node instance {a.instance_id} runs with role {a.role_arn}{prof}"))
    if a.identity_policies:
        out.append(EvidenceLine("aws", "role policies read: " + ", ".join(
            p.label.removeprefix("role's ") for p in a.identity_policies[:6])))
    if a.repository_policy_read:
        n = len(a.repository_policy.statements) if a.repository_policy else 0
        out.append(EvidenceLine("aws", f"repository policy of {a.repository}: "
                                       + (f"{n} statement(s)" if n else "none")))
    if a.image_exists is not None:
        what = ("exists" if a.image_exists else "does not exist") if a.repo_exists else "has no repository"
        out.append(EvidenceLine("aws", f"ecr:DescribeImages: {a.repository}:{a.reference} {what}"))
    denies: dict[tuple[str, int], tuple[Statement, list[str]]] = {}  # one line per denying statement
    for d in a.decisions:
        if d.effect == "explicit_deny":
            st = d.statements[0]
            denies.setdefault((st.policy, st.index), (st, []))[1].append(d.action)
    out += [EvidenceLine("aws", f"{', '.join(actions)}: explicit deny by {st.describe()}")
            for st, actions in denies.values()]
    for d in a.decisions:
        if d.effect == "implicit_deny" or (d.effect == "allow" and d.undecided):
            out.append(EvidenceLine("aws", f"{d.action}: {d.effect.replace('_', ' ')}: {d.why}"
                                    + (f"; undecided: {'; '.join(d.undecided[:3])}" if d.undecided else "")))
    if a.decisions and all(d.effect == "allow" for d in a.decisions):
        out.append(EvidenceLine("aws", "the role's policies and the repository policy allow every pull action"))
    return out


def aws_verdict(ev: Evidence, rule: str) -> Verdict | None:
    """AWS's answer for an ECR pull: a missing repository or tag, or the policy that denies the pull."""
    a = ev.cloud
    if a is None:
        return None
    lines = [*base_lines(ev), *keyring_lines(ev), *aws_lines(ev)]
    if a.repo_exists is False:
        return Verdict(C.REPO_NOT_FOUND, CERTAIN, f"The repository {a.repository} does not exist in ECR "
                       f"registry {a.registry.account} ({a.registry.region}), as ecr:DescribeImages says.",
                       lines, rule=rule)
    if a.image_exists is False:
        if a.closest_tags:
            lines.append(EvidenceLine("aws", f"closest tags: {', '.join(a.closest_tags)}"))
        return Verdict(C.TAG_NOT_FOUND, CERTAIN, f"The repository {a.repository} exists, but {a.reference} is not in "
                       "it (ecr:DescribeImages).", lines, rule=rule)
    d = a.denied
    if d is None:
        if ev.message_cause != C.FORBIDDEN or not a.decisions:
            return None
        maybe = [u for x in a.decisions for u in x.undecided]
        if maybe:
            return Verdict(C.FORBIDDEN, POSSIBLE,
                           f"The policies read allow role {a.role_name} to pull unless a condition pulldoctor cannot "
                           f"evaluate applies: {maybe[0]}.", lines,
                           settle=[f"check {'; '.join(maybe[:3])} against the node (VPC endpoint, source IP, tags)"],
                           rule=rule)
        return Verdict(C.FORBIDDEN, LIKELY,
                       f"The role's policies and the repository policy allow role {a.role_name} to pull, yet ECR "
                       "answered 403: the refusal comes from what pulldoctor does not read (an SCP, a permissions "
                       "boundary, a VPC endpoint or S3 gateway endpoint policy).", lines,
                       settle=["aws organizations list-policies-for-target / the VPC endpoint policies would settle "
                               "it"], rule=rule)
    role = a.role_name or "the node's role"
    sure = CERTAIN if d.certain else POSSIBLE
    settle = [] if d.certain else [f"the condition(s) {'; '.join(d.undecided[:3])} decide it; pulldoctor cannot "
                                   "evaluate them from here"]
    if d.effect == "explicit_deny":
        st = d.statements[0]
        summary = (f"The {st.policy} denies {d.action} to role {role}: {st.name} "
                   f"(Effect Deny) wins over any Allow.")
    else:
        summary = f"Role {role} may not {d.action}: {d.why}."
    return Verdict(C.FORBIDDEN, sure, summary, lines, settle=settle, rule=rule)


def _policy_arn(ev: Evidence, label: str) -> str | None:
    a = ev.cloud
    return a.policy_arns.get(label) if a is not None else None


def aws_fixes(ev: Evidence) -> list[Fix]:
    """The fix for a denied ECR pull, naming the statement, the policy and the role that were read."""
    a = ev.cloud
    d = a.denied if a is not None else None
    if a is None or d is None:
        return []
    repo, region, account = a.repository, a.registry.region, a.registry.account
    role = a.role_name or "NODE_ROLE"
    part = "aws-cn" if region.startswith("cn-") else "aws"
    base = f"--repository-name {q(repo)} --region {region} --registry-id {account}"
    steps: list[Fix] = []
    if d.effect == "explicit_deny":
        st = d.statements[0]
        if st.policy.startswith("repository policy"):
            n = len(a.repository_policy.statements) if a.repository_policy else 0
            if n == 1:
                steps.append(Fix(f"{st.name} is the only statement of the repository policy of {repo}: delete the "
                                 f"policy (or narrow its Principal so it no longer names role {role}):",
                                 (f"aws ecr delete-repository-policy {base}",)))
            else:
                steps.append(Fix(f"Remove {st.name} from the repository policy of {repo}, or narrow its Principal "
                                 f"so it no longer names role {role} (it denies {d.action}): save the policy, edit "
                                 "that statement out of policy.json, set it back:",
                                 (f"aws ecr get-repository-policy {base} --query policyText --output text "
                                  "> policy.json",
                                  f"aws ecr set-repository-policy {base} --policy-text file://policy.json")))
        elif st.policy.startswith("role's inline policy"):
            pname = st.policy.removeprefix("role's inline policy ")
            steps.append(Fix(f"Remove {st.name} from inline policy {pname} of role {role} (it denies {d.action}): "
                             "save it, edit that statement out, put it back:",
                             (f"aws iam get-role-policy --role-name {q(role)} --policy-name {q(pname)} "
                              "--query PolicyDocument > policy.json",
                              f"aws iam put-role-policy --role-name {q(role)} --policy-name {q(pname)} "
                              "--policy-document file://policy.json")))
        else:
            arn = q(_policy_arn(ev, st.policy) or "POLICY_ARN")
            pname = st.policy.removeprefix("role's managed policy ")
            steps.append(Fix(f"Managed policy {pname} on role {role} denies {d.action} ({st.name}): detach it, or "
                             "edit that statement in a new default version of the policy:",
                             (f"aws iam detach-role-policy --role-name {q(role)} --policy-arn {arn}",)))
    elif d.action == "ecr:GetAuthorizationToken" or not a.repository_policy or account == _account(a.role_arn):
        steps.append(Fix(f"Role {role} has no Allow for {d.action}: attach the AWS managed read-only policy:",
                         (f"aws iam attach-role-policy --role-name {q(role)} --policy-arn "
                          f"{_READ_ONLY.format(part=part)}",)))
    if d.effect == "implicit_deny" and account != _account(a.role_arn) and d.action != "ecr:GetAuthorizationToken":
        steps.append(Fix(f"The repository is in account {account} and the role in {_account(a.role_arn)}: a "
                         f"cross-account pull needs the repository policy of {repo} to allow role {a.role_arn} too "
                         "(ecr:BatchGetImage, ecr:GetDownloadUrlForLayer, ecr:BatchCheckLayerAvailability); add "
                         "that statement to policy.json and set it:",
                         (f"aws ecr get-repository-policy {base} --query policyText --output text > policy.json",
                          f"aws ecr set-repository-policy {base} --policy-text file://policy.json")))
    if d.undecided:
        steps.append(Fix(f"pulldoctor could not decide {'; '.join(d.undecided[:3])}: check those conditions "
                         "(VPC endpoint, source IP, tags) against the node."))
    steps.append(Fix(f"Then retry: {retry_line(ev)}.", recreate_pod(ev)))
    return steps


def _account(arn: str | None) -> str:
    parts = (arn or "").split(":")
    return parts[4] if len(parts) > 4 else ""



# --- Artifact Registry and ACR: from the message and the node's cloud, not checked live -------------------

_GAR_RESOURCE = re.compile(r"projects/([a-z][a-z0-9-]{4,28}[a-z0-9])/locations/([a-z0-9-]+)"
                           r"/repositories/([a-z0-9_.-]+)")
_NOT_LIVE = "pulldoctor does not check {what} live; these commands read and change it."


def gar_fixes(ev: Evidence) -> list[Fix]:
    """Artifact Registry refused the pull: the node's service account needs roles/artifactregistry.reader on
    the repository the message names (``projects/P/locations/L/repositories/R``)."""
    host = host_of(ev)
    m = _GAR_RESOURCE.search(ev.message or "")
    repo_path = ev.ref.repository if ev.ref else ""
    if m:
        project, location, repo = m.groups()
    else:
        parts = repo_path.split("/")
        project = parts[0] if parts and parts[0] else "PROJECT"
        repo = parts[1] if host.endswith("-docker.pkg.dev") and len(parts) >= 3 else "REPOSITORY"
        location = host.split("-docker.pkg.dev")[0] if host.endswith("-docker.pkg.dev") else "LOCATION"
    gce = _gce_node(ev)
    describe = (f"gcloud compute instances describe {q(gce[2])} --zone={gce[1]} --project={q(gce[0])} "
                "--format='value(serviceAccounts[0].email)'") if gce else \
        "gcloud compute instances describe NODE --zone=ZONE --format='value(serviceAccounts[0].email)'"
    who = f"node {gce[2]}'s service account" if gce else "the node's service account"
    return [Fix(f"Artifact Registry refused the pull: {who} needs roles/artifactregistry.reader on repository "
                f"{repo} ({location}, project {project}). Find the account (SA_EMAIL), then grant it. "
                + _NOT_LIVE.format(what="Artifact Registry IAM"),
                (describe,
                 f"gcloud artifacts repositories add-iam-policy-binding {q(repo)} --location={q(location)} "
                 f"--project={q(project)} --member=serviceAccount:SA_EMAIL --role=roles/artifactregistry.reader")),
            Fix(f"Then retry: {retry_line(ev)}.", recreate_pod(ev))]


def acr_fixes(ev: Evidence) -> list[Fix]:
    """ACR refused the kubelet identity (401 on its token endpoint, or 403): it needs AcrPull on the registry."""
    host = host_of(ev)
    name = host.split(".azurecr.")[0]
    sub = _azure_subscription(ev)
    sub_flag = f" --subscription {q(sub)}" if sub else ""
    return [Fix(f"ACR {name} refused the node's credentials: the cluster's kubelet identity needs the AcrPull role on "
                "the registry. Check it, then attach the registry (or assign the role to the identity). "
                + _NOT_LIVE.format(what="Azure role assignments"),
                (f"az aks check-acr --resource-group RG --name CLUSTER --acr {q(host)}{sub_flag}",
                 f"az aks update --resource-group RG --name CLUSTER --attach-acr {q(name)}{sub_flag}",
                 "az role assignment create --role AcrPull --assignee-object-id \"$(az aks show --resource-group RG "
                 "--name CLUSTER --query identityProfile.kubeletidentity.objectId -o tsv)\" --assignee-principal-type "
                 f"ServicePrincipal --scope \"$(az acr show --name {q(name)} --query id -o tsv)\"{sub_flag}")),
            Fix(f"Then retry: {retry_line(ev)}.", recreate_pod(ev))]


def cloud_registry_fixes(ev: Evidence) -> list[Fix]:
    """The GAR or ACR fix when the image is there and the node is in that cloud (or the provider covers it)."""
    host = host_of(ev)
    provider = ev.provider.name if ev.provider else ""
    if ecr_host(host) is not None and ev.provider is not None:
        return provider_fixes(ev)
    if host.endswith(("-docker.pkg.dev", "gcr.io")) and (_gce_node(ev) or "gcp" in provider):
        return gar_fixes(ev)
    if ".azurecr." in host and (_azure_subscription(ev) is not None or "acr" in provider):
        return acr_fixes(ev)
    return []


def _gce_node(ev: Evidence) -> tuple[str, str, str] | None:
    """(project, zone, instance) from ``gce://PROJECT/ZONE/NAME``."""
    pid = ev.node.provider_id if ev.node else None
    if not pid or not pid.startswith("gce://"):
        return None
    parts = pid.removeprefix("gce://").split("/")
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 and all(parts) else None


def _azure_subscription(ev: Evidence) -> str | None:
    pid = ev.node.provider_id if ev.node else None
    m = re.match(r"^azure:///subscriptions/([0-9a-fA-F-]{36})/", pid or "")
    return m.group(1) if m else ("" if pid and pid.startswith("azure://") else None)
