"""ECR tokens in pull secrets and the kubelet's credential providers (issue 15, steps 1-2): offline, through
the real CLI reading ``kubectl get -o json`` files, with a canary token that must never be printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulldoctor.cloud import ecrtoken, providers
from pulldoctor.errors import InputError
from tests.cloudfiles import ECR, INSTANCE_PID, ecr_token, head_403, hours_ago, write_case
from tests.helpers import assert_one_line_error, cli

IMAGE = f"{ECR}/shop/app:v1"
EXPIRED_TEXT = "\ndenied: Your authorization token has expired. Reauthenticate and try again."


def _json(r) -> dict:
    assert r.returncode in (0, 1), r.stderr
    return json.loads(r.stdout)


def _finding(tmp: Path, *extra: str) -> dict:
    r = cli("diagnose", "--from", str(tmp), "--no-probe", "--no-cloud", "-o", "json", *extra)
    return _json(r)["findings"][0]


# --- ECR token envelopes -----------------------------------------------------------------------------


def test_ecr_host_parses_account_region_and_china() -> None:
    assert ecrtoken.ecr_host(ECR) == ecrtoken.EcrHost("123456789012", "us-east-1")
    assert ecrtoken.ecr_host("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn").region == "cn-north-1"
    assert ecrtoken.ecr_host("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com") is not None
    for host in ("ecr.us-east-1.amazonaws.com", "12345.dkr.ecr.us-east-1.amazonaws.com", "docker.io",
                 "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.io"):
        assert ecrtoken.ecr_host(host) is None


def test_token_expiry_decodes_offline() -> None:
    tok = ecrtoken.decode(ecr_token(1_700_000_000))
    assert tok.expires_at is not None and int(tok.expires_at.timestamp()) == 1_700_000_000


@pytest.mark.parametrize("password", ["not-base64!!", "aGVsbG8=", ecr_token(0)[:-8] + "AAAA",
                                      "eyJleHBpcmF0aW9uIjogInNvb24ifQ==", "W10=", "x" * 70_000,
                                      "eyJleHBpcmF0aW9uIjogMWUzMDB9"])
def test_malformed_envelope_is_a_note_never_an_exception(password: str) -> None:
    tok = ecrtoken.decode(password)
    assert tok.expires_at is None and tok.note and password[:20] not in tok.note


@given(st.text(max_size=300))
def test_decode_never_raises(text: str) -> None:
    ecrtoken.decode(text)


def test_expired_token_with_403_is_auth_invalid_certain_and_never_printed(tmp_path: Path) -> None:
    password = ecr_token(hours_ago(13))
    write_case(tmp_path, IMAGE, head_403(IMAGE), secret_password=password)
    for fmt in ("json", "text", "markdown"):
        r = cli("diagnose", "--from", str(tmp_path), "--no-probe", "--no-cloud", "-o", fmt)
        assert r.returncode == 1, r.stderr
        for canary in (password, "CANARYPAYLOAD", "CANARYDATAKEY", password[10:40]):
            assert canary not in r.stdout + r.stderr
    f = _finding(tmp_path)
    assert (f["cause"], f["confidence"]) == ("auth_invalid", "certain")
    assert "expired at" in f["summary"] and "secret shop/ecr-pull" in f["summary"]
    text = json.dumps(f["fixes"])
    assert "get-login-password --region us-east-1" in text and "ecr-credential-provider" in text


def test_expired_token_text_from_ecr_is_auth_invalid_certain(tmp_path: Path) -> None:
    write_case(tmp_path, IMAGE, head_403(IMAGE) + EXPIRED_TEXT, secret_password=ecr_token(hours_ago(20)))
    f = _finding(tmp_path)
    assert (f["cause"], f["confidence"]) == ("auth_invalid", "certain")


def test_valid_token_is_not_called_expired(tmp_path: Path) -> None:
    write_case(tmp_path, IMAGE, head_403(IMAGE), secret_password=ecr_token(hours_ago(-6)))
    f = _finding(tmp_path)
    assert f["cause"] == "forbidden" and f["confidence"] != "certain"
    assert any("ECR token in secret shop/ecr-pull expires" in e["text"] for e in f["evidence"])


def test_malformed_token_is_a_note_in_the_evidence(tmp_path: Path) -> None:
    write_case(tmp_path, IMAGE, head_403(IMAGE), secret_password="Q0FOQVJZLW5vdC1qc29u")
    f = _finding(tmp_path)
    assert f["cause"] == "forbidden"
    assert any("not an ECR token envelope" in e["text"] for e in f["evidence"])
    assert "Q0FOQVJZLW5vdC1qc29u" not in json.dumps(f)


# --- The kubelet's credential providers ---------------------------------------------------------------


@pytest.mark.parametrize(("pid", "image", "name"), [
    (INSTANCE_PID, f"{ECR}/app", "ecr-credential-provider"),
    ("aws:///cn-north-1a/i-0123456789abcdef0", "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app",
     "ecr-credential-provider"),
    ("gce://proj/europe-west1-b/node-a", "europe-docker.pkg.dev/proj/repo/app", "auth-provider-gcp"),
    ("gce://proj/europe-west1-b/node-a", "eu.gcr.io/proj/app", "auth-provider-gcp"),
    ("gce://proj/europe-west1-b/node-a", "gcr.io/proj/app", "auth-provider-gcp"),
    ("azure:///subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/n",
     "acme.azurecr.io/app", "acr-credential-provider"),
])
def test_default_provider_per_node_cloud(pid: str, image: str, name: str) -> None:
    p = providers.provider_for(image, pid, None)
    assert p is not None and p.name == name


@pytest.mark.parametrize(("pid", "image"), [
    ("gce://proj/z/n", f"{ECR}/app"),               # ECR from a GCE node: no provider
    (INSTANCE_PID, "acme.azurecr.io/app"),
    ("kind://docker/kind/kind-control-plane", f"{ECR}/app"),
    (None, f"{ECR}/app"),
    (INSTANCE_PID, "docker.io/library/nginx"),
    (INSTANCE_PID, "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.io/app"),
])
def test_no_provider_elsewhere(pid: str | None, image: str) -> None:
    assert providers.provider_for(image, pid, None) is None


def test_aws_instance_from_provider_id() -> None:
    assert providers.aws_instance(INSTANCE_PID) == ("us-east-1a", "i-0123456789abcdef0")
    assert providers.aws_instance("aws:///us-east-1a/fargate-ip-10-0-0-1") is None
    assert providers.aws_instance("gce://p/z/n") is None


def test_403_on_an_eks_node_names_the_provider_not_anonymous(tmp_path: Path) -> None:
    write_case(tmp_path, IMAGE, head_403(IMAGE))
    f = _finding(tmp_path)
    text = json.dumps(f)
    assert "anonymously" not in text and "sends no credentials" not in text
    assert "ecr-credential-provider (default for aws:// nodes) with the node's IAM role" in text


def test_without_a_cloud_node_the_keyring_says_anonymous(tmp_path: Path) -> None:
    write_case(tmp_path, IMAGE, head_403(IMAGE), provider_id="kind://docker/kind/kind-worker")
    assert "anonymously" in json.dumps(_finding(tmp_path))


_CONFIG = """\
apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
  - name: my-ecr-helper
    matchImages: ["*.dkr.ecr.*.amazonaws.com", "registry.corp.example"]
    defaultCacheDuration: "12h"
    apiVersion: credentialprovider.kubelet.k8s.io/v1
    args: [get-credentials]
    env:
      - name: AWS_PROFILE
        value: CANARYENVVALUE
