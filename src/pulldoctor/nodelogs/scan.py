"""Find the lines that say something about a pull in a node's log tail, in one pass.

A prefilter finds the few candidate lines: ``bytes.rfind`` of each pattern's rare fixed part from the end
(C speed, about a GB/s; the newest lines first, so the caps keep those), so the Python per-line work runs on
the candidates only. Each candidate line is then parsed
once: its journal header (``journalctl`` short, short-precise, short-iso or JSON output) and one compiled
alternation of the patterns below. The wording, with where each is written:

- dockershim (kubelet < 1.24, pkg/kubelet/dockershim/libdocker/kube_docker_client.go, ``progressReporter.start``):
  ``Cancel pulling image %q because of no progress for %v, latest progress: %q``
- containerd CRI (1.7 ``pkg/cri/server/image_pull.go``, 2.x ``internal/cri/server/images/image_pull.go``,
  ``pullRequestReporter`` / ``ImageService.PullImage``): ``cancel pulling image %s because of no progress in
  %v`` and ``stop pulling image %s: active requests=%v, bytes read=%v``
- CRI-O (``server/image_pull.go``, ``pullImage``): ``Timed out on waiting up to %s for image pull progress updates``
- kubelet CRI client (``staging/src/k8s.io/cri-client/pkg/remote_image.go``, ``PullImage``):
  ``"PullImage from image service failed" err="…" image="…"`` (klog structured, 1.2x+) and, before,
  ``PullImage %q from image service failed: %v``
- containerd CRI (``pkg/cri/server/instrumented_service.go``, ``PullImage``): ``PullImage %q failed`` with
  the error as logrus' ``error=`` field
- kubelet image manager (``pkg/kubelet/images/puller.go``): ``pull QPS exceeded.``
- kubelet credential provider plugin (``pkg/credentialprovider/plugin/plugin.go``): ``Failed getting
  credential from external registry credential provider: %v``
- any runtime: ``no space left on device`` (ENOSPC's text)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pulldoctor.nodelogs.model import Hit, Kind

#: Fixed parts the prefilter looks for (bytes.rfind, one pass each: fewer and longer is faster, see
#: bench/bench_nodelogs.py). Every pattern below contains one of them.
ANCHORS: tuple[bytes, ...] = (
    b" pulling image ",                 # dockershim "Cancel …", containerd "cancel …" and "stop …"
    b"for image pull progress updates",
    b"PullImage ",                      # the kubelet's and containerd's PullImage … failed
    b"pull QPS exceeded",
    b"no space left on device",
    b"credential provider",
)
#: At most this many candidate lines, and this many of their bytes, per log tail are parsed (the newest):
#: a hostile or garbled log full of anchors costs a bounded time (about a second), not minutes.
MAX_CANDIDATES = 20_000
MAX_CANDIDATE_BYTES = 8 << 20
_MAX_LINE = 16 << 10   # a candidate line is cut here: a runtime error is long, but not that long

_Q = r'"((?:[^"\\]|\\.){0,4096})"'  # a Go-quoted string (klog %q, structured values)
_DETAIL = re.compile(
    r'Cancel pulling image (?P<d_img>"(?:[^"\\]|\\.){1,1024}") because of no progress for (?P<d_dl>\S+), '
    r'latest progress: (?P<d_prog>"(?:[^"\\]|\\.){0,2048}")'
    r"|cancel pulling image (?P<c_img>[^\s\\\"]+) because of no progress in (?P<c_dl>[0-9.]+[a-zµ]+(?:[0-9.]+[a-zµ]+)*)"
    r"|stop pulling image (?P<s_img>[^\s\\\"]+): active requests=(?P<s_act>\d+), bytes read=(?P<s_bytes>\d+)"
    r"|Timed out on waiting up to (?P<t_dl>\S+) for image pull progress updates"
    r'|"PullImage from image service failed" err=' + _Q.replace("(", "(?P<p_err>", 1)
    + r'|PullImage (?P<o_img>"(?:[^"\\]|\\.){1,1024}") from image service failed: (?P<o_err>.+)'
    r'|PullImage \\"(?P<r_img>[^"\\]{1,1024})\\" failed" error=(?P<r_err>"(?:[^"\\]|\\.){0,16384}")'
    r"|(?P<qps>pull QPS exceeded)"
    r"|(?P<cred>credential provider[^\n]{0,200}?(?:fail|error))"
    r"|(?P<space>no space left on device)"
)
_IMAGE_FIELD = re.compile(r"\bimage=" + _Q)                       # klog's image="…"
_FOR_IMAGE = re.compile(r"\bfor image ([^\s\"]{1,1024}?):?(?=\s|$)")  # the credential provider's error
_IMAGE_WORD = re.compile(r'\bimage \\?"([^"\\]{1,1024})\\?"')    # containerd's image \"…\" in an error

# journalctl headers. short / short-precise: "Dec 04 18:20:01[.123456] HOST IDENT[PID]: MSG";
# short-iso / short-iso-precise: "2026-12-04T18:20:01[.123456]+0000 HOST IDENT[PID]: MSG".
_SHORT = re.compile(r"^(?P<mon>[A-Z][a-z]{2}) (?P<day>[ \d]\d) (?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)(?:\.\d+)? "
                    r"(?P<host>\S+) (?P<ident>[^\s\[:]+)(?:\[\d+\])?: ")
_ISO = re.compile(r"^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(?P<tz>Z|[+-]\d\d:?\d\d)? "
                  r"(?P<host>\S+) (?P<ident>[^\s\[:]+)(?:\[\d+\])?: ")
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                       "Nov", "Dec"), 1)}
_UNITS = {"kubelet": "kubelet", "containerd": "containerd", "dockerd": "docker", "docker": "docker",
          "crio": "crio", "cri-o": "crio", "cri-dockerd": "docker"}


@dataclass(slots=True)
class Scanned:
    hits: list[Hit] = field(default_factory=list)
    first_at: datetime | None = None
    last_at: datetime | None = None
    formats: set[str] = field(default_factory=set)
    more: bool = False   # more candidates than MAX_CANDIDATES: the newest were kept


def go_unquote(quoted: str) -> str:
    """A Go-quoted string's text (``"a \\"b\\""`` → ``a "b"``); what does not decode is kept as written."""
    body = quoted[1:-1] if len(quoted) >= 2 and quoted[0] == quoted[-1] == '"' else quoted
    if "\\" not in body:
        return body
    try:
        return str(json.loads('"' + re.sub(r"\\x([0-9a-fA-F]{2})", r"\\u00\1", body) + '"'))
    except ValueError:
        return body.replace('\\"', '"').replace("\\\\", "\\")


