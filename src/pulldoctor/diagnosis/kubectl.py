"""The command builders every fix uses: quoting, ``-n``, the owner to patch (Deployment, StatefulSet, a Job's
immutable template, a CronJob), pull secrets and the node's runtime unit. Secret values never appear: the
commands carry ``--docker-password=PASSWORD`` placeholders.
"""

from __future__ import annotations

import json
import re
import shlex

from pulldoctor.cluster.model import CONTROLLER_KINDS
from pulldoctor.diagnosis.evidence import Evidence
from pulldoctor.diagnosis.model import Fix

DOCKER_HUB = {"docker.io", "index.docker.io", "registry-1.docker.io"}


def q(s: str) -> str:
    return shlex.quote(s)


def ns(ev: Evidence) -> str:
    return f"-n {q(ev.namespace)}"


def owner(ev: Evidence) -> tuple[str, str] | None:
    """The controller whose pod template to patch (kind lowercase for kubectl, name); a custom resource's
    kind is qualified by its API group (``rollout.argoproj.io``) so that kubectl finds it."""
    if ev.owner:
        kind, name = ev.owner
        resource = kind.lower()
        if kind not in CONTROLLER_KINDS and "/" in ev.owner_api_version:
            resource = f"{resource}.{ev.owner_api_version.split('/', 1)[0]}"
        # Kinds and groups come from the cluster's ownerReferences: anything but a DNS-ish word is quoted.
        return (resource if _RESOURCE.fullmatch(resource) else q(resource)), name
    return None


_RESOURCE = re.compile(r"[a-z0-9][a-z0-9.-]{0,252}")


def builtin_owner(ev: Evidence) -> bool:
    """The owner is a built-in controller (``kubectl set image`` and strategic merge patches work on it)."""
    return ev.owner is not None and ev.owner[0] in CONTROLLER_KINDS


def owner_ref(ev: Evidence) -> str:
    o = owner(ev)
    return f"{o[0]}/{o[1]}" if o else f"pod/{ev.pod}"


def patchable(ev: Evidence) -> tuple[str, str] | None:
    """The owner whose pod template can be changed in place; a Job's template is immutable."""
    o = owner(ev)
    return o if o and o[0] != "job" else None


def template_patch(ev: Evidence, pod_spec: dict[str, object], *, slash: bool = False) -> str | None:
    """``kubectl patch`` of the owner's pod template with ``pod_spec`` (a strategic merge patch: containers,
    volumes and imagePullSecrets merge by name). None for a pod, a Job (immutable) or a custom resource
    (no strategic merge there: a merge patch would replace whole lists it has not read)."""
    o = patchable(ev)
    if o is None or not builtin_owner(ev):
        return None
    template: dict[str, object] = {"template": {"spec": pod_spec}}
    body = {"spec": {"jobTemplate": {"spec": template}}} if o[0] == "cronjob" else {"spec": template}
    target = f"{o[0]}/{q(o[1])}" if slash else f"{o[0]} {q(o[1])}"
    return f"kubectl patch {target} {ns(ev)} -p {q(json.dumps(body, separators=(',', ':')))}"


def edit_owner(ev: Evidence, change: str) -> Fix:
    """A custom resource owner (an Argo Rollout, an operator's CR): edit its pod template by hand."""
    o = owner(ev)
    assert o is not None
    return Fix(f"{ev.owner[0] if ev.owner else o[0]} {o[1]} ({ev.owner_api_version or 'a custom resource'}) owns "
               f"the pod: {change} in its pod template (a custom resource takes no strategic merge patch, and a "
               "merge patch would replace whole lists):", (f"kubectl edit {o[0]}/{q(o[1])} {ns(ev)}",))


def owner_check(ev: Evidence) -> Fix | None:
    """When the owner was inferred (an object of the chain was not read): the command that reads it first."""
    if ev.owner_inferred is None:
        return None
    kind, name = ev.owner_inferred
    guess = f"{ev.owner[0]} {ev.owner[1]}" if ev.owner else "the owner"
    resource = kind.lower() if _RESOURCE.fullmatch(kind.lower()) else q(kind.lower())
    return Fix(f"{ev.owner_note}. Read what owns {kind} {name} first; the commands below assume {guess}, so if "
               "the answer names another owner (or none), change that one instead:",
               (f"kubectl get {resource} {q(name)} {ns(ev)} -o jsonpath='{{.metadata.ownerReferences}}'",))


def delete_pod(ev: Evidence) -> str:
    return f"kubectl delete pod {q(ev.pod)} {ns(ev)}"


def recreate_pod(ev: Evidence) -> tuple[str, ...]:
    """Commands that start this pod again: a controller recreates a deleted pod; a bare pod (or a Job's)
    is saved and replaced, so deleting it does not lose it."""
    o = owner(ev)
    if o and o[0] not in ("job", "cronjob"):
        return (delete_pod(ev),)
    return (f"kubectl get pod {q(ev.pod)} {ns(ev)} -o yaml > {q(ev.pod + '.yaml')}",
            f"kubectl replace --force -f {q(ev.pod + '.yaml')}")


