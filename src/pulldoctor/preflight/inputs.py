"""Read manifests — files, directories, stdin — into documents that remember where each value was written.

Why node marks: a CI gate is only useful when it points at the line to change, so every document is
composed (``yaml.compose_all``) and its values constructed from the nodes, which keep their line. JSON is
read the same way (kubectl's and kustomize's JSON is valid YAML). The limits are those of
``pulldoctor.cluster.files`` (size, UTF-8, depth, aliases), called, not copied. ``helm template`` writes a
``# Source: chart/templates/x.yaml`` comment before each document: it is kept, so a finding on stdin input
still names its template.
"""

from __future__ import annotations

import re
import stat
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulldoctor.cluster.files import (
    MAX_YAML_BYTES,
    check_preamble,
    read_bytes,
    regular_files_under,
    yaml_error,
    yaml_loader,
    yaml_text,
)
from pulldoctor.errors import InputError

SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"
MAX_FILES = 10_000            # a directory with more is not a set of manifests to gate a deploy on
MAX_DOCUMENTS = 100_000       # documents over all inputs
MAX_STDIN_BYTES = 64 << 20    # what `helm template` of the largest charts writes is a few MiB
_SOURCE_RE = re.compile(r"^# Source: (.{1,1000})$", re.MULTILINE)
_TEMPLATE_RE = re.compile(r"\{\{.{0,200}?\}\}|\{\{")


@dataclass(frozen=True, slots=True)
class Location:
    """Where something was written: the input (a path as given, ``-`` for stdin), its line, and the
    template ``helm template`` rendered it from (its ``# Source:`` comment), when the input says."""

    file: str
    line: int | None
    source: str | None = None

    def __str__(self) -> str:
        where = self.file if self.file != STDIN else (self.source or "stdin")
        if self.line is not None:
            return f"{where}:{self.line}" if self.file != STDIN or not self.source else f"{where} (stdin:{self.line})"
        return where


@dataclass(slots=True)
class Document:
    """One YAML/JSON document: its value and its node tree (for :meth:`line`)."""

    file: str
    index: int  # 1-based, in its file
    value: Any
    node: Any  # None for JSON that PyYAML cannot read: then ``text`` is searched
    source: str | None
    text: str = ""

    def line(self, path: Sequence[str | int]) -> int | None:
        """The 1-based line of the value at ``path`` (for a mapping key, the key's line); the nearest
        ancestor's line when the path cannot be followed (a merge key, say)."""
        if self.node is None:
            return _json_line(self.text, self.value, path)
        node = self.node
        line: int = node.start_mark.line + 1
        for step in path:
            child, key_line = _child(node, step)
            if child is None:
                return line
            node = child
            line = key_line if key_line is not None else int(child.start_mark.line) + 1
        return line

    def location(self, path: Sequence[str | int]) -> Location:
        return Location(self.file, self.line(path), self.source)


def _json_line(text: str, value: Any, path: Sequence[str | int]) -> int | None:
    """For JSON read by ``json`` (no marks): the first line holding ``"KEY": VALUE`` of the path's last key
    and value, or None. A fallback: the same image twice in one document points at its first line."""
    import json

    for step in path:
        if isinstance(step, str) and isinstance(value, dict):
            value = value.get(step)
        elif isinstance(step, int) and isinstance(value, list) and 0 <= step < len(value):
            value = value[step]
        else:
            return None
    key = next((s for s in reversed(path) if isinstance(s, str)), None)
    if key is None or not isinstance(value, str):
        return None
    pattern = re.compile(re.escape(json.dumps(key)) + r"\s*:\s*" + re.escape(json.dumps(value)))
    m = pattern.search(text) or re.compile(re.escape(json.dumps(key)) + r"\s*:").search(text)
    return text.count("\n", 0, m.start()) + 1 if m else None


def _child(node: Any, step: str | int) -> tuple[Any, int | None]:
    import yaml

    if isinstance(step, int) and isinstance(node, yaml.SequenceNode):
        return (node.value[step], None) if 0 <= step < len(node.value) else (None, None)
    if isinstance(step, str) and isinstance(node, yaml.MappingNode):
        found: tuple[Any, int | None] = (None, None)
        for key, value in node.value:  # the last of duplicate keys wins, as in the constructed value
            if isinstance(key, yaml.ScalarNode) and key.value == step:
                found = (value, key.start_mark.line + 1)
        return found
    return None, None


@dataclass
class Inputs:
    """Everything read, and what was counted on the way."""

    documents: list[Document]
    files: int
    empty_documents: int = 0


def read_inputs(paths: Sequence[str], stdin: Any = None) -> Inputs:
    """Read every path (``-`` is stdin; a directory is walked for .yaml/.yml/.json, dot-directories left
    out). Raises InputError — one line naming the input — for anything that cannot be read."""
    if not paths:
        raise InputError("no manifests given: name files or directories, or -f - for stdin")
    documents: list[Document] = []
    files = 0
    empty = 0
    for name, data in _sources(paths, stdin):
        files += 1
        for doc in parse_documents(data, name):
            if doc is None:
                empty += 1
                continue
            documents.append(doc)
            if len(documents) > MAX_DOCUMENTS:
                raise InputError(f"{name}: more than {MAX_DOCUMENTS} documents in all; check fewer manifests")
    return Inputs(documents, files, empty)


