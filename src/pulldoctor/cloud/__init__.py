"""Cloud registry evidence: ECR tokens in pull secrets, the kubelet's credential providers per node cloud,
and (with ``pulldoctor[aws]``) the node role's and the repository's IAM policies, evaluated locally.

Everything here but ``aws`` is pure Python; ``aws`` imports boto3 only when it is called.
"""
