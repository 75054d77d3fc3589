"""Render a ``Diagnosis``: ``text`` for a terminal, ``json`` for machines (schema in the README), ``markdown``
for a ticket. Renderers only format; every word of substance comes from the diagnosis."""

from __future__ import annotations

from pulldoctor.render.json import render as json
from pulldoctor.render.markdown import render as markdown
from pulldoctor.render.text import render as text

__all__ = ["json", "markdown", "text"]
