"""Fix steps for each known cause, with the real namespace, pod, secret, registry, tag and node filled in.

``fixes(verdict, ev)`` returns the steps in the order a person would take them; every command is one a
user can paste. Secret values never appear: commands carry ``--docker-password=…`` placeholders.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable

from pulldoctor.causes import Cause
from pulldoctor.diagnosis.evidence import Evidence, RuntimeDeadline, hostname, runtime_deadline, span
from pulldoctor.diagnosis.model import Confidence, Fix, Verdict
from pulldoctor.diagnosis.rules import pull_speed, ratelimit_text
from pulldoctor.reference import is_loopback_host
from pulldoctor.registry.manifest import human_size

C = Cause
DOCKER_HUB = {"docker.io", "index.docker.io", "registry-1.docker.io"}


def fixes(verdict: Verdict, ev: Evidence) -> list[Fix]:
    """The fix for this verdict; a transient verdict gets only the retry advice (nothing is broken now)."""
    steps: list[Fix] = []
    if verdict.transient:
        how = ("delete the pod (its controller recreates it)" if _patchable(ev)
               else "recreate the pod from its own manifest (nothing else would recreate it)")
        steps.append(Fix(
            f"Nothing to change if it stays healthy: the kubelet retries by itself. To retry now, {how}.",
            _recreate_pod(ev)))
        steps.append(Fix("If it fails again, diagnose it again after the next pull: the failure will be current."))
        return steps
    builder = _BUILDERS.get(verdict.cause, _other)
    steps.extend(builder(ev, verdict))
    o = _owner(ev)
    if o and o[0] == "statefulset" and any(c.startswith(("kubectl set image statefulset/",
                                                         "kubectl patch statefulset "))
                                           for f in steps for c in f.commands):
        # kubernetes#67250: the StatefulSet controller waits for the stuck pod instead of replacing it.
        steps.append(Fix(f"A StatefulSet does not replace a pod stuck on its old template: after the change, "
                         f"delete {ev.pod} so it comes back with the new one.", (_delete_pod(ev),)))
    return steps


# ------------------------------------------------------------------------------------------ names

def _q(s: str) -> str:
    return shlex.quote(s)


def _ns(ev: Evidence) -> str:
    return f"-n {_q(ev.namespace)}"


def _owner(ev: Evidence) -> tuple[str, str] | None:
    """The controller whose pod template to patch (kind lowercase for kubectl, name)."""
    if ev.owner:
        kind, name = ev.owner
        return kind.lower(), name
    return None


#: A Job created by a CronJob is named ``<cronjob>-<scheduled time in minutes>`` (cronjob controller v2).
_CRON_JOB = re.compile(r"^(?P<cron>.+)-\d{8,}$")


def _owner_ref(ev: Evidence) -> str:
    o = _owner(ev)
    return f"{o[0]}/{o[1]}" if o else f"pod/{ev.pod}"


def _patchable(ev: Evidence) -> tuple[str, str] | None:
    """The owner whose pod template can be changed in place; a Job's template is immutable."""
    o = _owner(ev)
    return o if o and o[0] != "job" else None


def _delete_pod(ev: Evidence) -> str:
    return f"kubectl delete pod {_q(ev.pod)} {_ns(ev)}"


def _recreate_pod(ev: Evidence) -> tuple[str, ...]:
    """Commands that start this pod again: a controller recreates a deleted pod; a bare pod (or a Job's)
    is saved and replaced, so deleting it does not lose it."""
    o = _owner(ev)
    if o and o[0] != "job":
        return (_delete_pod(ev),)
    return (f"kubectl get pod {_q(ev.pod)} {_ns(ev)} -o yaml > {_q(ev.pod + '.yaml')}",
            f"kubectl replace --force -f {_q(ev.pod + '.yaml')}")


def _host(ev: Evidence) -> str:
    return ev.registry or "REGISTRY"


def _secret_name(ev: Evidence) -> str:
    """The secret to create: the missing one if the pod names one, else a name derived from the host."""
    if ev.secrets.missing:
        return ev.secrets.missing[0]
    base = re.sub(r"[^a-z0-9-]+", "-", _host(ev).lower()).strip("-")
    return f"pull-{base}"[:63].rstrip("-")


def _docker_server(ev: Evidence) -> str:
    # The kubelet matches keys by host (and path prefix); Docker Hub's canonical key is the v1 index URL.
    return "https://index.docker.io/v1/" if _host(ev) in DOCKER_HUB else _host(ev)