def host_of(ev: Evidence) -> str:
    return ev.registry or "REGISTRY"


def secret_name(ev: Evidence) -> str:
    """The secret to create: the missing one if the pod names one, else a name derived from the host."""
    if ev.secrets.missing:
        return ev.secrets.missing[0]
    base = re.sub(r"[^a-z0-9-]+", "-", host_of(ev).lower()).strip("-")
    return f"pull-{base}"[:63].rstrip("-")


def docker_server(ev: Evidence) -> str:
    # The kubelet matches keys by host (and path prefix); Docker Hub's canonical key is the v1 index URL.
    return "https://index.docker.io/v1/" if host_of(ev) in DOCKER_HUB else host_of(ev)


def create_secret(ev: Evidence, name: str) -> str:
    return (f"kubectl create secret docker-registry {q(name)} --docker-server={q(docker_server(ev))} "
            f"--docker-username=USER --docker-password=PASSWORD {ns(ev)}")


def patch_secret_in(ev: Evidence, name: str) -> list[Fix]:
    """Make the kubelet use secret ``name`` for this pod: via its controller's template or its service account.

    Neither step replaces a list it has not read: the template patch is a strategic merge (a PodSpec's
    imagePullSecrets merge by name) and keeps the secrets in effect (a pod's own list hides its service
    account's); the service account's list has no merge key, so it is appended to, never patched whole."""
    keep = [n for n in ev.secrets.names if n != name]
    secrets = [{"name": n} for n in [*keep, name]]
    steps = []
    o = owner(ev)
    patch = template_patch(ev, {"imagePullSecrets": secrets})
    if o and o[0] == "job":
        steps.append(job_edit(ev, "add imagePullSecrets to its pod template"))
    elif patch is not None and o:
        steps.append(Fix(f"Add it to the pod template of {o[0]} {o[1]} (a rollout recreates the pods):", (patch,)))
    elif o:
        steps.append(edit_owner(ev, f"add {name} to imagePullSecrets"))
    else:
        steps.append(Fix(f"Pod {ev.pod} has no controller: add imagePullSecrets to its manifest and recreate it.",
                         recreate_pod(ev)))
    if ev.secrets.source != "pod":
        steps.append(append_to_service_account(ev, name))
    return steps


def append_to_service_account(ev: Evidence, name: str) -> Fix:
    """Add ``name`` to the service account's imagePullSecrets without replacing the list: a JSON patch that
    appends when the list was read, one that creates it when it was read empty, and a read-change-replace
    when the account was not read at all (``replace`` fails rather than overwrite a change made meanwhile)."""
    sa = ev.secrets.service_account or "default"
    listed = ev.secrets.service_account_secrets
    after = recreate_pod(ev)
    then = "pods get it when they are created, so delete the pod afterwards"
    if listed is None:
        prog = ".imagePullSecrets = ((.imagePullSecrets // []) | map(select(.name != $s))) + [{name: $s}]"
        return Fix(f"Or give it to the service account {sa} ({then}). The account was not read, so this reads "
                   "it, appends the secret to its imagePullSecrets (creating the list if it has none) and writes "
                   "it back; replace refuses if the account changed in between:",
                   (f"kubectl get serviceaccount {q(sa)} {ns(ev)} -o json | jq --arg s {q(name)} {q(prog)} "
                    "| kubectl replace -f -", *after))
    op: list[dict[str, object]]
    if listed:
        op = [{"op": "add", "path": "/imagePullSecrets/-", "value": {"name": name}}]
        text = f"Or append it to the pull secrets of service account {sa} ({', '.join(listed)}, kept; {then}):"
    else:
        op = [{"op": "add", "path": "/imagePullSecrets", "value": [{"name": name}]}]
        text = f"Or give it to the service account {sa}, which lists no pull secrets (as read; {then}):"
    body = q(json.dumps(op, separators=(",", ":")))
    return Fix(text, (f"kubectl patch serviceaccount {q(sa)} {ns(ev)} --type=json -p {body}", *after))


def merge_registry_entry(ev: Evidence, secret: str, key: str) -> str:
    """Change only the ``key`` entry of a pull secret's docker config (the other registries' entries stay):
    read the secret, rewrite that one entry with jq, write it back. The new user and password go in as the
    entry's ``auth`` (base64 of USER:PASSWORD) and are never printed; replace refuses a concurrent change."""
    cfg = ".dockercfg" if ev.secrets.types.get(secret) == "kubernetes.io/dockercfg" else ".dockerconfigjson"
    entry = ".[$k]" if cfg == ".dockercfg" else ".auths[$k]"
    prog = f".data[$f] |= (@base64d | fromjson | {entry} = {{auth: $a}} | tojson | @base64)"
    return (f"kubectl get secret {q(secret)} {ns(ev)} -o json | jq --arg f {cfg} --arg k {q(key)} "
            "--arg a \"$(printf %s 'USER:PASSWORD' | base64 | tr -d '\\n')\" "
            f"{q(prog)} | kubectl replace -f -")