def _sources(paths: Sequence[str], stdin: Any) -> Iterator[tuple[str, bytes]]:
    seen_stdin = False
    for p in paths:
        if p == STDIN:
            if seen_stdin:
                raise InputError("-f - given twice: stdin can be read once")
            seen_stdin = True
            yield STDIN, _read_stdin(stdin)
            continue
        path = Path(p)
        if path.is_dir():
            found = _directory_files(path)
            if not found:
                raise InputError(f"{p}: no .yaml, .yml or .json files in this directory")
            for f in found:
                yield str(f), read_bytes(f, str(f))
        else:
            try:
                mode = path.stat().st_mode
            except OSError:
                mode = 0
            if mode and not stat.S_ISREG(mode):
                raise InputError(f"{p}: not a regular file (for a pipe, use -f -)")
            yield p, read_bytes(path, p)


def _read_stdin(stdin: Any) -> bytes:
    stream = stdin if stdin is not None else sys.stdin.buffer
    data = bytes(stream.read(MAX_STDIN_BYTES + 1))
    if len(data) > MAX_STDIN_BYTES:
        raise InputError(f"stdin: more than {MAX_STDIN_BYTES >> 20} MiB; write it to files and name them")
    return data


def _directory_files(root: Path) -> list[Path]:
    return regular_files_under(root, SUFFIXES, MAX_FILES, what="manifest files", skip_hidden=True)  # .git: not ours


class _BadValue(Exception):
    """A scalar PyYAML parsed but its tag cannot build (``!!int abc``, ``!!bool maybe``, 5,000 digits)."""

    def __init__(self, node: Any, err: Exception) -> None:
        super().__init__(type(err).__name__)
        self.line, self.column = node.start_mark.line + 1, node.start_mark.column + 1
        self.tag = str(node.tag).rpartition(":")[2]


def _constructor() -> Any:
    """PyYAML's safe constructor, made total: a value its tag cannot build is a ``_BadValue`` naming its line
    (PyYAML raises ValueError, KeyError… from deep inside), and timestamps stay text, as kubectl reads them."""
    from yaml.constructor import SafeConstructor

    class Constructor(SafeConstructor):
        def construct_object(self, node: Any, deep: bool = False) -> Any:
            try:
                return super().construct_object(node, deep)
            except _BadValue:
                raise
            except (ValueError, KeyError, IndexError, AttributeError, TypeError, ArithmeticError) as err:
                raise _BadValue(node, err) from None

    def text(c: Any, node: Any) -> Any:
        return c.construct_scalar(node)

    Constructor.add_constructor("tag:yaml.org,2002:timestamp", text)
    return Constructor()


def parse_documents(data: bytes, name: str) -> list[Document | None]:
    """Every document of one input (None for an empty one), values built from nodes that keep their lines."""
    import yaml

    data = check_preamble(data, name)
    if len(data) > MAX_YAML_BYTES:  # YAML's limit, said for manifests (kubectl dumps are read by diagnose)
        raise InputError(f"{name}: larger than {MAX_YAML_BYTES >> 20} MiB ({len(data)} bytes); not a set of "
                         "manifests to check before a deploy")
    try:
        text = yaml_text(data, name)
        sources = [(m.start(), m.group(1).strip()) for m in _SOURCE_RE.finditer(text)]
        line_starts = _source_lines(text, sources)
        out: list[Document | None] = []
        constructor = _constructor()
        previous_end = -1
        for n, node in enumerate(yaml.compose_all(text, Loader=yaml_loader()), start=1):
            value = constructor.construct_document(node) if node is not None else None
            if value is None:  # an empty document between two `---`
                out.append(None)
                continue
            start = node.start_mark.line
            source = next((src for ln, src in reversed(line_starts) if previous_end <= ln <= start), None)
            previous_end = node.end_mark.line
            out.append(Document(name, n, value, node, source))
        return out
    except yaml.YAMLError as err:
        if b"{{" in data:
            line = data[: data.index(b"{{")].count(b"\n") + 1
            raise InputError(f"{name}:{line}: an unrendered Helm/Go template ('{{{{'); render it first "
                             "(helm template … | pulldoctor preflight -f -)") from None
        if data.lstrip()[:1] in (b"{", b"[") and "nesting depth" not in str(getattr(err, "problem", "")):
            return _json_documents(data, name)
        raise yaml_error(err, name) from None
    except _BadValue as err:
        raise InputError(f"{name}: line {err.line}, column {err.column}: a value its tag ({err.tag}) cannot "
                         "build") from None
    except RecursionError:  # the depth check runs first; this only guards the constructor
        raise InputError(f"{name}: YAML nested too deep; not a Kubernetes object") from None


def _json_documents(data: bytes, name: str) -> list[Document | None]:
    """JSON that PyYAML refuses (``\\ud83d\\ude00`` surrogate escapes, say), read by ``json`` itself."""
    import json

    try:
        text = data.decode("utf-8")
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise InputError(f"{name}: JSON nested too deep; not a Kubernetes object") from None
    except (UnicodeDecodeError, ValueError) as err:
        raise InputError(f"{name}: not valid JSON ({str(err)[:200]})") from None
    return [Document(name, 1, value, None, None, text)] if value is not None else [None]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _source_lines(text: str, sources: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """(0-based line, template) of each ``# Source:`` comment."""
    out: list[tuple[int, str]] = []
    line, pos = 0, 0
    for offset, src in sources:
        line += text.count("\n", pos, offset)
        pos = offset
        out.append((line, src))
    return out


def unrendered(value: str) -> bool:
    """Does this string still hold Go template syntax (``{{ .Values.image }}``)?"""
    return "{{" in value and _TEMPLATE_RE.search(value) is not None
