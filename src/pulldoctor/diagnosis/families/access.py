"""Who may pull: 401 / pull access denied, split by the keyring and a probe into ``auth_missing``,
``auth_invalid`` or ``repo_not_found``, and 403 (``forbidden``), each with the secret or grant that fixes it.
"""

from __future__ import annotations

from pulldoctor.causes import HEDGES, Cause
from pulldoctor.cloud.providers import aws_instance, region_of_zone
from pulldoctor.diagnosis.evidence import Evidence
from pulldoctor.diagnosis.families.base import ACCESS, CERTAIN, LIKELY, POSSIBLE, C, Family, by_cause
from pulldoctor.diagnosis.families.cloud import (
    aws_fixes,
    aws_verdict,
    cloud_registry_fixes,
    expired_token,
    expired_token_fixes,
    provider_failed,
    provider_fixes,
    provider_untested,
)
from pulldoctor.diagnosis.families.verdicts import disagree, from_message_only, probe_cause, probe_state, tag_verdict
from pulldoctor.diagnosis.kubectl import (
    create_secret,
    docker_server,
    host_of,
    merge_registry_entry,
    ns,
    patch_secret_in,
    q,
    recreate_pod,
    retyped_secret,
    secret_name,
)
from pulldoctor.diagnosis.lines import base_lines, keyring_lines, no_probe_settle, probe_line, why_no_credentials
from pulldoctor.diagnosis.model import Fix, Verdict


def access(ev: Evidence, claimed: Cause) -> Verdict:
    """401 / "pull access denied": the credentials in effect and a probe split the hedge into
    ``auth_missing`` (nothing sent), ``auth_invalid`` (sent and refused) or ``repo_not_found``. A failed
    credential provider, an expired ECR token or AWS's own answer come first: they are proofs."""
    cloud = (provider_failed(ev, "access") or expired_token(ev, "access") or aws_verdict(ev, "access")
             or provider_untested(ev, "access"))
    if cloud is not None:
        return cloud
    lines = [*base_lines(ev), *keyring_lines(ev)]
    sends = ev.kubelet_sends_credentials
    state = probe_state(ev)
    pc = probe_cause(ev)

    if state in ("skipped", "unreachable"):
        probe_lines, settle = no_probe_settle(ev, "with the credentials the kubelet would send")
        lines += probe_lines
        if claimed in HEDGES:
            guess = "no credentials reach it" if not sends else "the credentials are refused"
            return Verdict(claimed, POSSIBLE,
                           f"{ev.registry} refused the pull: the repository does not exist or {guess}.",
                           lines, settle=settle, rule="access")
        cause = C.AUTH_INVALID if sends else C.AUTH_MISSING
        summary = (f"{ev.registry} refused the credentials from {', '.join(ev.secrets.names) or 'the keyring'}."
                   if sends else f"{ev.registry} requires credentials and {why_no_credentials(ev)}.")
        contra = []
        # A bare 401 names no side (the classifier lists auth_invalid as also possible): the keyring decides,
        # and nothing speaks against it. Only a message that says which (no credentials / a token refused) can.
        also = ev.classification.fields.get("also_possible") if ev.classification is not None else None
        if claimed != cause and not (isinstance(also, list) and cause.value in also):
            contra.append(f"the message suggests {claimed.value}; the keyring says the kubelet "
                          f"{'sends' if sends else 'sends no'} credentials")
        return Verdict(cause, LIKELY, summary, lines, contra, settle, rule="access")

    lines.append(probe_line(ev))
    sent = ev.probe is not None and ev.probe.credentials_sent
    if pc in (C.AUTH_MISSING, C.AUTH_INVALID, C.REPO_NOT_FOUND_OR_NO_ACCESS):
        if sent:
            return Verdict(C.AUTH_INVALID, CERTAIN,
                           f"{ev.registry} refuses the credentials from {', '.join(ev.secrets.names) or 'the keyring'}"
                           " (wrong or expired).", lines, rule="access")
        if sends:
            # The kubelet has an entry but pulldoctor could not use it (redacted in a bundle, incomplete).
            return Verdict(C.AUTH_INVALID, LIKELY,
                           f"The kubelet sends credentials for {ev.registry} and the pull is refused; "
                           "pulldoctor could not test them itself.", lines,
                           settle=["probe with the secret's values (a live cluster, not a bundle) would settle it"],
                           rule="access")
        # Nothing sent by the kubelet and the registry refuses anonymous access.
        hedge_left = pc == C.REPO_NOT_FOUND_OR_NO_ACCESS
        contra = ([f"{ev.registry} answers the same for a repository that does not exist; check the name too"]
                  if hedge_left else [])
        return Verdict(C.AUTH_MISSING, LIKELY if hedge_left else CERTAIN,
                       f"{ev.registry} requires credentials and {why_no_credentials(ev)}.", lines, contra,
                       rule="access")
    if pc is None and sends and not sent:
        return Verdict(C.AUTH_INVALID, LIKELY,
                       f"{ev.ref.name if ev.ref else ev.image} is pullable anonymously, yet the pull with the "
                       "kubelet's credentials is refused: registries refuse bad credentials even for public "
                       "images.", lines,
                       settle=["probe with the secret's values (a live cluster, not a bundle) would settle it"],
                       rule="access")
    if pc == C.REPO_NOT_FOUND:
        return Verdict(C.REPO_NOT_FOUND, CERTAIN,
                       f"The repository {ev.ref.repository if ev.ref else ev.image} does not exist on {ev.registry}"
                       + (" (as seen with the kubelet's credentials)." if sent else "."), lines, rule="access")
    if pc == C.TAG_NOT_FOUND:
        return tag_verdict(ev, lines, "access")
    if pc == C.FORBIDDEN:
        return Verdict(C.FORBIDDEN, CERTAIN, f"{ev.registry} authenticates the pull but forbids it (403).",
                       lines, rule="access")
    return disagree(ev, claimed, "access")


