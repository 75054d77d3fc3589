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
from pulldoctor.nodelogs import DEADLINE_KINDS, Hit, Kind, Setting, go_seconds
from pulldoctor.redact import printable
from pulldoctor.registry.manifest import human_size

#: Below this estimated pull time (at the rate measured from here) the registry is not what makes it slow.
FAST_PULL_SECONDS = 60.0


#: A no-progress gap this long is a hang, not a slow network: raising a deadline at least this long does not help.
HANG_SECONDS = 300.0


def _cancel(ev: Evidence) -> Hit | None:
    found = [h for h in ev.log_hits if h.kind in DEADLINE_KINDS]
    return found[-1] if found else None


def log_progress(ev: Evidence) -> tuple[str | None, str | None]:
    """(speed, what the node's log says) when a runtime's cancel line is there: containerd's bytes read at
    the cancel (0: nothing ever came, a stall; some, after a gap as long as a deadline of 5m or more: a hang;
    some, with a shorter deadline: slow, a longer one lets it finish) or dockershim's latest progress
    (Extracting: downloaded, unpacking a layer reports no progress: slow)."""
    cancel = _cancel(ev)
    if cancel is None:
        return None, None
    deadline = cancel.deadline or "its deadline"
    if cancel.kind == Kind.DOCKERSHIM_CANCEL:
        prog = printable(cancel.progress or "")
        if "Extracting" in prog or "Downloading" in prog:
            what = "unpacking a downloaded layer" if "Extracting" in prog else "downloading"
            return "slow", (f"the kubelet (dockershim) cancelled after {deadline} without a progress update while "
                            f"{what} (latest progress: {prog[:160]!r}): the pull was moving, slower than the deadline")
        return None, f"the kubelet (dockershim) cancelled after {deadline} without progress (latest: {prog[:160]!r})"
    stops = [h for h in ev.log_hits if h.kind == Kind.CONTAINERD_STOP and h.bytes_read is not None
             and (h.at is None or cancel.at is None or abs((h.at - cancel.at).total_seconds()) <= 600)]
    if not stops:
        return None, None
    read = stops[-1].bytes_read or 0
    size = ev.probe.size if ev.probe is not None else None
    of = f" of {human_size(size)} ({100 * read // size}%)" if size else ""
    text = f"{cancel.unit} read {human_size(read)}{of} before it cancelled the pull after {deadline} without progress"
    if read == 0:
        return "stall", text + ": not one byte arrived"
    gap = go_seconds(cancel.deadline)
    if size and read >= size:
        return "slow", text + ": the download was complete, unpacking took longer than the deadline"
    if gap is not None and gap >= HANG_SECONDS:
        return "stall", text + f": bytes came, then none for {deadline}, a hang rather than a slow link"
    return "slow", text + ": bytes came, with pauses longer than the deadline"


def pull_speed(ev: Evidence) -> str | None:
    """``stall`` (no byte came), ``slow`` (bytes move, the whole image takes long), ``fast``, or None when
    neither the node's log nor the probe measured it. The node's own log (its runtime's bytes read at the
    cancel) comes first: it saw the very pull. A probe that itself timed out is a stall too."""
    speed, _ = log_progress(ev)
    if speed is not None:
        return speed
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
    cancel = _cancel(ev)
    if cancel is not None and cancel.kind == Kind.DOCKERSHIM_CANCEL:
        pass  # the kubelet's own dockershim deadline fired, not cri-dockerd's: its flag is shown below
    elif deadline is not None:
        lines.append(EvidenceLine("node", deadline.describe()))
    elif ev.node and ev.node.runtime_version:
        lines.append(EvidenceLine("node", f"runtime {ev.node.runtime_version}"))
    speed = pull_speed(ev)
    queued = queueing(ev)
    if queued is not None:
        lines.append(EvidenceLine("events", queued))
    logged, said = log_progress(ev)
    if said:
        lines.append(EvidenceLine("node log", said))
    current = current_deadline(ev)
    if current is not None:
        lines.append(EvidenceLine("node settings", f"{current.name} = {printable(current.value or 'unset (default)')} "
                                              f"({current.where})"))
    contra: list[str] = []
    settle: list[str] = []
    if logged == "stall":
        summary = (f"The pull stalled on node {ev.node.name if ev.node else ''} (its runtime's log says how little "
                   f"arrived): a longer deadline would only wait longer; the node's path to {ev.registry} needs "
                   "fixing.")
    elif logged == "slow":
        summary = ("The pull was moving, but slower than the node's no-progress deadline (its runtime's log "
                   "shows the progress): a longer deadline lets it finish.")
    elif speed == "stall":
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
    if speed is not None and speed != "fast" and logged is None:
        settle.append("the same download from the node itself (crictl pull there) shows whether its path "
                      "behaves like this one")
    return Verdict(C.PULL_TIMEOUT_OR_PROGRESS_DEADLINE, LIKELY, summary, lines, contra, settle,
                   rule="progress_deadline")


#: A pull "mostly waited" when the kubelet's queue held it at least this long and longer than it pulled.
QUEUE_SECONDS = 30.0


def queueing(ev: Evidence) -> str | None:
    """When the node's other pulls mostly waited in the kubelet's queue (``Pulled`` events' "including
    waiting"), say so: a pull cancelled there may have spent its time waiting, not downloading."""
    waited = [w for w in ev.pull_waits if w.waited >= QUEUE_SECONDS and w.waited > w.pulling]
    if not waited:
        return None
    worst = max(waited, key=lambda w: w.waited)
    node = ev.node.name if ev.node else "the node"
    return (f"{len(waited)} of {len(ev.pull_waits)} recent pull(s) on {node} mostly waited in the kubelet's queue "
            f"(e.g. {printable(worst.image)}: {worst.pulling:.1f}s to pull, {worst.total:.1f}s including waiting): "
            "image pulls are serialized (serializeImagePulls: true, the default) or at maxParallelImagePulls")


