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


# libyaml (PyYAML's C parser) reads a small reply ~8x faster than the pure-Python parser; the
# constructor and the resolvers stay PyYAML's own Python ones, so the values are the same. It is
# used only where it cannot differ from _SafeLoader: no "*" or "&" (so no alias to refuse:
# _SafeLoader's check lives in the Python composer, which libyaml replaces), no tags or directives
# ("!", "%": the two parsers read a bare "!" differently), no "?" that may be a key indicator (PyYAML
# takes any "?" in a flow collection for one), no "|#" block-scalar header (PyYAML refuses it), plain
# printable text without tabs or the Unicode line breaks they treat differently, and few structure
# characters: libyaml's composer recurses in C, unguarded by Python's recursion limit, and crashes the
# process between 300 and 500 levels on a 128 KiB thread stack; each level needs one of ":-[{", so at
# most _C_MAX_STRUCTURE of them bounds the depth. Each exclusion is one the differential tests in
# tests/formats found.
# Whatever libyaml refuses is read again by _SafeLoader, whose error (or reading) is the answer.
_CSafeLoader: type[Any] | None = None
if getattr(yaml, "__with_libyaml__", False):

    class _CSafeLoader(yaml.CSafeLoader):  # type: ignore[no-redef]  # only when libyaml is there
        """libyaml's parser with _SafeLoader's resolvers (no YAML 1.1 booleans, no timestamps)."""

        yaml_implicit_resolvers = _SafeLoader.yaml_implicit_resolvers


_C_UNSAFE = re.compile(
    r"[*!&%]|[|>][-+0-9]*#|(?:\A|\s)\?|[^\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
_C_MAX_STRUCTURE = 100  # a call's YAML has a handful; longer texts take the pure-Python parser
_STRUCTURE = ":-[{"


def _libyaml_may_read(text: str) -> bool:
    """Whether ``text`` is one libyaml reads exactly as :class:`_SafeLoader` does (see above)."""
    if _C_UNSAFE.search(text) is not None or ("?" in text and ("[" in text or "{" in text)):
        return False
    return sum(text.count(c) for c in _STRUCTURE) <= _C_MAX_STRUCTURE


def load_yaml(text: str, *, unique_keys: bool = False) -> Any:
    """Parse YAML safely (see :class:`_SafeLoader`); raises ``yaml.YAMLError`` or RecursionError.

    Model replies keep the last of repeated keys, as JSON does; ``unique_keys=True`` refuses them
    (tool files: always read by the pure-Python loader, whose error messages they show).
    """
    if unique_keys:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader
    if _CSafeLoader is not None and type(text) is str and _libyaml_may_read(text):
        try:
            return yaml.load(text, Loader=_CSafeLoader)  # a SafeLoader, parsed in C
        except Exception:  # any refusal: the pure-Python loader gives the answer
            pass
    return yaml.load(text, Loader=_SafeLoader)  # a SafeLoader