def _create_secret(ev: Evidence, name: str) -> str:
    return (f"kubectl create secret docker-registry {_q(name)} --docker-server={_q(_docker_server(ev))} "
            f"--docker-username=USER --docker-password=PASSWORD {_ns(ev)}")


def _patch_secret_in(ev: Evidence, name: str) -> list[Fix]:
    """Make the kubelet use secret ``name`` for this pod: via its controller's template or its service account.

    Both lists replace what the pod would otherwise get (a pod with imagePullSecrets ignores its service
    account's; a merge patch replaces the account's list), so the secrets already in effect are kept."""
    sa = ev.secrets.service_account or "default"
    keep = [n for n in ev.secrets.names if n != name]
    secrets = [{"name": n} for n in [*keep, name]]
    patch = json.dumps({"imagePullSecrets": secrets}, separators=(",", ":"))
    steps = []
    o = _owner(ev)
    if o and o[0] == "job":
        steps.append(_job_edit(ev, "add imagePullSecrets to its pod template"))
    elif o:
        tpl = json.dumps({"spec": {"template": {"spec": {"imagePullSecrets": secrets}}}}, separators=(",", ":"))
        steps.append(Fix(f"Add it to the pod template of {o[0]} {o[1]} (a rollout recreates the pods):",
                         (f"kubectl patch {o[0]} {_q(o[1])} {_ns(ev)} -p {_q(tpl)}",)))
    else:
        steps.append(Fix(f"Pod {ev.pod} has no controller: add imagePullSecrets to its manifest and recreate it.",
                         _recreate_pod(ev)))
    if ev.secrets.source != "pod":
        steps.append(Fix(f"Or give it to the service account {sa} (pods get it when they are created, so "
                         "delete the pod afterwards):",
                         (f"kubectl patch serviceaccount {_q(sa)} {_ns(ev)} -p {_q(patch)}", *_recreate_pod(ev))))
    return steps


def _job_edit(ev: Evidence, change: str) -> Fix:
    """A Job's pod template is immutable: save it, change it, replace it (and fix its CronJob, if any)."""
    name = _owner(ev)[1]  # type: ignore[index]
    cron = _CRON_JOB.match(name)
    text = (f"Job {name}'s pod template cannot be changed: save it, {change} in the file (and delete "
            "its spec.selector and the controller-uid labels), then replace it:")
    if cron:
        text += f" If CronJob {cron['cron']} created it, change the CronJob too, or the next run fails the same way."
    return Fix(text, (f"kubectl get job {_q(name)} {_ns(ev)} -o yaml > {_q(name + '.yaml')}",
                      f"kubectl replace --force -f {_q(name + '.yaml')}"))


def _set_image(ev: Evidence, image: str) -> str:
    """The command that points this container at ``image``. An ephemeral container cannot be changed (start
    another with ``kubectl debug``); a Job's template is immutable; a CronJob's Job: fix the CronJob."""
    if ev.container_type == "ephemeral":
        return f"kubectl debug -it {_q(ev.pod)} {_ns(ev)} --image={_q(image)}"
    o = _owner(ev)
    if o and o[0] == "job":
        cron = _CRON_JOB.match(o[1])
        if cron:
            return f"kubectl set image cronjob/{cron['cron']} {_q(ev.container + '=' + image)} {_ns(ev)}"
        field = "initContainers" if ev.container_type == "init" else "containers"
        # The new Job gets a new controller-uid: the old selector and uid labels must go (batch/v1 validation).
        prog = (f"(.spec.template.spec.{field}[] | select(.name == $c) | .image) = $i "
                "| del(.spec.selector, .spec.template.metadata.labels[\"controller-uid\"], "
                ".spec.template.metadata.labels[\"batch.kubernetes.io/controller-uid\"])")
        return (f"kubectl get job {_q(o[1])} {_ns(ev)} -o json | jq --arg c {_q(ev.container)} --arg i {_q(image)} "
                f"{_q(prog)} | kubectl replace --force -f -")
    return f"kubectl set image {_owner_ref(ev)} {_q(ev.container + '=' + image)} {_ns(ev)}"


# ------------------------------------------------------------------------------------------ per cause

