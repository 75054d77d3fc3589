"""The command builders every fix uses: quoting, ``-n``, the owner to patch (Deployment, StatefulSet, a Job's
immutable template, a CronJob), pull secrets and the node's runtime unit. Secret values never appear: the
commands carry ``--docker-password=PASSWORD`` placeholders.
"""

from __future__ import annotations

import json
import re
import shlex

from pulldoctor.diagnosis.evidence import Evidence
from pulldoctor.diagnosis.model import Fix

DOCKER_HUB = {"docker.io", "index.docker.io", "registry-1.docker.io"}


def q(s: str) -> str:
    return shlex.quote(s)


def ns(ev: Evidence) -> str:
    return f"-n {q(ev.namespace)}"


def owner(ev: Evidence) -> tuple[str, str] | None:
    """The controller whose pod template to patch (kind lowercase for kubectl, name)."""
    if ev.owner:
        kind, name = ev.owner
        return kind.lower(), name
    return None


#: A Job created by a CronJob is named ``<cronjob>-<scheduled time in minutes>`` (cronjob controller v2).
CRON_JOB = re.compile(r"^(?P<cron>.+)-\d{8,}$")


def owner_ref(ev: Evidence) -> str:
    o = owner(ev)
    return f"{o[0]}/{o[1]}" if o else f"pod/{ev.pod}"


def patchable(ev: Evidence) -> tuple[str, str] | None:
    """The owner whose pod template can be changed in place; a Job's template is immutable."""
    o = owner(ev)
    return o if o and o[0] != "job" else None


def delete_pod(ev: Evidence) -> str:
    return f"kubectl delete pod {q(ev.pod)} {ns(ev)}"


def recreate_pod(ev: Evidence) -> tuple[str, ...]:
    """Commands that start this pod again: a controller recreates a deleted pod; a bare pod (or a Job's)
    is saved and replaced, so deleting it does not lose it."""
    o = owner(ev)
    if o and o[0] != "job":
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

    Both lists replace what the pod would otherwise get (a pod with imagePullSecrets ignores its service
    account's; a merge patch replaces the account's list), so the secrets already in effect are kept."""
    sa = ev.secrets.service_account or "default"
    keep = [n for n in ev.secrets.names if n != name]
    secrets = [{"name": n} for n in [*keep, name]]
    patch = json.dumps({"imagePullSecrets": secrets}, separators=(",", ":"))
    steps = []
    o = owner(ev)
    if o and o[0] == "job":
        steps.append(job_edit(ev, "add imagePullSecrets to its pod template"))
    elif o:
        tpl = json.dumps({"spec": {"template": {"spec": {"imagePullSecrets": secrets}}}}, separators=(",", ":"))
        steps.append(Fix(f"Add it to the pod template of {o[0]} {o[1]} (a rollout recreates the pods):",
                         (f"kubectl patch {o[0]} {q(o[1])} {ns(ev)} -p {q(tpl)}",)))
    else:
        steps.append(Fix(f"Pod {ev.pod} has no controller: add imagePullSecrets to its manifest and recreate it.",
                         recreate_pod(ev)))
    if ev.secrets.source != "pod":
        steps.append(Fix(f"Or give it to the service account {sa} (pods get it when they are created, so "
                         "delete the pod afterwards):",
                         (f"kubectl patch serviceaccount {q(sa)} {ns(ev)} -p {q(patch)}", *recreate_pod(ev))))
    return steps


def job_edit(ev: Evidence, change: str) -> Fix:
    """A Job's pod template is immutable: save it, change it, replace it (and fix its CronJob, if any)."""
    name = owner(ev)[1]  # type: ignore[index]
    cron = CRON_JOB.match(name)
    text = (f"Job {name}'s pod template cannot be changed: save it, {change} in the file (and delete "
            "its spec.selector and the controller-uid labels), then replace it:")
    if cron:
        text += f" If CronJob {cron['cron']} created it, change the CronJob too, or the next run fails the same way."
    return Fix(text, (f"kubectl get job {q(name)} {ns(ev)} -o yaml > {q(name + '.yaml')}",
                      f"kubectl replace --force -f {q(name + '.yaml')}"))


def set_image(ev: Evidence, image: str) -> str:
    """The command that points this container at ``image``. An ephemeral container cannot be changed (start
    another with ``kubectl debug``); a Job's template is immutable; a CronJob's Job: fix the CronJob."""
    if ev.container_type == "ephemeral":
        return f"kubectl debug -it {q(ev.pod)} {ns(ev)} --image={q(image)}"
    if ev.container_type == "image_volume":
        # Volumes merge by name (strategic merge patch); `kubectl set image` knows only containers.
        patch = {"spec": {"template": {"spec": {"volumes": [{"name": ev.container, "image": {"reference": image}}]}}}}
        target = owner_ref(ev) if owner(ev) else f"pod/{ev.pod}"
        if target.startswith(("pod/", "job/")):  # a pod's and a Job's template are immutable: edit and recreate
            return (f"kubectl get {target} {ns(ev)} -o yaml > {q(ev.pod + '.yaml')}  # set volume {ev.container}'s "
                    f"image.reference to {image}, then: kubectl replace --force -f {q(ev.pod + '.yaml')}")
        return f"kubectl patch {target} {ns(ev)} -p {q(json.dumps(patch, separators=(',', ':')))}"
    o = owner(ev)
    if o and o[0] == "job":
        cron = CRON_JOB.match(o[1])
        if cron:
            return f"kubectl set image cronjob/{cron['cron']} {q(ev.container + '=' + image)} {ns(ev)}"
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
