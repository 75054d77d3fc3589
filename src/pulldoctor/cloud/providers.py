"""The kubelet's credential provider plugins: which node cloud gets which registry's credentials from
where, and a real ``CredentialProviderConfig`` (kubelet ``config/v1``) to replace those defaults.

Why: on EKS, GKE and AKS the kubelet sends credentials for its cloud's registry that no pull secret holds
(the in-tree providers are gone since 1.27; the plugin is ``--image-credential-provider-config``). Saying
"pulls anonymously" there is wrong; the node's identity (role, service account, kubelet identity) decides.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pulldoctor import configfile, yamlconf
from pulldoctor.errors import InputError
from pulldoctor.keyring import match_image
from pulldoctor.redact import printable

_MAX_CONFIG = 1024 * 1024  # a CredentialProviderConfig is a few hundred bytes
_MAX_PROVIDERS = 100
_MAX_GLOBS = 1000


@dataclass(frozen=True, slots=True)
class Provider:
    """One credential provider plugin as the kubelet runs it for matching images."""

    name: str                       # the plugin binary: "ecr-credential-provider"
    match_images: tuple[str, ...]   # globs, matched like docker config keys
    identity: str                   # whose credentials it fetches: "the node's IAM role"
    cloud: str | None = None        # "aws" | "gce" | "azure": the node cloud it serves (None: every node)
    source: str = "default"         # "default for aws:// nodes" or "--credential-provider-config FILE"
    default_cache_duration: str = ""
    api_version: str = ""

    def matches(self, image: str) -> bool:
        return self.matching(image) is not None

    def matching(self, image: str) -> str | None:
        """The first ``matchImages`` glob that matches ``image``."""
        return next((g for g in self.match_images if match_image(g, image)), None)


_ECR = ("*.dkr.ecr.*.amazonaws.com", "*.dkr.ecr.*.amazonaws.com.cn", "*.dkr.ecr-fips.*.amazonaws.com")
#: What EKS, GKE and AKS nodes run (awslabs/amazon-eks-ami image-credential-provider config, cloud-provider-gcp
#: auth-provider-gcp, cloud-provider-azure acr-credential-provider).
DEFAULTS: tuple[Provider, ...] = (
    Provider("ecr-credential-provider", _ECR, "the node's IAM role", "aws", "default for aws:// nodes"),
    Provider("auth-provider-gcp", ("container.cloud.google.com", "gcr.io", "*.gcr.io", "*.pkg.dev"),
             "the node's service account", "gce", "default for gce:// nodes"),
    Provider("acr-credential-provider", ("*.azurecr.io", "*.azurecr.cn", "*.azurecr.de", "*.azurecr.us"),
             "the kubelet identity", "azure", "default for azure:// nodes"),
)


def node_cloud(provider_id: str | None) -> str | None:
    """``aws`` / ``gce`` / ``azure`` from a node's ``spec.providerID``; None for any other (or none)."""
    scheme = (provider_id or "").partition("://")[0].lower()
    return scheme if scheme in ("aws", "gce", "azure") else None


_INSTANCE = re.compile(r"^i-[0-9a-f]{8,17}$")


def aws_instance(provider_id: str | None) -> tuple[str, str] | None:
    """(zone, instance id) from ``aws:///us-east-1a/i-0abc…``; None for Fargate, hybrid or other nodes."""
    if node_cloud(provider_id) != "aws":
        return None
    parts = (provider_id or "").partition("://")[2].strip("/").split("/")
    if len(parts) < 2 or not _INSTANCE.match(parts[-1]):
        return None
    return parts[-2], parts[-1]


def region_of_zone(zone: str) -> str | None:
    """``us-east-1a`` / ``us-west-2-lax-1a`` → its region; None when it does not look like a zone."""
    m = re.match(r"^([a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d+)", zone)
    return m.group(1) if m else None


