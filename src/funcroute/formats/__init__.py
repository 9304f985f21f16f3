"""Tool-call formats: read (and write) the calls every local model family emits.

Each format is a :class:`ToolCallFormat` with a reader, a writer and a grammar:

========================  =====================================================================
``airoboros-json``        ``{"function": ..., "params": {...}}`` (fenced, in prose, repaired)
``airoboros-yaml``        ``function: name`` / ``params:``
``openai``                ``{"tool_calls": [{"function": {"name", "arguments": "<json>"}}]}``
``hermes``                ``<tool_call>{"name", "arguments"}</tool_call>`` (Hermes, Qwen 2.5/3)
``mistral``               ``[TOOL_CALLS] [{...}, ...]`` or ``[TOOL_CALLS]name[ARGS]{...}``
``llama3-json``           ``{"type": "function", "name", "parameters"}`` (Llama 3.x)
``pythonic``              ``[get_weather(city="Paris")]`` (Llama 3.2/4, Gorilla, BFCL), via ``ast``
``qwen3-xml``             ``<function=name><parameter=key>value</parameter></function>``
``functiongemma``         ``<start_function_call>call:name{k:<escape>v<escape>}<end_function_call>``
``harmony``               gpt-oss: ``to=functions.NAME`` on the commentary channel
``deepseek``              ``<｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME ... <｜tool▁call▁end｜>``
========================  =====================================================================

Reasoning blocks (``<think>...</think>``, Harmony's analysis channel) are skipped before the call.
``format="auto"`` sniffs the format (one regex search; the Airoboros readers when nothing else
matches), :func:`format_from_template` infers it from a chat template.
"""

from funcroute.formats.base import ArgHints, CallSpec, ToolCallFormat, ToolSpec
from funcroute.formats.reasoning import strip_reasoning
from funcroute.formats.registry import (
    AUTO,
    format_from_template,
    format_names,
    get_format,
    register_format,
    sniff,
)

__all__ = [
    "AUTO",
    "ArgHints",
    "CallSpec",
    "ToolCallFormat",
    "ToolSpec",
    "format_from_template",
    "format_names",
    "get_format",
    "register_format",
    "sniff",
    "strip_reasoning",
]