def _invalid_name(ev: Evidence, v: Verdict) -> list[Fix]:
    err = ev.ref_error
    text = f"Fix the image reference {ev.image!r}" + (f": {err}" if err else "") + "."
    candidate = _lowercased(ev.image) if getattr(err, "rule", "") == "lowercase" else None
    if candidate:
        return [Fix(text + f" Repository paths are lowercase: {candidate}?", (_set_image(ev, candidate),))]
    return [Fix(text + " A repository is lowercase; a tag follows one ':', a digest follows '@'.",
                (_set_image(ev, "REGISTRY/REPOSITORY:TAG"),))]


def _lowercased(image: str) -> str | None:
    """The reference with its repository path lowercased (the registry host keeps its case), if valid."""
    first, _, rest = image.partition("/")
    is_host = rest and ("." in first or ":" in first or first == "localhost")
    head, tail = (first + "/", rest) if is_host else ("", image)
    name, sep, tag = tail.partition(":") if "@" not in tail else (tail, "", "")
    candidate = head + name.lower() + sep + tag
    try:
        from pulldoctor.reference import parse

        parse(candidate)
    except Exception:
        return None
    return candidate if candidate != image else None


def _never_pull(ev: Evidence, v: Verdict) -> list[Fix]:
    node = ev.node.name if ev.node else "NODE"
    field = "initContainers" if ev.container_type == "init" else "containers"
    where = (f" It is on {', '.join(ev.nodes_with_image[:5])}: export it there (ctr -n k8s.io images export) "
             "or schedule the pod onto such a node." if ev.nodes_with_image else "")
    load = Fix(f"Load {ev.image} onto node {node} before the pod starts (pre-pull it, e.g. "
               f"ctr -n k8s.io images import on the node), or let the kubelet pull it (next step).{where}")
    o = _owner(ev)
    if o and o[0] == "job":
        return [load, _job_edit(ev, f"set imagePullPolicy: IfNotPresent for {ev.container}")]
    if o is None:  # a pod's imagePullPolicy cannot be changed: edit the manifest and recreate it
        return [load, Fix(f"Set imagePullPolicy: IfNotPresent for {ev.container} in the manifest and recreate:",
                          _recreate_pod(ev))]
    # A strategic merge patch matches containers by name.
    patch = {"spec": {"template": {"spec": {field: [{"name": ev.container, "imagePullPolicy": "IfNotPresent"}]}}}}
    body = _q(json.dumps(patch, separators=(",", ":")))
    return [load, Fix(f"Let {o[0]} {o[1]} pull it (imagePullPolicy: IfNotPresent):",
                      (f"kubectl patch {o[0]} {_q(o[1])} {_ns(ev)} -p {body}",))]


def _tag(ev: Evidence, v: Verdict) -> list[Fix]:
    ref = ev.ref
    repo_name = getattr(ref, "name", ev.image)
    sugg = list(getattr(ev.probe, "suggestions", None) or [])
    if getattr(ref, "digest", None):
        return [Fix(f"The digest {ref.digest} is not in {repo_name} (deleted, or from another repository). "
                    "Use a digest the registry has, e.g. resolve a tag to its digest and put it for DIGEST:",
                    (f"skopeo inspect --format '{{{{.Digest}}}}' docker://{repo_name}:TAG",
                     _set_image(ev, f"{repo_name}@DIGEST")))]
    tag = getattr(ref, "tag", None) or "latest"
    if sugg:
        return [Fix(f"Tag {tag} does not exist in {repo_name}; the closest tags are {', '.join(sugg[:5])}. "
                    "Point the container at the one you meant:", (_set_image(ev, f"{repo_name}:{sugg[0]}"),))]
    unsure = ("" if v.confidence == Confidence.CERTAIN else
              " If skopeo says the repository is unknown, the repository path is wrong instead (containerd "
              "reports a missing repository as \"not found\" too).")
    return [Fix(f"Tag {tag} does not exist in {repo_name} (or was never pushed).{unsure} List the tags and use one:",
                (f"skopeo list-tags docker://{repo_name}", _set_image(ev, f"{repo_name}:TAG")))]


def _repo(ev: Evidence, v: Verdict) -> list[Fix]:
    ref = ev.ref
    repo = getattr(ref, "repository", ev.image)
    return [Fix(f"{_host(ev)} has no repository {repo}: check the spelling and the organisation/project path "
                "(and that the credentials in use can see it), then fix the image:",
                (_set_image(ev, f"{_host(ev)}/CORRECT/PATH:{getattr(ref, 'tag', None) or 'TAG'}"),))]


