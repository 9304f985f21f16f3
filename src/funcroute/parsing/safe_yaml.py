"""YAML for untrusted text: a safe loader without aliases, Python tags or bool/date guessing."""

from __future__ import annotations

import re
from typing import Any

import yaml

__all__ = ["YAML_CALL_START", "load_yaml"]

#: Where a YAML call starts: a ``function:`` / ``name:`` / ``tool:`` key, maybe as a list item.
YAML_CALL_START = re.compile(r"^[ \t]*(?:-[ \t]+)?[\"']?(?:function|name|tool)[\"']?[ \t]*:", re.MULTILINE)


class _SafeLoader(yaml.SafeLoader):
    """SafeLoader without aliases, YAML 1.1 booleans (``no`` → False) or timestamps."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(None, None, "aliases are not allowed", mark)
        return super().compose_node(parent, index)


_BOOL = "tag:yaml.org,2002:bool"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_SafeLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _TIMESTAMP)]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SafeLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


class _UniqueKeyLoader(_SafeLoader):
    """The safe loader, refusing a key repeated in one mapping (for tool files, where it loses a tool)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool)):
                continue  # unhashable keys are refused later, with a clearer message
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str, *, unique_keys: bool = False) -> Any:
    """Parse YAML safely (see :class:`_SafeLoader`); raises ``yaml.YAMLError`` or RecursionError.

    Model replies keep the last of repeated keys, as JSON does; ``unique_keys=True`` refuses them.
    """
    return yaml.load(text, Loader=_UniqueKeyLoader if unique_keys else _SafeLoader)  # both are SafeLoaders
