"""Text from a cluster, a registry or a runtime never drives the terminal or forges a log line (issue 13,
terminal output 8–10): every control character (C0, DEL, C1) goes through every output format of
``diagnose``, ``classify`` and ``probe`` and through ``serve``'s log, and must come out escaped.

Each command runs once per format with every character in one message (so the whole matrix costs a few
processes); the cases are one test per (format, character), so a failure names the character.
"""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kubeapi import FakeKubeAPI
from kubeapi import objects as o

TIMEOUT = 60
IMG = "127.0.0.1:1/acme/web:1.0"  # nothing listens: probes fail at once, never leave the machine
CONTROLS = [chr(c) for c in range(0x20)] + ["\x7f"] + [chr(c) for c in range(0x80, 0xA0)]
LAYOUT = {"\n", "\t"}  # what a text format may itself contain (its own line breaks and indents)
SGR = "\x1b[1;31m"  # the text renderer's own colour for `certain`: the cluster must not be able to send it
HOSTILE = " <" + "".join(CONTROLS) + f"> {SGR}FAKE-RED\x1b[0m \x1b]0;title\x07 \x9b2J"


def cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("PULLDOCTOR_DEBUG", "KUBECONFIG")}
    return subprocess.run([sys.executable, "-m", "pulldoctor", *args], input=stdin, capture_output=True,
                          timeout=TIMEOUT, env=env, stdin=None if stdin is not None else subprocess.DEVNULL)


def raw_controls(out: str, allowed: set[str]) -> list[str]:
    return [c for c in CONTROLS if c not in allowed and c in out]


def char_id(c: str) -> str:
    return f"{ord(c):#04x}"


# --- diagnose: text, json, markdown --------------------------------------------------------------------


@functools.cache
def diagnose_output(fmt: str, tmp: str) -> str:
    message = f'Failed to pull image "{IMG}": rpc error: code = NotFound desc = not found:{HOSTILE}'
    pod = o.pod("esc", containers=[o.container("app", IMG)], statuses=[o.waiting("app", IMG, "ErrImagePull", message)])
    path = Path(tmp) / "esc.json"
    path.write_text(json.dumps(o.as_list([pod, o.event(pod, "Failed", message, container="app")])))
    r = cli("diagnose", "--from", str(path), "--no-probe", "-o", fmt)
    assert r.returncode == 1, r.stderr
    out = r.stdout.decode("utf-8")
    assert "FAKE-RED" in out  # the message is shown, not cut
    return out + r.stderr.decode("utf-8")


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("terminal"))


@pytest.mark.parametrize("char", CONTROLS, ids=char_id)
@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_diagnose_escapes_every_control(module_tmp: str, fmt: str, char: str) -> None:
    out = diagnose_output(fmt, module_tmp)
    allowed = LAYOUT if fmt != "json" else {"\n"}
    if char in allowed:
        return
    assert char not in out, f"diagnose -o {fmt} prints {char!r} raw"


def test_diagnose_text_escapes_the_renderers_own_colour_codes_in_input() -> None:
    """Escape the input first, colour after: with colour on, a cluster's SGR sequence that equals the
    renderer's own is shown escaped, and the renderer's colours are still there."""
    from pulldoctor.cluster import SourceSpec, find_failing, load_snapshot
    from pulldoctor.diagnosis import run
    from pulldoctor.render.text import render as text

    message = f'Failed to pull image "{IMG}": not found {SGR}FAKE-RED\x1b[0m'
    pod = o.pod("esc", containers=[o.container("app", IMG)], statuses=[o.waiting("app", IMG, "ErrImagePull", message)])
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "esc.json"
        path.write_text(json.dumps(o.as_list([pod])))
        snapshot = load_snapshot(SourceSpec(paths=(str(path),)))
    out = text(run(find_failing(snapshot), snapshot), color=True)
    assert f"{SGR}FAKE-RED" not in out and "\\x1b[1;31mFAKE-RED" in out
    assert re.search(r"\x1b\[1;3[136]m", out)  # our own colours survive


# --- classify: text, json (arguments), JSON Lines (stdin) -----------------------------------------------


@functools.cache
def classify_output(fmt: str) -> str:
    message = (f'Failed to pull image "reg.example/x{HOSTILE}:1": failed to do request: Head '
               f'"https://reg.example/v2/x{HOSTILE}": dial tcp: lookup reg.example{HOSTILE}: no such host')
    if fmt == "jsonl":
        r = cli("classify", stdin=json.dumps({"message": message}).encode() + b"\n")
    else:
        r = cli("classify", message.replace("\x00", ""), "-o", fmt)  # NUL cannot be in an argument
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode("utf-8")
    if fmt != "text":
        for line in out.split("\n")[:-1]:  # not splitlines(): it also splits at \x1c-\x1e and \x85
            json.loads(line)
    return out + r.stderr.decode("utf-8")


