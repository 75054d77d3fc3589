"""CRI-O's wording, from real parts: containers/image errors printed by Debian's skopeo and podman.

CRI-O pulls through containers/image (``copy.Image``), as ``skopeo copy`` and ``podman pull`` do, so the error
text a CRI-O node hands the kubelet is the text these tools print for the same failure (without their own
``level=fatal msg="…"`` / ``Error: `` framing). Every text here is made during the test against the real lab
(docker-registry, nginx on 127.0.0.1); nothing is hard-coded but the expected cause. The probe is then run on
the same image with CRI-O's semantics (``--runtime cri-o://…``) and must agree with the tool.

Not driven here: 429 (containers/image retries it with a 2/4/8/16 s back-off; the classifier's 429 rule is
pinned by tests/test_classify_rules.py with skopeo's text from the lab).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab import Lab
from parts import need_binary, need_root
from pulldoctor.causes import Cause
from pulldoctor.keyring import Credential
from pulldoctor.messages import classify
from pulldoctor.registry import ProbeOptions, probe_sync

pytestmark = [pytest.mark.lab]

C = Cause
_FATAL = re.compile(r'level=fatal msg="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Case:
    name: str
    image: str
    expected: Cause
    tls_verify: bool = False  # False: the registry is `insecure` in registries.conf (plain HTTP allowed)
    creds: tuple[str, str] | None = None
    ca_dir: str | None = None


class ContainersImage:
    """Runs skopeo and podman (both containers/image) with their own config and storage in a temp dir."""

    def __init__(self, tmp: Path) -> None:
        self.skopeo = need_binary("skopeo")
        self.podman = need_binary("podman")
        need_root("podman's storage")
        self.tmp = tmp
        (tmp / "policy.json").write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
        (tmp / "registries.conf").write_text('unqualified-search-registries = []\n')
        self.runroot = tempfile.mkdtemp(prefix="pd-run-", dir="/tmp")  # podman wants it under 50 characters
        self.env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(tmp),
                    "CONTAINERS_REGISTRIES_CONF": str(tmp / "registries.conf")}

    def _flags(self, case: Case, tls_flag: str) -> list[str]:
        out = [f"{tls_flag}={'true' if case.tls_verify else 'false'}"]
        if case.creds:
            out.append(f"--{'src-' if tls_flag.startswith('--src') else ''}creds={case.creds[0]}:{case.creds[1]}")
        if case.ca_dir:
            out.append(f"--{'src-' if tls_flag.startswith('--src') else ''}cert-dir={case.ca_dir}")
        return out

    def skopeo_copy(self, case: Case) -> str:
        cmd = [self.skopeo, "--policy", str(self.tmp / "policy.json"), "copy", "--retry-times", "0",
               *self._flags(case, "--src-tls-verify"), "--override-os", "linux", "--override-arch", "amd64",
               f"docker://{case.image}", f"dir:{self.tmp / 'out'}"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=self.env, check=False)
        assert r.returncode != 0, f"skopeo copy of {case.image} unexpectedly succeeded"
        found = _FATAL.findall(r.stderr)
        assert found, r.stderr[-2000:]
        text: str = json.loads(f'"{found[-1]}"')  # Go's %q escaping is JSON-compatible for these texts
        return text

    def podman_pull(self, case: Case) -> str:
        cmd = [self.podman, "--root", str(self.tmp / "root"), "--runroot", self.runroot,
               "--storage-driver", "vfs", "pull", "--quiet", "--os", "linux", "--arch", "amd64",
               *self._flags(case, "--tls-verify"), case.image]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=90, env=self.env, check=False)
        assert r.returncode != 0, f"podman pull of {case.image} unexpectedly succeeded"
        errors = [line.removeprefix("Error: ") for line in r.stderr.splitlines() if line.startswith("Error: ")]
        assert errors, r.stderr[-2000:]
        return errors[-1]


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContainersImage]:
    ci = ContainersImage(tmp_path_factory.mktemp("containers-image"))
    yield ci
    shutil.rmtree(ci.runroot, ignore_errors=True)


@pytest.fixture(scope="module")
def cases(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> list[Case]:
    fresh = lab.fresh_repo
    ok = lab.push(lab.open_registry, fresh("crio"), "v1")
    private = lab.push(lab.auth_registry, fresh("crio"), "v1", auth=(lab.user, lab.password))
    arm = lab.push(lab.open_registry, fresh("crio"), "v1", platforms=("linux/arm64", "linux/s390x"))
    tls = lab.push(lab.nginx_tls, fresh("crio"), "v1")
    wrongname = lab.nginx_tls_wrongname.replace("127.0.0.1", "localhost")
    ca_dir = tmp_path_factory.mktemp("certs")  # containers/image reads *.crt from --cert-dir
    (ca_dir / "ca.crt").write_bytes(Path(lab.expired_ca_cert).read_bytes())
    return [
        Case("tag missing", ok.ref.replace(":v1", ":nope"), C.TAG_NOT_FOUND),
        Case("basic, no credentials", private.ref, C.AUTH_MISSING),
        Case("basic, wrong credentials", private.ref, C.AUTH_INVALID, creds=(lab.user, "wrong")),
        Case("forbidden", f"{lab.nginx}/{fresh('denied')}:v1", C.FORBIDDEN),
        Case("server error 500", f"{lab.nginx}/{fresh('error500')}:v1", C.REGISTRY_SERVER_ERROR),
        Case("server error 503", f"{lab.nginx}/{fresh('error503')}:v1", C.REGISTRY_SERVER_ERROR),
        Case("dns", f"{lab.unresolvable}/demo/app:v1", C.DNS_FAILURE, tls_verify=True),
        Case("refused", f"{lab.closed_port}/demo/app:v1", C.NETWORK_UNREACHABLE),
        Case("tls unknown authority", tls.ref, C.TLS_ERROR, tls_verify=True),
        Case("tls wrong name", tls.ref.replace(lab.nginx_tls, wrongname), C.TLS_ERROR, tls_verify=True),
        Case("tls expired", tls.ref.replace(lab.nginx_tls, lab.nginx_tls_expired), C.TLS_ERROR, tls_verify=True,
             ca_dir=str(ca_dir)),
        Case("https to http", ok.ref, C.HTTP_VS_HTTPS, tls_verify=True),
        Case("platform", arm.ref, C.PLATFORM_MISMATCH),
    ]


def _host(image: str) -> str:
    return image.split("/", 1)[0]


@pytest.mark.parametrize("tool", ["skopeo", "podman"])
def test_classifier_on_containers_image_texts(tools: ContainersImage, cases: list[Case], tool: str) -> None:
    """Each lab failure, as containers/image words it, gets its cause, CRI-O as the runtime, and the host."""
    wrong = []
    for case in cases:
        if case.creds:
            continue  # worded as without credentials: see the next test
        text = tools.skopeo_copy(case) if tool == "skopeo" else tools.podman_pull(case)
        event = f'Failed to pull image "{case.image}": {text}'
        got = classify(event)
        if got.cause is not case.expected or got.fields.get("runtime") != "cri-o" \
                or got.fields.get("host") != _host(case.image):
            wrong.append(f"{case.name}: {got.cause} runtime={got.fields.get('runtime')} "
                         f"host={got.fields.get('host')} for {text!r}")
    assert not wrong, "\n".join(wrong)


def test_basic_auth_texts_say_credentials_were_sent_or_not(tools: ContainersImage, cases: list[Case]) -> None:
    """containers/image words a refused Basic login the same with and without credentials; the kubelet's
    message cannot tell them apart, so the classifier must not claim `auth_invalid` from the text alone."""
    by_name = {c.name: c for c in cases}
    none = tools.skopeo_copy(by_name["basic, no credentials"])
    wrong = tools.skopeo_copy(by_name["basic, wrong credentials"])
    assert none == wrong  # the real parts' own fact, which the rule below relies on
    # The message alone says "no credentials reached the registry"; diagnose upgrades it to auth_invalid
    # when the keyring shows credentials were sent (and the probe, which knows what it sent, says so).
    assert classify(f'Failed to pull image "{by_name["basic, wrong credentials"].image}": {wrong}').cause \
        is C.AUTH_MISSING


def test_probe_with_crio_semantics_agrees_with_containers_image(tools: ContainersImage, cases: list[Case],
                                                                 lab: Lab) -> None:
    """The probe, told the node runs CRI-O, reaches the verdict the real containers/image text stands for."""
    disagreements = []
    for case in cases:
        insecure = [] if case.tls_verify else [_host(case.image)]
        ca_file = str(lab.expired_ca_cert) if case.ca_dir else None
        opts = ProbeOptions.build(insecure_registries=insecure, ca_file=ca_file, runtime="cri-o://1.33.0",
                                  request_timeout=5.0, connect_timeout=3.0)
        creds = [Credential(*case.creds)] if case.creds else []
        res = probe_sync(case.image, credentials=creds, platform="linux/amd64", options=opts)
        if res.cause is not case.expected:
            disagreements.append(f"{case.name}: probe said {res.cause}, containers/image {case.expected}")
    assert not disagreements, "\n".join(disagreements)