def _hedge(ev: Evidence, v: Verdict) -> list[Fix]:
    steps = [Fix(f"Check that {getattr(ev.ref, 'name', ev.image)} exists and is spelled right.")]
    if not ev.kubelet_sends_credentials:
        steps += _auth_missing(ev, v)
    else:
        steps += _auth_invalid(ev, v)
    return steps


def _auth_missing(ev: Evidence, v: Verdict) -> list[Fix]:
    s = ev.secrets
    host = _host(ev)
    steps: list[Fix] = []
    for name in s.missing:
        where = s.elsewhere.get(name)
        if where:
            steps.append(Fix(f"Secret {name} is in namespace {', '.join(where)}, not {ev.namespace}: copy it "
                             "(secrets are per namespace).",
                             (f"kubectl get secret {_q(name)} -n {_q(where[0])} -o json | jq 'del(.metadata"
                              ".namespace,.metadata.resourceVersion,.metadata.uid,.metadata.creationTimestamp)' "
                              f"| kubectl apply {_ns(ev)} -f -",)))
        else:
            # Service account admission copies the account's imagePullSecrets only into a pod that lists
            # none (research/kubelet-semantics.md §4): the pod's list replaces the account's.
            replaced = (f" The pod lists its own imagePullSecrets, so those of service account "
                        f"{s.service_account} are not used." if s.source == "pod" else "")
            steps.append(Fix(f"Secret {name} does not exist in namespace {ev.namespace}: create it.{replaced}",
                             (_create_secret(ev, name),)))
    for name, typ in s.wrong_type:
        steps.append(Fix(f"Secret {name} has type {typ}; the kubelet only reads kubernetes.io/dockerconfigjson "
                         "(or dockercfg). Recreate it with the right type:",
                         (f"kubectl delete secret {_q(name)} {_ns(ev)}", _create_secret(ev, name))))
    if steps:
        return steps
    if s.names:
        hosts = sorted({k for k, _ in ev.entry_keys})
        steps.append(Fix(f"The secrets in effect ({', '.join(s.names)}) have entries for "
                         f"{', '.join(hosts) or 'no registry'}, none for {host}. Create a secret for {host}:",
                         (_create_secret(ev, _secret_name(ev)),)))
        steps += _patch_secret_in(ev, _secret_name(ev))
        return steps
    name = _secret_name(ev)
    steps.append(Fix(f"Create a pull secret for {host} in namespace {ev.namespace}:", (_create_secret(ev, name),)))
    steps += _patch_secret_in(ev, name)
    if host.endswith(".amazonaws.com") and ".ecr." in host:
        steps.append(Fix("On EKS the node's credential provider (ecr-credential-provider) should supply ECR "
                         "credentials: check the kubelet's --image-credential-provider-config and the node "
                         "role's ecr:GetAuthorizationToken permission."))
    return steps


def _auth_invalid(ev: Evidence, v: Verdict) -> list[Fix]:
    names = ", ".join(ev.secrets.names) or "the pull secret"
    first = ev.secrets.names[0] if ev.secrets.names else _secret_name(ev)
    steps = [Fix(f"{_host(ev)} refuses the credentials in {names} (wrong, expired or revoked). Check them "
                 "with a login from your machine, then replace the secret:",
                 (f"docker login {_q(_host(ev))}",
                  f"kubectl create secret docker-registry {_q(first)} --docker-server={_q(_docker_server(ev))} "
                  f"--docker-username=USER --docker-password=PASSWORD {_ns(ev)} --dry-run=client -o yaml "
                  "| kubectl apply -f -",
                  *_recreate_pod(ev)))]
    host = _host(ev)
    if ".ecr." in host and host.endswith(".amazonaws.com"):
        # kubectl create secret docker-registry has no --docker-password-stdin: the token goes in as an argument.
        region = host.split(".ecr.")[1].split(".")[0]
        steps.append(Fix("ECR tokens expire after 12 hours: use the node's credential provider or refresh the "
                         "secret on a schedule.",
                         (f"kubectl create secret docker-registry {_q(first)} --docker-server={_q(host)} "
                          f'--docker-username=AWS --docker-password="$(aws ecr get-login-password --region {region})" '
                          f"{_ns(ev)} --dry-run=client -o yaml | kubectl apply -f -",)))
    return steps


