"""Constrained decoding per format: each format's grammar accepts its own compact replies, rejects
broken ones, and what it accepts reads back as a valid call.

Grammars are checked byte by byte with llguidance over a byte-level tokenizer built here (no
download): the Lark rendering directly, the GBNF rendering through ``llguidance.gbnf_to_lark``
(and llama.cpp's own grammar parser when llama-cpp-python is installed).
"""

from __future__ import annotations

from typing import Any, Literal

import pytest

from funcroute import ToolSet
from funcroute.constrain.bounds import DecodeBounds
from funcroute.constrain.formats import to_gbnf, to_lark
from funcroute.formats import get_format
from funcroute.formats.grammar import Node, reasoning_then

llguidance = pytest.importorskip("llguidance")
pytest.importorskip("transformers")
pytest.importorskip("tokenizers")


@pytest.fixture(scope="module")
def byte_tokenizer() -> Any:
    """One token per byte (and an EOS), so any text can be fed to a matcher."""
    import llguidance.hf
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {c: i for i, c in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    vocab["</s>"] = len(vocab)
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tokenizer.decoder = decoders.ByteLevel()
    hf = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="</s>")
    return hf, llguidance.hf.from_tokenizer(hf)


@pytest.fixture(scope="module")
def tools() -> ToolSet:
    tools = ToolSet()

    @tools.tool
    def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
        """Get the weather."""
        return city

    @tools.tool
    def book(guests: int, vegan: bool = False, tags: list[str] | None = None) -> str:
        """Book a table."""
        return str(guests)

    return tools


def _specs(tools: ToolSet) -> list[tuple[str, dict[str, Any]]]:
    return [(t.name, t.schema) for t in tools]


def _accepts(byte_tokenizer: Any, lark: str, text: str) -> bool:
    hf, tokenizer = byte_tokenizer
    matcher = llguidance.LLMatcher(tokenizer, lark, log_level=0)
    assert not matcher.is_error(), matcher.get_error()
    for token in hf.encode(text, add_special_tokens=False):
        if not matcher.consume_token(token):
            return False
    return bool(matcher.is_accepting())


W = '{"city":"Paris"}'
ACCEPTED: dict[str, list[str]] = {
    "airoboros-json": [
        '{"function":"get_weather","params":{"city":"Paris"}}',
        ' {"function":"book","params":{"guests":2}}',
    ],
    "hermes": [f'<tool_call>\n{{"name":"get_weather","arguments":{W}}}\n</tool_call>'],
    "mistral": [f'[TOOL_CALLS] [{{"name":"get_weather","arguments":{W}}}]'],
    "llama3-json": [
        f'{{"type":"function","name":"get_weather","parameters":{W}}}',
        '<|python_tag|>{"type":"function","name":"book","parameters":{"guests":1,"vegan":true}}',
    ],
    "pythonic": [
        '[get_weather(city="Paris")]',
        '[get_weather(city="Paris", unit="fahrenheit")]',
        '[book(guests=3, vegan=True, tags=["x"])]',
    ],
    "qwen3-xml": [
        "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis, <b>France</b>\n</parameter>\n"
        "</function>\n</tool_call>",
        "<tool_call>\n<function=book>\n<parameter=guests>\n2\n</parameter>\n<parameter=vegan>\n"
        "true\n</parameter>\n</function>\n</tool_call>",
    ],
    "functiongemma": [
        "<start_function_call>call:get_weather{city:<escape>Paris<escape>,unit:<escape>celsius<escape>}<end_function_call>",
        '<start_function_call>call:book{guests:2,tags:["a"]}<end_function_call>',
    ],
    "harmony": [
        f"<|channel|>analysis<|message|>User wants weather {W}.<|end|><|start|>assistant"
        f"<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{W}<|call|>",
        f"<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{W}<|call|>",
    ],
    "deepseek": [
        f"<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{W}\n"
        f"```<｜tool▁call▁end｜><｜tool▁calls▁end｜>"
    ],
    "openai": [
        f'{{"tool_calls":[{{"type":"function","function":{{"name":"get_weather","arguments":{W}}}}}]}}'
    ],
}
REJECTED: dict[str, list[str]] = {
    "airoboros-json": [
        '{"function":"nope","params":{}}',
        '{"function":  "get_weather","params":{"city":"Paris"}}',  # one space is allowed, a run is not
        '{"function":\n"get_weather","params":{"city":"Paris"}}',
    ],
    "hermes": [
        f'<tool_call>{{"name":"get_weather","arguments":{W}}}</tool_call>',
        f'<tool_call>\n{{"name":"get_weather","arguments":{W}}}\n',
    ],
    "mistral": [
        f'[TOOL_CALLS] [{{"name":"get_weather","arguments":{W}}},{{"name":"get_weather","arguments":{W}}}]'
    ],
    "llama3-json": ['{"type":"function","name":"book","parameters":{}}'],
    "pythonic": [
        '[get_weather(unit="celsius")]',
        '[get_weather(city="Paris", city="Rome")]',
        "[book(guests=2, vegan=true)]",
    ],
    "qwen3-xml": [
        "<tool_call>\n<function=get_weather>\n<parameter=unit>\nkelvin\n</parameter>\n</function>\n"
        "</tool_call>"
    ],
    "functiongemma": [
        "<start_function_call>call:get_weather{,city:<escape>Paris<escape>}<end_function_call>"
    ],
    "harmony": [f"<|channel|>commentary to=functions.nope <|constrain|>json<|message|>{W}<|call|>"],
    "deepseek": [
        f"<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{W}\n```<｜tool▁call▁end｜>"
    ],
    "openai": ['{"tool_calls":[]}'],
}


