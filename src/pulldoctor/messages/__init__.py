"""Read the runtime's error text: which cause it names, and the facts inside it.

``classify(message)`` takes what a user sees — a kubelet event message, a container's waiting message,
as printed by ``kubectl describe`` or pasted from YAML/JSON — and returns ``Classification(cause, fields,
signals)``. It never raises and examines at most 16 KiB (head and tail), with bounded patterns only.

How: ``normalize`` undoes escaping and line folding; ``peel`` removes the kubelet/kubectl wrappers and
splits kubelet aggregates; ``rules`` finds every core error (each a *signal*); ``fields`` extracts the facts.

**The root-signal rule.** Every rule has a specificity tier (``rules.py``: stated outright > precise
mechanism > transport failure > the registry's answer about the image > rate limit / server error >
bare 401/403 > cancelled). The root is the signal with the highest tier; among equals, the innermost one,
i.e. the one that appears last (Go errors wrap as ``outer: inner``). In a kubelet aggregate ``[e1, e2]``
(one error per credential tried) each member is classified alone, and a member whose cause is about the
image beats a member whose cause is about one credential (auth_missing, auth_invalid, forbidden,
repo_not_found_or_no_access), which in turn beats a member that only got a server error (the registry
answered the other attempt, so it is up); among those left, the most specific, then the first. ``signals``
lists every cause seen, root first. podman's list of short-name candidates (``N errors occurred: * Error
initializing source docker://R1/…  * …``, one pull attempt per search registry) is split the same way, but its
members are alternatives: when each says "not here" or "not for you" and they disagree, the image was found
nowhere and the root is the hedge ``repo_not_found_or_no_access``. The weakest evidence of all is a dropped
connection (``EOF``, ``unexpected EOF``): it counts only when nothing else is said, and never when an HTTP
status is named.

Three context rules then use the image named in the message and its registry:

- ``docker.io/<host.name>/…``: Docker Hub namespaces hold no dots, so an access or not-found answer for
  such a path means the repository cannot exist → ``repo_not_found``;
- a platform mismatch for the sandbox ``pause`` image (published for every platform) is a runtime
  fault → ``other``;
- GitHub's registry (``ghcr.io``) answers 401, 403 or ``denied`` alike for a private package and for a
  missing one, and GitLab.com's (``registry.gitlab.com``) answers ``denied: access forbidden`` to both →
  ``repo_not_found_or_no_access`` (the original cause kept in ``also_possible``).

Hedges stay honest: containerd's ``<ref>: not found`` (a HEAD 404, identical for a missing tag and a missing
repository) is ``tag_not_found`` as causes.md documents, with ``fields["also_possible"]`` naming the others.
"""

from pulldoctor.messages.classifier import Classification, classify

__all__ = ["Classification", "classify"]
