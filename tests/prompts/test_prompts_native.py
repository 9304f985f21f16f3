"""Prompts in the model's own format: chat templates rendered with ``tools``, read back in kind.

The templates under ``tests/templates`` are written after the public chat templates of Qwen 2.5
(Hermes-style ``<tool_call>``), Llama 3.2 (pythonic) and Mistral v0.3 (``[TOOL_CALLS]``); they keep
the parts that matter here (how tools are listed, the delimiters, the generation prompt).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from funcroute import ToolSet
from funcroute.backends.scripted import ScriptedBackend
from funcroute.errors import TemplateError, UnknownFunctionError
from funcroute.formats.grammar import Node
from funcroute.prompts.native import NativeTemplate
from funcroute.routing.router import Router

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def _template(name: str, **options: Any) -> NativeTemplate:
    return NativeTemplate((TEMPLATES / name).read_text(encoding="utf-8"), **options)


@pytest.fixture
def tools() -> ToolSet:
    tools = ToolSet()

    @tools.tool
    def get_weather(city: str, unit: str = "celsius") -> str:
        """Get the current weather in a city."""
        return f"sunny in {city}"

    @tools.tool
    def get_time(tz: str) -> str:
        """Get the time in a time zone."""
        return tz

    return tools


def test_qwen_template_renders_tools_and_asks_for_tool_call_blocks(tools: ToolSet) -> None:
    template = _template("qwen2.5.jinja")
    prompt = template.render([{"role": "user", "content": "Weather in Paris?"}], tools.openai_tools())
    assert prompt.startswith("<|im_start|>system\nYou are Qwen")
    assert (
        '"name": "get_weather"' in prompt and '"description": "Get the current weather in a city."' in prompt
    )
    assert '<tool_call>\n{"name": <function-name>' in prompt
    assert prompt.endswith("<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n")
    assert template.format is not None and template.format.name == "hermes"
    assert template.takes_tools and not template.reasoning


def test_template_variables_and_reasoning(tools: ToolSet) -> None:
    template = _template("qwen2.5.jinja", variables={"enable_thinking": True})
    prompt = template.render([{"role": "user", "content": "hi"}], tools.openai_tools())
    assert prompt.endswith("<|im_start|>assistant\n<think>\n")
    assert template.reasoning


def test_transformers_apply_chat_template_gives_the_same_text(tools: ToolSet) -> None:
    pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    source = (TEMPLATES / "llama3.2-pythonic.jinja").read_text(encoding="utf-8")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.BPE(vocab={"a": 0, "<s>": 1, "</s>": 2}, merges=[])),
        bos_token="<s>",
        eos_token="</s>",
    )
    tokenizer.chat_template = source
    messages = [{"role": "user", "content": "Weather in Paris and time in CET?"}]
    via_transformers = NativeTemplate.from_tokenizer(tokenizer).render(messages, tools.openai_tools())
    via_jinja = NativeTemplate(source, bos_token="<s>", eos_token="</s>").render(
        messages, tools.openai_tools()
    )
    assert via_transformers == via_jinja
    assert via_jinja.startswith("<s><|start_header_id|>system<|end_header_id|>")
    assert '    "name": "get_weather"' in via_jinja  # tojson(indent=4), as the template asks
    found = NativeTemplate.from_tokenizer(tokenizer).format
    assert found is not None and found.name == "pythonic"


def test_gguf_chat_template_is_read_from_metadata(tmp_path: Path) -> None:
    gguf = pytest.importorskip("gguf")
    source = (TEMPLATES / "mistral-v3.jinja").read_text(encoding="utf-8")
    path = tmp_path / "model.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_chat_template(source)
    writer.add_token_list(["<unk>", "<s>", "</s>", "a"])
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    template = NativeTemplate.from_gguf(path)
    assert template.source == source and (template.bos_token, template.eos_token) == ("<s>", "</s>")
    assert template.format is not None and template.format.name == "mistral"
    prompt = template.render(
        [{"role": "user", "content": "hi"}], [{"type": "function", "function": {"name": "f"}}]
    )
    assert (
        prompt == '<s>[AVAILABLE_TOOLS] [{"type": "function", "function": {"name": "f"}}][/AVAILABLE_TOOLS]'
        "[INST] hi[/INST]"
    )


def test_template_errors_are_template_errors() -> None:
    with pytest.raises(TemplateError, match="refused the conversation"):
        _template("mistral-v3.jinja").render([{"role": "tool", "content": "x"}])
    with pytest.raises(TemplateError, match="does not compile"):
        NativeTemplate("{% for %}").render([])
    with pytest.raises(TemplateError, match="failed to render"):
        NativeTemplate("{{ messages[5].content }}").render([])


def test_gguf_without_a_chat_template(tmp_path: Path) -> None:
    gguf = pytest.importorskip("gguf")
    path = tmp_path / "bare.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(TemplateError, match=r"no tokenizer\.chat_template"):
        NativeTemplate.from_gguf(path)


def test_sandbox_blocks_template_code_execution() -> None:
    hostile = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    with pytest.raises(TemplateError):
        NativeTemplate(hostile).render([])


def test_router_speaks_the_models_format_and_repairs_in_it(tools: ToolSet) -> None:
    backend = ScriptedBackend(
        [
            '<think>The user wants {"city": "Rome"}? No.</think>\n'
            '<tool_call>\n{"name": "get_wether", "arguments": {"city": "Paris"}}\n</tool_call>',
            '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
        ]
    )
    template = _template("qwen2.5.jinja", variables={"enable_thinking": True}, eos_token="<|im_end|>")
    router = Router(tools, backend, chat_template=template)
    result = router.route("Weather in Paris?")
    assert result.value == "sunny in Paris"
    assert len(result.attempts) == 2 and isinstance(result.attempts[0].error, UnknownFunctionError)
    first, second = backend.prompts
    assert "<tools>" in first and first.endswith("<|im_start|>assistant\n<think>\n")
    # The repair turn continues the conversation in the model's own template.
    assert "<|im_start|>assistant\n<think>The user wants" in second
    assert "Did you mean 'get_weather'?" in second and "in the same format" in second


def test_router_sends_the_format_grammar_when_constrained(tools: ToolSet) -> None:
    seen: list[Node | None] = []

    def reply(request: Any) -> str:
        seen.append(request.grammar)
        assert request.schema is None and request.stop == ()
        return '[get_time(tz="CET")]'

    from funcroute.backends.scripted import FunctionBackend

    router = Router(tools, FunctionBackend(reply), chat_template=_template("llama3.2-pythonic.jinja"))
    assert router.select("time in CET").arguments == {"tz": "CET"}
    assert seen and seen[0] is not None
    from funcroute.constrain.formats import to_lark

    assert '"get_time("' in to_lark(seen[0]) or "get_time(" in to_lark(seen[0])
    unconstrained = Router(
        tools, FunctionBackend(reply), chat_template=_template("llama3.2-pythonic.jinja"), constrained=False
    )
    seen.clear()
    unconstrained.select("time in CET")
    assert seen == [None]


def test_router_tool_format_without_native_template(tools: ToolSet) -> None:
    backend = ScriptedBackend(
        ["<start_function_call>call:get_time{tz:<escape>CET<escape>}<end_function_call>"]
    )
    router = Router(tools, backend, tool_format="functiongemma")
    assert router.select("time").arguments == {"tz": "CET"}
    assert "Available functions:" in backend.prompts[0]  # still the Airoboros prompt
