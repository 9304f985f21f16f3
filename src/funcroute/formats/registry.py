"""Formats by name, sniffing a reply's format, and inferring it from a model's chat template."""

from __future__ import annotations

import re
import threading

from funcroute.errors import UsageError
from funcroute.formats.airoboros import AiroborosJson, AiroborosYaml
from funcroute.formats.base import ToolCallFormat
from funcroute.formats.deepseek import DeepSeek
from funcroute.formats.functiongemma import FunctionGemma
from funcroute.formats.harmony import Harmony
from funcroute.formats.hermes import Hermes
from funcroute.formats.llama3 import Llama3Json
from funcroute.formats.mistral import Mistral
from funcroute.formats.openai import OpenAIToolCalls
from funcroute.formats.pythonic import Pythonic, looks_pythonic
from funcroute.formats.qwen_xml import QwenXml
from funcroute.formats.reasoning import has_reasoning, strip_reasoning

__all__ = [
    "AUTO",
    "format_from_template",
    "format_names",
    "get_format",
    "register_format",
    "sniff",
]

AUTO = "auto"
_LOCK = threading.Lock()
_FORMATS: dict[str, ToolCallFormat] = {}
_ALIASES = {
    "json": "airoboros-json",
    "airoboros": "airoboros-json",
    "yaml": "airoboros-yaml",
    "qwen": "hermes",
    "qwen2.5": "hermes",
    "qwen3": "hermes",
    "tool_call": "hermes",
    "llama3": "llama3-json",
    "llama3.1": "llama3-json",
    "llama4": "pythonic",
    "llama3.2-pythonic": "pythonic",
    "gorilla": "pythonic",
    "bfcl": "pythonic",
    "qwen3-coder": "qwen3-xml",
    "gpt-oss": "harmony",
    "gemma": "functiongemma",
    "deepseek-v3": "deepseek",
    "deepseek-r1": "deepseek",
    "openai-tool-calls": "openai",
}


def register_format(fmt: ToolCallFormat, *, replace: bool = False) -> ToolCallFormat:
    """Add a format to the registry (``replace=True`` to override one of the same name)."""
    with _LOCK:
        if fmt.name in _FORMATS and not replace:
            raise UsageError(f"a format named {fmt.name!r} is already registered")
        _FORMATS[fmt.name] = fmt
    return fmt


for _fmt in (
    AiroborosJson(),
    AiroborosYaml(),
    OpenAIToolCalls(),
    Hermes(),
    Mistral(),
    Llama3Json(),
    Pythonic(),
    QwenXml(),
    FunctionGemma(),
    Harmony(),
    DeepSeek(),
):
    register_format(_fmt)


def format_names() -> list[str]:
    """Every registered format name."""
    return list(_FORMATS)


def get_format(name: str | ToolCallFormat) -> ToolCallFormat:
    """The format named ``name`` (or an alias such as ``"qwen"``); a format object passes through."""
    if isinstance(name, ToolCallFormat):
        return name
    found = _FORMATS.get(_ALIASES.get(name, name)) if isinstance(name, str) else None
    if found is None:
        raise UsageError(f"unknown tool-call format {name!r}; known: auto, {', '.join(_FORMATS)}")
    return found


# Every delimiter a non-Airoboros format or a reasoning block starts with: one search tells whether
# a reply needs more than the Airoboros readers.
_MARKERS = re.compile(
    r"\[TOOL_CALLS\]|<tool_call>|<function=|<start_function_call>|<\|channel\||to=functions\.|"
    r"<｜tool▁call▁begin｜>|<\|python_tag\|>|</?think>|</?thinking>|</?reasoning>|\[/?THINK\]|◁/?think▷"
)
_DATA_FENCE = ("```json", "```yaml", "```yml", "```JSON", "```YAML")
_ORDER: tuple[tuple[str, str], ...] = (
    ("[TOOL_CALLS]", "mistral"),
    ("<function=", "qwen3-xml"),
    ("<tool_call>", "hermes"),
    ("<start_function_call>", "functiongemma"),
    ("<|channel|>", "harmony"),
    ("to=functions.", "harmony"),
    ("<｜tool▁call▁begin｜>", "deepseek"),
)


def sniff(text: str) -> tuple[ToolCallFormat | None, str]:
    """The format ``text`` is written in (``None``: the Airoboros readers), and the text to read.

    Cheapest first: one regex search for every delimiter; reasoning blocks are stripped only when a
    reasoning tag is there; the pythonic check only looks at the reply's first characters.
    """
    # Plain substring tests first (tens of nanoseconds): every marker holds "<", "[", "to=" or "◁".
    if ("<" in text or "[" in text or "to=" in text or "◁" in text) and _MARKERS.search(text) is not None:
        if has_reasoning(text):
            text = strip_reasoning(text)
        for marker, name in _ORDER:
            if marker in text:
                return _FORMATS[name], text
        if "<|python_tag|>" in text:
            rest = text.split("<|python_tag|>", 1)[1]
            return _FORMATS["pythonic" if looks_pythonic(rest) else "llama3-json"], text
    stripped = text.lstrip()
    first = stripped[:1]
    if (
        first == "[" or first.isalpha() or (first == "`" and not stripped.startswith(_DATA_FENCE))
    ) and looks_pythonic(text):
        return _FORMATS["pythonic"], text
    return None, text


# Template markers, most specific first (a Qwen3-Coder template also mentions <tool_call>).
_TEMPLATE_ORDER = (
    "harmony",
    "functiongemma",
    "deepseek",
    "qwen3-xml",
    "hermes",
    "mistral",
    "pythonic",
    "llama3-json",
)


def format_from_template(template: str | None) -> ToolCallFormat | None:
    """The format a model writes, read from its chat template text (``None`` when unknown).

    Works on a Hugging Face ``tokenizer.chat_template`` or a GGUF ``tokenizer.chat_template``
    metadata value: each format knows the delimiters its family's templates mention.
    """
    if not template:
        return None
    for name in _TEMPLATE_ORDER:
        fmt = _FORMATS[name]
        if fmt.template_markers and fmt.template_markers[0] in template:
            if name == "qwen3-xml" and "<parameter=" not in template:
                continue
            return fmt
    return None
