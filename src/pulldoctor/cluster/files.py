"""Read what ``kubectl get … -o json|yaml`` writes: single objects, ``List``, typed lists, multi-document
YAML, directories of them (recursive) and bundles written by ``pulldoctor collect``.

A file that cannot be read is an ``InputError`` naming the file and saying what is wrong, in one line.
Kinds pulldoctor does not read (Deployments, ConfigMaps…) are not errors: they are skipped and counted
in ``Snapshot.ignored_kinds``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from pulldoctor.cluster.model import (
    MAX_OBJECTS_PER_DOCUMENT,
    Decoded,
    DocumentError,
    MalformedJSON,
    convert_python,
    decode_json,
)
from pulldoctor.cluster.snapshot import Snapshot
from pulldoctor.errors import InputError

SUFFIXES = (".json", ".yaml", ".yml")
MAX_FILE_BYTES = 1 << 30          # 1 GiB: far above any real `kubectl get -A` dump
MAX_DIRECTORY_FILES = 100_000     # a bound on the directory walk
MAX_SNAPSHOT_OBJECTS = 2_000_000  # pods, events… from all files together (a big cluster has 200,000)
MAX_YAML_BYTES = 32 << 20         # PyYAML needs about 40x a file's size in memory (JSON: about 3x)
MAX_YAML_DEPTH = 100              # kubectl's YAML nests about 20 deep; libyaml's composer recurses in C
MAX_YAML_ALIAS_NODES = 2_000_000  # nodes that YAML aliases may add (kubectl never writes aliases)
GZIP_MAGIC = b"\x1f\x8b"
BUNDLE_SUFFIXES = (".tar.gz", ".tgz")



def _line_col(data: bytes | memoryview, offset: int) -> tuple[int, int]:
    head = bytes(data[:offset])
    line = head.count(b"\n") + 1
    return line, offset - (head.rfind(b"\n") + 1) + 1


def _json_error(name: str, data: bytes, err: MalformedJSON) -> InputError:
    if err.offset is not None:
        line, col = _line_col(data, err.offset)
        return InputError(f"{name}: not valid JSON (line {line}, column {col}: {err.what})")
    return InputError(f"{name}: not valid JSON ({err.what})")


def decode_documents(data: bytes, name: str) -> list[Decoded]:
    """Decode a file's bytes (JSON, or YAML with one or more documents). ``name`` is for error lines."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{name}: UTF-16 text (PowerShell's '>' writes it); save it as UTF-8")
    if b"\x00" in data[:4096]:  # neither JSON nor YAML allows NUL; refuse /dev/zero and binaries at once
        raise InputError(f"{name}: binary data, not JSON or YAML")
    start = data.lstrip()[:1]
    if start in (b"{", b"["):
        try:
            return [decode_json(data)]
        except MalformedJSON as err:
            raise _json_error(name, data, err) from None
        except DocumentError as err:
            raise InputError(f"{name}: {err}") from None
    return _decode_yaml(data, name)


