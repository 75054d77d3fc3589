"""A live cluster that is down, hostile or slow, and ``collect -o`` aimed at the wrong place: one line on
stderr, exit code 2, bounded time, and no file left behind. Servers run on 127.0.0.1 only."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import assert_one_line_error, cli
from kubeapi import FakeKubeAPI
from kubeapi import objects as o

TIMEOUT = 60


def kubeconfig_for(port: int, path: Path) -> Path:
    """A kubeconfig pointing at 127.0.0.1:port (the fake server's writer, without starting it)."""
    api = FakeKubeAPI()
    api.port = port
    return api.write_kubeconfig(path)


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never says a word."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    conns: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conns.append(ls.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield ls.getsockname()[1]
    ls.close()
    for c in conns:
        c.close()


def http_server(handle: Callable[[BaseHTTPRequestHandler], None]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # http.server's naming
            handle(self)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def answer(code: int, body: bytes, ctype: str = "application/json") -> Callable[[BaseHTTPRequestHandler], None]:
    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(code)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
    return handle


def drip(h: BaseHTTPRequestHandler) -> None:
    """Headers, then a byte every 0.3 s: each socket read succeeds, the response never ends."""
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.end_headers()
    for _ in range(1000):
        try:
            h.wfile.write(b" ")
            h.wfile.flush()
        except OSError:
            return
        time.sleep(0.3)


# --- the cluster cannot be reached or answers nonsense ----------------------------------------------


def test_closed_port_fails_fast_and_collect_leaves_nothing(tmp_path: Path) -> None:
    kc = kubeconfig_for(closed_port(), tmp_path / "kc")
    started = time.monotonic()
    assert_one_line_error(cli("diagnose", "--kubeconfig", str(kc)), "cannot reach", "connection refused")
    out = tmp_path / "out" / "b.tar.gz"
    out.parent.mkdir()
    assert_one_line_error(cli("collect", "--kubeconfig", str(kc), "-o", str(out)), "connection refused")
    assert time.monotonic() - started < 15
    assert os.listdir(out.parent) == []


def test_silent_server_is_bounded_by_request_timeout(tmp_path: Path, silent_server: int) -> None:
    kc = kubeconfig_for(silent_server, tmp_path / "kc")
    started = time.monotonic()
    assert_one_line_error(cli("diagnose", "--kubeconfig", str(kc), "--request-timeout", "1.5"), "1.5 s")
    assert time.monotonic() - started < 8  # was 2 x the timeout: urllib3 retried the read


def test_dripping_server_is_bounded(tmp_path: Path) -> None:
    """A byte every 0.3 s restarts a socket timeout for ever; the per-request deadline does not."""
    server = http_server(drip)
    try:
        kc = kubeconfig_for(server.server_address[1], tmp_path / "kc")
        out = tmp_path / "b.tar.gz"
        started = time.monotonic()
        r = cli("collect", "--kubeconfig", str(kc), "--request-timeout", "2", "-o", str(out), timeout=30)
        assert_one_line_error(r, "did not answer within 2 s")
        assert time.monotonic() - started < 10
        assert not out.exists() and os.listdir(tmp_path) == ["kc"]
    finally:
        server.shutdown()


def test_default_request_timeout_is_30_seconds() -> None:
    from pulldoctor.cli import build_parser
    from pulldoctor.cluster import SourceSpec

    for cmd in (["diagnose"], ["collect", "-o", "x.tgz"]):
        assert SourceSpec.from_args(build_parser().parse_args(cmd)).request_timeout == 30.0
    assert SourceSpec.from_args(build_parser().parse_args(["diagnose", "--request-timeout", "2s"])).request_timeout == 2


@pytest.mark.parametrize(("name", "handler", "needle"), [
    ("500", answer(500, b'{"kind":"Status","message":"etcdserver: request timed out"}'), "answered 500"),
    ("html 500", answer(500, b"<html>" + b"x" * 5000 + b"</html>", "text/html"), "answered 500"),
    ("garbage", answer(200, b"\x00\xffgarbage<html>"), "cannot read"),
    ("bad utf-8", answer(200, b'{"kind":"PodList","items":[{"metadata":{"name":"\xff"}}]}'), "not UTF-8"),
    ("deep", answer(200, b'{"kind":"PodList","items":[{"metadata":' + b'{"a":' * 50_000 + b"1"
                    + b"}" * 50_000 + b"}]}"), "nested too deeply"),
    ("401", answer(401, b'{"kind":"Status","message":"Unauthorized"}'), "unauthorized"),
    ("403", answer(403, b'{"kind":"Status","message":"pods is forbidden"}'), "forbidden"),
])  # fmt: skip
def test_bad_answers_are_one_line(tmp_path: Path, name: str, handler: Callable[[BaseHTTPRequestHandler], None],
                                  needle: str) -> None:
    server = http_server(handler)
    try:
        kc = kubeconfig_for(server.server_address[1], tmp_path / "kc")
        assert_one_line_error(cli("diagnose", "--kubeconfig", str(kc), "--request-timeout", "5"), needle)
    finally:
        server.shutdown()


@pytest.mark.parametrize(("content", "needle"), [
    (None, "kubeconfig"),
    (b"\x00\x01garbage: [", "kubeconfig"),
    (b"apiVersion: v1\nkind: Config\nclusters: 5\n", "kubeconfig"),
    (b"[1, 2]", "kubeconfig"),
    (b"apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    token: x: [\n", "ScannerError"),
    ((b"apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
      b"clusters: [{name: k, cluster: {server: '127.0.0.1:1'}}]\nusers: [{name: u, user: {token: t}}]\n"),
     "is not an https:// or http:// URL"),
])  # fmt: skip
def test_bad_kubeconfig(tmp_path: Path, content: bytes | None, needle: str) -> None:
    kc = tmp_path / "kc"
    if content is not None:
        kc.write_bytes(content)
    assert_one_line_error(cli("diagnose", "--kubeconfig", str(kc)), needle)


def test_unknown_context(tmp_path: Path) -> None:
    with FakeKubeAPI([]) as api:
        kc = api.write_kubeconfig(tmp_path / "kc")
        assert_one_line_error(cli("diagnose", "--kubeconfig", str(kc), "--context", "nope"), "nope")


# --- collect -o -------------------------------------------------------------------------------------


@pytest.fixture
def api() -> Iterator[FakeKubeAPI]:
    img = "registry.example.invalid/a:1"
    with FakeKubeAPI([o.pod("web", containers=[o.container("app", img)],
                            statuses=[o.waiting("app", img, "ErrImagePull", "x")]), o.node()]) as server:
        yield server


def test_collect_refuses_a_directory(api: FakeKubeAPI, tmp_path: Path) -> None:
    kc = api.write_kubeconfig(tmp_path / "kc")
    target = tmp_path / "dir"
    target.mkdir()
    assert_one_line_error(cli("collect", "--kubeconfig", str(kc), "-o", str(target)), "a directory")
    assert os.listdir(target) == []


def test_collect_never_renames_over_a_device_or_fifo(api: FakeKubeAPI, tmp_path: Path) -> None:
    """``-o /dev/null`` used to replace the device node with a regular file (root may rename over it)."""
    kc = api.write_kubeconfig(tmp_path / "kc")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert_one_line_error(cli("collect", "--kubeconfig", str(kc), "-o", str(fifo)), "not a regular file")
    assert fifo.is_fifo() and sorted(os.listdir(tmp_path)) == ["fifo", "kc"]
    link = tmp_path / "null.tgz"
    os.symlink(fifo, link)
    assert_one_line_error(cli("collect", "--kubeconfig", str(kc), "-o", str(link)), "not a regular file")
    assert fifo.is_fifo() and link.is_symlink()


@pytest.mark.parametrize(("target", "needle"), [("/proc/pulldoctor-test", "cannot write"),
                                                ("/nonexistent-dir/b.tgz", "does not exist"),
                                                ("", "empty")])
def test_collect_unwritable_places(api: FakeKubeAPI, tmp_path: Path, target: str, needle: str) -> None:
    kc = api.write_kubeconfig(tmp_path / "kc")
    assert_one_line_error(cli("collect", "--kubeconfig", str(kc), "-o", target), needle)


def test_collect_replaces_an_existing_file_atomically_and_writes_through_a_symlink(
        api: FakeKubeAPI, tmp_path: Path) -> None:
    kc = api.write_kubeconfig(tmp_path / "kc")
    out = tmp_path / "b.tar.gz"
    out.write_text("old")
    r = cli("collect", "--kubeconfig", str(kc), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    link = tmp_path / "latest.tgz"
    os.symlink(out.name, link)
    out.write_text("old again")
    assert cli("collect", "--kubeconfig", str(kc), "-o", str(link)).returncode == 0
    assert link.is_symlink() and out.read_bytes()[:2] == b"\x1f\x8b"
    assert sorted(os.listdir(tmp_path)) == ["b.tar.gz", "kc", "latest.tgz"]  # no temporary file left
    replay = cli("diagnose", "--from", str(link), "--no-probe", "-o", "json")
    assert [f["pod"] for f in json.loads(replay.stdout)["findings"]] == ["web"]


def test_output_to_a_full_disk_is_one_line() -> None:
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "pulldoctor", "ref", "nginx"], stdout=full, stderr=subprocess.PIPE,
                           text=True, timeout=TIMEOUT)
    assert r.returncode == 2 and r.stderr == "pulldoctor: cannot write the output: No space left on device\n"


def exec_kubeconfig(path: Path, port: int, plugin: Path) -> Path:
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [{"name": "k", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable, "args": [str(plugin)],
            "interactiveMode": "Never"}}}]}))
    return path


