"""Names defined once and imported everywhere: causes, waiting reasons, event reasons.

Cause values are a public contract (CLI, JSON, metric labels): see ``causes.md`` in the README.
Adding one is fine; renaming one is a breaking change.
"""

from __future__ import annotations

from enum import StrEnum


class Cause(StrEnum):
    """The root causes pulldoctor names. Values are stable identifiers."""

    INVALID_IMAGE_NAME = "invalid_image_name"
    NEVER_PULL_ABSENT = "never_pull_absent"
    TAG_NOT_FOUND = "tag_not_found"
    REPO_NOT_FOUND = "repo_not_found"
    REPO_NOT_FOUND_OR_NO_ACCESS = "repo_not_found_or_no_access"
    AUTH_MISSING = "auth_missing"
    AUTH_INVALID = "auth_invalid"
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate_limited"
    DNS_FAILURE = "dns_failure"
    NETWORK_UNREACHABLE = "network_unreachable"
    TLS_ERROR = "tls_error"
    HTTP_VS_HTTPS = "http_vs_https"
    PLATFORM_MISMATCH = "platform_mismatch"
    PULL_TIMEOUT_OR_PROGRESS_DEADLINE = "pull_timeout_or_progress_deadline"
    DISK_FULL = "disk_full"
    REGISTRY_SERVER_ERROR = "registry_server_error"
    SIGNATURE_INVALID = "signature_invalid"
    #: A manifest format the node's runtime refuses: Docker schema 1 on containerd 2.0 and later ("no longer
    #: supported since containerd v2.0").
    UNSUPPORTED_MANIFEST = "unsupported_manifest"
    #: A short name (``nginx``) that the node's registries.conf cannot resolve to one registry: containers/image's
    #: short-name mode ``enforcing`` refuses to guess ("returns ambiguous list"). CRI-O only.
    AMBIGUOUS_SHORT_NAME = "ambiguous_short_name"
    OTHER = "other"


#: Causes that are hedges: the message alone cannot say which root cause it is.
HEDGES: frozenset[Cause] = frozenset({Cause.REPO_NOT_FOUND_OR_NO_ACCESS})


class WaitingReason(StrEnum):
    """Container waiting reasons set by the kubelet (pkg/kubelet/images/types.go, cri-api errors)."""

    ERR_IMAGE_PULL = "ErrImagePull"
    IMAGE_PULL_BACK_OFF = "ImagePullBackOff"
    ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
    INVALID_IMAGE_NAME = "InvalidImageName"
    REGISTRY_UNAVAILABLE = "RegistryUnavailable"
    SIGNATURE_VALIDATION_FAILED = "SignatureValidationFailed"
    IMAGE_INSPECT_ERROR = "ImageInspectError"


#: The waiting reasons that mean "this container cannot get its image".
IMAGE_WAITING_REASONS: frozenset[str] = frozenset(r.value for r in WaitingReason)


class EventReason(StrEnum):
    """Kubelet event reasons about images (pkg/kubelet/events/event.go)."""

    PULLING = "Pulling"
    PULLED = "Pulled"
    FAILED = "Failed"
    BACK_OFF = "BackOff"
    ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
    INSPECT_FAILED = "InspectFailed"
    FAILED_TO_RETRIEVE_IMAGE_PULL_SECRET = "FailedToRetrieveImagePullSecret"


class PullPolicy(StrEnum):
    ALWAYS = "Always"
    IF_NOT_PRESENT = "IfNotPresent"
    NEVER = "Never"


class ContainerType(StrEnum):
    INIT = "init"
    REGULAR = "regular"
    EPHEMERAL = "ephemeral"
    #: An image volume (``spec.volumes[].image``, beta in 1.34): pulled by the kubelet like a container image.
    IMAGE_VOLUME = "image_volume"


# Kubelet constants (pkg/kubelet/kubelet.go, client-go flowcontrol): the image back-off.
IMAGE_BACKOFF_INITIAL_SECONDS = 10
IMAGE_BACKOFF_MAX_SECONDS = 300
