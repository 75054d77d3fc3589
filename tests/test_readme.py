"""README.md and docs/*.md are a promise: every command they show runs as shown, every sample output is what the
tool prints, every flag, cause, JSON key, metric, path and link they name exists, the Quick start is exactly two
commands, and the README stays short enough to read at 3 a.m. (the details live in docs/, linked from it).

A user copies from these pages; these tests read the pages themselves (their fenced blocks and inline code) and
hold each claim against the real parser, the real enum and the real output of the bundled example, wherever in
the pages the claim stands. Every failure names the file and line.

Sample outputs: a line that is only ``…`` stands for any number of omitted lines (abridged output); a ``…``
inside a line stands for any text in that line. Otherwise the sample is the whole output, line for line.
"""

from __future__ import annotations

import argparse
import functools
import glob
import json
import os
import re
import shlex
import stat
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pulldoctor.causes import Cause
from pulldoctor.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: Every page these tests read: the README first, then docs/ (a claim is checked wherever it moved).
DOCS = (README, *sorted((ROOT / "docs").glob("*.md")))
#: The README is what a person paged at night reads: the rest belongs in docs/.
README_MAX_CHARS = 20_000
ELLIPSIS = "…"
#: Fenced blocks whose lines are shell commands (console/unlabelled ones use ``$ `` prompts).
SHELL_LANGS = {"sh", "shell", "bash"}
PROMPT_LANGS = {"console", ""}
#: Subcommands a test can run offline, as documented: ``ref``, ``classify``, ``diagnose --from examples/…``.
OFFLINE = {"ref", "classify"}
#: Flags the README names that belong to other tools, and where each is defined.
FOREIGN_FLAGS = {
    "--corpus": "bench/bench_classify.py",            # the benchmarks' own options
    "--failing": "bench/bench_serve.py",
    "--as-is": "bench/bench_cluster.py",
    "--baseline-src": "bench/bench_cluster.py",
    "--image-pull-progress-deadline": "cri-dockerd",  # cri-dockerd's flag, named in the deadline paragraph
    "--tls-verify": "skopeo",                         # skopeo inspect, the probe benchmark's baseline
    # The kubelet's pull flags docs/node-logs.md reads from the node's unit, and EKS bootstrap.sh's option.
    "--serialize-image-pulls": "kubelet",
    "--max-parallel-image-pulls": "kubelet",
    "--registry-qps": "kubelet",
    "--registry-burst": "kubelet",
    "--kubelet-extra-args": "amazon-eks-ami bootstrap.sh",
}
#: Values of ``-o`` the README names for other tools (``kubectl get -o yaml``).
FOREIGN_OUTPUTS = {"yaml": "kubectl get"}
REPO_DIRS = ("src", "tests", "bench", "deploy", "examples", "scripts", "docs")
#: Paths the README names in other projects' repositories.
FOREIGN_PATHS = {"docs/hosts.md": "containerd"}


# --- reading the pages ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    doc: str     # the page, relative to the repository: "README.md", "docs/probe.md"
    no: int      # 1-based line number in that page
    text: str

    def where(self) -> str:
        return f"{self.doc}:{self.no}: {self.text.strip()[:120]!r}"


#: A section: (page, heading). A "# " or "## " heading starts one; deeper headings stay inside it.
Section = tuple[str, str]


@dataclass
class Block:
    lang: str
    section: Section             # the section it is in
    lines: list[Line] = field(default_factory=list)


@dataclass
class Shown:
    """A ``pulldoctor`` command line the README shows, with the sample output that follows it (if any)."""

    line: Line
    shell: str                   # what to run in a shell, from the repository root
    argv: list[str]              # pulldoctor's own arguments
    output: list[Line] | None    # the sample output after it in a console block; None: none shown
    inline: bool = False         # from `inline code` in prose rather than a fenced block


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@functools.cache
def doc_lines(doc: str) -> tuple[Line, ...]:
    return tuple(Line(doc, i, t) for i, t in enumerate((ROOT / doc).read_text(encoding="utf-8").splitlines(), 1))


def readme_lines() -> tuple[Line, ...]:
    return doc_lines("README.md")


@functools.cache
def parsed_doc(doc: str) -> tuple[list[Block], dict[Section, list[Line]]]:
    """One page's fenced blocks, and the prose lines (outside fences) of each section."""
    blocks: list[Block] = []
    section: Section = (doc, "")
    sections: dict[Section, list[Line]] = {section: []}
    current = None
    for line in doc_lines(doc):
        fence = re.match(r"^\s*```(\S*)\s*$", line.text)
        if current is not None:
            if fence and not fence.group(1):
                blocks.append(current)
                current = None
            else:
                current.lines.append(line)
            continue
        if fence:
            current = Block(fence.group(1), section)
            continue
        heading = re.match(r"^(#{1,6}) (.+)$", line.text)
        if heading and len(heading.group(1)) <= 2:
            section = (doc, heading.group(2).strip())
            sections[section] = []
        sections[section].append(line)
    assert current is None, f"{doc} has an unclosed ``` fence"
    return blocks, sections


@functools.cache
def parsed() -> tuple[list[Block], dict[Section, list[Line]]]:
    """Fenced blocks and sections of every page (README.md, then docs/*.md)."""
    blocks: list[Block] = []
    sections: dict[Section, list[Line]] = {}
    for path in DOCS:
        b, s = parsed_doc(rel(path))
        blocks += b
        sections.update(s)
    return blocks, sections


