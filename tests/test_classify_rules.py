"""The classifier, wrapping by wrapping: synthetic messages built from the runtimes' real formats.

Each case names where its format comes from. "lab" means the exact text measured against containerd
1.6.20 and skopeo 1.9.3 here (/work/shared/research/real-components.md §4–5); "sem §6" means
/work/shared/research/kubelet-semantics.md §6; source files are those of the named project.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from pulldoctor.causes import Cause
from pulldoctor.messages import classify
from pulldoctor.messages.lexicon import anchor, words
from pulldoctor.messages.rules import RULES

C = Cause
DIGEST = "sha256:" + "ab" * 32


# --- the wrappers, as format functions --------------------------------------------------------------
def kubelet_failed(image: str, err: str) -> str:
    """pkg/kubelet/images/image_manager.go: event ``Failed to pull image %q: %v``."""
    return f'Failed to pull image "{image}": {err}'


def backoff_132(image: str, reason: str, err: str) -> str:
    """1.32+ waiting message (PR kubernetes#127918): ``Back-off pulling image %q: <Reason>: <err>``."""
    return f'Back-off pulling image "{image}": {reason}: {err}'


def grpc(code: str, desc: str) -> str:
    """cri-client keeps ``rpc error: code = X desc =`` for every code but Unknown (remote_image.go)."""
    return desc if code == "Unknown" else f"rpc error: code = {code} desc = {desc}"


def ctrd(ref: str, inner: str) -> str:
    """containerd 1.6/1.7/2.0 CRI PullImage (pkg/cri/server/image_pull.go, images.Resolve)."""
    return f'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": {inner}'


def ctrd21(ref: str, inner: str) -> str:
    """containerd 2.1+ with the transfer service: ``failed to resolve image: …`` (sem §6)."""
    return f'failed to pull and unpack image "{ref}": failed to resolve image: {inner}'


def crio_source(ref: str, inner: str) -> str:
    """containers/image docker_image_src.go via CRI-O: ``initializing source docker://REF: …``."""
    return f"initializing source docker://{ref}: {inner}"


def dockerd(inner: str) -> str:
    """Docker/cri-dockerd: the daemon's API error ``Error response from daemon: …``."""
    return f"Error response from daemon: {inner}"


@dataclass
class Case:
    id: str
    message: str
    cause: Cause
    fields: dict[str, object] = field(default_factory=dict)
    source: str = ""


REF = "127.0.0.1:5000/demo/hello:v1"
HUB = "docker.io/library/nginx:1.27"

CASES: list[Case] = [
    # ---- containerd ------------------------------------------------------------------------------
    Case("ctrd-tag-404", kubelet_failed("127.0.0.1:5000/demo/hello:nope", grpc("NotFound", ctrd(
        "127.0.0.1:5000/demo/hello:nope", "127.0.0.1:5000/demo/hello:nope: not found"))),
        C.TAG_NOT_FOUND, {"grpc_code": "NotFound", "runtime": "containerd", "host": "127.0.0.1:5000",
                          "also_possible": ["repo_not_found", "repo_not_found_or_no_access"]}, "lab"),
    Case("ctrd21-tag-404", grpc("NotFound", ctrd21(HUB, f"{HUB}: not found")), C.TAG_NOT_FOUND,
         {"image": HUB, "runtime": "containerd"}, "sem §6 (2.1 transfer service)"),
    Case("ctrd-digest-404", grpc("NotFound", ctrd(f"127.0.0.1:5000/demo/hello@{DIGEST}",
                                                  f"127.0.0.1:5000/demo/hello@{DIGEST}: not found")),
         C.TAG_NOT_FOUND, {"image": f"127.0.0.1:5000/demo/hello@{DIGEST}"}, "lab"),
    Case("ctrd16-401-host", grpc("Unknown", ctrd("127.0.0.1:5001/private/hello:v1",
         "pulling from host 127.0.0.1:5001 failed with status code [manifests v1]: 401 Unauthorized")),
         C.AUTH_MISSING, {"status": 401, "host": "127.0.0.1:5001"}, "lab (containerd 1.6.20 resolver.go)"),
    Case("ctrd20-401-head", ctrd(HUB, "unexpected status from HEAD request to "
         "https://registry-1.docker.io/v2/library/nginx/manifests/1.27: 401 Unauthorized"),
         C.AUTH_MISSING, {"status": 401, "host": "registry-1.docker.io",
                          "url": "https://registry-1.docker.io/v2/library/nginx/manifests/1.27"},
         "containerd core/remotes/errors/errors.go ErrUnexpectedStatus"),
    Case("ctrd-anon-token", ctrd("127.0.0.1:8080/tokenfail/app:v1", "failed to authorize: failed to fetch "
         "anonymous token: unexpected status: 401 Unauthorized"), C.AUTH_MISSING, {"status": 401}, "lab"),
    Case("ctrd-oauth-401", ctrd("127.0.0.1:8080/tokenfail/app:v1", "failed to authorize: failed to fetch "
         "oauth token: unexpected status: 401 Unauthorized"), C.AUTH_INVALID, {"status": 401}, "lab"),
    Case("ctrd20-oauth-post", ctrd(HUB, "failed to authorize: failed to fetch oauth token: unexpected status "
         "from POST request to https://auth.docker.io/token: 401 Unauthorized"), C.AUTH_INVALID,
         {"url": "https://auth.docker.io/token"}, "containerd 2.x remotes/docker/auth/fetch.go"),
    Case("ctrd-insufficient-scope", ctrd("127.0.0.1:8080/hubmissing/app:latest", "pull access denied, "
         "repository does not exist or may require authorization: server message: insufficient_scope: "
         "authorization failed"), C.REPO_NOT_FOUND_OR_NO_ACCESS, {"runtime": "containerd"}, "lab"),
    Case("ctrd-ecr-no-creds", ctrd("1234.dkr.ecr.eu-west-1.amazonaws.com/app:1", "pull access denied, "
         "repository does not exist or may require authorization: authorization failed: no basic auth "
         "credentials"), C.AUTH_MISSING, {"host": "1234.dkr.ecr.eu-west-1.amazonaws.com"}, "sem §6 (ECR)"),
    Case("ctrd-403", ctrd("127.0.0.1:8080/denied/hello:v1", "pulling from host 127.0.0.1:8080 failed with "
         "status code [manifests v1]: 403 Forbidden"), C.FORBIDDEN, {"status": 403}, "lab"),
    Case("ctrd17-429-blob", "failed to pull and unpack image \"docker.io/library/nginx:latest\": failed to "
         "copy: httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/library/"
         f"nginx/manifests/{DIGEST}: 429 Too Many Requests - Server message: toomanyrequests: You have "
         "reached your pull rate limit. You may increase the limit by authenticating and upgrading: "
         "https://www.docker.com/increase-rate-limit", C.RATE_LIMITED,
         {"status": 429, "host": "registry-1.docker.io"}, "sem §6 (containerd 1.7 fetcher.go)"),
    Case("ctrd20-429-body", ctrd(HUB, "unexpected status from GET request to https://registry-1.docker.io/v2/"
         "library/nginx/manifests/1.27: 429 Too Many Requests\ntoomanyrequests: You have reached your pull "
         "rate limit."), C.RATE_LIMITED, {"status": 429}, "sem §6 (containerd 2.x)"),
    Case("ctrd20-429-retry-after", ctrd(HUB, "unexpected status from HEAD request to https://r.example.com/"
         "v2/a/manifests/1: 429 Too Many Requests (Retry-After: 2026-11-26T13:00:00Z)"), C.RATE_LIMITED,
         {"status": 429}, "containerd core/remotes/errors/errors.go (Retry-After)"),
    Case("ctrd-platform", grpc("NotFound", 'failed to pull and unpack image "127.0.0.1:5000/demo/armonly:v1": '
         "no match for platform in manifest: not found"), C.PLATFORM_MISMATCH, {"runtime": "containerd"},
         "lab"),
    Case("ctrd-refused", ctrd(REF, 'failed to do request: Head "http://127.0.0.1:5999/v2/demo/hello/manifests/'
         'v1": dial tcp 127.0.0.1:5999: connect: connection refused'), C.NETWORK_UNREACHABLE,
         {"host": "127.0.0.1:5999"}, "lab"),
    Case("ctrd-dns", ctrd("nonexistent.invalid/demo/hello:v1", 'failed to do request: Head "https://'
         'nonexistent.invalid/v2/demo/hello/manifests/v1": dial tcp: lookup nonexistent.invalid on '
         "10.255.255.53:53: no such host"), C.DNS_FAILURE,
         {"resolver": "10.255.255.53:53", "host": "nonexistent.invalid"}, "lab"),
    Case("ctrd-x509", ctrd("127.0.0.1:8443/demo/hello:v1", 'failed to do request: Head "https://127.0.0.1:8443'
         '/v2/demo/hello/manifests/v1": tls: failed to verify certificate: x509: certificate signed by '
         "unknown authority"), C.TLS_ERROR, {"host": "127.0.0.1:8443"}, "lab + Go 1.20 crypto/tls"),
    Case("ctrd-x509-name", ctrd("localhost:8444/demo/hello:v1", 'failed to do request: Head "https://'
         'localhost:8444/v2/demo/hello/manifests/v1": x509: certificate is valid for wrong.example, not '
         "localhost"), C.TLS_ERROR, {}, "lab"),
    Case("ctrd-https-to-http", ctrd("localhost:5000/demo/hello:v1", 'failed to do request: Head "https://'
         'localhost:5000/v2/demo/hello/manifests/v1": http: server gave HTTP response to HTTPS client'),
         C.HTTP_VS_HTTPS, {}, "lab"),
    Case("ctrd-http-to-https-400", ctrd("localhost:8443/demo/hello:v1", "pulling from host localhost:8443 "
         "failed with status code [manifests v1]: 400 Bad Request"), C.HTTP_VS_HTTPS, {"status": 400}, "lab"),
    Case("ctrd-bad-ref", 'failed to parse image reference "127.0.0.1:5000/UPPER/case:v1": invalid reference '
         "format: repository name must be lowercase", C.INVALID_IMAGE_NAME, {}, "lab (CRI)"),
    Case("ctrd-canceled", grpc("Canceled", ctrd("127.0.0.1:5998/demo/hello:v1", "failed to do request: "
         "context canceled")), C.PULL_TIMEOUT_OR_PROGRESS_DEADLINE, {"grpc_code": "Canceled"}, "lab log"),
    Case("ctrd-deadline", grpc("DeadlineExceeded", "context deadline exceeded"),
         C.PULL_TIMEOUT_OR_PROGRESS_DEADLINE, {"grpc_code": "DeadlineExceeded"}, "sem §6"),
    Case("ctrd20-extract-disk", 'failed to pull and unpack image "docker.io/library/big:1": failed to extract '
         'layer (application/vnd.oci.image.layer.v1.tar+gzip sha256:0123) to overlayfs as "extract-1-abc": '
         "write /var/lib/containerd/tmpmounts/x/usr/lib/libbig.so: no space left on device", C.DISK_FULL,
         {"runtime": "containerd"}, "sem §6 (containerd 2.x unpacker)"),
    Case("ctrd17-extract-disk", 'failed to pull and unpack image "docker.io/library/big:1": failed to extract '
         "layer sha256:0123: write /var/lib/containerd/x: no space left on device: unknown", C.DISK_FULL, {},
         "sem §6 (containerd 1.7)"),
    Case("ctrd16-5xx", 'failed to pull and unpack image "quay.io/a/b:1": failed to copy: httpReadSeeker: '
         "failed open: unexpected status code https://quay.io/v2/a/b/manifests/1: 503 Service Unavailable",
         C.REGISTRY_SERVER_ERROR, {"status": 503, "host": "quay.io"}, "containerd 1.6 fetcher.go"),
    Case("ctrd-blob-missing", 'failed to pull and unpack image "r.example.com/a/b:1": failed to copy: '
         "httpReadSeeker: failed open: content at https://r.example.com/v2/a/b/blobs/sha256:0123 not found: "
         "not found", C.OTHER, {}, "containerd remotes/docker/fetcher.go (content at %v not found)"),
    # ---- CRI-O / containers/image -----------------------------------------------------------------
    Case("crio-manifest-unknown", crio_source("127.0.0.1:5000/demo/hello:nope", "reading manifest nope in "
         "127.0.0.1:5000/demo/hello: manifest unknown: manifest unknown"), C.TAG_NOT_FOUND,
         {"runtime": "cri-o", "image": "127.0.0.1:5000/demo/hello:nope"}, "lab (skopeo)"),
    Case("crio-reading-only", "reading manifest v1 in quay.io/org/app: manifest unknown", C.TAG_NOT_FOUND,
         {"runtime": "cri-o", "image": "quay.io/org/app:v1"}, "sem §6"),
    Case("crio-401", crio_source("127.0.0.1:5001/private/hello:v1", "reading manifest v1 in "
         "127.0.0.1:5001/private/hello: unauthorized: authentication required"), C.AUTH_MISSING, {}, "lab"),
    Case("crio-bad-password", crio_source("quay.io/org/app:v1", "unable to retrieve auth token: invalid "
         "username/password: unauthorized: incorrect username or password"), C.AUTH_INVALID, {},
         "containers/image docker/errors.go ErrUnauthorizedForCredentials"),
    Case("crio-403", crio_source("127.0.0.1:8080/denied/hello:v1", "reading manifest v1 in "
         "127.0.0.1:8080/denied/hello: denied"), C.FORBIDDEN, {}, "lab (skopeo 403)"),
    Case("crio-429", crio_source("127.0.0.1:8080/toomany/hello:v1", "reading manifest v1 in 127.0.0.1:8080/"
         "toomany/hello: toomanyrequests: You have reached your pull rate limit."), C.RATE_LIMITED, {}, "lab"),
    Case("crio-too-many", "reading manifest v1 in r.example.com/a: too many requests to registry",
         C.RATE_LIMITED, {}, "containers/image docker_client.go"),
    Case("crio-platform", 'choosing image instance: no image found in manifest list for architecture "arm64", '
         'variant "v8", OS "linux"', C.PLATFORM_MISMATCH, {"platform": "linux/arm64/v8", "runtime": "cri-o"},
         "containers/image internal/manifest/list.go"),
    Case("crio-refused-registry-unavailable", 'RegistryUnavailable: pinging container registry 127.0.0.1:5999: '
         'Get "http://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection refused',
         C.NETWORK_UNREACHABLE, {"host": "127.0.0.1:5999", "runtime": "cri-o"}, "sem §6 + lab (skopeo)"),
    Case("crio-dns", 'pinging container registry nonexistent.invalid: Get "https://nonexistent.invalid/v2/": '
         "dial tcp: lookup nonexistent.invalid on 10.255.255.53:53: no such host", C.DNS_FAILURE,
         {"resolver": "10.255.255.53:53"}, "lab (skopeo)"),
    Case("crio-tls", 'pinging container registry 127.0.0.1:8443: Get "https://127.0.0.1:8443/v2/": x509: '
         "certificate signed by unknown authority", C.TLS_ERROR, {"host": "127.0.0.1:8443"}, "lab (skopeo)"),
    Case("crio-short-name", 'short-name "nginx" did not resolve to an alias and no unqualified-search '
         'registries are defined in "/etc/containers/registries.conf"', C.INVALID_IMAGE_NAME, {},
         "containers/image pkg/shortnames"),
    Case("crio-signature", "SignatureValidationFailed: Source image rejected: A signature was required, but no "
         "signature exists", C.SIGNATURE_INVALID, {}, "cri-api pkg/errors + containers/image signature policy"),
    Case("crio-writing-blob", 'writing blob: storing blob to file "/var/tmp/storage1/1": write '
         "/var/tmp/storage1/1: no space left on device", C.DISK_FULL, {"runtime": "cri-o"}, "sem §6"),
    Case("crio-503", crio_source("r.example.com/a:1", "reading manifest 1 in r.example.com/a: invalid status "
         "code from registry 503 (Service Unavailable)"), C.REGISTRY_SERVER_ERROR, {"status": 503},
         "containers/image docker_client.go"),
    Case("crio-artifact-fallback", backoff_132("quay.io/a/b:1", "ErrImagePull", "unable to pull image or OCI "
         "artifact: pull image err: initializing source docker://quay.io/a/b:1: reading manifest 1 in "
         "quay.io/a/b: manifest unknown; artifact err: get manifest: build image source: reading manifest 1 "
         "in quay.io/a/b: unauthorized"), C.TAG_NOT_FOUND, {"reason": "ErrImagePull", "wrapper": "back_off"},
         "corpus ipf-089 shape (CRI-O 1.31+ OCI artifact pull)"),
    # ---- Docker / cri-dockerd ---------------------------------------------------------------------
    Case("docker-manifest-for", kubelet_failed("r.example.com/a:1", dockerd(
        "manifest for r.example.com/a:1 not found: manifest unknown: manifest unknown")), C.TAG_NOT_FOUND,
        {"runtime": "docker"}, "moby distribution/errors.go"),
    Case("docker-pull-access", dockerd("pull access denied for acme/private, repository does not exist or may "
         "require 'docker login': denied: requested access to the resource is denied"),
         C.REPO_NOT_FOUND_OR_NO_ACCESS, {"image": "acme/private", "host": "docker.io"}, "moby"),
    Case("docker-repo-not-found", dockerd("repository 1234.dkr.ecr.eu-west-1.amazonaws.com/app not found: name "
         "unknown: The repository with name 'app' does not exist in the registry with id '1234'"),
         C.REPO_NOT_FOUND, {}, "moby + ECR body"),
    Case("docker-no-basic-auth", dockerd("Get https://1234.dkr.ecr.eu-west-1.amazonaws.com/v2/app/manifests/1: "
         "no basic auth credentials"), C.AUTH_MISSING, {"host": "1234.dkr.ecr.eu-west-1.amazonaws.com"},
         "sem §6 (ECR)"),
    Case("docker-old-api-error", "API error (500): manifest for r.example.com/a:1 not found", C.TAG_NOT_FOUND,
         {"runtime": "docker"}, "docker < 1.13 engine-api (500 is the daemon's, not the registry's)"),
    Case("docker-wait-connection", dockerd("Get https://k8s.gcr.io/v2/: net/http: request canceled while waiting "
         "for connection (Client.Timeout exceeded while awaiting headers)"), C.NETWORK_UNREACHABLE,
         {"host": "k8s.gcr.io"}, "Go net/http"),
    Case("docker-tls-timeout", dockerd('Get "https://registry-1.docker.io/v2/": net/http: TLS handshake timeout'),
         C.TLS_ERROR, {}, "Go net/http"),
    Case("docker-platform", dockerd("no matching manifest for linux/arm64/v8 in the manifest list entries"),
         C.PLATFORM_MISMATCH, {"platform": "linux/arm64/v8"}, "moby distribution/pull_v2.go"),
    Case("docker-platform-wanted", dockerd("image with reference r/a:1 was found but does not match the "
         "specified platform: wanted linux/amd64, actual: linux/arm64"), C.PLATFORM_MISMATCH,
         {"platform": "linux/amd64"}, "moby daemon/images"),
    Case("docker-hub-bad-password", dockerd("Get https://registry-1.docker.io/v2/: unauthorized: incorrect "
         "username or password"), C.AUTH_INVALID, {}, "Docker Hub body"),
    Case("docker-old-code-2", "rpc error: code = 2 desc = Error response from daemon: Get https://r.example.com"
         "/v2/: x509: certificate has expired or is not yet valid", C.TLS_ERROR, {"grpc_code": "Unknown"},
         "dockershim era gRPC (numeric codes)"),
    Case("docker-old-code-4", "rpc error: code = 4 desc = context deadline exceeded",
         C.PULL_TIMEOUT_OR_PROGRESS_DEADLINE, {"grpc_code": "DeadlineExceeded"}, "dockershim era gRPC"),
    Case("dockerd-registry-unavailable-5xx", "RegistryUnavailable: Error response from daemon: received "
         "unexpected HTTP status: 503 Service Unavailable", C.REGISTRY_SERVER_ERROR, {"status": 503},
         "sem §6 (cri-dockerd maps 502/503/504)"),
    Case("docker-register-layer", "failed to register layer: Error processing tar file(exit status 1): write "
         "/x: no space left on device", C.DISK_FULL, {"runtime": "docker"}, "moby layer store"),
    Case("docker-progress-deadline", "Cancel pulling image r/a:1 because it exceeded image pull deadline 1m0s. "
         "Latest progress x", C.PULL_TIMEOUT_OR_PROGRESS_DEADLINE, {}, "cri-dockerd"),
    # ---- registries' own phrasing -----------------------------------------------------------------
    Case("gar-permission", ctrd("europe-docker.pkg.dev/p/r/app:1", 'failed to do request: Head "https://'
         'europe-docker.pkg.dev/v2/p/r/app/manifests/1": denied: Permission "artifactregistry.repositories.'
         'downloadArtifacts" denied on resource "projects/p/locations/europe/repositories/r" (or it may not '
         'exist)'), C.FORBIDDEN, {"host": "europe-docker.pkg.dev"}, "Artifact Registry"),
    Case("gar-oauth-403", ctrd("europe-docker.pkg.dev/p/r/app:1", "failed to authorize: failed to fetch oauth "
         "token: unexpected status from GET request to https://europe-docker.pkg.dev/v2/token?scope=repository"
         "%3Ap%2Fr%2Fapp%3Apull&service=europe-docker.pkg.dev: 403 Forbidden"), C.FORBIDDEN, {"status": 403},
         "Artifact Registry via containerd"),
    Case("ecr-expired", dockerd("denied: Your authorization token has expired. Reauthenticate and try again."),
         C.AUTH_INVALID, {}, "ECR"),
    Case("ecr-iam", dockerd("denied: User: arn:aws:sts::1234:assumed-role/node/i-0 is not authorized to perform:"
         " ecr:BatchGetImage on resource: arn:aws:ecr:eu-west-1:1234:repository/app"), C.FORBIDDEN, {}, "ECR"),
    Case("ecr-requested-image", dockerd("manifest for 1234.dkr.ecr.eu-west-1.amazonaws.com/app:9 not found: "
         "manifest unknown: Requested image not found"), C.TAG_NOT_FOUND, {}, "ECR"),
    Case("acr-unauthorized", "unauthorized: authentication required, visit https://aka.ms/acr/authorization "
         "for more information.", C.AUTH_MISSING, {}, "ACR"),
    Case("acr-firewall", "denied: client with IP '203.0.113.7' is not allowed access. Refer "
         "https://aka.ms/acr/firewall to grant access.", C.FORBIDDEN, {}, "ACR"),
    Case("quay-unauthorized", crio_source("quay.io/org/nope:1", "reading manifest 1 in quay.io/org/nope: "
         "unauthorized: access to the requested resource is not authorized"), C.REPO_NOT_FOUND_OR_NO_ACCESS,
         {}, "Quay"),
    Case("harbor-repo", dockerd("unknown: repository library/nope not found"), C.REPO_NOT_FOUND, {}, "Harbor"),
    Case("harbor-artifact", "NOT_FOUND: artifact library/nginx:nope not found", C.TAG_NOT_FOUND, {}, "Harbor"),
    Case("harbor-unauthorized", "unauthorized: unauthorized to access repository: priv/app, action: pull: "
         "unauthorized to access repository: priv/app, action: pull", C.REPO_NOT_FOUND_OR_NO_ACCESS, {},
         "Harbor"),
    Case("ghcr-anon", ctrd("ghcr.io/org/app:1", "failed to authorize: failed to fetch anonymous token: "
         "unexpected status from GET request to https://ghcr.io/token?scope=repository%3Aorg%2Fapp%3Apull&"
         "service=ghcr.io: 401 Unauthorized"), C.REPO_NOT_FOUND_OR_NO_ACCESS,
         {"status": 401, "also_possible": ["auth_missing"]},
         "GHCR via containerd 2.x: private and missing packages answer alike"),
    Case("ghcr-denied", dockerd("denied: denied"), C.FORBIDDEN, {}, "GHCR"),
    Case("gcr-name-unknown", "name unknown: Repository \"p/app\" not found", C.REPO_NOT_FOUND, {},
         "distribution NAME_UNKNOWN"),
    # ---- kubelet / kubectl wrappers ---------------------------------------------------------------
    Case("kubelet-qps", kubelet_failed("r.example.com/a:1", "pull QPS exceeded"), C.RATE_LIMITED,
         {"wrapper": "failed_to_pull"}, "sem §3 (registryPullQPS)"),
    Case("kubelet-never", 'Container image "r.example.com/a:1" is not present with pull policy of Never',
         C.NEVER_PULL_ABSENT, {"image": "r.example.com/a:1", "wrapper": "never_pull"}, "image_manager.go"),
    Case("kubelet-default-tag", 'Failed to apply default image tag "Nginx": couldn\'t parse image reference '
         '"Nginx": invalid reference format: repository name must be lowercase', C.INVALID_IMAGE_NAME,
         {"wrapper": "default_tag", "image": "Nginx"}, "image_manager.go applyDefaultImageTag"),
    Case("kubelet-inspect", 'Failed to inspect image "": rpc error: code = DeadlineExceeded desc = context '
         "deadline exceeded", C.PULL_TIMEOUT_OR_PROGRESS_DEADLINE, {"wrapper": "inspect_failed"},
         "sem §3 (1.32+ prints the empty imageRef)"),
    Case("kubelet-registry-unavailable", "image pull failed for 127.0.0.1:5999/demo/hello:v1 because the "
         "registry is unavailable: pinging container registry 127.0.0.1:5999: Get \"http://127.0.0.1:5999/v2/\""
         ": dial tcp 127.0.0.1:5999: connect: connection refused", C.NETWORK_UNREACHABLE,
         {"wrapper": "registry_unavailable", "image": "127.0.0.1:5999/demo/hello:v1"}, "evalCRIPullErr"),
    Case("kubelet-registry-unavailable-bare", "image pull failed for r.example.com/a:1 because the registry is "
         "unavailable", C.NETWORK_UNREACHABLE, {"wrapper": "registry_unavailable"}, "evalCRIPullErr"),
    Case("kubelet-signature", "image pull failed for r.example.com/a:1 because the signature validation failed:"
         " Source image rejected: Signature for identity r.example.com/a:1 is not accepted",
         C.SIGNATURE_INVALID, {"wrapper": "signature_failed"}, "evalCRIPullErr"),
    Case("kubelet-backoff-registry-unavailable", backoff_132("r.example.com/a:1", "RegistryUnavailable",
         "image pull failed for r.example.com/a:1 because the registry is unavailable"),
         C.NETWORK_UNREACHABLE, {"reason": "RegistryUnavailable"}, "PR #127918"),
    Case("kubelet-backoff-bare", 'Back-off pulling image "r.example.com/a:1"', C.OTHER,
         {"wrapper": "back_off", "image": "r.example.com/a:1"}, "image_manager.go (before 1.32)"),
    Case("kubelet-error-event", "Error: ErrImagePull", C.OTHER, {"wrapper": "error_event"},
         "kuberuntime_container.go startContainer"),
    Case("kubelet-error-syncing", 'Error syncing pod 5f3b ("web-0_default(5f3b)"), skipping: failed to '
         '"StartContainer" for "web" with ErrImagePull: "rpc error: code = NotFound desc = failed to pull and '
         'unpack image \\"docker.io/library/nginx:nope\\": failed to resolve reference \\"docker.io/library/'
         'nginx:nope\\": docker.io/library/nginx:nope: not found"', C.TAG_NOT_FOUND,
         {"wrapper": "error_syncing", "image": "docker.io/library/nginx:nope", "grpc_code": "NotFound"},
         "pod_workers.go FailedSync"),
    Case("kubectl-135-field", "spec.containers{web}: " + kubelet_failed(HUB, ctrd(
        HUB, "dial tcp: lookup registry-1.docker.io: no such host")), C.DNS_FAILURE,
        {"wrapper": "failed_to_pull", "image": HUB}, "kubectl 1.35 describe (PR #133627)"),
    Case("kubectl-init-field", "spec.initContainers{init}: " + kubelet_failed(HUB, "pull QPS exceeded"),
         C.RATE_LIMITED, {"wrapper": "failed_to_pull"}, "kubectl 1.35 describe"),
    Case("sandbox-refused", 'Failed to create pod sandbox: rpc error: code = Unknown desc = failed to get sandbox'
         ' image "registry.k8s.io/pause:3.9": failed to pull image "registry.k8s.io/pause:3.9": failed to pull '
         'and unpack image "registry.k8s.io/pause:3.9": failed to resolve reference "registry.k8s.io/pause:3.9"'
         ': failed to do request: Head "https://registry.k8s.io/v2/pause/manifests/3.9": dial tcp '
         "34.96.108.209:443: i/o timeout", C.NETWORK_UNREACHABLE,
         {"wrapper": "sandbox", "image": "registry.k8s.io/pause:3.9"}, "FailedCreatePodSandBox"),
]


CASES += [
    # ---- more wrappings and phrasings ------------------------------------------------------------------
    Case("crio-mirrors-failed", kubelet_failed("nginx:latest", grpc("Unknown", (
        '(Mirrors also failed: [mirror.local/library/nginx:latest: pinging container registry mirror.local: Get '
        '"https://mirror.local/v2/": dial tcp: lookup mirror.local: no such host]\n[m2.local/library/nginx:latest: '
        'pinging container registry m2.local: Get "https://m2.local/v2/": dial tcp 10.0.0.1:443: connect: '
        'connection refused]): docker.io/library/nginx:latest: reading manifest latest in docker.io/library/nginx: '
        "toomanyrequests: You have reached your pull rate limit."))), C.RATE_LIMITED, {"runtime": "cri-o"},
        "containers/image docker/docker_image_src.go: the primary's error decides, mirrors are secondary"),
    Case("crio-errors-list", kubelet_failed("x/y", "Error reading manifest latest in docker.io/x/y: errors:\n"
         "denied: requested access to the resource is denied\nunauthorized: authentication required\n"),
         C.REPO_NOT_FOUND_OR_NO_ACCESS, {"runtime": "cri-o"}, "containers/image multi-error body (Docker Hub)"),
    Case("crio-redhat-bad-login", "unable to retrieve auth token: invalid username/password: unauthorized: Please "
         "login to the Red Hat Registry using your Customer Portal credentials.", C.AUTH_INVALID, {},
         "containers/image ErrUnauthorizedForCredentials + registry.redhat.io body"),
    Case("crio-old-mime", "Error determining manifest MIME type for docker://x:1: pinging docker registry returned:"
         " Get https://x/v2/: x509: certificate signed by unknown authority", C.TLS_ERROR, {"runtime": "cri-o"},
         "CRI-O 1.1x containers/image"),
    Case("crio-copying-disk", 'copying system image from manifest list: writing blob: adding layer with blob '
         '"sha256:1": processing tar file(exit status 1): write /usr/lib/x: no space left on device', C.DISK_FULL,
         {}, "containers/storage"),
    Case("crio-platform-bare", "choosing an image from manifest list docker://x:1: no image found in manifest list "
         'for architecture amd64, variant "", OS linux', C.PLATFORM_MISMATCH, {"platform": "linux/amd64"},
         "containers/image internal/manifest"),
    Case("docker-html-403", kubelet_failed("r/x:1", dockerd("error parsing HTTP 403 response body: invalid "
         "character '<' looking for beginning of value: \"<html><body><h1>403 Forbidden</h1></body></html>\"")),
         C.FORBIDDEN, {"status": 403}, "docker/distribution registry/client/errors.go"),
    Case("quay-tag-expired", dockerd("unknown: Tag 1.2 was deleted or has expired. To pull, revive via time "
         "machine"), C.TAG_NOT_FOUND, {}, "Quay"),
    Case("gar-unauthenticated", 'denied: Unauthenticated request. Unauthenticated requests do not have permission '
         '"artifactregistry.repositories.downloadArtifacts" on resource "projects/p/locations/us/repositories/r" '
         "(or it may not exist)", C.AUTH_MISSING, {}, "Artifact Registry"),
    Case("gitlab-basic-denied", dockerd("Get https://gitlab.example.com:5050/v2/g/p/manifests/1: unauthorized: "
         "HTTP Basic: Access denied"), C.AUTH_INVALID, {"host": "gitlab.example.com:5050"}, "GitLab registry"),
    Case("ctrd-html-media-type", 'failed to pull and unpack image "x": failed to unpack image on snapshotter '
         "overlayfs: unexpected media type text/html for sha256:abc: not found", C.OTHER, {},
         "containerd images/handlers.go (a proxy answered HTML)"),
    Case("docker-forbidden-word", dockerd('Get "https://x/v2/": Forbidden'), C.FORBIDDEN, {}, "moby registry"),
    Case("ctrd-token-400", ctrd("x/y:1", "failed to authorize: failed to fetch oauth token: unexpected status: 400 "
         "Bad Request"), C.OTHER, {"status": 400}, "containerd auth/fetch.go (a 400 from a token endpoint)"),
    Case("harbor-project", dockerd("unknown: project p not found"), C.REPO_NOT_FOUND, {}, "Harbor"),
    Case("ctrd-ipv6-no-address", ctrd("x/y:1", 'failed to do request: Head "https://x/v2/y/manifests/z": dial tcp '
         "[2600:1f18::1]:443: connect: cannot assign requested address"), C.NETWORK_UNREACHABLE, {}, "Go net"),
    Case("ctrd-reset", 'failed to pull and unpack image "docker.io/library/x:1": failed to copy: read tcp '
         "10.0.0.5:43210->104.18.123.25:443: read: connection reset by peer", C.NETWORK_UNREACHABLE, {}, "Go net"),
    Case("ctrd-proxy", ctrd(HUB, 'failed to do request: Head "https://registry-1.docker.io/v2/library/nginx/'
         'manifests/1.27": proxyconnect tcp: dial tcp 10.0.0.1:3128: connect: connection refused'),
         C.NETWORK_UNREACHABLE, {}, "Go net/http proxy"),
    Case("ctrd-anon-token-dns", ctrd(HUB, 'failed to authorize: failed to fetch anonymous token: Get "https://auth.'
         'docker.io/token?scope=x": dial tcp: lookup auth.docker.io: no such host'), C.DNS_FAILURE, {},
         "containerd auth/fetch.go + Go net"),
    Case("ctrd-anon-token-429", ctrd(HUB, "failed to authorize: failed to fetch anonymous token: unexpected status "
         "from GET request to https://auth.docker.io/token?scope=x: 429 Too Many Requests"), C.RATE_LIMITED,
         {"status": 429}, "containerd 2.x auth/fetch.go"),
    Case("tls-legacy-cn", "x509: certificate relies on legacy Common Name field, use SANs instead", C.TLS_ERROR, {},
         "Go 1.15+ crypto/x509"),
    Case("ctrd-killed", "failed to extract layer sha256:1: mount callback failed on /var/lib/containerd/tmpmounts/"
         "containerd-mount123: signal: killed: unknown", C.OTHER, {}, "containerd unpacker"),
    Case("docker-windows-platform", dockerd("no matching manifest for windows/amd64 10.0.17763 in the manifest list "
         "entries"), C.PLATFORM_MISMATCH, {"platform": "windows/amd64"}, "moby"),
    Case("reason-invalid-name", "Error: InvalidImageName", C.INVALID_IMAGE_NAME, {}, "kuberuntime_container.go"),
    Case("reason-never-pull", "Error: ErrImageNeverPull", C.NEVER_PULL_ABSENT, {}, "kuberuntime_container.go"),
    Case("reason-backoff", "Error: ImagePullBackOff", C.OTHER, {}, "kuberuntime_container.go"),
]


CASES += [
    Case("nginx-504-hyphen", dockerd("Get https://x/v2/: 504 Gateway Time-out"), C.REGISTRY_SERVER_ERROR,
         {"status": 504}, "nginx's reason phrase"),
    Case("http-to-tls-malformed", ctrd("localhost:8443/a:1", 'failed to do request: Head "http://localhost:8443/v2/'
         'a/manifests/1": net/http: HTTP/1.x transport connection broken: malformed HTTP response "\\x15\\x03'
         '\\x01\\x00\\x02\\x02"'), C.HTTP_VS_HTTPS, {}, "Go net/http: plain HTTP to a TLS port"),
    Case("tls-to-http-oversized", 'pinging container registry localhost:5000: Get "https://localhost:5000/v2/": '
         "tls: oversized record received with length 20527", C.HTTP_VS_HTTPS, {}, "Go crypto/tls: TLS to plain HTTP"),
    Case("reason-first-never", 'ErrImageNeverPull: Container image "r/a:1" is not present with pull policy of Never',
         C.NEVER_PULL_ABSENT, {"reason": "ErrImageNeverPull", "image": "r/a:1"}, "pasted container status"),
    Case("reason-first-failed", 'ErrImagePull: Failed to pull image "r/a:1": pull QPS exceeded', C.RATE_LIMITED,
         {"reason": "ErrImagePull", "wrapper": "failed_to_pull"}, "pasted container status"),
]


CASES += [
    Case("crio-ping-404", "initializing source docker://mirrors.example.com/t/t:1: pinging container registry "
         "mirrors.example.com: invalid status code from registry 404 (Not Found)", C.OTHER,
         {"status": 404, "runtime": "cri-o"}, "containers/image docker_client.go (the /v2/ ping)"),
    Case("crio-bearer-403", "Requesting bear token: invalid status code from registry 403 (Forbidden)", C.FORBIDDEN,
         {"status": 403, "runtime": "cri-o"}, "containers/image docker_client.go (old spelling)"),
]


CASES += [
    # GitHub's registry hides private packages behind the same 401/403/denied as missing ones (public issues:
    # "unexpected status from HEAD request …: 403 Forbidden", "denied: denied", "permission_denied: read_package")
    Case("ghcr-403-docker-containerd-store", dockerd('unknown: failed to resolve reference "ghcr.io/o/app:latest": '
         "unexpected status from HEAD request to https://ghcr.io/v2/o/app/manifests/latest: 403 Forbidden"),
         C.REPO_NOT_FOUND_OR_NO_ACCESS, {"runtime": "docker", "status": 403, "also_possible": ["forbidden"]},
         "Docker 25+ with the containerd image store"),
    Case("ghcr-denied-denied", kubelet_failed("ghcr.io/o/app:1", dockerd('Head "https://ghcr.io/v2/o/app/manifests/1":'
         " denied: denied")), C.REPO_NOT_FOUND_OR_NO_ACCESS, {"host": "ghcr.io"}, "GHCR"),
    Case("ghcr-read-package", kubelet_failed("ghcr.io/o/app:1", dockerd("pull access denied for ghcr.io/o/app, "
         "repository does not exist or may require 'docker login': denied: permission_denied: read_package")),
         C.REPO_NOT_FOUND_OR_NO_ACCESS, {}, "GHCR"),
    Case("gcr-403-stays-forbidden", ctrd21("gcr.io/p/app:1", "unexpected status from HEAD request to "
         "https://gcr.io/v2/p/app/manifests/1: 403 Forbidden"), C.FORBIDDEN, {"host": "gcr.io"}, "GCR"),
]


CASES += [
    # kubelet log lines, as pasted from journalctl (remote_image.go / cri-client)
    Case("kubelet-log-klog", 'E0430 08:40:06.790078    3244 remote_image.go:112] PullImage "gcr.io/p/ubuntu:18.04" '
         "from image service failed: rpc error: code = Unknown desc = Error response from daemon: Get https://gcr.io"
         "/v2/: net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting "
         "headers)", C.NETWORK_UNREACHABLE, {"image": "gcr.io/p/ubuntu:18.04", "wrapper": "kubelet_log",
                                              "runtime": "docker"}, "kubelet remote_image.go (before 1.20)"),
    Case("kubelet-log-structured", 'E1117 23:31:29.830527    2326 remote_image.go:238] "PullImage from image service '
         'failed" err="rpc error: code = Unknown desc = failed to pull and unpack image \\"10.0.0.15/k/pause:3.8\\": '
         'failed to resolve reference \\"10.0.0.15/k/pause:3.8\\": failed to do request: Head \\"https://10.0.0.15/'
         'v2/k/pause/manifests/3.8\\": http: server gave HTTP response to HTTPS client" image="10.0.0.15/k/pause:3.8"',
         C.HTTP_VS_HTTPS, {"image": "10.0.0.15/k/pause:3.8", "wrapper": "kubelet_log", "host": "10.0.0.15"},
         "kubelet structured logging (1.20+)"),
    Case("docker-api-error-404-hedge", "CannotPullContainerError: API error (404): repository serverless-batch not "
         "found: does not exist or no pull access", C.REPO_NOT_FOUND_OR_NO_ACCESS, {}, "old Docker engine API"),
    Case("ctrd15-status-code", ctrd("123.dkr.ecr.us-east-1.amazonaws.com/app:latest", "unexpected status code "
         "[manifests latest]: 403 Forbidden"), C.FORBIDDEN, {"status": 403}, "containerd 1.4/1.5 resolver.go"),
    Case("crio-ping-500", 'pinging container registry repo.example.com: Get "https://repo.example.com/v2/": Internal '
         "Server Error", C.REGISTRY_SERVER_ERROR, {"runtime": "cri-o"}, "containers/image (Nexus)"),
    Case("crio-error-pinging", 'Error initializing source docker://alpine:3.12: error pinging docker registry '
         'registry-1.docker.io: Get "https://registry-1.docker.io/v2/": x509: certificate is valid for '
         "*.apps.example.com, not registry-1.docker.io", C.TLS_ERROR, {"runtime": "cri-o"},
         "containers/image (TLS-intercepting proxy)"),
]


CASES += [
    Case("docker-login-attempt", dockerd("login attempt to https://r.example.com/v2/ failed with status: 401 "
         "Unauthorized"), C.AUTH_INVALID, {"status": 401}, "moby registry/auth.go (credentials were sent)"),
    Case("ecr-oci-index-old-client", dockerd("manifest for 1.dkr.ecr.us-east-1.amazonaws.com/app:1 not found: "
         "manifest unknown: OCI index found, but accept header does not support OCI indexes"), C.OTHER, {},
         "ECR answering an old Docker"),
    Case("crio-unsupported-media", "unsupported manifest media type and no default available: "
         "application/vnd.oci.image.manifest.v1+json", C.OTHER, {}, "old containers/image"),
]


CASES += [
    Case("kubelet-log-failed-blob-400", 'E0825 04:48:59.812588   23691 kuberuntime_image.go:43] "Failed to pull image" '
         'err="unable to pull image or OCI artifact: pull image err: copying system image from manifest list: writing '
         'blob: storing blob to file \\"/var/tmp/s/4\\": happened during read: unexpected EOF (after reconnecting, '
         'fetching blob: StatusCode: 400, \\"<?xml version=1.0?><Error><Cod...\\"); artifact err: image reference: '
         'reference is a container image, not an OCI artifact" image="registry.k8s.io/conformance:v1.35.2"', C.OTHER,
         {"status": 400, "image": "registry.k8s.io/conformance:v1.35.2", "wrapper": "kubelet_log", "runtime": "cri-o"},
         "kubelet structured log + CRI-O blob fetch (a 400 that is not about the scheme)"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case) -> None:
    got = classify(case.message)
    assert got.cause is case.cause, (got.cause, got.signals, got.fields)
    for k, v in case.fields.items():
        assert got.fields.get(k) == v, (k, got.fields)
    assert got.signals[0] is got.cause


# --- pasting artefacts ------------------------------------------------------------------------------
BASE = kubelet_failed("r.example.com/app:1", ctrd("r.example.com/app:1", "unexpected status from HEAD "
                      "request to https://r.example.com/v2/app/manifests/1: 403 Forbidden"))


def test_json_escaped_quotes() -> None:
    escaped = BASE.replace('"', '\\"')
    got = classify(escaped)
    assert got.cause is C.FORBIDDEN
    assert got.fields["image"] == "r.example.com/app:1"


def test_yaml_folded_lines() -> None:
    folded = BASE.replace(": unexpected status", ":\n          unexpected status").replace(" request to ",
                                                                                            " request\n  to ")
    got = classify(folded)
    assert got.cause is C.FORBIDDEN and got.fields["url"] == "https://r.example.com/v2/app/manifests/1"


def test_terminal_wrap_inside_a_digest_is_joined() -> None:
    msg = kubelet_failed(f"quay.io/a/b@{DIGEST}", f"reading manifest {DIGEST} in quay.io/a/b: manifest unknown")
    cut = msg.index(DIGEST) + 30
    wrapped = msg[:cut] + "\n" + msg[cut:]
    assert classify(wrapped).fields["image"] == f"quay.io/a/b@{DIGEST}"


def test_crlf_and_tabs() -> None:
    assert classify(BASE.replace(": ", ":\r\n\t")).cause is C.FORBIDDEN


# --- aggregates and several signals -----------------------------------------------------------------
AGG_401 = grpc("Unknown", ctrd(HUB, "failed to authorize: failed to fetch oauth token: unexpected status from "
                              "POST request to https://auth.docker.io/token: 401 Unauthorized"))
AGG_404 = grpc("NotFound", ctrd(HUB, f"{HUB}: not found"))
AGG_SCOPE = ctrd(HUB, "pull access denied, repository does not exist or may require authorization: server "
                 "message: insufficient_scope: authorization failed")


def test_aggregate_prefers_what_it_says_about_the_image() -> None:
    """kuberuntime_image.go: one error per credential tried, ``[e1, e2]``; the image's answer wins."""
    for msg in (kubelet_failed(HUB, f"[{AGG_401}, {AGG_404}]"), kubelet_failed(HUB, f"[{AGG_404}, {AGG_401}]")):
        got = classify(msg)
        assert got.cause is C.TAG_NOT_FOUND
        members = got.fields["members"]
        assert isinstance(members, list) and len(members) == 2
        assert {m["cause"] for m in members} == {"auth_invalid", "tag_not_found"}
        assert set(got.signals) >= {C.TAG_NOT_FOUND, C.AUTH_INVALID}
        assert got.fields["grpc_code"] == "NotFound"  # the root member's code, not the first one's


def test_aggregate_of_credential_errors_takes_the_most_specific() -> None:
    got = classify(backoff_132(HUB, "ErrImagePull", f"[{AGG_SCOPE}, {AGG_401}]"))
    assert got.cause is C.AUTH_INVALID
    assert got.signals[:2] == [C.AUTH_INVALID, C.REPO_NOT_FOUND_OR_NO_ACCESS] or C.REPO_NOT_FOUND_OR_NO_ACCESS in got.signals
    assert [m["cause"] for m in got.fields["members"]] == ["repo_not_found_or_no_access", "auth_invalid"]  # type: ignore[index]


def test_aggregate_members_containing_commas_are_not_split_inside() -> None:
    docker_denied = dockerd("pull access denied for a/b, repository does not exist or may require 'docker "
                            "login': denied: requested access to the resource is denied")
    got = classify(kubelet_failed("a/b", f"[{docker_denied}, {dockerd('unauthorized: incorrect username or password')}]"))
    assert len(got.fields["members"]) == 2  # type: ignore[arg-type]


def test_a_500_then_a_401_roots_on_the_server_error() -> None:
    """Rule: a 5xx outranks a bare 401 (the server failed; the 401 can be its consequence)."""
    msg = ("unexpected status from HEAD request to https://r.example.com/v2/a/manifests/1: 500 Internal Server "
           "Error; fallback: unexpected status from GET request to https://r.example.com/v2/a/manifests/1: 401 "
           "Unauthorized")
    got = classify(msg)
    assert got.cause is C.REGISTRY_SERVER_ERROR
    assert got.signals[:2] == [C.REGISTRY_SERVER_ERROR, C.AUTH_MISSING]
    assert got.fields["status"] == 500


def test_equal_tiers_take_the_innermost() -> None:
    msg = "unexpected status code https://r.example.com/v2/a/manifests/1: 502 Bad Gateway: upstream: 503 Service Unavailable"
    got = classify(msg)
    assert got.cause is C.REGISTRY_SERVER_ERROR and got.fields["status"] == 503


def test_specific_cause_beats_a_cancellation() -> None:
    msg = ctrd(REF, 'failed to do request: Head "http://127.0.0.1:5999/v2/demo/hello/manifests/v1": dial tcp '
               "127.0.0.1:5999: connect: connection refused: context canceled")
    assert classify(msg).signals[:2] == [C.NETWORK_UNREACHABLE, C.PULL_TIMEOUT_OR_PROGRESS_DEADLINE]


def test_dns_lookup_timeout_is_dns_not_network() -> None:
    msg = dockerd('Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io on '
                  "192.168.65.2:53: read udp 192.168.49.2:59506->192.168.65.2:53: i/o timeout")
    got = classify(msg)
    assert got.cause is C.DNS_FAILURE and got.fields["resolver"] == "192.168.65.2:53"


# --- context rules ----------------------------------------------------------------------------------
def test_registry_host_inside_a_docker_hub_path_cannot_exist() -> None:
    img = "docker.io/quay.io/org/app:1"
    msg = kubelet_failed(img, ctrd(img, "unexpected status from HEAD request to https://registry-1.docker.io/"
                                        "v2/quay.io/org/app/manifests/1: 401 Unauthorized"))
    got = classify(msg)
    assert got.cause is C.REPO_NOT_FOUND and C.AUTH_MISSING in got.signals and "note" in got.fields


def test_mirror_paths_on_other_registries_are_left_alone() -> None:
    img = "localhost:7439/docker.io/acme/app:1"
    assert classify(kubelet_failed(img, ctrd(img, f"{img}: not found"))).cause is C.TAG_NOT_FOUND


def test_sandbox_pause_platform_mismatch_is_a_runtime_fault() -> None:
    msg = ('Failed to create pod sandbox: rpc error: code = Unknown desc = failed to get sandbox image '
           '"registry.k8s.io/pause:3.9": failed to pull image "registry.k8s.io/pause:3.9": failed to pull and '
           'unpack image "registry.k8s.io/pause:3.9": failed to unpack image on snapshotter overlayfs: no match '
           f"for platform in manifest {DIGEST}: not found")
    got = classify(msg)
    assert got.cause is C.OTHER and C.PLATFORM_MISMATCH in got.signals
    app = msg.replace("pause:3.9", "app:3.9").replace("failed to get sandbox image", "failed to pull image")
    assert classify(app.replace("Failed to create pod sandbox: ", "")).cause is C.PLATFORM_MISMATCH


# --- words that must not fire -----------------------------------------------------------------------
@pytest.mark.parametrize("msg", [
    kubelet_failed("acme/x509-tools:1", ctrd("docker.io/acme/x509-tools:1", "docker.io/acme/x509-tools:1: not found")),
    kubelet_failed("acme/no-space-left:1", grpc("NotFound", ctrd("docker.io/acme/no-space-left:1",
                                                               "docker.io/acme/no-space-left:1: not found"))),
    kubelet_failed("acme/app:429", ctrd("docker.io/acme/app:429", "docker.io/acme/app:429: not found")),
])
def test_image_names_do_not_fire_rules(msg: str) -> None:
    assert classify(msg).cause is C.TAG_NOT_FOUND


def test_a_port_number_is_not_a_status() -> None:
    got = classify(ctrd("r.example.com:500/a:1", "dial tcp 10.0.0.1:500: connect: connection refused"))
    assert got.cause is C.NETWORK_UNREACHABLE and "status" not in got.fields


def test_local_permission_denied_is_not_forbidden() -> None:
    got = classify("failed to pull and unpack image \"r/a:1\": failed to extract layer sha256:1: mount callback "
                   "failed on /var/lib/containerd/tmpmounts/x: open /x/etc: permission denied")
    assert got.cause is C.OTHER


# --- the rule table itself --------------------------------------------------------------------------
@pytest.mark.parametrize("rule", [r for r in RULES if r.pattern is None], ids=lambda r: r.name)
def test_every_trigger_fires_alone(rule: object) -> None:
    """Each trigger phrase, on its own in a sentence, yields its rule's cause among the signals."""
    for trig in rule.triggers:  # type: ignore[attr-defined]
        got = classify(f"something went wrong: {trig} (details)")
        assert rule.cause in got.signals, (trig, got.signals)  # type: ignore[attr-defined]


def test_every_trigger_has_an_anchor_word_it_contains() -> None:
    for rule in RULES:
        for trig in rule.triggers:
            assert anchor(trig) in words(trig.lower())


# --- what people paste around the message -----------------------------------------------------------
@pytest.mark.parametrize("prefix", [
    "  Warning  Failed     3m (x4 over 5m)   kubelet, node1  ",  # kubectl describe event row (old)
    "Warning  Failed  3m (x4 over 5m)  kubelet  ",  # kubectl describe event row
    "2026-11-26T10:00:00Z ",  # a log line's timestamp
    "[K8s EVENT: Pod web-0 (ns: default)] ",  # tilt
])
def test_leading_noise_is_skipped(prefix: str) -> None:
    got = classify(prefix + BASE)
    assert got.cause is C.FORBIDDEN
    assert got.fields["image"] == "r.example.com/app:1" and got.fields["wrapper"] == "failed_to_pull"


def test_ghcr_rule_leaves_explicit_missing_credentials_alone() -> None:
    """``no basic auth credentials`` says nothing was sent: that stays auth_missing even on ghcr.io."""
    msg = kubelet_failed("ghcr.io/o/app:1", dockerd("Get https://ghcr.io/v2/o/app/manifests/1: no basic auth "
                                                     "credentials"))
    assert classify(msg).cause is C.AUTH_MISSING


def test_smart_quotes_and_html_entities() -> None:
    """Chat tools turn quotes into “ ”; web pages into &quot;. Both are undone before reading."""
    smart = BASE.replace('"', "“", 1).replace('"', "”", 1)
    assert classify(smart).fields["image"] == "r.example.com/app:1"
    entities = BASE.replace('"', "&quot;")
    got = classify(entities)
    assert got.cause is C.FORBIDDEN and got.fields["image"] == "r.example.com/app:1"


# --- families learnt from the public corpus (tests/data/corpus/public.jsonl) ------------------------
def test_docker_containerd_store_registry_denied() -> None:
    """moby daemon/containerd/errors.go: ``error from registry: <message>``, errors joined by newlines."""
    msg = kubelet_failed("r.example.com/a:1", dockerd("error from registry: denied\ndenied"))
    got = classify(msg)
    assert got.cause is C.FORBIDDEN and got.fields["runtime"] == "docker"
    on_ghcr = classify(kubelet_failed("ghcr.io/o/a:1", dockerd("error from registry: denied\ndenied")))
    assert on_ghcr.cause is C.REPO_NOT_FOUND_OR_NO_ACCESS and on_ghcr.fields["also_possible"][0] == "forbidden"  # type: ignore[index]


@pytest.mark.parametrize("msg", [
    'failed to do request: Head "https://10.0.0.9/v2/a/blobs/sha256:1": EOF',  # net/http: peer hung up
    "Error response from daemon: unexpected EOF",
    "writing blob: happened during read: (heuristic tuning data: last retry 0): unexpected EOF",  # c/image
])
def test_a_dropped_connection_is_weak_network_evidence(msg: str) -> None:
    assert classify(msg).cause is C.NETWORK_UNREACHABLE


def test_eof_yields_to_anything_more_specific() -> None:
    assert classify(dockerd('Get "https://r.example.com/v2/": x509: certificate has expired: EOF')).cause is C.TLS_ERROR
    # the server answered after the reconnect: the EOF is not the story (containers/image bodyReader)
    msg = ("happened during read: unexpected EOF (after reconnecting, fetching blob: StatusCode: 403, "
           '"<?xml version=1.0?><Error>")')
    assert C.NETWORK_UNREACHABLE not in classify(msg).signals
    assert classify("reading manifest eof in r.example.com/a: manifest unknown").cause is C.TAG_NOT_FOUND


def test_words_ending_and_starting_in_hex_letters_are_not_a_wrapped_digest() -> None:
    """``denied\\ndenied``: 'd' and 'd' are hex digits, but a digest wrap needs a long hex run."""
    from pulldoctor.messages.normalize import normalize

    assert normalize("error from registry: denied\ndenied") == "error from registry: denied denied"
    assert normalize(f"manifest {DIGEST[:40]}\n{DIGEST[40:]}") == f"manifest {DIGEST}"


def test_an_aggregate_server_error_yields_to_a_credential_verdict() -> None:
    """Azure/acr#231: one credential got 500, another 401. The registry answered: it is up."""
    e500 = "Error response from daemon: Get https://a.azurecr.io/v2/x/manifests/1: received unexpected HTTP status: 500 Internal Server Error"
    e401 = "Error response from daemon: Get https://a.azurecr.io/v2/x/manifests/1: unauthorized: authentication required"
    got = classify(kubelet_failed("a.azurecr.io/x:1", f"[{e500}, {e401}]"))
    assert got.cause is C.AUTH_MISSING and C.REGISTRY_SERVER_ERROR in got.signals
    both = classify(kubelet_failed("a.azurecr.io/x:1", f"[{e500}, {e500.replace('500 Internal Server Error', '503 Service Unavailable')}]"))
    assert both.cause is C.REGISTRY_SERVER_ERROR  # every attempt failed on the server: it is the server
    image = classify(kubelet_failed("a.azurecr.io/x:1", f"[{e500}, {dockerd('manifest for a.azurecr.io/x:1 not found: manifest unknown')}]"))
    assert image.cause is C.TAG_NOT_FOUND


@pytest.mark.parametrize(("msg", "runtime"), [
    # go-containerregistry (crane, skaffold, kube-arch-scheduler): not containerd's "unexpected status code [" form
    (("GET https://1.dkr.ecr.eu-west-2.amazonaws.com/v2/a/manifests/latest: unexpected status code 401 "
      "Unauthorized: Not Authorized"), "unknown"),
    (('retrieving manifest for "quay.io/coreos/clair:v2.0.0": Get https://quay.io/v2/: unauthorized: access to '
      "the requested resource is not authorized"), "unknown"),  # "manifest for" alone is not Docker's
    ("docker: failed to copy: local error: tls: bad record MAC", "docker"),  # the docker CLI's own prefix
    (ctrd(REF, "unexpected status code [manifests v1]: 401 Unauthorized"), "containerd"),
    (("failed to copy: httpReadSeeker: failed open: unexpected status code https://r/v2/a/manifests/1: 502 Bad "
      "Gateway"), "containerd"),
])
def test_runtime_markers_are_specific(msg: str, runtime: str) -> None:
    assert classify(msg).fields["runtime"] == runtime


def test_html_from_a_mirror_outranks_the_notfound_around_it() -> None:
    """containerd's unpacker: ``unexpected media type text/html for sha256:…: not found`` (k3s-io/k3s#5502)."""
    msg = grpc("NotFound", 'failed to get sandbox image "rancher/mirrored-pause:3.6": failed to pull image '
               '"rancher/mirrored-pause:3.6": failed to pull and unpack image "docker.io/rancher/mirrored-pause:3.6": '
               f"failed to unpack image on snapshotter overlayfs: unexpected media type text/html for {DIGEST}: "
               "not found")
    got = classify(msg)
    assert got.cause is C.OTHER and got.signals[0] is C.OTHER


@pytest.mark.parametrize("msg", [
    "Get https://index.docker.io/v1/repositories/a/b/images: dial tcp 0.0.8.90:443: connect: invalid argument",
    "Get http://localhost:5001/v1/repositories/a/images: dial tcp [::1]:5001: getsockopt: connection refused",
    'failed to do request: Head "https://r/v2/a/manifests/1": dial tcp6 [fd00::1]:443: connect: permission denied',
])
def test_any_failed_tcp_connect_is_network(msg: str) -> None:
    assert classify(msg).cause is C.NETWORK_UNREACHABLE


@pytest.mark.parametrize("msg", [
    ('docker: Error response from daemon: connection error: desc = "transport: dial unix:///var/run/docker/'
     'containerd/docker-containerd.sock: timeout".'),
    kubelet_failed("a/b:1", 'rpc error: code = Unavailable desc = connection error: desc = "transport: Error while '
                   'dialing dial unix /run/containerd/containerd.sock: connect: connection refused"'),
])
def test_a_runtime_socket_dial_is_not_the_registry(msg: str) -> None:
    got = classify(msg)
    assert got.cause is C.OTHER


def test_gitlab_com_hides_private_projects_like_ghcr() -> None:
    """registry.gitlab.com says ``denied: access forbidden`` to a wrong project path and to a token without access."""
    got = classify(dockerd('Head "https://registry.gitlab.com/v2/o/p/manifests/latest": denied: access forbidden'))
    assert got.cause is C.REPO_NOT_FOUND_OR_NO_ACCESS and got.fields["also_possible"] == ["forbidden"]
    self_hosted = classify(dockerd('Head "https://gitlab.example.com:5050/v2/o/p/manifests/1": denied: access forbidden'))
    assert self_hosted.cause is C.FORBIDDEN  # another host: no such knowledge


@pytest.mark.parametrize("msg", [
    # Go on Windows wraps Winsock errors as "connectex:"/"wsarecv:" followed by FormatMessage's text
    dockerd("Get https://r.example/v2/: dial tcp 10.0.0.1:443: connectex: No connection could be made because the "
            "target machine actively refused it."),
    dockerd('Get "https://r.example/v2/": dial tcp 10.0.0.1:443: connectex: A connection attempt failed because the '
            "connected party did not properly respond after a period of time, or established connection failed "
            "because connected host has failed to respond."),
    dockerd("Get https://r.example/v2/a/blobs/" + DIGEST + ": read tcp 10.0.0.2:50000->10.0.0.1:443: wsarecv: An "
            "existing connection was forcibly closed by the remote host."),
])
def test_windows_socket_errors_are_network(msg: str) -> None:
    assert classify(msg).cause is C.NETWORK_UNREACHABLE


def test_docker_v1_login_required_is_a_401() -> None:
    """Docker 1.x registry/session.go errLoginRequired, as the kubelet 1.1 wrapper appended it."""
    msg = ("image pull failed for r.example/a:1, this may be because there are no credentials on this request.  "
           "details: (Authentication is required.)")
    got = classify(msg)
    assert got.cause is C.AUTH_MISSING and "auth_invalid" in got.fields["also_possible"]


@pytest.mark.parametrize("inner", [
    "no registries configured while trying to pull an unqualified image",
    ('no registries configured while trying to pull an unqualified image, add at least one in /etc/crio/crio.conf '
     'under the "registries" key'),
])
def test_old_crio_without_search_registries_is_an_unusable_short_name(inner: str) -> None:
    assert classify(grpc("Unknown", inner)).cause is C.INVALID_IMAGE_NAME


def _candidates(*errs: str) -> str:
    """podman/libimage: one error per short-name candidate, go-multierror's list (as a paste unfolds it)."""
    items = " ".join(f"* Error initializing source docker://{reg}/a/b:1: Error reading manifest 1 in {reg}/a/b: {e}"
                     for reg, e in errs)
    return f'Error: error pulling image "a/b:1": unable to pull a/b:1: {len(errs)} errors occurred: {items}'


def test_short_name_candidates_found_nowhere_are_the_hedge() -> None:
    got = classify(_candidates(("docker.io", "denied: requested access to the resource is denied"),
                               ("quay.io", "unauthorized: access to the requested resource is not authorized"),
                               ("registry.fedoraproject.org", "manifest unknown: manifest unknown")))
    assert got.cause is C.REPO_NOT_FOUND_OR_NO_ACCESS
    assert [m["cause"] for m in got.fields["members"]] == ["repo_not_found_or_no_access"] * 2 + ["tag_not_found"]


def test_short_name_candidates_that_agree_keep_their_cause() -> None:
    got = classify(_candidates(("docker.io", "manifest unknown: manifest unknown"),
                               ("quay.io", "manifest unknown: manifest unknown")))
    assert got.cause is C.TAG_NOT_FOUND
    other = classify(_candidates(("docker.io", "manifest unknown: manifest unknown"),
                                 ("quay.io", ('pinging container registry quay.io: Get "https://quay.io/v2/": dial '
                                              "tcp: lookup quay.io on 10.0.0.10:53: no such host"))))
    assert other.cause is C.DNS_FAILURE  # a candidate that could not be asked at all is a finding of its own


@pytest.mark.parametrize("msg", [
    dockerd("Login: Too many failed login attempts. You have been locked out for one hour. Try again later or contact "
            "support. (Code: 429; Headers: map[Content-Type:[application/json]])"),
    dockerd("Get https://registry-1.docker.io/v2/: toomanyrequests: too many failed login attempts for username or IP "
            "address"),
])
def test_docker_hub_login_lockout_is_a_rate_limit_caused_by_bad_credentials(msg: str) -> None:
    got = classify(msg)
    assert got.cause is C.RATE_LIMITED and got.fields["also_possible"] == ["auth_invalid"]


# --- families learnt from the trackers set (tests/data/corpus/trackers.jsonl) -----------------------
@pytest.mark.parametrize("body", [
    '{"errors":[{"code":"DENIED","message":"you do not have the permission","detail":""}]}',
    '{"errors": [{"code": "DENIED", "message": "no read access to this organisation"}]}',
])
def test_a_raw_error_body_naming_denied_is_forbidden(body: str) -> None:
    """The spec's error body printed raw after the client's HTTP word: the registry's DENIED code is the inner word."""
    got = classify(kubelet_failed("r.example.com/o/a:1", dockerd(f"unauthorized: {body}")))
    assert got.cause is C.FORBIDDEN and C.AUTH_MISSING in got.signals


def test_a_raw_error_body_without_denied_keeps_the_outer_word() -> None:
    got = classify(dockerd('unauthorized: {"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'))
    assert got.cause is C.AUTH_MISSING


@pytest.mark.parametrize("msg", [
    dockerd('Head "https://r.example.com/v2/o/a/manifests/1": denied: You may not login yet'),
    "pull access denied for r.example.com/o/a, repository does not exist: you are not logged in",
])
def test_a_registry_saying_there_was_no_login_is_missing_credentials(msg: str) -> None:
    """Huawei SWR's DENIED message for an anonymous request; it says the same for a missing repository."""
    got = classify(msg)
    assert got.cause is C.AUTH_MISSING
    assert "repo_not_found_or_no_access" in got.fields["also_possible"]  # type: ignore[operator]


def test_a_plain_denied_without_the_login_phrase_stays_forbidden() -> None:
    assert classify(dockerd('Head "https://r.example.com/v2/o/a/manifests/1": denied: access to this '
                            "project is restricted")).cause is C.FORBIDDEN