#: Where a docker config may sit in a secret of the wrong type: (data key, the type and key it belongs under).
DOCKER_CONFIG_KEYS = ((".dockerconfigjson", "kubernetes.io/dockerconfigjson", ".dockerconfigjson"),
                      (".dockercfg", "kubernetes.io/dockercfg", ".dockercfg"),
                      ("config.json", "kubernetes.io/dockerconfigjson", ".dockerconfigjson"))


def retyped_secret(ev: Evidence, name: str) -> tuple[str, tuple[str, ...]] | None:
    """A secret of the wrong type (Opaque) cannot be re-typed (``type`` is immutable) and deleting it loses
    its data: copy its docker config into a NEW secret of the right type, through a file that only the user
    can read (the value is never printed). Returns (new name, commands); None when it holds no docker config."""
    keys = ev.secrets.data_keys.get(name)
    found = next(((k, t, dst) for k, t, dst in DOCKER_CONFIG_KEYS if keys is None or k in keys), None)
    if found is None:
        return None
    key, typ, dst = found
    new = f"{name}-{'dockercfg' if dst == '.dockercfg' else 'dockerconfig'}"[:253]
    tmp = f"{name}{dst}"
    path = "{.data." + key.replace(".", "\\.") + "}"
    return new, (f"(umask 077 && kubectl get secret {q(name)} {ns(ev)} -o jsonpath={q(path)} | base64 -d > {q(tmp)})",
                 f"kubectl create secret generic {q(new)} {ns(ev)} --type={typ} --from-file={dst}={q(tmp)} "
                 f"&& rm {q(tmp)}")


def job_edit(ev: Evidence, change: str) -> Fix:
    """A Job's pod template is immutable: save it, change it, re-create it (its CronJob, if any, is the owner
    to change instead: see ``owner``)."""
    name = owner(ev)[1]  # type: ignore[index]
    text = (f"Job {name}'s pod template cannot be changed: re-create the Job. Save it, {change} in the file "
            "(and delete its spec.selector and the controller-uid labels), then replace it (this deletes the Job "
            "and its pods and starts it again from the beginning):")
    return Fix(text, (f"kubectl get job {q(name)} {ns(ev)} -o yaml > {q(name + '.yaml')}",
                      f"kubectl replace --force -f {q(name + '.yaml')}"))


def set_image(ev: Evidence, image: str) -> str:
    """The command that points this container at ``image``. An ephemeral container cannot be changed (start
    another with ``kubectl debug``); a Job's template is immutable (re-create it); a custom resource takes
    no ``set image`` (edit it)."""
    if ev.container_type == "ephemeral":
        return f"kubectl debug -it {q(ev.pod)} {ns(ev)} --image={q(image)}"
    o = owner(ev)
    if o and not builtin_owner(ev):
        return f"kubectl edit {o[0]}/{q(o[1])} {ns(ev)}   # set {ev.container}'s image to {image}"
    if ev.container_type == "image_volume":
        # Volumes merge by name (strategic merge patch); `kubectl set image` knows only containers.
        patch = template_patch(ev, {"volumes": [{"name": ev.container, "image": {"reference": image}}]}, slash=True)
        if patch is None:  # a pod's and a Job's template are immutable: edit and recreate
            target = owner_ref(ev) if owner(ev) else f"pod/{ev.pod}"
            return (f"kubectl get {target} {ns(ev)} -o yaml > {q(ev.pod + '.yaml')}  # set volume {ev.container}'s "
                    f"image.reference to {image}, then: kubectl replace --force -f {q(ev.pod + '.yaml')}")
        return patch
    if o and o[0] == "job":
        field = "initContainers" if ev.container_type == "init" else "containers"
        # The new Job gets a new controller-uid: the old selector and uid labels must go (batch/v1 validation).
        prog = (f"(.spec.template.spec.{field}[] | select(.name == $c) | .image) = $i "
                "| del(.spec.selector, .spec.template.metadata.labels[\"controller-uid\"], "
                ".spec.template.metadata.labels[\"batch.kubernetes.io/controller-uid\"])")
        return (f"kubectl get job {q(o[1])} {ns(ev)} -o json | jq --arg c {q(ev.container)} --arg i {q(image)} "
                f"{q(prog)} | kubectl replace --force -f -")
    return f"kubectl set image {owner_ref(ev)} {q(ev.container + '=' + image)} {ns(ev)}"


def runtime_unit(ev: Evidence) -> str:
    """The systemd unit of the node's container runtime (containerRuntimeVersion)."""
    rv = ((ev.node.runtime_version if ev.node else None) or "").lower()
    if rv.startswith("cri-o"):
        return "crio"
    if rv.startswith("docker"):
        return "cri-docker"
    return "containerd"