def _forbidden(ev: Evidence, v: Verdict) -> list[Fix]:
    host = _host(ev)
    repo = getattr(ev.ref, "repository", "REPOSITORY")
    if ".ecr." in host and host.endswith(".amazonaws.com"):
        region = host.split(".ecr.")[1].split(".")[0]
        return [Fix("ECR refused the pull (403): check the repository policy for a Deny and the node role's "
                    "ecr:BatchGetImage / ecr:GetDownloadUrlForLayer permissions.",
                    (f"aws ecr get-repository-policy --repository-name {_q(repo)} --region {region}",
                     "aws iam list-attached-role-policies --role-name NODE_ROLE"))]
    if host.endswith(("-docker.pkg.dev", "gcr.io")):
        project = repo.split("/")[0]
        # LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE; gcr.io images live in a repository named gcr.io.
        ar_repo = repo.split("/")[1] if host.endswith("-docker.pkg.dev") and repo.count("/") >= 2 else "REPOSITORY"
        return [Fix("Artifact Registry refused the pull (403): the node's service account needs "
                    "roles/artifactregistry.reader on the repository.",
                    (f"gcloud artifacts repositories get-iam-policy {_q(ar_repo)} --project={_q(project)} "
                     f"--location={host.split('-docker.pkg.dev')[0] if 'pkg.dev' in host else 'LOCATION'}",))]
    if host.endswith(".azurecr.io"):
        return [Fix("ACR refused the pull (403): give the kubelet identity the AcrPull role on the registry.",
                    (f"az aks check-acr --name CLUSTER --resource-group RG --acr {_q(host)}",))]
    if not ev.kubelet_sends_credentials:
        # Nothing was sent: the 403 is for an anonymous pull, so the fix is an account that may read it.
        name = _secret_name(ev)
        return [Fix(f"{host} forbids anonymous pulls of {repo} (403) and the kubelet sends no credentials for "
                    f"it: create a pull secret for an account with read access (or check a firewall/proxy "
                    "policy in front of the registry):", (_create_secret(ev, name),)),
                *_patch_secret_in(ev, name)]
    return [Fix(f"{host} authenticates but forbids pulling {repo} (403): grant the account in "
                f"{', '.join(ev.secrets.names) or 'use'} read access to the repository, or check a firewall/proxy "
                "policy in front of the registry.")]


def _rate(ev: Evidence, v: Verdict) -> list[Fix]:
    host = _host(ev)
    steps: list[Fix] = []
    budget = ratelimit_text(ev)
    if budget:
        steps.append(Fix(f"{host} reports {budget.removeprefix('rate limit: ')}."))
    if "pull QPS exceeded" in (ev.message or ""):
        return [Fix("Raise the kubelet's registryPullQPS / registryBurst (KubeletConfiguration), or pull fewer "
                    "images at once.")]
    if host in DOCKER_HUB or "docker.com/increase-rate-limit" in (ev.message or ""):
        steps.append(Fix("Authenticate the pulls (an account's limit is higher than the anonymous per-IP one):",
                         (_create_secret(ev, "dockerhub"), *[f.commands[0] for f in _patch_secret_in(ev, "dockerhub")
                                                             if f.commands][:1])))
        steps.append(Fix("Or pull through a cache/mirror: a registry in proxy mode and a containerd hosts.toml "
                         "for docker.io (/etc/containerd/certs.d/docker.io/hosts.toml, "
                         'server = "https://registry-1.docker.io", [host."https://MIRROR"] capabilities = '
                         '["pull", "resolve"]).'))
    else:
        steps.append(Fix(f"{host} limits the pull rate: authenticate, spread the rollout, or pull through a cache."))
    return steps


def _network(ev: Evidence, v: Verdict) -> list[Fix]:
    host = _host(ev)
    name = hostname(host)
    node = ev.node.name if ev.node else "NODE"
    steps: list[Fix] = []
    if is_loopback_host(host):
        steps.append(Fix(f"{host} is the node itself: a registry on your machine or in the cluster needs an "
                         "address the node can reach (a Service's DNS name won't resolve on the node either; "
                         "use a node port or a name in the node's resolver)."))
    if v.cause == C.DNS_FAILURE:
        steps.append(Fix(f"Make {name} resolve on node {node} (spelling, private DNS zone, the node's "
                         "/etc/resolv.conf):", (f"getent hosts {_q(name)}   # on {node}",)))
    elif is_loopback_host(host):
        port = host.rsplit(":", 1)[1] if host.count(":") == 1 or (host.startswith("[") and "]:" in host) else ""
        steps.append(Fix(f"Check that a registry listens on {host} on node {node} itself:",
                         ((f"ss -ltn 'sport = :{port}'   # on {node}",) if port else ())
                         + (f"curl -sv {_scheme_of(ev)}://{host}/v2/   # on {node}",)))
    else:
        steps.append(Fix(f"Check the route from node {node} to {host}: firewall, security groups, and an HTTP(S) "
                         "proxy (HTTPS_PROXY / NO_PROXY in the runtime's service environment):",
                         (f"curl -sv {_scheme_of(ev)}://{host}/v2/   # on {node}",
                          f"systemctl show {_runtime_unit(ev)} --property=Environment   # on {node}")))
    return steps