def _hedge(ev: Evidence, v: Verdict) -> list[Fix]:
    steps = [Fix(f"Check that {ev.ref.name if ev.ref else ev.image} exists and is spelled right.")]
    if not ev.kubelet_sends_credentials:
        steps += _auth_missing(ev, v)
    else:
        steps += _auth_invalid(ev, v)
    return steps


def _auth_missing(ev: Evidence, v: Verdict) -> list[Fix]:
    if ev.provider_failure is not None:
        return provider_fixes(ev)
    if not ev.kubelet_sends_credentials and not ev.secrets.missing and not ev.secrets.wrong_type:
        own = cloud_registry_fixes(ev)  # the node's own identity is how this cloud's registry is reached
        if own:
            return own
    s = ev.secrets
    host = host_of(ev)
    steps: list[Fix] = []
    for name in s.missing:
        where = ev.secrets_elsewhere.get(name)
        if where:
            steps.append(Fix(f"Secret {name} is in namespace {', '.join(where)}, not {ev.namespace}: copy it "
                             "(secrets are per namespace).",
                             (f"kubectl get secret {q(name)} -n {q(where[0])} -o json | jq 'del(.metadata"
                              ".namespace,.metadata.resourceVersion,.metadata.uid,.metadata.creationTimestamp)' "
                              f"| kubectl apply {ns(ev)} -f -",)))
        else:
            # Service account admission copies the account's imagePullSecrets only into a pod that lists
            # none (research/kubelet-semantics.md §4): the pod's list replaces the account's.
            replaced = (f" The pod lists its own imagePullSecrets, so those of service account "
                        f"{s.service_account} are not used." if s.source == "pod" else "")
            steps.append(Fix(f"Secret {name} does not exist in namespace {ev.namespace}: create it.{replaced}",
                             (create_secret(ev, name),)))
    for name, typ in s.wrong_type:
        retyped = retyped_secret(ev, name)
        why = (f"Secret {name} has type {typ or '(none)'}; the kubelet only reads kubernetes.io/dockerconfigjson "
               "(or dockercfg), and a Secret's type cannot be changed (deleting it first would lose its data).")
        if retyped is None:
            keys = ", ".join(s.data_keys.get(name, [])) or "none"
            new = f"{name}-dockerconfig"
            steps.append(Fix(f"{why} It holds no docker config (keys: {keys}): create a pull secret next to it "
                             "and point the pod at that one:", (create_secret(ev, new),)))
        else:
            new, cmds = retyped
            steps.append(Fix(f"{why} Copy its docker config into a new secret {new} of the right type (through a "
                             "file only you can read; the value is never printed), then point the pod at it:", cmds))
        steps += patch_secret_in(ev, new)
    if steps:
        return steps
    if s.names:
        hosts = sorted({k for k, _ in ev.entry_keys})
        steps.append(Fix(f"The secrets in effect ({', '.join(s.names)}) have entries for "
                         f"{', '.join(hosts) or 'no registry'}, none for {host}. Create a secret for {host}:",
                         (create_secret(ev, secret_name(ev)),)))
        steps += patch_secret_in(ev, secret_name(ev))
        return steps
    name = secret_name(ev)
    steps.append(Fix(f"Create a pull secret for {host} in namespace {ev.namespace}:", (create_secret(ev, name),)))
    steps += patch_secret_in(ev, name)
    if host.endswith(".amazonaws.com") and ".ecr." in host:
        steps.append(Fix("On EKS the node's credential provider (ecr-credential-provider) should supply ECR "
                         "credentials: check the kubelet's --image-credential-provider-config and the node "
                         "role's ecr:GetAuthorizationToken permission."))
    return steps