@pytest.mark.parametrize("char", CONTROLS, ids=char_id)
@pytest.mark.parametrize("fmt", ["text", "json", "jsonl"])
def test_classify_escapes_every_control(fmt: str, char: str) -> None:
    if char == "\x00" and fmt != "jsonl":
        return
    out = classify_output(fmt)
    allowed = LAYOUT if fmt == "text" else {"\n"}
    if char in allowed:
        return
    assert char not in out, f"classify -o {fmt} prints {char!r} raw"


# --- probe: a registry error body holding every control, text and json -----------------------------------


class _HostileRegistry(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        return

    def _answer(self) -> None:
        if self.path == "/v2/":
            body = b"{}"
            self.send_response(200)
        else:
            message = "".join(CONTROLS) + SGR + "X"
            body = json.dumps({"errors": [{"code": "DENIED", "message": message}]}).encode()
            self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = _answer


@pytest.fixture(scope="module")
def hostile_registry() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _HostileRegistry)
    t = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()
        t.join(5)


@functools.cache
def probe_output(fmt: str, port: int) -> str:
    r = cli("probe", f"127.0.0.1:{port}/acme/web:1.0", "-o", fmt)
    assert r.returncode == 1, r.stderr
    out = r.stdout.decode("utf-8")
    assert "DENIED" in out
    return out + r.stderr.decode("utf-8")


@pytest.mark.parametrize("char", CONTROLS, ids=char_id)
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_probe_escapes_every_control(hostile_registry: int, fmt: str, char: str) -> None:
    out = probe_output(fmt, hostile_registry)
    if char in ({"\n"} if fmt == "json" else LAYOUT):
        return
    assert char not in out, f"probe -o {fmt} prints {char!r} raw"


# --- serve: an API Status carrying escapes and a forged log line ------------------------------------------

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ")
FORGED = "\n2026-01-01 00:00:00,000 CRITICAL pulldoctor.exporter: FORGED LOG LINE"


@pytest.fixture(scope="module")
def serve_log(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("serve-log")
    with FakeKubeAPI([o.service_account("default", "default"), o.node("node-1")]) as api:
        kubeconfig = api.write_kubeconfig(tmp / "kubeconfig")
        log = tmp / "stderr.log"
        with log.open("wb") as err:
            proc = subprocess.Popen([sys.executable, "-m", "pulldoctor", "serve", "--kubeconfig", str(kubeconfig),
                                     "--listen", "127.0.0.1:0", "--no-probe"], stderr=err, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while b"first full list done" not in log.read_bytes() and time.monotonic() < deadline:
                time.sleep(0.05)
            status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 500,
                      "reason": "Hostile\x1b]0;pwned\x07" + FORGED,
                      "message": "".join(CONTROLS) + f"{SGR}red{FORGED}"}
            for _ in range(100):  # bounded: until the warning is logged (the watch may be reconnecting)
                api.push("pods", "ERROR", status)
                time.sleep(0.1)
                if b"answered 500" in log.read_bytes():
                    break
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
    text = log.read_bytes().decode("utf-8")
    assert "answered 500" in text, text[-2000:]
    return text


@pytest.mark.parametrize("char", CONTROLS, ids=char_id)
def test_serve_log_escapes_every_control(serve_log: str, char: str) -> None:
    if char == "\n":
        return  # checked by the forged-line test
    assert char not in serve_log, f"serve logs {char!r} raw"


def test_serve_log_cannot_be_forged(serve_log: str) -> None:
    lines = serve_log.split("\n")[:-1]
    assert lines and all(LOG_LINE.match(line) or line.startswith((" ", "Traceback")) for line in lines), lines
    assert not any(line.startswith("2026-01-01 00:00:00,000 CRITICAL") for line in lines)
    # still quoted, escaped, on one line (the API client caps a Status message at 300 characters, so the tail
    # after the 65 escaped control characters may be cut: what is shown is never a new line)
    assert any("answered" in line and "\\x1b" in line for line in lines), lines


def test_safe_formatter_escapes_message_args_and_tracebacks() -> None:
    """The formatter itself, in process: the merged message (format and args) becomes one escaped line with
    ``user:password@`` and ``Bearer`` values masked; a traceback keeps its newlines and nothing else."""
    import io
    import logging

    from pulldoctor.logfmt import SafeFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(SafeFormatter("%(levelname)s %(name)s: %(message)s"))
    log = logging.getLogger("pulldoctor.test-safe-formatter")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("pods: API server answered %s", "500 Hostile\x1b]0;t\x07" + FORGED + " https://u:pw-1234@h/x")
        try:
            raise ValueError("Invalid header value b'Bearer tok-1234\\nx'\x1b[2J")
        except ValueError:
            log.exception("boom %d\n%s", 1, "CRITICAL forged")
    finally:
        log.removeHandler(handler)
    out = stream.getvalue()
    lines = out.split("\n")[:-1]
    assert lines[0].startswith("WARNING ") and "\\x1b]0;t\\x07\\n2026-01-01" in lines[0] and "u:***@h" in lines[0]
    assert lines[1] == "ERROR pulldoctor.test-safe-formatter: boom 1\\nCRITICAL forged"
    assert "Traceback" in out and "Bearer ***" in out and "tok-1234" not in out and "\x1b" not in out