def provider_for(image: str, provider_id: str | None, providers: Sequence[Provider] | None) -> Provider | None:
    """The provider the kubelet of this node runs for ``image`` (a normalised name without tag), if any.

    ``providers`` None means the defaults, which apply by the node's cloud; a configured list (read with
    :func:`load_config`) applies to every node, as the user's own kubelet config does."""
    if providers is None:
        cloud = node_cloud(provider_id)
        return next((p for p in DEFAULTS if p.cloud == cloud and p.matches(image)), None)
    return next((p for p in providers if p.matches(image)), None)


_FAILURE = re.compile(
    r"(?i)(failed (?:getting|to get) credential from external registry credential provider"
    r"|error execing credential provider plugin\s+(?P<exec>[\w.-]+)"
    r"|credential provider plugin\s+\"?(?P<plugin>[\w.-]+)\"?\s+(?:failed|not found|returned))"
)


def provider_failure(message: str | None) -> tuple[str, str | None] | None:
    """(the matched text, the plugin it names or None) when ``message`` reports a credential provider that
    failed; None otherwise."""
    m = _FAILURE.search(message or "")
    if m is None:
        return None
    return m.group(0), m.group("exec") or m.group("plugin")


def _identity(name: str) -> str:
    low = name.lower()
    if "ecr" in low or "aws" in low:
        return "the node's IAM role"
    if "gcp" in low or "gcr" in low or "google" in low:
        return "the node's service account"
    if "acr" in low or "azure" in low:
        return "the kubelet identity"
    return f"what {name} fetches"


def load_config(path: str) -> list[Provider]:
    """The providers of a kubelet ``CredentialProviderConfig`` file (YAML or JSON). Raises InputError (one
    line, exit 2) for an unreadable or invalid file; never quotes its ``env`` values."""
    shown = printable(path)
    text = configfile.read_text(path, "--credential-provider-config", _MAX_CONFIG)
    try:
        doc = yamlconf.load(text)
    except yamlconf.YamlConfigError as err:
        raise InputError(f"--credential-provider-config {shown}: not valid YAML or JSON ({err})") from None
    source = f"--credential-provider-config {shown}"
    return _providers(doc, source)


def _providers(doc: Any, source: str) -> list[Provider]:
    def bad(why: str) -> InputError:
        return InputError(f"{source}: {why}")

    if not isinstance(doc, dict) or doc.get("kind") != "CredentialProviderConfig":
        raise bad("not a CredentialProviderConfig (kind: CredentialProviderConfig)")
    api = doc.get("apiVersion")
    if not isinstance(api, str) or not api.startswith("kubelet.config.k8s.io/"):
        raise bad("apiVersion is not kubelet.config.k8s.io/v1 (or v1beta1, v1alpha1)")
    items = doc.get("providers")
    if not isinstance(items, list) or not items:
        raise bad("has no providers")
    if len(items) > _MAX_PROVIDERS:
        raise bad(f"has more than {_MAX_PROVIDERS} providers")
    out: list[Provider] = []
    for n, p in enumerate(items):
        if not isinstance(p, dict):
            raise bad(f"providers[{n}] is not an object")
        name = p.get("name")
        globs = p.get("matchImages")
        if not isinstance(name, str) or not name or "/" in name:
            raise bad(f"providers[{n}] has no name (the plugin's file name)")
        if not isinstance(globs, list) or not globs or not all(isinstance(g, str) and g for g in globs):
            raise bad(f"provider {printable(name)} has no matchImages (a list of globs)")
        if len(globs) > _MAX_GLOBS:
            raise bad(f"provider {printable(name)} has more than {_MAX_GLOBS} matchImages")
        cache = p.get("defaultCacheDuration", "")
        papi = p.get("apiVersion", "")
        if not isinstance(cache, str) or not cache:
            raise bad(f"provider {printable(name)} has no defaultCacheDuration")
        if not isinstance(papi, str) or not papi.startswith("credentialprovider.kubelet.k8s.io/"):
            raise bad(f"provider {printable(name)} has no apiVersion credentialprovider.kubelet.k8s.io/v1")
        for key in ("args", "env"):
            if key in p and p[key] is not None and not isinstance(p[key], list):
                raise bad(f"provider {printable(name)} has {key} that is not a list")
        out.append(Provider(name, tuple(globs), _identity(name), None, source, cache, papi))
    return out
