"""A pull cancelled by a no-progress deadline: the image's size, a measured download rate and the deadline of
the node's runtime version tell a stall from a slow download, and which setting to raise.
"""

from __future__ import annotations

from pulldoctor.causes import Cause
from pulldoctor.diagnosis.evidence import Evidence, RuntimeDeadline, runtime_deadline, span
from pulldoctor.diagnosis.families.base import LIKELY, C, Family
from pulldoctor.diagnosis.families.verdicts import probe_cause, probe_state
from pulldoctor.diagnosis.kubectl import host_of, q
from pulldoctor.diagnosis.lines import base_lines, probe_line
from pulldoctor.diagnosis.model import EvidenceLine, Fix, Verdict
from pulldoctor.registry.manifest import human_size

#: Below this estimated pull time (at the rate measured from here) the registry is not what makes it slow.
FAST_PULL_SECONDS = 60.0


def pull_speed(ev: Evidence) -> str | None:
    """``stall`` (no byte came), ``slow`` (bytes move, the whole image takes long), ``fast``, or None when
    the probe did not measure it. A probe that itself timed out waiting for the registry is a stall too."""
    p = ev.probe
    if p is None:
        return None
    tp = p.throughput if p is not None else None
    if probe_cause(ev) == C.PULL_TIMEOUT_OR_PROGRESS_DEADLINE or (tp is not None and tp.stalled):
        return "stall"
    if tp is None or tp.error or tp.rate is None:
        return None
    est = tp.estimate((p.size if p is not None else None) or tp.blob_size)
    return "fast" if est is not None and est < FAST_PULL_SECONDS else "slow"


def progress_deadline(ev: Evidence, claimed: Cause) -> Verdict:
    """A pull cancelled by the runtime's progress deadline or a client deadline: the image's size for the
    node's platform, a measured download rate (a bounded sample of its largest layer), the estimated pull
    time, and the deadline of the node's runtime version. Tells a stall from a slow-but-moving download."""
    lines = base_lines(ev)
    p = ev.probe
    size = p.size if p is not None else None
    tp = p.throughput if p is not None else None
    platform = p.platform if p is not None else None
    if size:
        lines.append(EvidenceLine("probe", f"image size {human_size(size)} compressed for {platform or 'the node'}"))
    if tp is not None:
        text = tp.describe()
        est = tp.estimate(size or tp.blob_size)
        if est is not None:
            text += f"; at that rate the whole image takes about {span(est)}"
        lines.append(EvidenceLine("probe", text))
    deadline = runtime_deadline(ev.node.runtime_version if ev.node else None)
    if deadline is not None:
        lines.append(EvidenceLine("node", deadline.describe()))
    elif ev.node and ev.node.runtime_version:
        lines.append(EvidenceLine("node", f"runtime {ev.node.runtime_version}"))
    speed = pull_speed(ev)
    contra: list[str] = []
    settle: list[str] = []
    if speed == "stall":
        summary = (f"The pull stalls: {ev.registry} sends no data (no byte within the probe's time cap), so a "
                   "no-progress deadline cancels it; a longer deadline would only wait longer.")
        if probe_cause(ev) == C.PULL_TIMEOUT_OR_PROGRESS_DEADLINE:
            lines.append(probe_line(ev))
    elif speed == "slow":
        est = tp.estimate(size or tp.blob_size) if tp is not None else None
        took = f" (about {span(est)} for the whole image at the rate measured from here)" if est else ""
        summary = (f"The pull is slow but moving{took}; a no-progress deadline fires only when bytes stop for "
                   "its whole length, so the node's download also pauses at times, or a client cancelled it.")
    elif speed == "fast":
        summary = (f"{ev.registry} serves this image fast from here, yet the node's pull was cancelled: its "
                   "path to the registry (proxy, mirror, bandwidth) stalls or is slow.")
        contra.append("the download is fast from here; the slow part is on the node's side")
    else:
        summary = "The runtime cancelled the pull: no progress within its deadline (or a client deadline)."
        if probe_state(ev) == "pullable":
            contra.append("the manifest resolves quickly from here; the slow part is the layer download on the node")
        if not size:
            settle.append("the image size from a probe would show whether the deadline is plausible")
        if tp is None:
            settle.append("a throughput sample of the largest layer (a probe) would tell a stall from a slow "
                          "download")
    if speed is not None and speed != "fast":
        settle.append("the same download from the node itself (crictl pull there) shows whether its path "
                      "behaves like this one")
    return Verdict(C.PULL_TIMEOUT_OR_PROGRESS_DEADLINE, LIKELY, summary, lines, contra, settle,
                   rule="progress_deadline")


