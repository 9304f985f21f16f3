"""The model's own chat template: the Jinja text a checkpoint carries, rendered with its real tokens.

Instruct models are trained on one conversation layout (ChatML for SmolLM2, Llama-3 headers...).
The checkpoint carries it: ``tokenizer.chat_template`` in a GGUF file's metadata, ``chat_template``
in ``tokenizer_config.json``. :class:`ModelChatTemplate` renders that text the way Hugging Face and
llama.cpp do (``messages``, ``add_generation_prompt``, ``bos_token``, ``eos_token``), with the
Airoboros selection prompt as the user message, so:

* the prompt is byte for byte what the model saw in training, special tokens included;
* a repair turn is a proper second turn of the same conversation (``user``, ``assistant``,
  ``user``), never the first turn repeated with its system block;
* generation stops at the model's end-of-turn token.

The rule (see README): a model that carries a chat template is prompted with it; the hand-written
Airoboros templates (:mod:`funcroute.prompts.templates`) are for Airoboros checkpoints that carry
none; an explicit ``template=`` always wins. Templates run in Jinja's sandbox: a model file is
untrusted input, and its template must not reach Python objects.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from funcroute.errors import TemplateError
from funcroute.prompts.templates import ChatTemplate

__all__ = ["ModelChatTemplate"]


@functools.lru_cache(maxsize=16)
def _compile(source: str) -> Any:
    from jinja2 import TemplateError as JinjaError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise TemplateError(f"the model's chat template refused the conversation: {message}")

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.globals["raise_exception"] = raise_exception
    try:
        return env.from_string(source)
    except JinjaError as exc:
        raise TemplateError(f"the model's chat template does not compile: {exc}") from exc


@dataclass(frozen=True)
class ModelChatTemplate(ChatTemplate):
    """A chat template given as the model's own Jinja text.

    Attributes:
        source: the Jinja template (HF ``chat_template``).
        bos_token: the text of the model's begin-of-sequence token, for templates that write it.
        eos_token: the text of its end-of-turn token; generation stops there.
        system: a system message to send first ("": none, and the template's own default applies).
    """

    source: str = ""
    bos_token: str = ""
    eos_token: str = ""

    def __post_init__(self) -> None:
        if not self.source.strip():
            raise TemplateError(f"template {self.name!r}: the model carries an empty chat template")
        _compile(self.source)

    def messages(self, prompt: str, history: Sequence[tuple[str, str]] = ()) -> list[dict[str, str]]:
        """The conversation as chat messages: system, earlier turns, then ``prompt``."""
        messages = [{"role": "system", "content": self.system}] if self.system else []
        for user_turn, reply in history:
            messages.append({"role": "user", "content": user_turn})
            messages.append({"role": "assistant", "content": reply.strip()})
        messages.append({"role": "user", "content": prompt})
        return messages

    def render(self, prompt: str, history: Sequence[tuple[str, str]] = ()) -> str:
        """Render ``prompt`` as the newest user turn after ``history``, ready for the reply."""
        from jinja2 import TemplateError as JinjaError

        try:
            return str(
                _compile(self.source).render(
                    messages=self.messages(prompt, history),
                    add_generation_prompt=True,
                    bos_token=self.bos_token,
                    eos_token=self.eos_token,
                )
            )
        except JinjaError as exc:
            raise TemplateError(f"the model's chat template failed to render: {exc}") from exc

    @property
    def stop(self) -> tuple[str, ...]:
        """The end-of-turn token's text (backends also stop at the model's end-of-generation ids)."""
        return (self.eos_token,) if self.eos_token else ()

    @classmethod
    def from_hf_tokenizer(cls, tokenizer: Any, *, name: str = "model", system: str = "") -> ModelChatTemplate:
        """The template a Hugging Face tokenizer carries (``tokenizer.chat_template``).

        Raises:
            TemplateError: the tokenizer carries no chat template.
        """
        source = getattr(tokenizer, "chat_template", None)
        if not isinstance(source, str):
            raise TemplateError(f"{name}: the tokenizer carries no chat template; pass template=")
        return cls(
            name=name,
            system=system,
            source=source,
            bos_token=str(tokenizer.bos_token or ""),
            eos_token=str(tokenizer.eos_token or ""),
        )

    @classmethod
    def from_llama(cls, llm: Any, *, name: str = "model", system: str = "") -> ModelChatTemplate:
        """The template in a loaded ``llama_cpp.Llama``'s GGUF metadata, with its real special tokens.

        Raises:
            TemplateError: the GGUF file carries no ``tokenizer.chat_template``.
        """
        source = (getattr(llm, "metadata", None) or {}).get("tokenizer.chat_template")
        if not isinstance(source, str):
            raise TemplateError(f"{name}: the GGUF file carries no tokenizer.chat_template; pass template=")

        def text(token: int) -> str:
            if token < 0:
                return ""
            return bytes(llm.detokenize([token], special=True)).decode("utf-8", errors="replace")

        return cls(
            name=name,
            system=system,
            source=source,
            bos_token=text(llm.token_bos()),
            eos_token=text(llm.token_eos()),
        )