def _decode_yaml(data: bytes, name: str) -> list[Decoded]:
    import yaml  # only when a YAML file is read

    from pulldoctor.cluster.yamlload import BadValue, loader_class

    loader = loader_class()
    if len(data) > MAX_YAML_BYTES:
        raise InputError(f"{name}: YAML larger than {MAX_YAML_BYTES >> 20} MiB ({len(data)} bytes) would need "
                         "gigabytes to read; use `kubectl get … -o json` instead (up to 1 GiB)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"{name}: not JSON or YAML (not UTF-8 text at byte {err.start})") from None
    out: list[Decoded] = []
    try:
        _check_yaml_shape(yaml, loader, text, name)
        for n, doc in enumerate(yaml.load_all(text, Loader=loader), start=1):
            if doc is None:  # an empty document between `---`
                continue
            try:
                out.append(convert_python(doc))
            except DocumentError as err:
                raise InputError(f"{name}: document {n}: {err}") from None
    except BadValue as err:
        raise InputError(f"{name}: line {err.line}, column {err.column}: {err}") from None
    except yaml.MarkedYAMLError as err:
        if "nesting depth" in str(err.problem):  # newer libyaml stops deep flow collections before we count
            raise InputError(f"{name}: YAML nested more than {MAX_YAML_DEPTH} deep; not a Kubernetes object") from None
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise InputError(f"{name}: not JSON or YAML ({where}{err.problem or err.context})") from None
    except yaml.YAMLError as err:
        raise InputError(f"{name}: not JSON or YAML ({err})") from None
    if not out:
        raise InputError(f"{name}: empty: no Kubernetes object in it")
    return out


def _check_yaml_shape(yaml: Any, loader: Any, text: str, name: str) -> None:
    """Refuse YAML that would crash or swamp the loader, from its events (no tree is built yet):
    nesting deeper than ``MAX_YAML_DEPTH`` (libyaml's composer recurses in C and overflows the stack),
    an alias inside its own anchor (a cycle), and aliases that expand to more than
    ``MAX_YAML_ALIAS_NODES`` extra nodes ("billion laughs": PyYAML shares aliased nodes, but decoding
    them into objects copies each one). Costs about a tenth of the load itself."""
    opens = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
    closes = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    stack: list[list[Any]] = [[None, 0]]      # per open collection: [anchor, nodes inside it]
    mappings = 0
    sizes: dict[str, int] = {}                # anchor -> nodes under it, aliases expanded
    extra = 0
    for ev in yaml.parse(text, Loader=loader):
        kind = type(ev)
        if kind in opens:
            stack.append([ev.anchor, 1])
            if kind is yaml.MappingStartEvent:
                mappings += 1
                if mappings > MAX_OBJECTS_PER_DOCUMENT:  # each may become a struct with its empty lists
                    raise InputError(f"{name}: more than {MAX_OBJECTS_PER_DOCUMENT} YAML mappings; split the file")
            if len(stack) > MAX_YAML_DEPTH + 1:
                raise InputError(f"{name}: YAML nested more than {MAX_YAML_DEPTH} deep; not a Kubernetes object")
        elif kind in closes:
            anchor, n = stack.pop()
            if anchor:
                sizes[anchor] = n
            stack[-1][1] += n
        elif kind is yaml.ScalarEvent:
            if ev.anchor:
                sizes[ev.anchor] = 1
            stack[-1][1] += 1
        elif kind is yaml.AliasEvent:
            if ev.anchor not in sizes:
                if any(frame[0] == ev.anchor for frame in stack):
                    raise InputError(f"{name}: YAML alias *{ev.anchor} refers to itself")
                continue  # an undefined alias: the loader names it
            n = sizes[ev.anchor]
            extra += n
            if extra > MAX_YAML_ALIAS_NODES:
                raise InputError(f"{name}: YAML aliases expand to more than {MAX_YAML_ALIAS_NODES} nodes")
            stack[-1][1] += n
        elif kind is yaml.DocumentEndEvent:
            sizes.clear()  # anchors do not cross documents


def read_bytes(path: Path, name: str) -> bytes:
    """Read a file whole, refusing files larger than ``MAX_FILE_BYTES``."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(f"{name}: too large ({size} bytes; the limit is {MAX_FILE_BYTES})")
        with path.open("rb") as fh:
            return fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"{name}: no such file or directory") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory") from None
    except PermissionError:
        raise InputError(f"{name}: permission denied") from None
    except OSError as err:
        raise InputError(f"{name}: cannot read ({err.strerror or err})") from None


def load_file(path: Path, snapshot: Snapshot, name: str | None = None) -> None:
    """Add one file (JSON, YAML, or a bundle) to ``snapshot``."""
    name = name or str(path)
    data = read_bytes(path, name)
    if name.endswith(BUNDLE_SUFFIXES) and not data.startswith(GZIP_MAGIC):
        raise InputError(f"{name}: not a pulldoctor bundle (not gzip-compressed)")
    if data.startswith(GZIP_MAGIC):
        from pulldoctor.cluster.bundle import load_bundle_bytes

        load_bundle_bytes(data, name, snapshot)
        return
    for decoded in decode_documents(data, name):
        snapshot.add(decoded.objects)
        snapshot.count_ignored(decoded.ignored)


def regular_files_under(root: Path, suffixes: tuple[str, ...], limit: int, *, what: str = "files",
                        skip_hidden: bool = False) -> list[Path]:
    """The regular files under ``root`` whose names end in ``suffixes``, sorted, at most ``limit``: a FIFO or
    device inside is refused (one would block for ever, the other never end), symlinked directories are not
    followed. ``preflight`` shares it, skipping hidden directories (``.git``)."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):  # does not follow symlinked directories
        dirnames[:] = sorted(d for d in dirnames if not (skip_hidden and d.startswith(".")))
        for fn in sorted(filenames):
            if not fn.endswith(suffixes):
                continue
            path = Path(dirpath, fn)
            try:
                mode = path.stat().st_mode
            except OSError as err:  # a dangling or looping symlink
                raise InputError(f"{path}: cannot read ({err.strerror or err})") from None
            if not stat.S_ISREG(mode):
                raise InputError(f"{path}: not a regular file")
            found.append(path)
            if len(found) > limit:
                raise InputError(f"{root}: more than {limit} {what}; point at a smaller directory")
    return found


def _directory_files(root: Path) -> list[Path]:
    return regular_files_under(root, SUFFIXES + BUNDLE_SUFFIXES, MAX_DIRECTORY_FILES)


def _check_total(snapshot: Snapshot, where: str) -> None:
    """Each document is bounded (``MAX_OBJECTS_PER_DOCUMENT``); so is their sum across files."""
    total = len(snapshot.pods) + len(snapshot.events) + len(snapshot.nodes) + len(snapshot.secrets) \
        + len(snapshot.service_accounts)
    if total > MAX_SNAPSHOT_OBJECTS:
        raise InputError(f"{where}: more than {MAX_SNAPSHOT_OBJECTS} objects in all; read fewer files")


def load_paths(paths: tuple[str, ...] | list[str], snapshot: Snapshot) -> None:
    """Add files, directories (recursive: .json/.yaml/.yml and bundles) and bundles to ``snapshot``."""
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files = _directory_files(path)
            if not files:
                raise InputError(f"{p}: no .json, .yaml or .yml files in this directory")
            for f in files:
                load_file(f, snapshot)
                _check_total(snapshot, str(f))
        else:
            load_file(path, snapshot, p)
            _check_total(snapshot, p)


# --- The same limits for other readers of manifests (``preflight``, which keeps every value's line) --------


def check_preamble(data: bytes, name: str) -> bytes:
    """``data`` without a UTF-8 BOM; UTF-16 and binary data refused by name, as ``decode_documents`` does."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{name}: UTF-16 text (PowerShell's '>' writes it); save it as UTF-8")
    if b"\x00" in data[:4096]:
        raise InputError(f"{name}: binary data, not JSON or YAML")
    return data


def yaml_loader() -> Any:
    """libyaml's safe loader when PyYAML has it (about 10x faster), else the pure-Python one."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def yaml_text(data: bytes, name: str) -> str:
    """The text of YAML ``data`` once it passed the limits ``decode_documents`` applies: size, UTF-8, nesting
    depth and aliases (a cycle, a "billion laughs"). Raises InputError, or yaml.YAMLError for YAML that does
    not parse (``yaml_error`` words it)."""
    import yaml

    if len(data) > MAX_YAML_BYTES:
        raise InputError(f"{name}: YAML larger than {MAX_YAML_BYTES >> 20} MiB ({len(data)} bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"{name}: not JSON or YAML (not UTF-8 text at byte {err.start})") from None
    _check_yaml_shape(yaml, yaml_loader(), text, name)
    return text


def yaml_error(err: Exception, name: str) -> InputError:
    """One line for YAML that does not parse: where and what, as ``decode_documents`` says it."""
    import yaml

    if isinstance(err, yaml.MarkedYAMLError):
        if "nesting depth" in str(err.problem):  # newer libyaml stops deep flow collections before we count
            return InputError(f"{name}: YAML nested more than {MAX_YAML_DEPTH} deep; not a Kubernetes object")
        mark = err.problem_mark or err.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        return InputError(f"{name}: not JSON or YAML ({where}{err.problem or err.context})")
    return InputError(f"{name}: not JSON or YAML ({err})")