def _scheme_of(ev: Evidence) -> str:
    """The scheme the node used, from the URL in its message (containerd uses plain HTTP for localhost)."""
    m = re.search(r'"(https?)://' + re.escape(_host(ev)) + "/", ev.message or "")
    if m:
        return m.group(1)
    return "http" if is_loopback_host(_host(ev)) else "https"


def _runtime_unit(ev: Evidence) -> str:
    """The systemd unit of the node's container runtime (containerRuntimeVersion)."""
    rv = ((ev.node.runtime_version if ev.node else None) or "").lower()
    if rv.startswith("cri-o"):
        return "crio"
    if rv.startswith("docker"):
        return "cri-docker"
    return "containerd"


def _hosts_toml(host: str, server: str, extra: str) -> str:
    """A shell line writing containerd's hosts.toml for ``host`` (needs the CRI plugin's
    ``config_path = "/etc/containerd/certs.d"``, the default in containerd 2.x packages)."""
    d = f"/etc/containerd/certs.d/{host}"
    body = f'server = "{server}"\\n[host."{server}"]\\n  capabilities = ["pull", "resolve"]\\n{extra}'
    return f"mkdir -p {_q(d)} && printf '{body}' > {_q(d + '/hosts.toml')}"


def _tls(ev: Evidence, v: Verdict) -> list[Fix]:
    """Go's x509 errors say which check failed: trusting a CA does not help an expired certificate or one
    issued for other names, so those get their own fix."""
    host = _host(ev)
    ca = f"/etc/containerd/certs.d/{host}/ca.crt"
    msg = ev.message or ""
    connect = f"{host if ':' in host else host + ':443'}"
    if "certificate has expired or is not yet valid" in msg:
        node = ev.node.name if ev.node else "NODE"
        return [Fix(f"{host}'s certificate is outside its validity dates as the node sees them: renew it on "
                    f"the registry, or fix the clock of node {node} if it is wrong. Its dates, and the node's time:",
                    (f"openssl s_client -connect {connect} </dev/null 2>/dev/null | openssl x509 -noout -dates",
                     f"date -u   # on {node}"))]
    if "x509: certificate is valid for" in msg:
        return [Fix(f"{host}'s certificate is issued for other names: reissue it with {hostname(host)} in its "
                    "subjectAltName, or pull by one of the names it has. The names it has:",
                    (f"openssl s_client -connect {connect} </dev/null 2>/dev/null | openssl x509 -noout -ext "
                     "subjectAltName",))]
    return [
        Fix(f"See who signed {host}'s certificate and for which names:",
            (f"openssl s_client -connect {connect} -showcerts </dev/null",)),
        Fix(f"On each node, trust that CA for {host} (containerd: hosts.toml in its config_path, then no "
            "restart is needed; CRI-O/podman: /etc/containers/certs.d; Docker: /etc/docker/certs.d), or "
            "fix the certificate's name:",
            (_hosts_toml(host, f"https://{host}", f'  ca = "{ca}"\\n') + f"   # then copy the CA to {ca}",
             f"mkdir -p /etc/containers/certs.d/{host} && cp ca.crt /etc/containers/certs.d/{host}/ca.crt",
             f"mkdir -p /etc/docker/certs.d/{host} && cp ca.crt /etc/docker/certs.d/{host}/ca.crt")),
    ]


