"""The layering of docs/architecture.md, checked: what each part imports when it is used alone, and which
parts of the pipeline a module may import at all.

Each import runs in a fresh interpreter, so a module that another test already imported cannot hide a heavy
import. "Stdlib only" means: no top-level module beyond what a bare interpreter already holds (site hooks),
the standard library and pulldoctor itself.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "pulldoctor"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cluster"
CHART = Path(__file__).resolve().parent / "data" / "preflight" / "shop-chart-rendered.yaml"

HEAVY = ("kubernetes", "aiohttp", "prometheus_client", "urllib3", "boto3", "botocore")


def _modules_after(code: str) -> set[str]:
    """Modules (full dotted names) that running ``code`` in a fresh interpreter adds to a bare interpreter's."""
    probe = ("import sys, json\nbefore = set(sys.modules)\n" + code +
             "\nprint(json.dumps(sorted(set(sys.modules) - before)))\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def _imported_after(code: str) -> set[str]:
    """Top-level modules that running ``code`` in a fresh interpreter adds to a bare interpreter's."""
    return {m.split(".")[0] for m in _modules_after(code)}


def _third_party(modules: set[str]) -> set[str]:
    return {m for m in modules if m not in sys.stdlib_module_names and m != "pulldoctor" and not m.startswith("_")}


@pytest.mark.parametrize("module", ["pulldoctor.messages", "pulldoctor.reference", "pulldoctor.keyring",
                                    "pulldoctor.causes", "pulldoctor.errors", "pulldoctor.redact"])
def test_pure_parts_import_only_the_standard_library(module: str) -> None:
    assert _third_party(_imported_after(f"import {module}")) == set()


def test_the_cli_module_imports_no_third_party_library() -> None:
    """Every command pays only for what it runs: the parser itself loads nothing but the stdlib."""
    assert _third_party(_imported_after("import pulldoctor.cli")) == set()


def test_reading_files_imports_neither_the_kubernetes_client_nor_aiohttp() -> None:
    code = ("import pulldoctor.cluster as c\n"
            f"assert c.find_failing(c.load_snapshot({str(EXAMPLE)!r})).failing\n")
    assert _imported_after(code) & set(HEAVY) == set()


@pytest.mark.parametrize("argv", [
    ["ref", "nginx"],
    ["classify", "pull QPS exceeded"],
    ["diagnose", "--from", str(EXAMPLE), "--no-probe", "-o", "json"],
    ["preflight", str(CHART), "--no-probe", "-o", "sarif"],
])
def test_offline_commands_import_no_heavy_library(argv: list[str]) -> None:
    code = ("from pulldoctor.cli import main\n"
            "try:\n"
            f"    main({argv!r})\n"
            "except SystemExit:\n"
            "    pass\n")
    assert _imported_after(code) & set(HEAVY) == set()


# What `diagnose --from FILES --no-probe` never needs: the live client, YAML (these files are JSON), the
# prober's event loop, TLS and URL libraries, the exporter. Each costs start-up time on every run.
NOT_FOR_FILES_WITHOUT_PROBES = (
    *HEAVY, "cryptography", "yaml", "asyncio", "ssl", "socket", "yarl", "multidict", "concurrent", "tarfile",
    "pulldoctor.cluster.live", "pulldoctor.cluster.bundle", "pulldoctor.exporter",
)
#: The registry modules that only describe results or format sizes; the rest is the prober.
REGISTRY_WITHOUT_PROBER = {"pulldoctor.registry", "pulldoctor.registry.models", "pulldoctor.registry.manifest"}


@pytest.mark.parametrize("output", ["text", "json", "markdown"])
def test_diagnose_from_json_files_without_probes_imports_only_what_it_runs(output: str) -> None:
    code = ("import io, contextlib\n"
            "from pulldoctor.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            f"    code = main(['diagnose', '--from', {str(EXAMPLE)!r}, '--no-probe', '-o', {output!r}])\n"
            "assert code == 1 and out.getvalue(), (code, out.getvalue())\n")
    loaded = _modules_after(code)
    assert {m for m in loaded for banned in NOT_FOR_FILES_WITHOUT_PROBES
            if m == banned or m.startswith(banned + ".")} == set()
    assert {m for m in loaded if m.startswith("pulldoctor.registry")} <= REGISTRY_WITHOUT_PROBER


def test_the_registry_package_loads_the_prober_on_first_use() -> None:
    """``pulldoctor.registry.manifest`` (sizes, platforms) costs no event loop; ``from pulldoctor.registry
    import probe`` still gives the function, not the submodule of the same name."""
    code = ("import sys, types\n"
            "import pulldoctor.registry.manifest, pulldoctor.registry.models\n"
            "assert not {'asyncio', 'ssl', 'yarl', 'aiohttp', 'pulldoctor.registry.probe'} & set(sys.modules)\n"
            "from pulldoctor.registry import probe, probe_many, probe_sync\n"
            "import pulldoctor.registry as r\n"
            "assert all(isinstance(f, types.FunctionType) for f in (probe, probe_many, probe_sync, r.probe))\n"
            "assert r.probe is probe and 'asyncio' in sys.modules\n")
    assert _modules_after(code)


def test_importing_the_registry_does_not_import_aiohttp() -> None:
    assert _imported_after("import pulldoctor.registry") & {"aiohttp", "kubernetes"} == set()


# Which pulldoctor packages each part may not import (docs/architecture.md: the arrows of the pipeline).
_LATER = {"pulldoctor.diagnosis", "pulldoctor.render", "pulldoctor.exporter", "pulldoctor.commands",
          "pulldoctor.cli"}
#: Only the readers of a cluster (cluster/ for diagnose and collect, exporter/ for serve, nodelogs/ for the
#: node log query) use the API client.
_API = {"pulldoctor.kubeapi"}
#: The node-log reader sits beside cluster/: it uses cluster's tar guards and Node, diagnosis reads its hits.
_NODELOGS = {"pulldoctor.nodelogs"}
FORBIDDEN: dict[str, set[str]] = {
    "kubeapi": _LATER | _NODELOGS | {"pulldoctor.cluster", "pulldoctor.registry", "pulldoctor.messages",
                                     "pulldoctor.reference", "pulldoctor.keyring"},
    "cluster": _LATER | _NODELOGS | {"pulldoctor.registry", "pulldoctor.messages"},
    "nodelogs": _LATER | {"pulldoctor.registry", "pulldoctor.messages", "pulldoctor.keyring",
                          "pulldoctor.reference"},
    "messages": _LATER | _API | _NODELOGS | {"pulldoctor.cluster", "pulldoctor.registry", "pulldoctor.keyring",
                                             "pulldoctor.reference"},
    "registry": _LATER | _API | _NODELOGS | {"pulldoctor.cluster", "pulldoctor.messages"},
    "reference.py": _LATER | _API | _NODELOGS | {"pulldoctor.cluster", "pulldoctor.registry", "pulldoctor.messages",
                                                 "pulldoctor.keyring"},
    "keyring.py": _LATER | _API | _NODELOGS | {"pulldoctor.cluster", "pulldoctor.registry", "pulldoctor.messages"},
    # Cloud evidence reads keyring and reference only; diagnosis reads it (cloudstep, families/cloud).
    "cloud": _LATER | _API | _NODELOGS | {"pulldoctor.cluster", "pulldoctor.registry", "pulldoctor.messages"},
    "diagnosis": _API | {"pulldoctor.render", "pulldoctor.exporter", "pulldoctor.commands", "pulldoctor.cli"},
    "render": _API | _NODELOGS | {"pulldoctor.exporter", "pulldoctor.commands", "pulldoctor.cli"},
    "exporter": {"pulldoctor.commands", "pulldoctor.cli"},
    # preflight reads manifests (with cluster.files' limits) and uses reference, keyring and registry as they are.
    "preflight": _LATER | {"pulldoctor.messages"},
}


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at top level or inside a function (lazy imports count too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            base = node.module or ""
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    return names


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_no_part_imports_a_later_stage_of_the_pipeline(part: str) -> None:
    files = sorted((SRC / part).rglob("*.py")) if (SRC / part).is_dir() else [SRC / part]
    assert files and all(f.exists() for f in files)
    bad = {f"{f.relative_to(SRC)} imports {name}"
           for f in files for name in _imports(f)
           for banned in FORBIDDEN[part] if name == banned or name.startswith(banned + ".")}
    assert bad == set()


def test_one_kubernetes_api_client() -> None:
    """``kubeapi`` is the only part that talks to the official client or urllib3: ``diagnose``, ``collect``
    and ``serve`` reach a cluster through it (``--node-logs api`` too), with its deadlines, caps and typed errors."""
    users = {str(f.relative_to(SRC)) for f in SRC.rglob("*.py") for name in _imports(f)
             if name.split(".")[0] in ("kubernetes", "urllib3")}
    assert users and all(u.startswith("kubeapi/") for u in users), sorted(users)
    callers = {str(f.relative_to(SRC)).split("/")[0] for f in SRC.rglob("*.py") for name in _imports(f)
               if name.startswith("pulldoctor.kubeapi") and not f.is_relative_to(SRC / "kubeapi")}
    assert callers == {"cluster", "exporter", "nodelogs"}  # nodelogs: the kubelet's node log query (opt-in)


def test_importing_the_api_client_loads_neither_kubernetes_nor_urllib3() -> None:
    """They load when a cluster is reached (``connect``), not when a module that may reach one is imported."""
    assert _imported_after("import pulldoctor.kubeapi") & set(HEAVY) == set()


# Inside diagnosis (docs/architecture.md, "Rule families"): the vocabulary knows no rule; the shared wording
# (lines) and command builders (kubectl) know no family; a family never imports the table that registers it,
# the package (which imports the table) or the pipeline's other steps.
_D = "pulldoctor.diagnosis"
_STEPS = {f"{_D}.gather", f"{_D}.probing", f"{_D}.groups", f"{_D}.rules"}
INSIDE: dict[str, set[str]] = {
    "diagnosis/model.py": _STEPS | {f"{_D}.evidence", f"{_D}.families", f"{_D}.lines", f"{_D}.kubectl"},
    "diagnosis/evidence.py": _STEPS | {f"{_D}.families", f"{_D}.lines", f"{_D}.kubectl"},
    "diagnosis/lines.py": _STEPS | {f"{_D}.families", f"{_D}.kubectl"},
    "diagnosis/kubectl.py": _STEPS | {f"{_D}.families", f"{_D}.lines"},
    "diagnosis/families": _STEPS,
}


@pytest.mark.parametrize("part", sorted(INSIDE))
def test_rule_families_import_only_what_is_below_them(part: str) -> None:
    files = sorted((SRC / part).rglob("*.py")) if (SRC / part).is_dir() else [SRC / part]
    assert files and all(f.exists() for f in files)
    bad = {f"{f.relative_to(SRC)} imports {name}"
           for f in files for name in _imports(f)
           if name == _D  # the package itself: it imports the table, so a family importing it is a cycle
           or any(name == banned or name.startswith(banned + ".") for banned in INSIDE[part])}
    assert bad == set()


def _graph(depth: int) -> dict[str, set[str]]:
    """pulldoctor's import graph (lazy imports too), cut to ``depth`` name parts: 2 for the parts
    (``pulldoctor.diagnosis``), more for modules. ``python tests/test_layering.py [DEPTH]`` prints it."""
    modules = {}
    for f in SRC.rglob("*.py"):
        parts = list(f.relative_to(SRC.parent).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    graph: dict[str, set[str]] = {}
    for name, f in modules.items():
        for target in _imports(f):
            if not target.startswith("pulldoctor"):
                continue
            while target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]
            a, b = ".".join(name.split(".")[:depth]), ".".join(target.split(".")[:depth])
            if a != b:
                graph.setdefault(a, set()).add(b)
    return graph


def _cycles(graph: dict[str, set[str]], within: str = "") -> list[list[str]]:
    """Every edge a -> b of ``graph`` (both ends under ``within``) from which a path leads back to a."""
    out = []
    for a, targets in sorted(graph.items()):
        for b in sorted(targets):
            if not (a.startswith(within) and b.startswith(within)):
                continue
            seen, todo = {b}, [b]
            while todo:  # bounded: each module is visited once
                n = todo.pop()
                if n == a:
                    out.append([a, b])
                    break
                for m in graph.get(n, set()) - seen:
                    seen.add(m)
                    todo.append(m)
    return out


def test_no_part_and_no_diagnosis_module_is_on_an_import_cycle() -> None:
    """A cycle hidden in a function (the old ``finding`` -> ``advice`` -> ``rules``) counts too."""
    assert _cycles(_graph(2)) == []
    assert _cycles(_graph(9), within=_D) == []


@pytest.mark.parametrize("front", ["commands/diagnose.py", "exporter/diagnoser.py"])
def test_front_ends_call_the_one_pipeline(front: str) -> None:
    """Both front ends call ``diagnosis.run``; neither wires gather -> probe -> conclude nor writes evidence."""
    text = (SRC / front).read_text(encoding="utf-8")
    names = _imports(SRC / front)
    assert "pulldoctor.diagnosis.run" in names
    assert not names & {"pulldoctor.diagnosis.gather", "pulldoctor.diagnosis.conclude", "pulldoctor.diagnosis.attach"}
    assert "probe_note" not in text and ".probe =" not in text


def test_only_the_aws_reader_imports_boto3() -> None:
    """boto3 is the optional ``aws`` extra: one module reads AWS, and only inside its functions."""
    users = {str(f.relative_to(SRC)) for f in SRC.rglob("*.py") for name in _imports(f)
             if name.split(".")[0] in ("boto3", "botocore")}
    assert users == {"cloud/aws.py"}
    top = {a.name.split(".")[0] for node in ast.parse((SRC / "cloud/aws.py").read_text(encoding="utf-8")).body
           if isinstance(node, ast.Import | ast.ImportFrom)
           for a in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])}
    assert not top & {"boto3", "botocore"}
    assert _imported_after("import pulldoctor.diagnosis, pulldoctor.cloud.aws") & {"boto3", "botocore"} == set()


if __name__ == "__main__":
    for a, bs in sorted(_graph(int(sys.argv[1]) if len(sys.argv) > 1 else 2).items()):
        for b in sorted(bs):
            print(f"{a} -> {b}")


@pytest.mark.parametrize("module", ["pulldoctor.render.ref", "pulldoctor.render.classify", "pulldoctor.render.probe"])
def test_small_renderers_load_no_diagnosis(module: str) -> None:
    """Every printer lives in render/, and ``ref``/``classify``/``probe`` pay only for their own: the package
    imports nothing itself, so no diagnosis model, cluster model or msgspec comes along."""
    loaded = _modules_after(f"import {module}")
    assert not {m for m in loaded if m.startswith(("pulldoctor.diagnosis", "pulldoctor.cluster", "msgspec"))}
    assert "pulldoctor.render.text" not in loaded and "pulldoctor.render.json" not in loaded