class Clock:
    """Turns journal headers into UTC times. The short format has no year: the year is that of ``ref``
    (when the log was collected) unless that puts the line more than a day after ``ref``."""

    def __init__(self, ref: datetime) -> None:
        self.ref = ref

    def short(self, m: re.Match[str]) -> datetime | None:
        month = _MONTHS.get(m["mon"])
        if month is None:
            return None
        try:
            t = datetime(self.ref.year, month, int(m["day"]), int(m["h"]), int(m["m"]), int(m["s"]), tzinfo=UTC)
            if t > self.ref + timedelta(days=1):
                t = t.replace(year=self.ref.year - 1)
        except ValueError:  # Feb 29 in the wrong year, or a garbled day
            return None
        return t

    @staticmethod
    def iso(m: re.Match[str]) -> datetime | None:
        tz = (m["tz"] or "Z").replace("Z", "+00:00")
        if len(tz) == 5:
            tz = tz[:3] + ":" + tz[3:]
        try:
            return datetime.fromisoformat(m["ts"] + tz).astimezone(UTC)
        except ValueError:
            return None


def header(line: str, clock: Clock) -> tuple[datetime | None, str | None, str, str]:
    """(time, unit, message, format) of one journal line; unknown formats give (None, None, line, "")."""
    if line.startswith("{"):
        try:
            doc = json.loads(line)
        except ValueError:
            return None, None, line, ""
        if not isinstance(doc, dict):
            return None, None, line, ""
        msg = doc.get("MESSAGE")
        if isinstance(msg, list):  # journalctl -o json writes a non-UTF-8 message as a byte array
            msg = bytes(b & 0xFF for b in msg if isinstance(b, int)).decode("utf-8", "replace")
        ident = str(doc.get("SYSLOG_IDENTIFIER") or doc.get("_SYSTEMD_UNIT") or "").removesuffix(".service")
        at = None
        try:
            at = datetime.fromtimestamp(int(doc.get("__REALTIME_TIMESTAMP", "")) / 1e6, UTC)
        except (ValueError, OverflowError, OSError):
            pass
        return at, _UNITS.get(ident), str(msg or ""), "json"
    m = _SHORT.match(line)
    if m:
        return clock.short(m), _UNITS.get(m["ident"]), line[m.end():], "short"
    m = _ISO.match(line)
    if m:
        return clock.iso(m), _UNITS.get(m["ident"]), line[m.end():], "short-iso"
    return None, None, line, ""