def test_failing_exec_credential_plugin_is_one_line(tmp_path: Path) -> None:
    """The client logs the failure on the root logger and goes on without credentials: it used to print an
    ``ERROR:root:`` line, then a 401 line."""
    plugin = tmp_path / "plugin.py"
    plugin.write_text("import sys\nsys.stderr.write('token expired, run: login\\n')\nsys.exit(1)\n")
    kc = exec_kubeconfig(tmp_path / "kc", closed_port(), plugin)
    assert_one_line_error(cli("diagnose", "--kubeconfig", str(kc)), "kubeconfig: exec", "token expired")


def test_hanging_exec_credential_plugin_is_bounded(tmp_path: Path, silent_server: int) -> None:
    """kubernetes' ExecProvider waits for its plugin without a timeout; the request deadline bounds it."""
    pid_file = tmp_path / "plugin.pid"
    plugin = tmp_path / "plugin.py"
    plugin.write_text(f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(2.5)\n")
    kc = exec_kubeconfig(tmp_path / "kc", silent_server, plugin)
    started = time.monotonic()
    assert_one_line_error(cli("diagnose", "--kubeconfig", str(kc), "--request-timeout", "1"),
                          "exec credential plugin")
    assert time.monotonic() - started < 3.5
    # The plugin outlives pulldoctor by a moment (nothing can kill it through the client); wait for it.
    deadline = time.monotonic() + 10
    while pid_file.exists() and time.monotonic() < deadline:
        try:
            os.kill(int(pid_file.read_text() or 0), 0)
        except (ProcessLookupError, ValueError):
            break
        time.sleep(0.1)


def test_a_page_of_millions_of_objects_is_refused(tmp_path: Path) -> None:
    """pulldoctor asks for 500 pods a page; a server may answer with millions of ``{}`` in 6 MB."""
    body = ('{"kind": "PodList", "metadata": {}, "items": [' + ",".join(["{}"] * 2_100_000) + "]}").encode()
    server = http_server(answer(200, body))
    try:
        kc = kubeconfig_for(server.server_address[1], tmp_path / "kc")
        assert_one_line_error(cli("diagnose", "--kubeconfig", str(kc), "--request-timeout", "10"),
                              "JSON objects, more than")
    finally:
        server.shutdown()


def test_endless_pages_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each page is under the per-document cap, and a continue token always comes back: the sum is capped."""
    from pulldoctor.cluster import SourceSpec, live, load_snapshot
    from pulldoctor.errors import ClusterAccessError

    page = json.dumps({"kind": "PodList", "metadata": {"continue": "more"}, "items": [{}] * 400}).encode()
    server = http_server(answer(200, page))
    monkeypatch.setattr(live, "MAX_OBJECTS_PER_DOCUMENT", 1000)
    try:
        kc = kubeconfig_for(server.server_address[1], tmp_path / "kc")
        with pytest.raises(ClusterAccessError, match="more than 1000"):
            load_snapshot(SourceSpec(kubeconfig=str(kc), request_timeout=5))
    finally:
        server.shutdown()


# --- generated: kubeconfig tokens an HTTP header cannot carry -----------------------------------------
#
# A token with CR/LF (a token file ending in a newline, or a header injection) made http.client raise
# ValueError("Invalid header value b'Bearer …'"): exit 3, and with PULLDOCTOR_DEBUG=1 the token printed.

_CANARY = "CANARYtok3n"


def _run_main(*args: str) -> subprocess.CompletedProcess[str]:
    """``pulldoctor ARGS`` in this process (the real entry point and its error mapping), without a fork."""
    import io
    from contextlib import redirect_stderr, redirect_stdout
    from unittest import mock

    from pulldoctor.cli import main

    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ), redirect_stdout(out), redirect_stderr(err):
        for var in ("PULLDOCTOR_DEBUG", "KUBECONFIG"):
            os.environ.pop(var, None)
        rc = main(list(args))
    return subprocess.CompletedProcess(list(args), rc, out.getvalue(), err.getvalue())


_BAD_TOKEN_CHARS = st.sampled_from(["\r\n", "\n", "\r", "\r\nX-Injected: 1", "\x00", "\x1b[31m", "\x7f", "\t",
                                    "é", "€", "\u2028", "\ufeff"])


@st.composite
def _bad_tokens(draw: st.DrawFn) -> str:
    head = draw(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), max_size=20))
    return _CANARY + head + draw(_BAD_TOKEN_CHARS) + draw(st.text(max_size=10))


def _token_kubeconfig(path: Path, port: int, token: str, source: str, user: str) -> Path:
    user_entry: dict[str, object] = {"token": token}
    if source == "tokenFile":
        (path.parent / "token").write_bytes(token.encode())
        user_entry = {"tokenFile": str(path.parent / "token")}
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": user}}],
        "clusters": [{"name": "k", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": user, "user": user_entry}]}))
    return path


@settings(max_examples=80, deadline=None, database=None)
@given(_bad_tokens(), st.sampled_from(["token", "tokenFile"]), st.sampled_from(["alice", "ci-bot", "u"]))
def test_generated_tokens_a_header_cannot_carry(token: str, source: str, user: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        kc = _token_kubeconfig(Path(d, "kc"), closed_port(), token, source, user)
        r = _run_main("diagnose", "--kubeconfig", str(kc), "--request-timeout", "5")
    assert_one_line_error(r, f"kubeconfig user '{user}'", "the token contains")
    assert _CANARY not in r.stderr + r.stdout


@pytest.mark.parametrize("command", ["diagnose", "collect", "serve"])
def test_token_with_crlf_through_the_process(tmp_path: Path, command: str) -> None:
    """Every command that reaches a cluster, with the exec plugin handing out the token too."""
    with FakeKubeAPI([]) as api:
        kc = api.write_kubeconfig(tmp_path / "kc", token=_CANARY + "\r\nX-Injected: 1")
        extra = {"diagnose": [], "collect": ["-o", str(tmp_path / "b.tar.gz")],
                 "serve": ["--listen", "127.0.0.1:0", "--no-probe"]}[command]
        r = cli(command, "--kubeconfig", str(kc), *extra)
        assert_one_line_error(r, "kubeconfig user 'fake-user'", "line break")
        assert _CANARY not in r.stderr + r.stdout
        exec_kc = api.write_kubeconfig(tmp_path / "exec-kc", exec_plugin=True, token=_CANARY + "\n")
        r = cli(command, "--kubeconfig", str(exec_kc), *extra)
        assert_one_line_error(r, "kubeconfig user 'fake-user'", "line break")
        assert _CANARY not in r.stderr + r.stdout