def _scheme(ev: Evidence, v: Verdict) -> list[Fix]:
    host = _host(ev)
    if "HTTP response to HTTPS client" in (ev.message or ""):
        # CRI-O reads drop-ins from /etc/containers/registries.conf.d (containers-registries.conf.d(5)) and
        # reloads them on SIGHUP (systemctl reload crio).
        conf = f"/etc/containers/registries.conf.d/{re.sub(r'[^A-Za-z0-9.-]+', '-', host)}.conf"
        body = f'[[registry]]\\nlocation = "{host}"\\ninsecure = true\\n'
        return [Fix(f"{host} serves plain HTTP while the node speaks HTTPS: put TLS in front of it, or tell "
                    "the runtime on each node to use HTTP for it (containerd: the hosts.toml below; CRI-O: the "
                    "registries.conf.d drop-in, then reload crio):",
                    (_hosts_toml(host, f"http://{host}", ""),
                     f"printf '{body}' > {_q(conf)} && systemctl reload crio"))]
    return [Fix(f"{host} speaks HTTPS but the runtime uses plain HTTP for it: remove that setting (containerd: "
                "the server line of its hosts.toml):", (_hosts_toml(host, f"https://{host}", ""),))]


def _platform(ev: Evidence, v: Verdict) -> list[Fix]:
    node_p = ev.node.platform if ev.node else None
    plats = list(getattr(ev.probe, "platforms", None) or [])
    if not plats:
        # Unknown platforms: a --platform of the node's alone would push an image the other nodes cannot run.
        return [Fix(f"{ev.image} has no build for {node_p or 'the node platform'} (node "
                    f"{ev.node.name if ev.node else 'NODE'}). See which platforms it has, then rebuild it for "
                    f"those and {node_p or 'the node platform'} (replace PLATFORMS), or schedule the pod onto "
                    "nodes it runs on:",
                    (f"docker buildx imagetools inspect {_q(ev.image)}",
                     f"docker buildx build --platform PLATFORMS,{node_p or 'OS/ARCH'} -t {_q(ev.image)} --push ."))]
    return [Fix(f"{ev.image} is built for {', '.join(plats) or 'other platforms'}; node "
                f"{ev.node.name if ev.node else ''} runs {node_p or 'another platform'}. Build and push a "
                f"multi-arch image including {node_p or 'the node platform'}, or schedule the pod onto matching "
                "nodes:",
                (f"docker buildx build --platform {','.join(sorted(set(plats + ([node_p] if node_p else []))))} "
                 f"-t {ev.image} --push .",
                 *([f"kubectl patch {_owner_ref(ev)} {_ns(ev)} -p "
                    + _q(json.dumps({"spec": {"template": {"spec": {"nodeSelector": {
                        "kubernetes.io/arch": plats[0].split("/")[1] if plats else ""}}}}},
                        separators=(",", ":")))] if _patchable(ev) and plats else [])))]


def _deadline(ev: Evidence, v: Verdict) -> list[Fix]:
    """Stall → the path; slow → size/mirror/pre-pull; then the deadline setting of THAT runtime version."""
    size = getattr(ev.probe, "size", None)
    tp = getattr(ev.probe, "throughput", None)
    node = ev.node.name if ev.node else "NODE"
    runtime = (ev.node.runtime_version if ev.node else None) or ""
    speed = pull_speed(ev)
    steps: list[Fix] = []
    pull_on_node = (f"crictl pull {_q(ev.image)}   # on {node}: does it progress?",)
    if speed == "stall":
        steps.append(Fix(f"The registry sends no bytes: a longer deadline only waits longer. Find what blocks the "
                         f"download between {node} and {_host(ev)} (proxy, firewall, MTU, a mirror that hangs):",
                         pull_on_node))
    elif speed == "slow" and tp is not None and tp.rate:
        est = tp.estimate(size or tp.blob_size)
        steps.append(Fix(f"At {human_size(int(tp.rate))}/s the image ({human_size(size or tp.blob_size)}) takes "
                         f"about {span(est or 0)}: use a registry mirror close to the nodes, make the image smaller, "
                         "or pre-pull it (a DaemonSet) so pods do not wait on the download.", pull_on_node))
    elif speed == "fast":
        steps.append(Fix(f"From here the image downloads fast: compare with a pull on {node} itself, and check "
                         "its proxy or mirror settings:", pull_on_node))
    else:
        size_text = f" The image is {size / 1e6:.0f} MB compressed." if size else ""
        steps.append(Fix("The runtime cancels a pull that makes no progress for too long." + size_text
                         + " Raise the deadline, make the image smaller, or pre-pull it / use a closer mirror."))
    deadline = runtime_deadline(runtime or None)
    if deadline is not None:
        steps.append(_deadline_setting(deadline))
        return steps
    steps.append(Fix('containerd 1.7+: set image_pull_progress_timeout = "15m" (default "5m", a no-progress timeout) '
                     'under [plugins."io.containerd.grpc.v1.cri"] (2.x: [plugins."io.containerd.cri.v1.images"]) in '
                     "/etc/containerd/config.toml on the nodes, then:", ("systemctl restart containerd",)))
    steps.append(Fix('CRI-O 1.32+: set pull_progress_timeout = "15m" under [crio.image] in '
                     "/etc/crio/crio.conf (0 disables it; off by default from 1.32.6), then:",
                     ("systemctl restart crio",)))
    steps.append(Fix("cri-dockerd: start it with --image-pull-progress-deadline=15m (default 1m)."))
    return steps


