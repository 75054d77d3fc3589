"""``preflight``: will these manifests' pods get their images? A CI gate to run before a deploy.

The pipeline, left to right: ``inputs`` (files, directories, stdin; every value's line kept) →
``workloads`` (pod templates, their images, the Secrets and ServiceAccounts alongside) → ``checks``
(reference grammar, pull policy, pull secrets, the credentials the kubelet would send) → ``probes`` (the
registry, once per distinct image/credential pair) → ``findings`` → ``output`` (text, JSON, SARIF).
It reuses ``reference``, ``keyring`` and ``registry`` as they are, and the YAML limits of ``cluster.files``.
"""

from pulldoctor.preflight.findings import Check, Finding, Fix, Severity
from pulldoctor.preflight.report import Report, preflight

__all__ = ["Check", "Finding", "Fix", "Report", "Severity", "preflight"]