def _renderings(node: Node) -> list[str]:
    from llguidance.gbnf_to_lark import gbnf_to_lark

    # Unbounded here: llguidance's GBNF converter recurses once per bounded repetition.
    lark_from_gbnf = gbnf_to_lark(to_gbnf(node))
    return [to_lark(node, DecodeBounds()), lark_from_gbnf]


@pytest.mark.parametrize("fmt", sorted(ACCEPTED))
def test_format_grammar_accepts_its_replies_and_they_parse(
    byte_tokenizer: Any, tools: ToolSet, fmt: str
) -> None:
    node = get_format(fmt).grammar(_specs(tools))
    for lark in _renderings(node):
        for reply in ACCEPTED[fmt]:
            assert _accepts(byte_tokenizer, lark, reply), (fmt, reply)
            assert tools.parse_many(reply, format=fmt)  # what the grammar allows, the reader reads
        for reply in REJECTED[fmt]:
            assert not _accepts(byte_tokenizer, lark, reply), (fmt, reply)


@pytest.mark.parametrize(
    "fmt", ["hermes", "pythonic", "mistral", "qwen3-xml", "functiongemma", "llama3-json"]
)
def test_parallel_grammar_takes_several_calls(byte_tokenizer: Any, tools: ToolSet, fmt: str) -> None:
    single, parallel = (get_format(fmt).grammar(_specs(tools), parallel=p) for p in (False, True))
    reply = {
        "hermes": f'<tool_call>\n{{"name":"get_weather","arguments":{W}}}\n</tool_call>\n'
        '<tool_call>\n{"name":"book","arguments":{"guests":2}}\n</tool_call>',
        "pythonic": '[get_weather(city="Paris"), book(guests=2)]',
        "mistral": f'[TOOL_CALLS] [{{"name":"get_weather","arguments":{W}}},'
        '{"name":"book","arguments":{"guests":2}}]',
        "qwen3-xml": "<tool_call>\n<function=book>\n<parameter=guests>\n2\n</parameter>\n"
        "</function>\n</tool_call>\n"
        "<tool_call>\n<function=get_weather>\n<parameter=city>\nRome\n</parameter>\n</function>\n"
        "</tool_call>",
        "functiongemma": "<start_function_call>call:book{guests:2}<end_function_call>"
        "<start_function_call>call:get_weather{city:<escape>Rome<escape>}<end_function_call>",
        "llama3-json": f'{{"type":"function","name":"get_weather","parameters":{W}}}\n'
        '{"type":"function","name":"book","parameters":{"guests":2}}',
    }[fmt]
    for lark in _renderings(parallel):
        assert _accepts(byte_tokenizer, lark, reply)
    for lark in _renderings(single):
        assert not _accepts(byte_tokenizer, lark, reply)
    assert len(tools.parse_many(reply, format=fmt)) == 2


def test_reasoning_runs_free_until_the_end_of_the_thought(byte_tokenizer: Any, tools: ToolSet) -> None:
    node = reasoning_then(get_format("hermes").grammar(_specs(tools)))
    call = f'<tool_call>\n{{"name":"get_weather","arguments":{W}}}\n</tool_call>'
    for lark in _renderings(node):
        # Anything goes inside the thought, even call-like text and partial closing tags.
        thought = '<think>I could call get_weather with {"city": "Rome"} </thin </think'
        assert _accepts(byte_tokenizer, lark, thought + ">\n\n" + call)
        assert _accepts(byte_tokenizer, lark, "no opening tag, it was in the prompt</think>" + call)
        # After </think>, only the call.
        assert not _accepts(byte_tokenizer, lark, "<think>x</think>Sure! " + call)
        assert not _accepts(byte_tokenizer, lark, "<think>x</think>" + call.replace("Paris", "Paris\x01"))
    assert tools.parse(
        '<think>I could call get_weather with {"city": "Rome"}</think>\n\n' + call
    ).arguments == {"city": "Paris"}


def test_gbnf_parses_in_llama_cpp(tools: ToolSet) -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    for fmt in sorted(ACCEPTED):
        text = to_gbnf(reasoning_then(get_format(fmt).grammar(_specs(tools), parallel=True)), DecodeBounds())
        grammar = llama_cpp.LlamaGrammar.from_string(text, verbose=False)
        assert grammar is not None
