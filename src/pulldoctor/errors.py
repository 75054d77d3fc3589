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