def _deadline(ev: Evidence, v: Verdict) -> list[Fix]:
    """Chosen by the evidence, never both ways at once: a stall → fix the path (a longer deadline only waits
    longer, so none is offered); slow but moving → mirror/size/pre-pull and raise the deadline of THAT runtime
    version; not measured (or fast from here) → pull on the node first, then the step its result calls for."""
    size = ev.probe.size if ev.probe is not None else None
    tp = ev.probe.throughput if ev.probe is not None else None
    node = ev.node.name if ev.node else "NODE"
    runtime = (ev.node.runtime_version if ev.node else None) or ""
    speed = pull_speed(ev)
    deadline = runtime_deadline(runtime or None)
    pull_on_node = (f"crictl pull {q(ev.image)}   # on {node}: does it progress?",)
    if speed == "stall":
        what = deadline.setting if deadline is not None and deadline.setting else "the pull deadline"
        return [Fix(f"The registry sends no bytes (the probe's download stalled), so a longer deadline only waits "
                    f"longer: leave {what} as it is. Find what blocks the download between {node} and "
                    f"{host_of(ev)} (proxy, firewall, MTU, a mirror that hangs):", pull_on_node)]
    steps: list[Fix] = []
    if speed == "slow" and tp is not None and tp.rate:
        est = tp.estimate(size or tp.blob_size)
        steps.append(Fix(f"At {human_size(int(tp.rate))}/s the image ({human_size(size or tp.blob_size)}) takes "
                         f"about {span(est or 0)}: use a registry mirror close to the nodes, make the image smaller, "
                         "or pre-pull it (a DaemonSet) so pods do not wait on the download.", pull_on_node))
        why = ("The download is slow but moving (measured), so a longer no-progress deadline lets it finish "
               "through the pauses:")
        steps += [Fix(why), *_settings(deadline)]
        return steps
    size_text = f" The image is {human_size(size)} compressed." if size else ""
    if speed == "fast":
        first = (f"From here the image downloads fast, so the node's path is what stalls or crawls.{size_text} "
                 f"Pull it on {node} itself and check its proxy or mirror settings:")
    else:
        first = (f"The probe did not measure the download, so whether the pull stalls or is slow is not known."
                 f"{size_text} Pull it on {node} and watch whether bytes arrive:")
    steps.append(Fix(first, pull_on_node))
    steps.append(Fix("If no bytes arrive, fix the path (proxy, firewall, MTU, mirror): a longer deadline would only "
                     "wait longer. Only if bytes move but slowly, raise the deadline (or use a closer mirror, a "
                     "smaller image, a pre-pull):"))
    steps += _settings(deadline)
    return steps


def _settings(deadline: RuntimeDeadline | None) -> list[Fix]:
    """How to raise the deadline: of the node's runtime version when known, else of each runtime."""
    if deadline is not None:
        return [_deadline_setting(deadline)]
    return [Fix('containerd 1.7+: set image_pull_progress_timeout = "15m" (default "5m", a no-progress timeout) '
                'under [plugins."io.containerd.grpc.v1.cri"] (2.x: [plugins."io.containerd.cri.v1.images"]) in '
                "/etc/containerd/config.toml on the nodes, then:", ("systemctl restart containerd",)),
            Fix('CRI-O 1.32+: set pull_progress_timeout = "15m" under [crio.image] in '
                "/etc/crio/crio.conf (0 disables it; off by default from 1.32.6), then:",
                ("systemctl restart crio",)),
            Fix("cri-dockerd: start it with --image-pull-progress-deadline=15m (default 1m).")]


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


PROGRESS_DEADLINE = Family("progress_deadline", frozenset({C.PULL_TIMEOUT_OR_PROGRESS_DEADLINE}),
                           "cancelled pull: image size and the runtime's deadlines", progress_deadline, _deadline)