def _queue_fix(ev: Evidence) -> Fix:
    node = ev.node.name if ev.node else "NODE"
    return Fix(f"Pulls on {node} wait for each other in the kubelet's queue. Let it pull in parallel: in the "
               "KubeletConfiguration set serializeImagePulls: false and maxParallelImagePulls (e.g. 3), then "
               "restart the kubelet (on EKS: the node group's kubelet config); or pre-pull large images.")


def _deadline(ev: Evidence, v: Verdict) -> list[Fix]:
    steps = _deadline_steps(ev, v)
    return [_queue_fix(ev), *steps] if queueing(ev) is not None else steps


def _deadline_steps(ev: Evidence, v: Verdict) -> list[Fix]:
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
    logged, _ = log_progress(ev)
    setting = logged_setting(ev)
    if logged is not None and setting is not None:
        # The node's log saw this very pull: say plainly whether raising its deadline helps, then how.
        if logged == "stall":
            current = current_deadline(ev)
            now = (f" ({current.name} is {printable(current.value)} now, under {current.where})"
                   if current is not None and current.value else "")
            return [Fix(f"Raising the deadline will not help: the node's log shows the pull stalled on {node}, so "
                        f"leave it as it is{now}. Find what blocks the download between {node} and {host_of(ev)} "
                        "(proxy, firewall, MTU, a mirror that hangs):", pull_on_node)]
        return [Fix("The node's log shows the pull moving, slower than its no-progress deadline: a longer deadline "
                    "lets it finish."), setting]
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


def current_deadline(ev: Evidence) -> Setting | None:
    """The deadline setting as read from the node (its config dump, or the kubelet's flag for dockershim)."""
    log = ev.node_log
    if log is None:
        return None
    cancel = _cancel(ev)
    if cancel is not None and cancel.kind == Kind.DOCKERSHIM_CANCEL:
        flag = log.settings.kubelet.get("--image-pull-progress-deadline")
        return flag or Setting("--image-pull-progress-deadline", None, "not among the kubelet's flags")
    return log.settings.progress_timeout


def _raised(current: str | None, default: str) -> str:
    """The value to suggest: 15m, or twice the current one when that is already 15m or more."""
    now = go_seconds(current) if current else go_seconds(default)
    if now and now >= 900:
        return f"{int(now * 2 // 60)}m"
    return "15m"


def logged_setting(ev: Evidence) -> Fix | None:
    """The deadline fix for the node whose log and settings were read: the exact setting of its runtime and
    version, its current value, where it lives, and how to apply it."""
    cancel = _cancel(ev)
    log = ev.node_log
    if cancel is None or log is None:
        return None
    node = ev.node.name if ev.node else "the node"
    current = current_deadline(ev)
    if cancel.kind == Kind.DOCKERSHIM_CANCEL:
        value = current.value if current is not None else None
        now = f"it is {printable(value)} now (in {current.where if current else '?'})" if value \
            else f"it is not set, so the default 1m applies (seen: {printable(cancel.deadline or '1m')})"
        new = _raised(value or cancel.deadline, "1m")
        return Fix(f"The kubelet on {node} (dockershim, before 1.24) cancels a pull after "
                   f"--image-pull-progress-deadline without progress; {now}. Add "
                   f"--image-pull-progress-deadline={new} to the kubelet's flags: on EKS the node group's "
                   f"--kubelet-extra-args (bootstrap.sh in the launch template's user data), elsewhere the "
                   f"kubelet's unit file ({current.where if current and current.value else 'systemctl cat kubelet'}), "
                   "then:", ("systemctl daemon-reload && systemctl restart kubelet",))
    if cancel.kind == Kind.CRIO_TIMEOUT:
        value = current.value if current is not None else cancel.deadline
        return Fix(f'CRI-O on {node}: pull_progress_timeout is {printable(value or "?")} now; set '
                   f'pull_progress_timeout = "{_raised(value, "0s")}" under [crio.image] in /etc/crio/crio.conf '
                   "(or a drop-in in /etc/crio/crio.conf.d/; 0 turns it off), then:", ("systemctl restart crio",))
    runtime = log.settings.runtime or (f"containerd {ev.node.runtime_version.split('://')[-1]}"
                                       if ev.node and ev.node.runtime_version else "containerd")
    value = current.value if current is not None else None
    major = runtime.split(" ")[-1].lstrip("v").split(".")[0]
    section = ('[plugins."io.containerd.cri.v1.images"]' if major.isdigit() and int(major) >= 2
               else '[plugins."io.containerd.grpc.v1.cri"]')
    where = current.where if current is not None else f"{section} in /etc/containerd/config.toml"
    now = f'it is "{printable(value)}" now' if value else \
        f"its value was not in the config dump (the cancel says {printable(cancel.deadline or '?')})"
    return Fix(f'{printable(runtime)} on {node}: image_pull_progress_timeout cancels a pull after that long '
               f'without a byte; {now}, under {where}. Set image_pull_progress_timeout = '
               f'"{_raised(value or cancel.deadline, "5m")}" there (every node of the group: the launch '
               "template's user data writes /etc/containerd/config.toml), then:", ("systemctl restart containerd",))


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
