"""pulldoctor: find why a Kubernetes pod cannot get its image, prove it, and print the fix.

The package is a pipeline: sources (``cluster``) → evidence (``reference``, ``keyring``,
``messages``, ``registry``) → ``diagnosis`` → ``render``. The CLI in ``cli`` only
parses arguments and calls into it.
"""

__version__ = "0.2.0"

__all__ = ["__version__"]