def _line_at(data: bytes, start: int, end: int) -> str:
    return data[start:min(end, start + _MAX_LINE)].decode("utf-8", "replace")


def time_range(data: bytes, clock: Clock) -> tuple[datetime | None, datetime | None]:
    """The time of the first and the last dated line among the tail's first and last 50 lines."""
    lines = data[:64 << 10].split(b"\n")[:50]
    first = next((t for t in (header(_line_at(ln, 0, len(ln)), clock)[0] for ln in lines) if t), None)
    lines = data[-(64 << 10):].split(b"\n")[-50:]
    last = next((t for t in (header(_line_at(ln, 0, len(ln)), clock)[0] for ln in reversed(lines)) if t), None)
    return first, last


def candidates(data: bytes, limit: int = MAX_CANDIDATES) -> tuple[list[int], bool]:
    """Start offsets of the lines holding an anchor, in order: the newest ``limit`` at most (each anchor is
    searched from the end, so a log full of them costs ``limit`` finds, not one per line), and whether
    there were more."""
    starts: set[int] = set()
    more = False
    for anchor in ANCHORS:
        found = 0
        pos = data.rfind(anchor)
        while pos != -1:   # bounded: at most ``limit`` lines per anchor, each moving before the previous
            if found == limit:
                more = True
                break
            ls = data.rfind(b"\n", 0, pos) + 1
            starts.add(ls)
            found += 1
            pos = data.rfind(anchor, 0, ls)
    ordered = sorted(starts)
    if len(ordered) > limit:
        more, ordered = True, ordered[-limit:]
    return ordered, more


def scan(data: bytes, *, node: str, unit: str, source: str, clock: Clock) -> Scanned:
    """Every hit in ``data`` (a log tail), with the time range of its lines."""
    out = Scanned()
    out.first_at, out.last_at = time_range(data, clock)
    starts, out.more = candidates(data)
    spans, budget = [], MAX_CANDIDATE_BYTES
    for ls in reversed(starts):  # newest first, until the byte budget is spent
        nl = data.find(b"\n", ls)
        end = min(nl if nl != -1 else len(data), ls + _MAX_LINE)
        budget -= end - ls
        if budget < 0:
            out.more = True
            break
        spans.append((ls, end))
    for ls, end in reversed(spans):
        line = _line_at(data, ls, end).rstrip("\r")
        at, line_unit, msg, fmt = header(line, clock)
        if fmt:
            out.formats.add(fmt)
        hit = detail(msg, node=node, unit=line_unit or unit, at=at, source=source)
        if hit is not None:
            out.hits.append(hit)
    return out


def detail(msg: str, *, node: str, unit: str, at: datetime | None, source: str) -> Hit | None:
    """The hit a message is, or None: one compiled alternation, the first pattern that matches wins."""
    m = _DETAIL.search(msg)
    if m is None:
        return None
    g = m.groupdict()

    def named() -> str | None:
        f = _IMAGE_FIELD.search(msg)
        if f is not None:
            return go_unquote('"' + f.group(1) + '"')
        w = _IMAGE_WORD.search(msg) or _FOR_IMAGE.search(msg)
        return w.group(1) if w is not None else None

    def mk(kind: Kind, image: str | None, **kw: object) -> Hit:
        return Hit(kind, node, unit, at, image, msg, source, **kw)  # type: ignore[arg-type]

    if g["d_img"]:
        return mk(Kind.DOCKERSHIM_CANCEL, go_unquote(g["d_img"]), deadline=g["d_dl"],
                  progress=go_unquote(g["d_prog"]))
    if g["c_img"]:
        return mk(Kind.CONTAINERD_CANCEL, g["c_img"], deadline=g["c_dl"])
    if g["s_img"]:
        return mk(Kind.CONTAINERD_STOP, g["s_img"], bytes_read=int(g["s_bytes"][:20]))
    if g["t_dl"]:
        return mk(Kind.CRIO_TIMEOUT, named(), deadline=g["t_dl"])
    if g["p_err"] is not None:
        return mk(Kind.PULL_FAILED, named(), error=go_unquote('"' + g["p_err"] + '"'))
    if g["o_img"]:
        return mk(Kind.PULL_FAILED, go_unquote(g["o_img"]), error=g["o_err"].strip())
    if g["r_img"]:
        return mk(Kind.PULL_FAILED, g["r_img"], error=go_unquote(g["r_err"]))
    if g["qps"]:
        return mk(Kind.QPS, named())
    if g["cred"]:
        return mk(Kind.CREDENTIAL_PROVIDER, named())
    return mk(Kind.NO_SPACE, named())
