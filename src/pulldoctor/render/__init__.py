"""Everything pulldoctor prints, one module per output: a ``Diagnosis`` as ``text`` (a terminal; ``brief`` the
screen-sized view), ``json`` (schema in docs/json.md) and ``markdown`` (a ticket); a probe result (``probe``), a
classification (``classify``) and a parsed reference (``ref``). Renderers only format: every word of substance
comes from the part that decided it. ``safe`` applies redact's masks and escapes over a whole report.

This package imports nothing itself, so ``pulldoctor ref`` and ``classify`` load only their own renderer: import
the function from its module (``from pulldoctor.render.text import render``).
"""
