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

HEAVY = ("kubernetes", "aiohttp", "prometheus_client", "urllib3")


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
_LATER = {"pulldoctor.diagnosis", "pulldoctor.advice", "pulldoctor.render", "pulldoctor.exporter",
          "pulldoctor.commands", "pulldoctor.cli"}
FORBIDDEN: dict[str, set[str]] = {
    "cluster": _LATER | {"pulldoctor.registry", "pulldoctor.messages"},
    "messages": _LATER | {"pulldoctor.cluster", "pulldoctor.registry", "pulldoctor.keyring",
                          "pulldoctor.reference"},
    "registry": _LATER | {"pulldoctor.cluster", "pulldoctor.messages"},
    "reference.py": _LATER | {"pulldoctor.cluster", "pulldoctor.registry", "pulldoctor.messages",
                              "pulldoctor.keyring"},
    "keyring.py": _LATER | {"pulldoctor.cluster", "pulldoctor.registry", "pulldoctor.messages"},
    "diagnosis": {"pulldoctor.render", "pulldoctor.exporter", "pulldoctor.commands", "pulldoctor.cli"},
    "advice.py": {"pulldoctor.render", "pulldoctor.exporter", "pulldoctor.commands", "pulldoctor.cli"},
    "render": {"pulldoctor.exporter", "pulldoctor.commands", "pulldoctor.cli"},
    "exporter": {"pulldoctor.commands", "pulldoctor.cli"},
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
