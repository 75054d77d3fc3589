"""Small YAML config files from a node or a user (a CredentialProviderConfig, a kubelet config): parsed without
aliases and without deep nesting, so a hostile file is one error, not a billion-laughs expansion or a
recursion crash. Cluster objects are read by ``cluster.files`` instead (its limits are for large inputs).
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 64


class YamlConfigError(ValueError):
    """The text is not YAML pulldoctor reads; ``str`` is one line, in pulldoctor's words."""


def load(text: str) -> Any:
    """The one document in ``text``; raises ``YamlConfigError`` for bad YAML, an alias or deep nesting."""
    import yaml  # only when a config file is read: the --from JSON path never imports PyYAML

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    depth = 0
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent):
                raise YamlConfigError("uses a YAML alias (*name), which no config file needs")
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise YamlConfigError(f"nests more than {MAX_DEPTH} deep")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise YamlConfigError(f"not valid YAML{where}") from None
    except (RecursionError, ValueError) as err:
        if isinstance(err, YamlConfigError):
            raise
        raise YamlConfigError(f"a value YAML cannot build ({type(err).__name__})") from None
