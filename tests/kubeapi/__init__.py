"""Test helpers for the cluster side: object factories (``objects``) and a fake Kubernetes API server.

See ``server.py`` for the fake API server; everything a test needs is re-exported here.
"""
