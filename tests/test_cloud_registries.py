"""Artifact Registry and ACR without an emulator (issue 15, step 4): from the registry's message and the
node's cloud, a fix with the names that were read, saying plainly that it is not checked live."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cloudfiles import write_case
from tests.helpers import cli

GAR = "europe-docker.pkg.dev/acme-prod/containers/web:1.2"
GAR_403 = (f'failed to pull and unpack image "{GAR}": failed to resolve reference "{GAR}": failed to authorize: '
           "failed to fetch oauth token: unexpected status from GET request to https://europe-docker.pkg.dev/v2/"
           "token?scope=repository%3Aacme-prod%2Fcontainers%2Fweb%3Apull&service=europe-docker.pkg.dev: 403 Forbidden"
           '\ndenied: Permission "artifactregistry.repositories.downloadArtifacts" denied on resource '
           '"projects/acme-prod/locations/europe/repositories/containers" (or it may not exist)')
GCE = "gce://acme-prod/europe-west1-b/gke-pool-1-abcd"
ACR = "acme.azurecr.io/app:1"
ACR_401 = (f'failed to pull and unpack image "{ACR}": failed to resolve reference "{ACR}": failed to authorize: '
           "failed to fetch anonymous token: unexpected status from GET request to https://acme.azurecr.io/oauth2/"
           "token?scope=repository%3Aapp%3Apull&service=acme.azurecr.io: 401 Unauthorized")
SUB = "0b1f6471-1bf0-4dda-aec3-111122223333"
AZ = (f"azure:///subscriptions/{SUB}/resourceGroups/mc_rg_aks_westeurope/providers/Microsoft.Compute/"
      "virtualMachineScaleSets/aks-nodepool1-1/virtualMachines/0")


def finding(tmp: Path, image: str, message: str, pid: str) -> dict:
    write_case(tmp, image, message, provider_id=pid)
    r = cli("diagnose", "--from", str(tmp), "--no-probe", "-o", "json")
    assert r.returncode == 1, r.stderr
    return json.loads(r.stdout)["findings"][0]


def commands(f: dict) -> list[str]:
    return [c for fx in f["fixes"] for c in fx["commands"]]


def test_gar_403_on_a_gke_node_grants_reader_on_the_repository_the_message_names(tmp_path: Path) -> None:
    f = finding(tmp_path, GAR, GAR_403, GCE)
    assert f["cause"] == "forbidden"
    cmds = commands(f)
    assert ("gcloud artifacts repositories add-iam-policy-binding containers --location=europe --project=acme-prod "
            "--member=serviceAccount:SA_EMAIL --role=roles/artifactregistry.reader") in cmds
    assert any(c.startswith("gcloud compute instances describe gke-pool-1-abcd --zone=europe-west1-b "
                            "--project=acme-prod") for c in cmds)
    assert "does not check Artifact Registry IAM live" in json.dumps(f["fixes"])
    assert "auth-provider-gcp" in json.dumps(f["evidence"])


def test_gar_403_elsewhere_keeps_the_generic_read_only_advice(tmp_path: Path) -> None:
    f = finding(tmp_path, GAR, GAR_403, "kind://docker/kind/kind-worker")
    assert not any("add-iam-policy-binding" in c for c in commands(f))


def test_acr_401_on_an_aks_node_assigns_acr_pull_to_the_kubelet_identity(tmp_path: Path) -> None:
    f = finding(tmp_path, ACR, ACR_401, AZ)
    assert f["cause"] == "auth_missing"
    cmds = commands(f)
    assert f"az aks check-acr --resource-group RG --name CLUSTER --acr acme.azurecr.io --subscription {SUB}" in cmds
    assert any(c.startswith("az role assignment create --role AcrPull") and "kubeletidentity" in c for c in cmds)
    assert "does not check Azure role assignments live" in json.dumps(f["fixes"])
    assert "kubectl create secret" not in json.dumps(f["fixes"])
    assert "anonymously" not in json.dumps(f)


def test_acr_401_off_azure_still_suggests_a_pull_secret(tmp_path: Path) -> None:
    f = finding(tmp_path, ACR, ACR_401, "kind://docker/kind/kind-worker")
    assert any("kubectl create secret docker-registry" in c for c in commands(f))
