"""Prompts in a model's own tool format: its chat template, rendered with ``tools``.

Airoboros models get the Airoboros selection prompt (the default everywhere). Models trained on
another tool format (Hermes, Qwen, Llama 3.x, Mistral, gpt-oss...) ship a Jinja chat template that
takes ``tools`` and writes them the way the model learned; :class:`NativeTemplate` renders exactly
that template, from a Hugging Face tokenizer (through ``apply_chat_template(tools=...)``, byte for
byte what transformers renders) or from the template text alone (``tokenizer_config.json``, or a
GGUF file's ``tokenizer.chat_template`` metadata, rendered in a Jinja sandbox the way transformers
does). The template also tells which format to read back (:func:`~funcroute.formats.format_from_template`)
and whether the model thinks first (``<think>`` in the template).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from funcroute._install import require
from funcroute.errors import TemplateError
from funcroute.formats import ToolCallFormat, format_from_template

__all__ = ["NativeTemplate", "chat_template_from_gguf"]

Message = Mapping[str, Any]


def _raise(message: str) -> None:
    raise TemplateError(f"the chat template refused the conversation: {message}")


def _tojson(value: Any, indent: int | None = None, separators: Any = None, sort_keys: bool = False) -> str:
    # transformers' filter: no ASCII escaping, so tool descriptions reach the model as written
    return json.dumps(value, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys)


def _compile(source: str) -> Any:
    require("jinja2.sandbox", "templates", "rendering a chat template needs jinja2")
    import jinja2
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    try:
        return env.from_string(source)
    except jinja2.TemplateError as exc:
        raise TemplateError(f"the chat template does not compile: {exc}") from exc


@dataclass(frozen=True)
class NativeTemplate:
    """A model's own chat template, rendered with the tools in the model's format.

    Attributes:
        source: the Jinja template text.
        bos_token: the tokenizer's BOS text (templates write ``{{ bos_token }}``).
        eos_token: the tokenizer's EOS text.
        tokenizer: when built from a Hugging Face tokenizer, rendering goes through its
            ``apply_chat_template`` (exact transformers behaviour).
        variables: extra template variables (e.g. ``{"enable_thinking": False}`` for Qwen 3).
    """

    source: str
    bos_token: str = ""
    eos_token: str = ""
    tokenizer: Any = field(default=None, repr=False, compare=False)
    variables: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_tokenizer(cls, tokenizer: Any, **variables: Any) -> NativeTemplate:
        """The template of a Hugging Face tokenizer (``tokenizer.chat_template``)."""
        source = getattr(tokenizer, "chat_template", None)
        if isinstance(source, Mapping):  # some tokenizers keep named templates; "tool_use" first
            source = source.get("tool_use") or source.get("default")
        if not isinstance(source, str) or not source:
            raise TemplateError("the tokenizer has no chat template")
        return cls(
            source,
            bos_token=str(getattr(tokenizer, "bos_token", "") or ""),
            eos_token=str(getattr(tokenizer, "eos_token", "") or ""),
            tokenizer=tokenizer,
            variables=variables,
        )

    @classmethod
    def from_gguf(cls, path: str | os.PathLike[str], **variables: Any) -> NativeTemplate:
        """The template stored in a GGUF file's metadata (``tokenizer.chat_template``)."""
        source, bos, eos = chat_template_from_gguf(path)
        return cls(source, bos_token=bos, eos_token=eos, variables=variables)

    @property
    def format(self) -> ToolCallFormat | None:
        """The tool-call format the template's model writes, when the template shows it."""
        return format_from_template(self.source)

    @property
    def reasoning(self) -> bool:
        """Whether the model thinks first: its template handles ``</think>``, or thinking is switched on."""
        return "</think>" in self.source or bool(self.variables.get("enable_thinking"))

    @property
    def takes_tools(self) -> bool:
        """Whether the template renders a ``tools`` list at all."""
        return "tools" in self.source

    def render(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]] | None = None,
        *,
        add_generation_prompt: bool = True,
    ) -> str:
        """The prompt text for ``messages`` with ``tools`` (OpenAI-style specs, as templates expect).

        Raises:
            TemplateError: the template does not compile, or refuses the conversation.
        """
        if self.tokenizer is not None:
            try:
                text = self.tokenizer.apply_chat_template(
                    list(messages),
                    tools=list(tools) if tools else None,
                    tokenize=False,
                    add_generation_prompt=add_generation_prompt,
                    chat_template=self.source,
                    **dict(self.variables),
                )
            except TemplateError:
                raise
            except Exception as exc:  # jinja2 or transformers errors from the model's own template
                raise TemplateError(f"the chat template failed to render: {exc}") from exc
            return str(text)
        template = _compile(self.source)
        try:
            return str(
                template.render(
                    messages=list(messages),
                    tools=list(tools) if tools else None,
                    add_generation_prompt=add_generation_prompt,
                    bos_token=self.bos_token,
                    eos_token=self.eos_token,
                    **dict(self.variables),
                )
            )
        except TemplateError:
            raise
        except Exception as exc:  # a model's template is code we did not write: any failure is its own
            raise TemplateError(f"the chat template failed to render: {exc}") from exc


def chat_template_from_gguf(path: str | os.PathLike[str]) -> tuple[str, str, str]:
    """``(chat template, BOS text, EOS text)`` from a GGUF file's metadata.

    Raises:
        TemplateError: the file has no chat template.
        UsageError: the ``gguf`` package is missing.
    """
    require("gguf", "llamacpp", "reading GGUF metadata needs gguf")
    from gguf import GGUFReader

    reader = GGUFReader(os.fspath(path))

    def text(key: str) -> str | None:
        found = reader.fields.get(key)
        if found is None or not found.data:
            return None
        return bytes(found.parts[found.data[0]]).decode("utf-8", "replace")

    def token(key: str) -> str:
        index = reader.fields.get(key)
        tokens = reader.fields.get("tokenizer.ggml.tokens")
        if index is None or tokens is None or not index.data:
            return ""
        number = int(index.parts[index.data[0]][0])
        if number >= len(tokens.data):
            return ""
        return bytes(tokens.parts[tokens.data[number]]).decode("utf-8", "replace")

    source = text("tokenizer.chat_template")
    if not source:
        raise TemplateError(f"{os.fspath(path)} has no tokenizer.chat_template metadata")
    return source, token("tokenizer.ggml.bos_token_id"), token("tokenizer.ggml.eos_token_id")
