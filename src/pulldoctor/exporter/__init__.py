"""``pulldoctor serve``: watch the cluster, keep one current diagnosis per failing container, export it.

Layout: ``pulldoctor.kubeapi`` (the API client ``diagnose`` uses too) → ``watch`` (list + watch, 410, back-off)
→ ``store`` (failing pods and their image events only) → ``diagnoser`` (cluster → diagnosis, with
``context`` for secrets/service accounts/nodes and ``probes`` for gated registry probes) → ``metrics``
and ``server`` (the endpoints). ``app.Exporter`` wires them. Nothing here is imported by other commands.
"""

from pulldoctor.exporter.app import Exporter
from pulldoctor.exporter.config import ExporterConfig, parse_duration, parse_listen

__all__ = ["Exporter", "ExporterConfig", "parse_duration", "parse_listen"]