def _refused_entry(ev: Evidence) -> tuple[str, str]:
    """(secret, registry key) of the entry the kubelet sends for this image: the first match of a pod secret."""
    prefix = f"secret {ev.namespace}/"
    for e in ev.lookup.matches if ev.lookup is not None else ():
        if e.source.startswith(prefix):
            return e.source[len(prefix):], e.key
    return (ev.secrets.names[0] if ev.secrets.names else secret_name(ev)), docker_server(ev)


def _auth_invalid(ev: Evidence, v: Verdict) -> list[Fix]:
    if ev.expired_ecr_token() is not None:
        return expired_token_fixes(ev)
    names = ", ".join(ev.secrets.names) or "the pull secret"
    first, key = _refused_entry(ev)
    source = f"secret {ev.namespace}/{first}"
    read = [k for k, src in ev.entry_keys if src == source]
    others = sorted({k for k in read if k != key})
    if read and not others:
        # The secret was read and holds this registry's entry only: replacing it loses nothing.
        update = (f"kubectl create secret docker-registry {q(first)} --docker-server={q(docker_server(ev))} "
                  f"--docker-username=USER --docker-password=PASSWORD {ns(ev)} --dry-run=client -o yaml "
                  "| kubectl apply -f -")
        how = "then replace the secret:"
    else:
        update = merge_registry_entry(ev, first, key)
        kept = (f"its entries for {', '.join(others)} stay as they are" if others else
                "it was not read whole, so nothing else in it is replaced")
        how = (f"then change only the {key} entry of secret {first} ({kept}; put the new user and password "
               "for USER:PASSWORD):")
    steps = [Fix(f"{host_of(ev)} refuses the credentials in {names} (wrong, expired or revoked). Check them "
                 f"with a login from your machine, {how}",
                 (f"docker login {q(host_of(ev))}", update, *recreate_pod(ev)))]
    host = host_of(ev)
    if ".ecr." in host and host.endswith(".amazonaws.com"):
        # kubectl create secret docker-registry has no --docker-password-stdin: the token goes in as an argument.
        region = host.split(".ecr.")[1].split(".")[0]
        if read and not others:
            steps.append(Fix("ECR tokens expire after 12 hours: use the node's credential provider or refresh the "
                             "secret on a schedule.",
                             (f"kubectl create secret docker-registry {q(first)} --docker-server={q(host)} "
                              f'--docker-username=AWS --docker-password="$(aws ecr get-login-password --region '
                              f'{region})" {ns(ev)} --dry-run=client -o yaml | kubectl apply -f -',)))
        else:  # the secret holds more than this registry (or was not read): a refresh must not replace it whole
            steps.append(Fix("ECR tokens expire after 12 hours: use the node's credential provider (ecr-credential-"
                             f"provider), or keep the ECR token in a secret of its own refreshed on a schedule "
                             f"(aws ecr get-login-password --region {region})."))
    return steps