"""


def test_credential_provider_config_replaces_the_defaults(tmp_path: Path) -> None:
    cfg = tmp_path / "cp.yaml"
    cfg.write_text(_CONFIG)
    loaded = providers.load_config(str(cfg))
    assert [p.name for p in loaded] == ["my-ecr-helper"]
    # Applies to every node, whatever its cloud: it is the kubelet's own config.
    assert providers.provider_for("registry.corp.example/app", "kind://x", loaded) is not None
    assert providers.provider_for("acme.azurecr.io/app", "azure:///x", loaded) is None
    case = write_case(tmp_path / "c", IMAGE, head_403(IMAGE))
    f = _finding(case, "--credential-provider-config", str(cfg))
    text = json.dumps(f)
    assert f"my-ecr-helper (--credential-provider-config {cfg})" in text and "CANARYENVVALUE" not in text
    (tmp_path / "cp.json").write_text(json.dumps({
        "apiVersion": "kubelet.config.k8s.io/v1", "kind": "CredentialProviderConfig",
        "providers": [{"name": "x", "matchImages": ["*.io"], "defaultCacheDuration": "1m",
                       "apiVersion": "credentialprovider.kubelet.k8s.io/v1"}]}))
    assert providers.load_config(str(tmp_path / "cp.json"))[0].match_images == ("*.io",)


@pytest.mark.parametrize(("content", "needle"), [
    ("{not yaml: [", "not valid YAML"),
    ("kind: KubeletConfiguration\napiVersion: kubelet.config.k8s.io/v1beta1\n", "not a CredentialProviderConfig"),
    ("kind: CredentialProviderConfig\napiVersion: kubelet.config.k8s.io/v1\nproviders: []\n", "no providers"),
    ("kind: CredentialProviderConfig\napiVersion: kubelet.config.k8s.io/v1\nproviders:\n - name: x\n", "matchImages"),
    ("kind: CredentialProviderConfig\napiVersion: kubelet.config.k8s.io/v1\nproviders:\n - name: x\n"
     "   matchImages: ['*.io']\n   apiVersion: credentialprovider.kubelet.k8s.io/v1\n", "defaultCacheDuration"),
    ("\x00\xff", "not UTF-8"),
])
def test_bad_credential_provider_config_is_one_line_exit_2(tmp_path: Path, content: str, needle: str) -> None:
    cfg = tmp_path / "cp.yaml"
    cfg.write_bytes(content.encode("latin-1"))
    case = write_case(tmp_path / "c", IMAGE, head_403(IMAGE))
    r = cli("diagnose", "--from", str(case), "--no-probe", "--credential-provider-config", str(cfg))
    assert_one_line_error(r, "--credential-provider-config", needle)
    with pytest.raises(InputError):
        providers.load_config(str(cfg))


def test_missing_credential_provider_config_is_one_line_exit_2(tmp_path: Path) -> None:
    case = write_case(tmp_path / "c", IMAGE, head_403(IMAGE))
    r = cli("diagnose", "--from", str(case), "--no-probe", "--credential-provider-config", str(tmp_path / "nope"))
    assert_one_line_error(r, "--credential-provider-config", "No such file")


@pytest.mark.parametrize("message", [
    "Failed getting credential from external registry credential provider: error execing credential provider "
    f"plugin ecr-credential-provider for image {ECR}/shop/app: exit status 1",
    f'Back-off pulling image "{IMAGE}": ErrImagePull: failed to pull and unpack image "{IMAGE}": failed to resolve '
    f'reference "{IMAGE}": pull access denied, repository does not exist or may require authorization: '
    "authorization failed: no basic auth credentials; error execing credential provider plugin "
    "ecr-credential-provider for image: plugin not found",
])
def test_provider_failure_is_auth_missing_naming_the_provider(tmp_path: Path, message: str) -> None:
    write_case(tmp_path, IMAGE, message)
    f = _finding(tmp_path)
    assert (f["cause"], f["confidence"]) == ("auth_missing", "certain")
    assert "ecr-credential-provider failed" in f["summary"]
    assert "image-credential-provider-config" in json.dumps(f["fixes"])


# --- A probe cannot speak for the node's credential provider --------------------------------------------


def _ecr_evidence(cause, probe_cause, *, provider_id: str | None = INSTANCE_PID):
    from datetime import UTC, datetime

    from pulldoctor.cluster.context import NodeInfo
    from pulldoctor.diagnosis.evidence import Evidence
    from pulldoctor.keyring import Lookup
    from pulldoctor.messages import Classification
    from pulldoctor.reference import parse
    from pulldoctor.registry.models import ProbeResult, Step

    ref = parse(IMAGE)
    return Evidence(namespace="shop", pod="app-1", container="app", image=IMAGE, waiting_reason="ImagePullBackOff",
                    message="m", classification=Classification(cause=cause, fields={}, signals=[cause]), ref=ref,
                    lookup=Lookup(image=ref.name, matches=[], used_default_fallback=False, explanation=""),
                    node=NodeInfo(name="node-a", provider_id=provider_id),
                    provider=providers.provider_for(ref.name, provider_id, None),
                    probe=ProbeResult(image=IMAGE, cause=probe_cause, steps=[Step("manifest", False, "401")],
                                      credentials_sent=False, status=401),
                    now=datetime.now(UTC))


@pytest.mark.parametrize("claimed", ["forbidden", "auth_missing"])
def test_an_anonymous_probe_refusal_does_not_prove_anything_about_the_nodes_provider(claimed: str) -> None:
    from pulldoctor.causes import Cause
    from pulldoctor.diagnosis.model import Confidence
    from pulldoctor.diagnosis.rules import decide

    v = decide(_ecr_evidence(Cause(claimed), Cause.AUTH_MISSING))
    assert v.cause == Cause(claimed) and v.confidence != Confidence.CERTAIN
    assert any("says nothing about the node's own pull" in e.text for e in v.evidence)
    # Without a provider (not an EC2 node) the anonymous 401 is the node's answer too: as before.
    v = decide(_ecr_evidence(Cause.AUTH_MISSING, Cause.AUTH_MISSING, provider_id=None))
    assert (v.cause, v.confidence) == (Cause.AUTH_MISSING, Confidence.CERTAIN)


def test_expired_token_probed_against_the_lab_nginx_speaking_as_ecr(tmp_path: Path, lab) -> None:
    """The registry side on a real server: the node's hosts.toml sends the ECR host to the lab's nginx, which
    answers with ECR's 403 text (it never challenges, so like containerd the probe sends no credentials).
    The verdict rests on the token's own expiry; the token never shows."""
    password = ecr_token(hours_ago(13))
    image = f"{ECR}/ecrexpired/app:v1"
    message = head_403(image) + EXPIRED_TEXT
    case = write_case(tmp_path / "case", image, message, secret_password=password)
    certs_d = tmp_path / "certs.d" / ECR
    certs_d.mkdir(parents=True)
    (certs_d / "hosts.toml").write_text(f'server = "http://{lab.nginx}"\n')
    r = cli("diagnose", "--from", str(case), "--hosts-dir", str(tmp_path / "certs.d"), "--no-cloud", "-o", "json")
    assert r.returncode == 1, r.stderr
    for canary in (password, "CANARYPAYLOAD", "CANARYDATAKEY"):
        assert canary not in r.stdout + r.stderr
    f = json.loads(r.stdout)["findings"][0]
    assert (f["cause"], f["confidence"]) == ("auth_invalid", "certain")
    assert f["probe"]["status"] == 403, f["probe"]
    assert "authorization token has expired" in json.dumps(f["probe"])


def test_no_basic_auth_credentials_on_an_eks_node_points_at_the_provider_not_a_secret(tmp_path: Path) -> None:
    message = (f'failed to pull and unpack image "{IMAGE}": failed to resolve reference "{IMAGE}": pull access '
               "denied, repository does not exist or may require authorization: authorization failed: no basic auth "
               "credentials")
    write_case(tmp_path, IMAGE, message)
    f = _finding(tmp_path)
    assert f["cause"] == "auth_missing"
    fixes = json.dumps(f["fixes"])
    assert "should get credentials" in fixes and "ecr-credential-provider" in fixes
    assert "kubectl create secret" not in fixes
    write_case(tmp_path / "kind", IMAGE, message, provider_id="kind://docker/kind/kind-worker")
    assert "kubectl create secret" in json.dumps(_finding(tmp_path / "kind")["fixes"])
