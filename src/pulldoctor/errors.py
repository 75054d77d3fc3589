"""One hierarchy for every error pulldoctor raises on purpose.

The CLI turns any ``PulldoctorError`` into one line on stderr and exit code 2; anything else is a bug.
Exception texts must never contain a credential: build them from names, never from secret values.
"""

from __future__ import annotations


class PulldoctorError(Exception):
    """Base class. ``str(err)`` is the one line the user sees."""

    exit_code = 2


class UsageError(PulldoctorError):
    """The command line asks for something that cannot be done."""


class InputError(PulldoctorError):
    """A file, bundle or stream could not be read; the message names it and says what is wrong."""


class InvalidReference(PulldoctorError, ValueError):
    """An image reference breaks the distribution/reference grammar.

    ``rule`` names the broken rule, ``part`` the offending text; ``str()`` reads like the
    runtime's own error, e.g. ``invalid reference format: repository name must be lowercase: Nginx``.
    """

    def __init__(self, message: str, *, rule: str = "", part: str = "") -> None:
        super().__init__(message)
        self.rule = rule
        self.part = part


class SecretFormatError(InputError):
    """A pull secret's payload is malformed (bad JSON, bad base64). Never quotes the payload."""


class ClusterAccessError(PulldoctorError):
    """The cluster could not be reached or refused a request needed to go on."""


class RegistryError(PulldoctorError):
    """A registry call failed in a way the probe could not classify (should be rare)."""


class ApiError(ClusterAccessError):
    """A request to the Kubernetes API failed (``pulldoctor.kubeapi``). ``host`` is the API server's URL.

    The subclasses say how, so callers branch on types instead of status numbers: ``kubeapi.transport``
    holds the one mapping from an HTTP status or a transport exception to them. Texts are built from
    object names and the server's Status message, never from a credential.
    """

    def __init__(self, message: str, *, host: str = "") -> None:
        super().__init__(message)
        self.host = host


class ApiStatusError(ApiError):
    """The API server answered with a status that is not 2xx (or a watch stream sent an ERROR event).

    ``status`` is the HTTP code, ``reason`` the Status object's reason (``Forbidden``, ``Expired``) or the
    HTTP reason, ``message`` the Status message on one line.
    """

    def __init__(self, status: int, reason: str, message: str, *, host: str = "") -> None:
        super().__init__(f"the Kubernetes API at {host} answered {status}: {message}" if host
                         else f"{status} {reason}: {message}", host=host)
        self.status = status
        self.reason = reason
        self.message = message


class ApiForbidden(ApiStatusError):
    """403: RBAC does not allow the request (least privilege: often a note, not an error)."""


class ApiUnauthorized(ApiForbidden):
    """401: the credentials were not accepted. A kind of refusal, so ``except ApiForbidden`` catches both."""


class ApiNotFound(ApiStatusError):
    """404: the object (or the API group) does not exist."""


class ApiGone(ApiStatusError):
    """410: a continue token or a watch's resourceVersion expired (etcd compaction); list again."""


class ApiUnavailable(ApiError):
    """The API server could not be reached, or broke off a response (refused, TLS, reset)."""


class ApiTimeout(ApiUnavailable):
    """A request outlived its deadline: a server that never answers, or one that drips a byte at a time."""


class ApiBadResponse(ApiError):
    """The API server answered 2xx with something pulldoctor refuses to read (too large, too many pages)."""


class ApiTooLarge(ApiBadResponse):
    """A response body, or one watch line, is larger than its cap."""


class ApiLineTooLong(ApiTooLarge):
    """One line of a watch stream is longer than its cap: the stream is dropped and the kind re-listed."""