def section_named(prefix: str) -> Section:
    """The one section, on whichever page, whose heading starts with ``prefix``."""
    names = [s for s in parsed()[1] if s[1].startswith(prefix)]
    assert len(names) == 1, f"README.md and docs/ should have one '{prefix}…' section, found {names}"
    return names[0]


def inline_spans() -> Iterator[tuple[Line, str]]:
    """Every `inline code` span outside fenced blocks (tables included)."""
    for lines in parsed()[1].values():
        for line in lines:
            for span in re.findall(r"``?([^`]+?)``?", line.text):
                yield line, span.replace("\\|", "|")


def _segments(text: str) -> list[list[str]]:
    """Shell words split on ``&&``, ``|`` and ``;`` (comments dropped)."""
    lex = shlex.shlex(text, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    lex.commenters = "#"
    out: list[list[str]] = [[]]
    for word in lex:
        if word in {"&&", "|", ";", "||"}:
            out.append([])
        else:
            out[-1].append(word)
    return [s for s in out if s]


def _shown(line: Line, text: str, output: list[Line] | None, inline: bool = False) -> Shown | None:
    segments = _segments(text)
    for seg in segments:
        if seg[0].endswith("/bin/pulldoctor"):  # the Quick start's `.venv/bin/pulldoctor`
            seg[0] = "pulldoctor"
        if seg[0] == "pulldoctor":
            others = [s for s in segments if s is not seg]
            # Run the whole line when the rest only feeds it (echo … |); else the pulldoctor part alone.
            shell = text if all(s[0] in {"echo", "printf"} for s in others) else shlex.join(seg)
            return Shown(line, shell, seg[1:], output, inline)
    return None


@functools.cache
def shown_commands() -> tuple[Shown, ...]:
    """Every ``pulldoctor …`` command line in the pages' shell and console blocks and inline code."""
    found: list[Shown] = []
    for block in parsed()[0]:
        if block.lang in SHELL_LANGS:
            for line in block.lines:
                if line.text.strip() and (s := _shown(line, line.text.strip(), None)):
                    found.append(s)
        elif block.lang in PROMPT_LANGS:
            prompts = [i for i, ln in enumerate(block.lines) if ln.text.startswith("$ ")]
            for k, i in enumerate(prompts):
                end = prompts[k + 1] if k + 1 < len(prompts) else len(block.lines)
                output = block.lines[i + 1:end]
                if s := _shown(block.lines[i], block.lines[i].text[2:], output):
                    found.append(s)
    for line, span in inline_spans():
        if span.startswith("pulldoctor ") and (s := _shown(line, span, None, inline=True)):
            found.append(s)
    return tuple(found)


def is_synopsis(shown: Shown) -> bool:
    """`pulldoctor diagnose [POD] [-n NS | -A]`, `pulldoctor ref IMAGE`: a usage line, not a command to paste."""
    return any(re.search(r"[\[\]…]", a) or re.fullmatch(r"[A-Z][A-Z0-9_./]*", a) for a in shown.argv)


def is_offline(shown: Shown) -> bool:
    argv = shown.argv
    if not argv or is_synopsis(shown) or argv[0] not in OFFLINE | {"diagnose"}:
        return False
    if argv[0] == "diagnose":
        return "--from" in argv and argv[argv.index("--from") + 1].startswith("examples/")
    return len(argv) > 1 or (argv[0] == "classify" and "|" in shown.shell)


# --- running the tool as the README shows it ---------------------------------------------------------------


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment whose ``pulldoctor`` is this checkout's, run by this interpreter (not an older install)."""
    bindir = tmp_path_factory.mktemp("bin")
    exe = bindir / "pulldoctor"
    exe.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m pulldoctor "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    env = {k: v for k, v in os.environ.items() if k not in {"PULLDOCTOR_DEBUG", "COLUMNS", "KUBECONFIG"}}
    env.update(PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}", PYTHONPATH=str(ROOT / "src"), NO_COLOR="1")
    return env


_RUNS: dict[str, subprocess.CompletedProcess[str]] = {}


def run_shell(shell: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    if shell not in _RUNS:
        _RUNS[shell] = subprocess.run(["bash", "-c", shell], check=False, cwd=ROOT, env=env, capture_output=True, text=True,
                                      timeout=120, stdin=subprocess.DEVNULL)
    return _RUNS[shell]


def documented_exit(shown: Shown) -> int:
    """The exit code the README documents for this command and its sample output."""
    if shown.output and any(ln.text.startswith("pulldoctor: ") for ln in shown.output):
        return 2   # "bad usage or unreadable input (one line on stderr …)": Commands, ref
    if shown.argv[0] == "diagnose":
        return 1   # Diagnose: "1 at least one does"; the example's pods cannot get their images
    return 0       # ref of a valid reference; classify: "Otherwise the exit code is 0"


def match_sample(sample: list[Line], actual: list[str]) -> str | None:
    """None if ``actual`` matches ``sample`` (see the module docstring), else what is wrong, naming the line."""
    def same(pattern: str, text: str) -> bool:
        parts = [re.escape(p) for p in pattern.rstrip().split(ELLIPSIS)]
        return re.fullmatch(".*?".join(parts), text.rstrip()) is not None

    segments: list[list[Line]] = [[]]
    for ln in sample:
        if ln.text.strip() == ELLIPSIS:
            segments.append([])
        else:
            segments[-1].append(ln)
    pos = 0
    for k, seg in enumerate(segments):
        first, last = k == 0, k == len(segments) - 1
        if not seg:
            continue
        candidates = [pos] if first else range(pos, len(actual) - len(seg) + 1)
        if last:
            candidates = [c for c in candidates if c == len(actual) - len(seg)] if not first or len(segments) == 1 \
                else candidates
        hit = next((c for c in candidates
                    if c + len(seg) <= len(actual) and all(same(ln.text, actual[c + j]) for j, ln in enumerate(seg))),
                   None)
        if hit is None:
            # Name the first sample line that has no counterpart, to make the README fix obvious.
            for ln in seg:
                if not any(same(ln.text, a) for a in actual[pos:]):
                    return f"{ln.where()} is not in the real output"
            return (f"{seg[0].where()}: the lines from here do not appear {'at the start' if first else 'in order'}"
                    f"{' and at the end' if last else ''} of the real output (add a '{ELLIPSIS}' line if abridged)")
        pos = hit + len(seg)
    if segments[-1] and pos != len(actual):
        return (f"{segments[-1][-1].where()}: the real output goes on for {len(actual) - pos} more line(s); "
                f"end the sample with a '{ELLIPSIS}' line if it is abridged")
    return None


def offline_commands() -> list[Shown]:
    return [s for s in shown_commands() if is_offline(s)]


@pytest.mark.parametrize("shown", offline_commands(), ids=lambda s: f"{s.line.doc}:{s.line.no}")
def test_offline_command_runs_as_shown(shown: Shown, shim: dict[str, str]) -> None:
    """(a) ref, classify and diagnose --from examples/…: documented exit code and the sample output."""
    result = run_shell(shown.shell, shim)
    out = result.stdout + result.stderr
    assert "Traceback" not in out, f"{shown.line.where()} printed a traceback:\n{result.stderr}"
    want = documented_exit(shown)
    assert result.returncode == want, (f"{shown.line.where()} exits {result.returncode}, the README documents {want}"
                                       f"\n{out[-2000:]}")
    if shown.output:
        problem = match_sample(shown.output, out.splitlines())
        assert problem is None, f"{problem}\n--- real output of {shown.shell!r} ---\n{out[:4000]}"


def test_the_offline_commands_are_found() -> None:
    """The parser of this test must see the README's examples, or (a) would pass by checking nothing."""
    subs = {s.argv[0] for s in offline_commands()}
    assert {"ref", "classify", "diagnose"} <= subs, f"offline commands found: {sorted(subs)}"
    assert any(s.output for s in offline_commands()), "no sample output found after any offline command"


# --- flags ---------------------------------------------------------------------------------------------------


def subparsers() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def options_of(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {s: a for a in parser._actions for s in a.option_strings}


@pytest.mark.parametrize("shown", [s for s in shown_commands() if not is_offline(s)], ids=lambda s: f"{s.line.doc}:{s.line.no}")
def test_other_commands_parse(shown: Shown, capsys: pytest.CaptureFixture[str]) -> None:
    """(a) live-cluster, serve, collect and probe lines: they parse with the real parser, as written."""
    subs = subparsers()
    if shown.argv and shown.argv[0].startswith("-"):   # `pulldoctor --version`
        assert shown.argv[0] in options_of(build_parser()), f"{shown.line.where()}: no option {shown.argv[0]}"
        return
    assert shown.argv and shown.argv[0] in subs, f"{shown.line.where()}: no such command {shown.argv[:1]}"
    if is_synopsis(shown):
        opts = options_of(subs[shown.argv[0]])
        for flag in re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", " ".join(shown.argv[1:])):
            assert flag in opts, f"{shown.line.where()}: `pulldoctor {shown.argv[0]}` has no option {flag}"
        return
    if shown.inline and len(shown.argv) == 1:
        return  # `pulldoctor collect` named in prose: the command exists
    try:
        build_parser().parse_args(shown.argv)
    except SystemExit as exc:
        pytest.fail(f"{shown.line.where()} does not parse (exit {exc.code}): {capsys.readouterr().err.strip()}")


def all_options() -> dict[str, set[str]]:
    """Option string → the subcommands that have it (and the choices of -o)."""
    found: dict[str, set[str]] = {}
    for name, p in subparsers().items():
        for opt in options_of(p):
            found.setdefault(opt, set()).add(name)
    for opt in options_of(build_parser()):
        found.setdefault(opt, set()).add("")
    return found


def test_every_flag_named_exists() -> None:
    """(b) every flag in inline code (`--hosts-dir DIR`, `-o markdown`) is pulldoctor's or a named other tool's."""
    known = all_options()
    choices = {c for p in subparsers().values() for a in p._actions if a.option_strings == ["-o", "--output"]
               for c in (a.choices or ())}
    problems = []
    for line, span in inline_spans():
        if span.startswith(("pulldoctor ", "kubectl ")) or not re.match(r"--?[A-Za-z]", span):
            continue
        words = span.split()
        flag = words[0].split("=")[0]
        if flag in FOREIGN_FLAGS:
            owner = FOREIGN_FLAGS[flag]
            if "/" in owner:
                assert flag in (ROOT / owner).read_text(), f"{line.where()}: {owner} has no {flag}"
            continue
        if flag not in known:
            problems.append(f"{line.where()}: no pulldoctor command has {flag}")
        elif flag in {"-o", "--output"} and len(words) > 1 and words[1] not in choices \
                and words[1] not in FOREIGN_OUTPUTS and not words[1].isupper():
            problems.append(f"{line.where()}: -o {words[1]} is not an output format ({sorted(choices)})")
    assert not problems, "\n".join(problems)


def test_every_option_is_documented() -> None:
    """(b) the other way: each option of each command is named somewhere in the README (short or long form)."""
    text = README.read_text(encoding="utf-8")

    def named(opt: str) -> bool:
        return re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", text) is not None

    missing = sorted(f"{name} {'/'.join(a.option_strings)}" for name, p in subparsers().items() for a in p._actions
                     if a.option_strings and "--help" not in a.option_strings
                     and not any(named(o) for o in a.option_strings))
    assert not missing, f"options not documented in README.md: {missing}"


def test_kubectl_plugin_entry_point() -> None:
    """The Commands section says every command runs as `kubectl pulldoctor …`: the entry point must exist."""
    if not any("kubectl pulldoctor" in span for _, span in inline_spans()):
        pytest.skip("the README no longer mentions kubectl pulldoctor")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts.get("kubectl-pulldoctor") == "pulldoctor.cli:main", scripts


# --- causes --------------------------------------------------------------------------------------------------


CAUSES = {c.value for c in Cause}


def cause_mentions() -> Iterator[tuple[Line, str]]:
    """Words the README presents as cause names: the Causes list, the `causes`/`cause` table columns, sample
    outputs (`cause: X`, `"cause": "X"`, `…: X (likely)`), and `→ X` in prose."""
    _, sections = parsed()
    yield from causes_listed()
    for lines in sections.values():
        header: list[str] = []
        for line in lines:
            if line.text.startswith("|"):
                cells = [c.strip() for c in line.text.strip().strip("|").split("|")]
                if not header:
                    header = [c.lower() for c in cells]
                    continue
                for name, cell in zip(header, cells, strict=False):
                    if name == "causes":     # the rules table: every name in the cell
                        for word in re.findall(r"`([a-z_]+)`", cell):
                            yield line, word
                    elif name == "cause":    # the probe's outcome table: the cell starts with the cause
                        yield from ((line, w) for w in re.findall(r"^`([a-z_]+)`", cell))
            else:
                header = []
            for word in re.findall(r"→ `([a-z_]+)`", line.text):
                yield line, word
    for block in parsed()[0]:
        for prev, line in zip([None, *block.lines], block.lines, strict=False):
            for pattern in (r"^cause: ([a-z_]+)", r'"cause": "([a-z_]+)"', r": ([a-z_]+) \((?:certain|likely|possible)\)"):
                yield from ((line, w) for w in re.findall(pattern, line.text.strip()))
            if prev is not None and prev.text.startswith("$ pulldoctor probe "):   # the verdict: `cause: IMAGE`
                yield from ((line, w) for w in re.findall(r"^([a-z_]+): \S+$", line.text) if w != "pullable")


def causes_listed() -> list[tuple[Line, str]]:
    """The first column of the Causes section's table."""
    return [(line, m.group(1)) for line in parsed()[1][section_named("Causes")]
            if (m := re.match(r"^\| `([a-z_]+)` \|", line.text))]


def test_every_cause_named_is_a_cause() -> None:
    """(c) every cause name in the pages is a `Cause` value."""
    mentions = list(cause_mentions())
    assert len(mentions) > len(CAUSES), "too few cause mentions found: the pages' layout changed?"
    wrong = [f"{line.where()}: `{w}` is not a pulldoctor.causes.Cause value" for line, w in mentions
             if w not in CAUSES]
    assert not wrong, "\n".join(wrong)


def test_every_cause_is_documented() -> None:
    """(c) the README's Causes section lists exactly the enum, and the rules table says which rule weighs each."""
    _, sections = parsed()
    listed = {w for _, w in causes_listed()}
    assert listed == CAUSES, f"Causes section: missing {sorted(CAUSES - listed)}, extra {sorted(listed - CAUSES)}"
    diagnose = [ln for ln in sections[section_named("Rules")] if ln.text.startswith("| `")]
    in_rules = {w for ln in diagnose for w in re.findall(r"`([a-z_]+)`", ln.text.split("|")[2])}
    assert in_rules >= CAUSES, f"Diagnose rules table: no rule row for {sorted(CAUSES - in_rules)}"


def test_snake_case_names_exist() -> None:
    """Every `snake_case` name the pages quote (settings, functions, JSON keys, metrics) is a cause or appears
    in the code, deploy/ or examples/ — a renamed identifier leaves a page that no longer greps."""
    corpus = " ".join(p.read_text(errors="ignore") for d in ("src", "bench", "deploy", "examples", "tests/lab")
                      for p in (ROOT / d).rglob("*") if p.is_file() and p.suffix in {".py", ".yaml", ".json", ".toml"})
    from pulldoctor.exporter.metrics import EXPOSED

    external = {"kube_pod_container_status_waiting_reason": "kube-state-metrics"}
    problems = []
    for line, span in inline_spans():
        for word in re.findall(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$", span):
            if word.startswith("pulldoctor_"):
                if word not in EXPOSED:
                    problems.append(f"{line.where()}: metric {word} is not in exporter.metrics.EXPOSED")
            elif word not in CAUSES and word not in external and not re.search(rf"\b{word}\b", corpus) \
                    and not re.fullmatch(r"http_\d{3}", word):   # watch error reasons: f"http_{status}"
                problems.append(f"{line.where()}: `{word}` appears nowhere in the code")
    assert not problems, "\n".join(problems)


def test_every_metric_is_documented() -> None:
    from pulldoctor.exporter.metrics import EXPOSED

    lines = parsed()[1][section_named("Metrics")]
    text = "\n".join(ln.text for ln in lines if ln.text.startswith("|"))
    missing = [m for m in EXPOSED if f"`{m}`" not in text]
    assert not missing, f"metrics not in the metric table ({lines[0].where()}): {missing}"


# --- JSON keys -----------------------------------------------------------------------------------------------


@functools.cache
def example_json() -> dict:
    out = subprocess.run([sys.executable, "-m", "pulldoctor", "diagnose", "--from", "examples/cluster", "-o", "json"],
                         check=False, cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert out.returncode == 1, out.stderr
    return json.loads(out.stdout)


def key_paths(doc: object, prefix: str = "") -> set[str]:
    """Dotted paths of every key, list items merged (``findings[].timeline.failed``)."""
    paths: set[str] = set()
    if isinstance(doc, dict):
        for k, v in doc.items():
            paths.add(f"{prefix}{k}")
            paths |= key_paths(v, f"{prefix}{k}.")
    elif isinstance(doc, list):
        for item in doc:
            paths |= key_paths(item, f"{prefix[:-1]}[].")
    return paths


def documented_diagnose_json() -> tuple[Line, dict]:
    """The `-o json` schema example (docs/json.md), made parseable: `[…]` → [], `"…": "…"` dropped."""
    blocks = [b for b in parsed()[0] if b.lang == "json" and b.section == section_named("JSON output")]
    assert len(blocks) == 1, "the JSON output section should have one ```json schema example"
    text = "\n".join(ln.text for ln in blocks[0].lines)
    text = re.sub(r'\[\s*…\s*\]', "[]", text)
    text = re.sub(r',\s*"…"\s*:\s*"[^"]*"', "", text)
    try:
        return blocks[0].lines[0], json.loads(text)
    except json.JSONDecodeError as exc:
        line = blocks[0].lines[min(exc.lineno - 1, len(blocks[0].lines) - 1)]
        pytest.fail(f"{line.where()}: the JSON example is not JSON ({exc.msg})")


def test_diagnose_json_keys_exist() -> None:
    """(d) each key of the documented diagnose JSON example is in the real output of the bundled example, and each
    key of the real output (the probe's own JSON aside: see the probe test) is in the example."""
    first, doc = documented_diagnose_json()
    real = example_json()
    # not_image's keys are data (waiting reasons), not schema.
    shown = {p for p in key_paths(doc) if not p.startswith("not_image.")}
    actual = {p for p in key_paths(real) if not p.startswith("not_image.")}
    assert shown - actual == set(), f"{first.where()}: keys in the documented JSON but not in the real output: " \
                                    f"{sorted(shown - actual)}"
    # A key of a list the example shows empty may be described in the prose after it instead, as
    # `credentials.wrong_type` … `"name"`.
    _, prose = _paragraph_after("JSON output", "`confidence` is")
    unshown = {p for p in actual - shown if not p.startswith("findings[].probe.")
               and not (f"`{p.removeprefix('findings[].').rsplit('[]', 1)[0]}`" in prose
                        and f'"{p.rsplit(".", 1)[1]}"' in prose)}
    assert not unshown, f"{first.where()}: keys of the real output missing from the documented JSON: {sorted(unshown)}"
    assert doc["schema_version"] == real["schema_version"]


def _paragraph_after(section: str, start: str) -> tuple[Line, str]:
    lines = parsed()[1][section_named(section)]
    for i, line in enumerate(lines):
        if start in line.text:
            para = [line.text[line.text.index(start):]]
            for nxt in lines[i + 1:]:
                if not nxt.text.strip():
                    break
                para.append(nxt.text)
            return line, " ".join(para)
    pytest.fail(f"{section_named(section)[0]}: no {start!r} in section {section}")


def test_probe_json_keys_exist() -> None:
    """(d) the keys listed for `probe -o json` are the real ones: top level from the example's probe documents,
    nested ones from the result types' own to_json (the example's probes stop at DNS)."""
    from pulldoctor.registry.models import RateLimit, Step, Throughput

    line, para = _paragraph_after("Probing a registry", "With `-o json` you get")
    top: list[str] = []
    nested: list[str] = []
    depth = 0
    for token in re.findall(r"`[^`]+`|[()]", para.split("you get", 1)[1]):
        if token in "()":
            depth += 1 if token == "(" else -1
        elif re.fullmatch(r"`[a-z_]+`", token) and token != "`null`":
            (top if depth == 0 else nested).append(token.strip("`"))
    probes = [f["probe"] for f in example_json()["findings"] if "steps" in f.get("probe", {})]
    real_top = {k for p in probes for k in p}
    real_nested = ({k for p in probes for s in p["steps"] for k in s} | set(Step("x", True, "", 0, "h").to_json())
                   | set(RateLimit(1, 1, 1, "s", 1).to_json()) | set(Throughput("sha256:0", 1).to_json()))
    assert set(top) <= real_top, f"{line.where()}: not keys of probe -o json: {sorted(set(top) - real_top)}"
    assert real_top <= set(top), f"{line.where()}: keys of probe -o json not listed: {sorted(real_top - set(top))}"
    assert set(nested) <= real_nested | real_top, \
        f"{line.where()}: not keys of probe -o json: {sorted(set(nested) - real_nested - real_top)}"


def test_ref_json_keys_exist(shim: dict[str, str]) -> None:
    """(d) `ref -o json` prints exactly the keys the ref section lists."""
    line, para = _paragraph_after("Image references", "`-o json` prints")
    listed = re.search(r"keys \(`([^`]+)`\)", para)
    assert listed, f"{line.where()}: expected 'keys (`a, b, …`)'"
    keys = [k.strip() for k in listed.group(1).split(",")]
    result = run_shell("pulldoctor ref -o json nginx", shim)
    assert result.returncode == 0, result.stderr
    assert keys == list(json.loads(result.stdout)), f"{line.where()}: ref -o json has {list(json.loads(result.stdout))}"


def test_bundle_secret_example_keys(tmp_path: Path) -> None:
    """(d) the reduced Secret shown in "Support bundles" has the keys a real bundle's secrets have."""
    import tarfile

    from pulldoctor.cluster import SourceSpec, load_snapshot
    from pulldoctor.cluster.bundle import write_bundle

    line = next(ln for ln in parsed()[1][section_named("Support bundles")] if '`{"kind": "Secret"' in ln.text)
    found = re.search(r"`(\{.+\})`", line.text)
    assert found, f"{line.where()}: expected the reduced Secret as `{{…}}`"
    shown = json.loads(found.group(1))
    bundle = tmp_path / "b.tar.gz"
    write_bundle(load_snapshot(SourceSpec(paths=(str(ROOT / "examples" / "cluster"),))), bundle, {"namespace": "shop"})
    with tarfile.open(bundle) as tar:
        objects = json.load(tar.extractfile("objects.json"))  # type: ignore[arg-type]
    secrets = [o for o in objects["items"] if o.get("kind") == "Secret" and o.get("pulldoctor/registries")]
    assert secrets, "the example's bundle has no reduced secret"
    real = set().union(*(key_paths(s) for s in secrets))
    assert key_paths(shown) <= real, f"{line.where()}: not in a real bundle: {sorted(key_paths(shown) - real)}"


# --- Quick start and paths ---------------------------------------------------------------------------------------


def test_quick_start_is_two_commands() -> None:
    """(e) exactly two commands, and the files they name exist; the second's package list is test.sh's."""
    name = section_named("Quick start")
    blocks = [b for b in parsed()[0] if b.section == name]
    commands = [ln for b in blocks for ln in b.lines if ln.text.strip() and not ln.text.lstrip().startswith("#")]
    assert len(commands) == 2, "Quick start must show exactly two commands, not:\n" + \
        "\n".join(ln.where() for ln in commands)
    for line in commands:
        for seg in _segments(line.text):
            for word in seg[1:]:
                if word.startswith(".venv/"):  # made by the command itself
                    continue
                if word == "." or "/" in word or word.endswith((".sh", ".py")):
                    assert (ROOT / word).exists(), f"{line.where()}: {word} does not exist"
    first = _shown(commands[0], commands[0].text.strip(), None)
    assert first and is_offline(first), f"{commands[0].where()}: the first command should diagnose an example"
    assert (ROOT / "pyproject.toml").exists()
    script = (ROOT / "scripts" / "test.sh").read_text()
    prose = " ".join(ln.text for ln in parsed()[1][name])
    packages = re.findall(r"`([a-z0-9][a-z0-9.+-]*)`", prose.split("installs everything", 1)[-1].split(")")[0])
    assert packages, "Quick start: expected the list of packages scripts/test.sh installs"
    for package in packages:
        assert re.search(rf"(?<![\w-]){re.escape(package)}(?![\w-])", script), \
            f"README Quick start says test.sh installs {package}; scripts/test.sh does not name it"


def test_repository_paths_exist() -> None:
    """Every repository path the pages name (`bench/bench_probe.py`, `tests/test_robustness_*.py`) exists."""
    texts: list[tuple[Line, str]] = list(inline_spans())
    texts += [(ln, ln.text) for b in parsed()[0] if b.lang not in {"python", "json", "yaml", ""} for ln in b.lines]
    missing = []
    for line, text in texts:
        for path in re.findall(rf"(?<![\w/.-])((?:{'|'.join(REPO_DIRS)})/[\w./*-]*)", text):
            if path not in FOREIGN_PATHS and not glob.glob(str(ROOT / path.rstrip("."))):
                missing.append(f"{line.where()}: {path} does not exist")
    assert not missing, "\n".join(missing)


# --- one set of pages, linked from a short README ------------------------------------------------------------------


def test_benchmarks_cover_every_script() -> None:
    """Every figure has a source: the Benchmarks section names each bench script with its command."""
    lines = parsed()[1][section_named("Benchmarks")]
    text = "\n".join(ln.text for ln in lines)
    assert "<!--" not in text, f"{lines[0].doc}: the Benchmarks section is still a placeholder"
    for script in sorted((ROOT / "bench").glob("bench_*.py")):
        assert f"python bench/{script.name}" in text, f"Benchmarks: no row with `python bench/{script.name}`"


def slug(title: str) -> str:
    """GitHub's anchor rule: lowercase, drop punctuation, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


@functools.cache
def headings(doc: str) -> tuple[str, ...]:
    """The headings of one page, outside fenced blocks."""
    fenced = {ln for b in parsed_doc(doc)[0] for ln in b.lines}
    return tuple(re.sub(r"^#+ ", "", ln.text) for ln in doc_lines(doc)
                 if re.match(r"^#{1,6} ", ln.text) and ln not in fenced)


def test_readme_is_short() -> None:
    """What a person paged at 3 a.m. needs, and links to the rest: under 20,000 characters."""
    size = len(README.read_text(encoding="utf-8"))
    assert size < README_MAX_CHARS, f"README.md has {size} characters; move details to docs/ (limit {README_MAX_CHARS})"


def test_table_of_contents_links_resolve() -> None:
    """The README's contents list links every `## ` section, and every #anchor in the README points at a heading."""
    anchors = {slug(h) for h in headings("README.md")}
    for line in readme_lines():
        for anchor in re.findall(r"\]\(#([^)]+)\)", line.text):
            assert anchor in anchors, f"{line.where()}: no heading has the anchor #{anchor}"
    sections = [h for ln in readme_lines() if (h := re.match(r"^## (.+)$", ln.text))
                and not any(ln in b.lines for b in parsed_doc("README.md")[0])]
    toc = "\n".join(ln.text for ln in parsed()[1][("README.md", "pulldoctor")])
    missing = [m.group(1) for m in sections if f"(#{slug(m.group(1))})" not in toc]
    assert not missing, f"README.md: the contents list after the intro lacks {missing}"


@pytest.mark.parametrize("doc", [rel(p) for p in DOCS])
def test_links_resolve(doc: str) -> None:
    """Every relative link of a page names a file of the repository, and its #anchor a heading of that file."""
    problems = []
    for line in doc_lines(doc):
        if any(line in b.lines for b in parsed_doc(doc)[0]):
            continue
        for target in re.findall(r"\]\(([^)\s]+)\)", line.text):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):   # https://, mailto:
                continue
            path, _, anchor = target.partition("#")
            file = (ROOT / doc).parent / path if path else ROOT / doc
            if not file.resolve().is_relative_to(ROOT) or not file.exists():
                problems.append(f"{line.where()}: {path} is not a file of this repository")
            elif anchor and file.suffix == ".md" and anchor not in {slug(h) for h in headings(rel(file.resolve()))}:
                problems.append(f"{line.where()}: {rel(file.resolve())} has no heading with the anchor #{anchor}")
    assert not problems, "\n".join(problems)


def test_every_page_is_linked_from_the_readme() -> None:
    """A page in docs/ that the README does not link is a page nobody finds."""
    text = README.read_text(encoding="utf-8")
    unlinked = [rel(p) for p in DOCS[1:] if f"]({rel(p)})" not in text and f"]({rel(p)}#" not in text]
    assert not unlinked, f"README.md links no {unlinked}"


def test_commands_table_is_complete() -> None:
    """The Commands table has one synopsis per command, naming every option, with `-o`'s real choices."""
    lines = parsed()[1][section_named("Commands")]
    rows = {}
    for line in lines:
        m = re.match(r"^\| `pulldoctor (\w+)([^`]*)`", line.text)
        if m:
            rows[m.group(1)] = (line, m.group(2).replace("\\|", "|"))
    subs = subparsers()
    assert set(rows) == set(subs), f"Commands table: rows for {sorted(rows)}, commands {sorted(subs)}"
    for name, (line, synopsis) in rows.items():
        for action in subs[name]._actions:
            if not action.option_strings or "--help" in action.option_strings:
                continue
            assert any(re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", synopsis) for o in action.option_strings), \
                f"{line.where()}: the synopsis lacks {'/'.join(action.option_strings)}"
            shown = re.search(rf"(?:{'|'.join(map(re.escape, action.option_strings))}) ([a-z]+(?:\|[a-z]+)+)", synopsis)
            if action.choices and shown:
                assert shown.group(1).split("|") == list(action.choices), \
                    f"{line.where()}: {action.option_strings[0]} takes {list(action.choices)}"


def test_benchmark_one_liners_run() -> None:
    """The `python -m timeit` commands of the Benchmarks section run (once each, not timed)."""
    block = next((b for b in parsed()[0] if b.section == section_named("Benchmarks") and b.lang in SHELL_LANGS), None)
    assert block, "Benchmarks: the ```sh block of one-liners is gone"
    for line in block.lines:
        words = shlex.split(line.text)
        if words[:3] != ["python", "-m", "timeit"]:
            continue
        setup = words[words.index("-s") + 1]
        namespace: dict[str, object] = {}
        exec(setup, namespace)
        exec(words[-1], namespace)


def test_figures_name_their_source() -> None:
    """A paragraph that states a speed names the bench script or links to Benchmarks."""
    figure = re.compile(r"\d[\d,.]*\s*(?:[A-Za-z]+\s+){0,3}(?:per second|msg/s|messages/s|references/s)"
                        r"|\d+(?:\.\d+)? ?(?:ms|MiB)\b.{0,40}\b(?:median|peak|RSS|against)")
    problems = []
    for name, lines in parsed()[1].items():
        para: list[Line] = []
        for k, line in enumerate([*lines, Line(name[0], 0, "")]):
            following = lines[k + 1].text if k + 1 < len(lines) else ""
            if line.text.strip() or (para and following.startswith("- ")):   # a list belongs to its lead-in
                para.append(line)
                continue
            text = " ".join(ln.text for ln in para)
            if figure.search(text) and "bench/" not in text and "benchmarks.md)" not in text \
                    and name != section_named("Benchmarks"):
                problems.append(f"{para[0].where()}: a figure without its source (a bench script)")
            para = []
    assert not problems, "\n".join(problems)


def test_probe_sample_output_against_the_lab(lab: object, shim: dict[str, str]) -> None:
    """The `probe` sample (a missing tag on a loopback registry) is what the probe prints against a real
    docker-registry. The lab's port is not 5000, so lines may wrap elsewhere: the words are compared, with
    timings as `N ms`. Tags pushed: the two the sample names as closest, and one far from 1.25.4."""
    block = next((b for b in parsed()[0] if b.lines and b.lines[0].text.startswith("$ pulldoctor probe 127.0.0.1:5000/")),
                 None)
    assert block, "the probe section's sample output (`$ pulldoctor probe 127.0.0.1:5000/…`) is gone"
    image = block.lines[0].text.split()[-1]
    repo, _, _ = image.removeprefix("127.0.0.1:5000/").rpartition(":")
    # A repository of its own in the session's shared lab, so no other test's pushes change the tag count.
    unique = f"readme{os.getpid()}/"
    for tag in ("1.25.3", "1.26.0", "0.1.0"):
        lab.push(lab.open_registry, unique + repo, tag)  # type: ignore[attr-defined]
    address = lab.open_registry  # type: ignore[attr-defined]
    result = run_shell(f"pulldoctor probe {shlex.quote(image.replace('127.0.0.1:5000/', address + '/' + unique))}",
                       shim)
    assert result.returncode == 1, f"{block.lines[0].where()}: exit {result.returncode}, documented 1\n{result.stderr}"

    def words(text: str) -> list[str]:
        return re.sub(r"\(\d+ ms\)", "(N ms)", text).split()

    shown = words("\n".join(ln.text for ln in block.lines[1:]))
    real = words(result.stdout.replace(unique, "").replace(address, "127.0.0.1:5000"))
    assert shown == real, f"{block.lines[0].where()}: the sample differs from the real output:\n{result.stdout}"


def test_rules_table_is_the_rules() -> None:
    """The rules table (docs/diagnose.md) names each rule of `diagnosis.rules.RULES` (and the transient one) with
    exactly the causes it decides."""
    from pulldoctor.diagnosis.rules import RULES, TRANSIENT

    rows = {}
    for line in parsed()[1][section_named("Rules")]:
        m = re.match(r"^\| `(\w+)` \| ([^|]+) \|", line.text)
        if m:
            rows[m.group(1)] = (line, set(re.findall(r"`([a-z_]+)`", m.group(2))))
    real = {r.name: {c.value for c in r.causes} for r in RULES}
    assert set(rows) == set(real) | {TRANSIENT.name}, \
        f"Diagnose rules table: rows {sorted(rows)}, rules {sorted(set(real) | {TRANSIENT.name})}"
    for name, causes in real.items():
        line, shown = rows[name]
        assert shown == causes, f"{line.where()}: rule {name} decides {sorted(causes)}"


def test_deploy_table_and_alerts_are_deploys() -> None:
    """The deploy/ table names every file there (and only those); the example alerts are the shipped rules."""
    import yaml

    named = {m.group(1) for ln in parsed()[1][section_named("Deploying the exporter")] if (m0 := re.match(r"^\| (`[^|]+`) \|", ln.text))
             for m in re.finditer(r"`([\w.-]+)`", m0.group(1))}
    shipped = {p.name for p in (ROOT / "deploy").rglob("*") if p.is_file()}
    table = {n for n in named if "." in n or n == "Containerfile"} - {"/metrics", "/healthz", "/readyz", "/findings"}
    assert table - shipped == set(), f"README deploy table names files not in deploy/: {sorted(table - shipped)}"
    unnamed = shipped - table - {"kustomization.yaml"}   # the table says what the kustomizations ship
    assert not unnamed, f"README deploy table does not describe {sorted(unnamed)}"

    block = next(b for b in parsed()[0] if b.section == section_named("Example alerts") and b.lang == "yaml")
    shown = yaml.safe_load("\n".join(ln.text for ln in block.lines))
    docs = yaml.safe_load((ROOT / "deploy" / "components" / "prometheus-operator" / "prometheusrule.yaml").read_text())
    real = {r["alert"]: r for g in docs["spec"]["groups"] for r in g["rules"] if "alert" in r}
    for rule in shown:
        where = block.lines[0].where()
        assert rule["alert"] in real, f"{where}: deploy/prometheusrule.yaml has no alert {rule['alert']}"
        assert " ".join(rule["expr"].split()) == " ".join(real[rule["alert"]]["expr"].split()), \
            f"{where}: {rule['alert']} expr differs from deploy/prometheusrule.yaml"
        assert rule.get("for") == real[rule["alert"]].get("for"), f"{where}: {rule['alert']} `for` differs"


def test_keyring_example_prints_what_it_says() -> None:
    """The Credentials page's Python example: each `# result` comment is the repr of the line above it,
    for a secret with entries for ghcr.io (alice, password s3cret: fingerprint 1fe25d9a) and quay.io."""
    import base64
    import types

    from pulldoctor import keyring

    block = next(b for b in parsed()[0] if b.lang == "python" and b.section == section_named("Credentials"))
    auths = {"ghcr.io": {"auth": base64.b64encode(b"alice:s3cret").decode()},
             "quay.io": {"auth": base64.b64encode(b"bob:other").decode()}}
    data = {".dockerconfigjson": base64.b64encode(json.dumps({"auths": auths}).encode()).decode()}
    namespace: dict[str, object] = {**vars(keyring), "secret": types.SimpleNamespace(data=data)}
    checked = 0
    lines = [ln for ln in block.lines if ln.text.strip()]
    for k, line in enumerate(lines):
        if line.text.startswith("#"):
            continue
        result = lines[k + 1] if k + 1 < len(lines) and lines[k + 1].text.startswith("# ") else None
        if result is None:
            exec(line.text, namespace)
            continue
        value = eval(line.text, namespace)
        assert repr(value) == result.text[2:], f"{result.where()}: the real value is {value!r}"
        checked += 1
    assert checked >= 2, "the keyring example shows fewer results than expected: layout changed?"