def _deadline_setting(d: RuntimeDeadline) -> Fix:
    """How to raise the deadline of this runtime version (or why there is none to raise)."""
    if d.setting is None:
        return Fix(f"{d.runtime} has no pull progress deadline to raise ({d.note}); pre-pull the image or "
                   "upgrade the runtime if pulls must be bounded.")
    if d.setting.startswith("--"):
        return Fix(f"{d.runtime}: raise {d.setting} (default {d.default}, a no-progress deadline) in {d.where}, "
                   f"e.g. {d.setting}=15m, then restart cri-docker.", ("systemctl restart cri-docker",))
    default = f'default "{d.default}"' if d.default else "off by default; a value set on the node fires"
    restart = "systemctl restart containerd" if d.runtime.startswith("containerd") else "systemctl restart crio"
    return Fix(f'{d.runtime}: set {d.setting} = "15m" ({default}; it fires after that long without a byte, not '
               f"on total time) under {d.where} on the nodes, then:", (restart,))


def _disk(ev: Evidence, v: Verdict) -> list[Fix]:
    node = ev.node.name if ev.node else "NODE"
    size = getattr(ev.probe, "size", None)
    need = f" (the image needs about {size / 1e6:.0f} MB compressed, more unpacked)" if size else ""
    store = {"crio": "/var/lib/containers/storage", "cri-docker": "/var/lib/docker"}.get(
        _runtime_unit(ev), "/var/lib/containerd")  # the runtime's image store, where the unpack failed
    return [Fix(f"Free disk space on node {node}{need}: remove unused images, then let the pod retry.",
                (f"crictl rmi --prune   # on {node}", f"df -h {store}   # on {node}",
                 f"kubectl describe node {_q(node)} | grep -i pressure"))]


def _server(ev: Evidence, v: Verdict) -> list[Fix]:
    return [Fix(f"{_host(ev)} (or a proxy in front of it) returns server errors: check its status page or logs; "
                "the kubelet keeps retrying.", _recreate_pod(ev))]


def _signature(ev: Evidence, v: Verdict) -> list[Fix]:
    return [Fix("Sign the image with a key the node's policy accepts, or check the policy "
                "(/etc/containers/policy.json on CRI-O nodes).")]


def _other(ev: Evidence, v: Verdict) -> list[Fix]:
    return [Fix("Read the full error from the pod's events and the runtime's log on the node:",
                (f"kubectl describe pod {_q(ev.pod)} {_ns(ev)}",
                 f"kubectl get events {_ns(ev)} --field-selector involvedObject.name={ev.pod}"))]


_BUILDERS: dict[Cause, Callable[[Evidence, Verdict], list[Fix]]] = {
    C.INVALID_IMAGE_NAME: _invalid_name,
    C.NEVER_PULL_ABSENT: _never_pull,
    C.TAG_NOT_FOUND: _tag,
    C.REPO_NOT_FOUND: _repo,
    C.REPO_NOT_FOUND_OR_NO_ACCESS: _hedge,
    C.AUTH_MISSING: _auth_missing,
    C.AUTH_INVALID: _auth_invalid,
    C.FORBIDDEN: _forbidden,
    C.RATE_LIMITED: _rate,
    C.DNS_FAILURE: _network,
    C.NETWORK_UNREACHABLE: _network,
    C.TLS_ERROR: _tls,
    C.HTTP_VS_HTTPS: _scheme,
    C.PLATFORM_MISMATCH: _platform,
    C.PULL_TIMEOUT_OR_PROGRESS_DEADLINE: _deadline,
    C.DISK_FULL: _disk,
    C.REGISTRY_SERVER_ERROR: _server,
    C.SIGNATURE_INVALID: _signature,
    C.OTHER: _other,
}
