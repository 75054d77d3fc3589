"""Test helpers for the cluster side: object factories (``objects``) and a fake Kubernetes API server.

See ``server.py`` for the fake API server; everything a test needs is re-exported here.
"""

from kubeapi.server import EVENTS_V1, RESOURCES, FakeKubeAPI, SeenRequest, to_core_event, to_events_v1

__all__ = ["EVENTS_V1", "RESOURCES", "FakeKubeAPI", "SeenRequest", "to_core_event", "to_events_v1"]
