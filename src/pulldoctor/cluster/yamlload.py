"""The YAML loader for ``--from`` files: PyYAML's safe loader (libyaml's when built), made total.

PyYAML's constructors raise ``ValueError``, ``KeyError``, ``IndexError`` or ``AttributeError`` for scalars
it has parsed (``!!int abc``, ``!!bool maybe``, ``!!timestamp nope``, ``2026-13-45``, an integer of more
digits than Python converts): here each is a ``BadValue`` naming its line. Timestamps stay text, as
kubectl reads them (sigs.k8s.io/yaml hands them on as strings): a field that is a time parses them as
RFC 3339 (``model``), any other keeps the text. Only the tags a Kubernetes object can hold are built:
``!!binary``, ``!!set``, ``!!omap`` and ``!!pairs`` (bytes, sets, tuples) are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: Python refuses to convert longer decimal strings (``sys.get_int_max_str_digits``); hex, octal and
#: YAML 1.1's base-60 forms are held to the same length (no Kubernetes field has 20 digits).
MAX_INT_DIGITS = 4300

_LOADER: type[Any] | None = None


class BadValue(ValueError):
    """A YAML value that its tag cannot build; ``str`` says what, ``line``/``column`` are 1-based."""

    def __init__(self, problem: str, node: Any) -> None:
        super().__init__(problem)
        mark = node.start_mark
        self.line, self.column = mark.line + 1, mark.column + 1


def _quoted(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "…")


def _checked(build: Callable[[Any, Any], Any], tag: str, what: str) -> Callable[[Any, Any], Any]:
    def construct(loader: Any, node: Any) -> Any:
        value = loader.construct_scalar(node)
        try:
            return build(loader, node)
        except (ValueError, KeyError, IndexError, AttributeError, TypeError, ArithmeticError):
            raise BadValue(f"{tag} {_quoted(value)} is not {what}", node) from None
    return construct


def _int(build: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    checked = _checked(build, "!!int", "an integer")

    def construct(loader: Any, node: Any) -> Any:
        value = loader.construct_scalar(node)
        digits = len(value) - value.count("_")
        if digits > MAX_INT_DIGITS:  # before int(): base 60 would multiply out thousands of digits
            raise BadValue(f"an integer of {digits} digits (more than {MAX_INT_DIGITS}); "
                            "no Kubernetes field holds one", node)
        return checked(loader, node)
    return construct


def _refused(tag: str) -> Callable[[Any, Any], Any]:
    def construct(loader: Any, node: Any) -> Any:
        raise BadValue(f"the tag {tag} is not used in Kubernetes objects", node)
    return construct


def loader_class() -> type[Any]:
    """The loader class (built once): CSafeLoader's speed, SafeLoader's tags, made total."""
    global _LOADER
    if _LOADER is None:
        import yaml
        from yaml.constructor import SafeConstructor

        base: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        timestamp = SafeConstructor.timestamp_regexp

        def text_timestamp(loader: Any, node: Any) -> str:
            value: str = loader.construct_scalar(node)
            if not timestamp.match(value):  # only an explicit !!timestamp gets here with other text
                raise BadValue(f"!!timestamp {_quoted(value)} is not a date or a time", node)
            return value

        loader: Any = type("PulldoctorLoader", (base,), {"__doc__": "CSafeLoader, total; timestamps as text."})
        tag = "tag:yaml.org,2002:"
        loader.add_constructor(tag + "int", _int(SafeConstructor.construct_yaml_int))
        loader.add_constructor(tag + "float", _checked(SafeConstructor.construct_yaml_float, "!!float", "a number"))
        loader.add_constructor(tag + "bool", _checked(SafeConstructor.construct_yaml_bool, "!!bool",
                                                      "true or false"))
        loader.add_constructor(tag + "timestamp", text_timestamp)
        for python_only in ("binary", "set", "omap", "pairs"):  # bytes, sets and tuples: no API field is one
            loader.add_constructor(tag + python_only, _refused(f"!!{python_only}"))
        _LOADER = loader
    return _LOADER