def forbidden(ev: Evidence, claimed: Cause) -> Verdict:
    """403: authenticated (or anonymous) but not allowed: repository policy, IAM, a firewall or proxy. An
    expired ECR token or AWS's own answer (the policy that denies, a missing image) come first."""
    cloud = expired_token(ev, "forbidden") or aws_verdict(ev, "forbidden") or provider_untested(ev, "forbidden")
    if cloud is not None:
        return cloud
    state = probe_state(ev)
    if state in ("skipped", "unreachable"):
        return from_message_only(ev, C.FORBIDDEN, f"{ev.registry} forbids the pull (403).", "forbidden",
                                  "with the kubelet's credentials", keyring_lines(ev))
    if probe_cause(ev) == C.FORBIDDEN:
        return Verdict(C.FORBIDDEN, CERTAIN, f"{ev.registry} forbids the pull (403), confirmed by a probe.",
                       [*base_lines(ev), probe_line(ev), *keyring_lines(ev)], rule="forbidden")
    if probe_cause(ev) in ACCESS:
        return access(ev, probe_cause(ev) or claimed)
    return disagree(ev, claimed, "forbidden")


def _forbidden(ev: Evidence, v: Verdict) -> list[Fix]:
    steps = aws_fixes(ev) or cloud_registry_fixes(ev)
    if steps:
        return steps
    host = host_of(ev)
    repo = ev.ref.repository if ev.ref else "REPOSITORY"
    if ".ecr." in host and host.endswith(".amazonaws.com"):
        region = host.split(".ecr.")[1].split(".")[0]
        inst = aws_instance(ev.node.provider_id if ev.node else None)
        node_region = region_of_zone(inst[0]) if inst else None
        find_role = ((f"aws ec2 describe-instances --instance-ids {inst[1]} --region {node_region or region} "
                      "--query 'Reservations[].Instances[].IamInstanceProfile.Arn' --output text",
                      "aws iam get-instance-profile --instance-profile-name PROFILE --query "
                      "'InstanceProfile.Roles[].RoleName' --output text") if inst else ())
        unread = (" (With pulldoctor[aws] and AWS credentials, diagnose reads them itself.)"
                  if ev.cloud_note else "")
        return [Fix("ECR refused the pull (403): check the repository policy for a Deny and the node role's "
                    f"ecr:BatchGetImage / ecr:GetDownloadUrlForLayer permissions.{unread}",
                    (f"aws ecr get-repository-policy --repository-name {q(repo)} --region {region}",
                     *find_role,
                     "aws iam list-attached-role-policies --role-name NODE_ROLE"))]
    if host.endswith(("-docker.pkg.dev", "gcr.io")):
        project = repo.split("/")[0]
        # LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE; gcr.io images live in a repository named gcr.io.
        ar_repo = repo.split("/")[1] if host.endswith("-docker.pkg.dev") and repo.count("/") >= 2 else "REPOSITORY"
        return [Fix("Artifact Registry refused the pull (403): the node's service account needs "
                    "roles/artifactregistry.reader on the repository.",
                    (f"gcloud artifacts repositories get-iam-policy {q(ar_repo)} --project={q(project)} "
                     f"--location={host.split('-docker.pkg.dev')[0] if 'pkg.dev' in host else 'LOCATION'}",))]
    if host.endswith(".azurecr.io"):
        return [Fix("ACR refused the pull (403): give the kubelet identity the AcrPull role on the registry.",
                    (f"az aks check-acr --name CLUSTER --resource-group RG --acr {q(host)}",))]
    if not ev.kubelet_sends_credentials:
        # Nothing was sent: the 403 is for an anonymous pull, so the fix is an account that may read it.
        name = secret_name(ev)
        return [Fix(f"{host} forbids anonymous pulls of {repo} (403) and the kubelet sends no credentials for "
                    f"it: create a pull secret for an account with read access (or check a firewall/proxy "
                    "policy in front of the registry):", (create_secret(ev, name),)),
                *patch_secret_in(ev, name)]
    return [Fix(f"{host} authenticates but forbids pulling {repo} (403): grant the account in "
                f"{', '.join(ev.secrets.names) or 'use'} read access to the repository, or check a firewall/proxy "
                "policy in front of the registry.")]


ACCESS_FAMILY = Family("access", ACCESS,
                       "401 / pull access denied: the keyring (what the kubelet sends) + a probe with those "
                       "credentials", access,
                       by_cause({C.AUTH_MISSING: _auth_missing, C.AUTH_INVALID: _auth_invalid}, _hedge))
FORBIDDEN = Family("forbidden", frozenset({C.FORBIDDEN}), "403: probe with the kubelet's credentials", forbidden,
                   _forbidden)
