"""Every kubectl command pulldoctor prints, checked by kubectl itself (issue 14, "Show:"): the bundled example's
(``diagnose --from examples/cluster -o json``) and the review's shapes (tests/test_diagnose_review.py).

``create`` runs with ``--dry-run=client``; ``patch`` and ``set image`` run ``--local`` against an object of
the named kind (so a strategic merge or JSON patch must apply, and keep what the object already had); commands
that read or change the cluster (``get``, ``delete``, ``replace``, ``apply``, ``edit``, ``debug``) are parsed
with shlex and their verb and flags checked. Pipelines are split on ``|``, ``&&``, ``||`` and subshells.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "examples")]

from parts import need_binary  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "NO_COLOR": "1", "KUBECONFIG": os.devnull}
SEPARATORS = {"|", "||", "&&", ";", "(", ")"}
FLAGS = {"-n", "-o", "-f", "-p", "-L", "-it", "--force", "--type", "--image", "--dry-run", "--docker-server",
         "--docker-username", "--docker-password", "--from-file"}
VERBS = {"create", "patch", "set", "get", "delete", "replace", "apply", "edit", "debug", "describe"}
CONTROLLERS = {"deployment": ("apps/v1", "Deployment"), "statefulset": ("apps/v1", "StatefulSet"),
               "daemonset": ("apps/v1", "DaemonSet"), "replicaset": ("apps/v1", "ReplicaSet"),
               "cronjob": ("batch/v1", "CronJob")}


def _diagnose(*args: str) -> list[dict[str, Any]]:
    out = subprocess.run([sys.executable, "-m", "pulldoctor", "diagnose", *args, "-o", "json"], capture_output=True,
                         text=True, timeout=120, env=ENV, cwd=ROOT, check=False)
    assert out.returncode == 1, out.stderr
    findings: list[dict[str, Any]] = json.loads(out.stdout)["findings"]
    return findings


@pytest.fixture(scope="module")
def commands(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    import test_diagnose_review as review

    d = tmp_path_factory.mktemp("review")
    review._snapshot(d)
    found: list[str] = []
    for findings in (_diagnose("--from", "examples/cluster"), _diagnose("--from", str(d), "--no-probe")):
        for f in findings:
            for fix in f["fixes"]:
                found += [c for c in fix["commands"] if "kubectl" in c]
    return list(dict.fromkeys(found))


def stages(command: str) -> list[list[str]]:
    """The simple commands of a shell line (pipes, lists and subshells split; ``# comments`` and redirections
    dropped), as shlex tokens."""
    lex = shlex.shlex(command, posix=True, punctuation_chars="|&;()<>")
    lex.whitespace_split = True
    lex.commenters = "#"
    out: list[list[str]] = [[]]
    skip = False
    for tok in lex:
        if skip:
            skip = False
            continue
        if tok in SEPARATORS:
            out.append([])
        elif tok in (">", "<", ">>"):
            skip = True
        else:
            out[-1].append(tok)
    return [s for s in out if s]


def _object(kind: str, name: str, namespace: str, *, with_pull_secrets: bool) -> dict[str, Any]:
    pod_spec: dict[str, Any] = {"containers": [{"name": "app", "image": "x"}],
                                "imagePullSecrets": [{"name": "kept-secret"}],
                                "volumes": [{"name": "model", "image": {"reference": "x"}}]}
    meta = {"name": name, "namespace": namespace}
    if kind == "serviceaccount":
        sa: dict[str, Any] = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}
        if with_pull_secrets:
            sa["imagePullSecrets"] = [{"name": "kept-secret"}]
        return sa
    template = {"metadata": {"labels": {"app": name}}, "spec": pod_spec}
    spec: dict[str, Any] = {"selector": {"matchLabels": {"app": name}}, "template": template}
    if kind == "cronjob":
        spec = {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}
    api_version, kind_name = CONTROLLERS[kind]
    return {"apiVersion": api_version, "kind": kind_name, "metadata": meta, "spec": spec}


def _target(args: list[str]) -> tuple[str, str, list[str]]:
    """(kind, name, the remaining arguments) of ``KIND NAME …`` or ``KIND/NAME …``."""
    if "/" in args[0]:
        kind, name = args[0].split("/", 1)
        return kind, name, args[1:]
    return args[0], args[1], args[2:]


def _namespace(args: list[str]) -> tuple[str, list[str]]:
    if "-n" in args:
        i = args.index("-n")
        return args[i + 1], args[:i] + args[i + 2:]
    return "default", args


def _run(kubectl: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([kubectl, *args], capture_output=True, text=True, timeout=60, env=ENV, cwd=cwd, check=False)


def check(kubectl: str, argv: list[str], cwd: Path) -> str:
    """Check one kubectl invocation; returns what was done ("ran" or "parsed")."""
    verb, args = argv[1], argv[2:]
    assert verb in VERBS, argv
    for a in args:
        if a.startswith("-") and a != "-":   # "-" is stdin (-f -)
            assert a.split("=", 1)[0] in FLAGS, (a, argv)
    if verb == "create":
        for a in args:
            if a.startswith("--from-file="):
                (cwd / a.split("=")[-1]).write_text('{"auths":{}}')
        extra = [] if any(a.startswith("--dry-run") for a in args) else ["--dry-run=client"]
        extra += [] if "-o" in args else ["-o", "name"]
        r = _run(kubectl, ["create", *args, *extra], cwd)
        assert r.returncode == 0, (argv, r.stderr)
        return "ran"
    if verb in ("patch", "set"):
        sub = []
        if verb == "set":
            assert args[0] == "image", argv
            sub, args = ["image"], args[1:]
        kind, name, rest = _target(args)
        if kind == "pod" or kind.count(".") or kind == "job":
            return "parsed"
        ns, rest = _namespace(rest)
        # A service account gets a list to keep, unless the fix creates the list (it read the account: none).
        creates = any('"path":"/imagePullSecrets","value"' in a for a in rest)
        obj = cwd / f"{kind}-{name}.json"
        obj.write_text(json.dumps(_object(kind, name, ns, with_pull_secrets=not creates)))
        r = _run(kubectl, [verb, *sub, "-f", obj.name, "--local", *rest, "-o", "json"], cwd)
        assert r.returncode == 0, (argv, r.stderr)
        patched = json.loads(r.stdout)
        if kind == "serviceaccount" and not creates:
            assert {"name": "kept-secret"} in patched["imagePullSecrets"], argv   # appended, not replaced
        elif kind != "serviceaccount" and "imagePullSecrets" in " ".join(rest):
            spec = patched["spec"]["jobTemplate"]["spec"] if kind == "cronjob" else patched["spec"]
            assert {"name": "kept-secret"} in spec["template"]["spec"]["imagePullSecrets"], argv
        return "ran"
    positional, i = [], 0
    while i < len(args):   # flags that take a value as the next argument: skip both
        if args[i] in ("-n", "-o", "-f", "-p", "-L", "--type", "--image"):
            i += 2
            continue
        if not args[i].startswith("-"):
            positional.append(args[i])
        i += 1
    if verb in ("replace", "apply"):
        assert "-f" in args and not positional, argv
    else:
        assert positional and all(p.count("/") <= 1 for p in positional), argv
    return "parsed"


def test_every_printed_kubectl_command_is_one_kubectl_accepts(commands: list[str], tmp_path: Path) -> None:
    kubectl = need_binary("kubectl")
    done = {"ran": 0, "parsed": 0}
    for c in commands:
        for argv in stages(c):
            if argv[0] == "kubectl":
                done[check(kubectl, argv, tmp_path)] += 1
    print(done)
    # The example and the review print creates, patches (owner templates, service accounts) and set image.
    assert done["ran"] >= 20 and done["parsed"] >= 10, done


def test_the_splitter_sees_each_stage() -> None:
    line = ("(umask 077 && kubectl get secret s -n t -o jsonpath='{.data.\\.x}' | base64 -d > f) "
            "# a comment | not a stage")
    assert stages(line) == [["umask", "077"], ["kubectl", "get", "secret", "s", "-n", "t", "-o", "jsonpath={.data.\\.x}"],
                            ["base64", "-d"]]


def _hand_made() -> list[str]:
    """Shapes the files do not reach: a service account that was not read, a dockercfg secret of two registries."""
    from pulldoctor.cluster.context import PullSecrets
    from pulldoctor.diagnosis.evidence import Evidence
    from pulldoctor.diagnosis.rules import decide, fixes
    from pulldoctor.keyring import Credential, Entry, Keyring
    from pulldoctor.messages import classify
    from pulldoctor.reference import parse

    img = "registry.example.invalid/shop/api:1"
    msg = (f'failed to pull and unpack image "{img}": failed to resolve reference "{img}": pulling from host '
           "registry.example.invalid failed with status code [manifests 1]: 401 Unauthorized")
    base: dict[str, Any] = {"namespace": "shop", "pod": "api-7c9d8f6b5-x2x4q", "container": "app", "image": img,
                            "waiting_reason": "ImagePullBackOff", "message": msg, "classification": classify(msg),
                            "owner": ("Deployment", "api"), "ref": parse(img), "probe_note": "not probed"}
    unread_sa = Evidence(**base, secrets=PullSecrets(checked=False))
    entry = Entry(key="registry.example.invalid", source="secret shop/cfg", credential=Credential("u", "p"),
                  has_username=True, has_password=True)
    dockercfg = Evidence(**base, lookup=Keyring([entry]).lookup(parse(img)),
                         secrets=PullSecrets(names=["cfg"], source="pod", types={"cfg": "kubernetes.io/dockercfg"}),
                         entry_keys=[("registry.example.invalid", "secret shop/cfg"), ("ghcr.io", "secret shop/cfg")])
    out: list[str] = []
    for e in (unread_sa, dockercfg):
        out += [c for f in fixes(decide(e), e) for c in f.commands]
    return out


def _jq(stage: list[str], doc: dict[str, Any]) -> dict[str, Any]:
    jq = need_binary("jq")
    args = ["USER:PASSWORD-b64" if a.startswith("$(printf") else a for a in stage[1:]]
    r = subprocess.run([jq, *args], input=json.dumps(doc), capture_output=True, text=True, timeout=30, check=False)
    assert r.returncode == 0, (stage, r.stderr)
    out: dict[str, Any] = json.loads(r.stdout)
    return out


def _b64(obj: object) -> str:
    import base64

    return base64.b64encode(json.dumps(obj).encode()).decode()


def test_read_change_write_pipelines_keep_what_they_did_not_read(commands: list[str], tmp_path: Path) -> None:
    import base64

    kubectl = need_binary("kubectl")
    hand = _hand_made()
    for c in hand:
        for argv in stages(c):
            if argv[0] == "kubectl":
                check(kubectl, argv, tmp_path)
    checked = 0
    for c in [*commands, *hand]:
        parts = stages(c)
        if len(parts) < 3 or parts[1][0] != "jq" or parts[0][:3] not in (["kubectl", "get", "secret"],
                                                                         ["kubectl", "get", "serviceaccount"]):
            continue
        kind, name = parts[0][2], parts[0][3]
        if kind == "secret" and not any("@base64d" in a for a in parts[1]):
            continue   # a copy to another namespace (kubectl apply of the whole secret, unchanged)
        if kind == "serviceaccount":
            for had in ([{"name": "kept-secret"}], None):
                sa: dict[str, Any] = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}
                if had:
                    sa["imagePullSecrets"] = had
                got = [r["name"] for r in _jq(parts[1], sa)["imagePullSecrets"]]
                assert got[:-1] == [r["name"] for r in had or []] and len(got) == len(had or []) + 1, (c, got)
        else:
            dockercfg = ".dockercfg" in parts[1]
            other = {"auth": base64.b64encode(b"g:keep-me").decode()}
            cfg: dict[str, Any] = {"ghcr.io": other, "registry.example.invalid": {"auth": "b2xkOm9sZA=="}}
            data = {".dockercfg": _b64(cfg)} if dockercfg else {".dockerconfigjson": _b64({"auths": cfg})}
            secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": data,
                      "type": "kubernetes.io/dockercfg" if dockercfg else "kubernetes.io/dockerconfigjson"}
            new = _jq(parts[1], secret)
            key = next(iter(new["data"]))
            doc = json.loads(base64.b64decode(new["data"][key]))
            auths = doc if dockercfg else doc["auths"]
            changed = next(k for k in auths if k != "ghcr.io")
            assert auths["ghcr.io"] == other and auths[changed] == {"auth": "USER:PASSWORD-b64"}, (c, auths)
        assert parts[-1][:2] == ["kubectl", "replace"], c   # replace: refuses a change made in between
        checked += 1
    assert checked >= 3, checked
