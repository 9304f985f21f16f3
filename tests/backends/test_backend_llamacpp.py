"""LlamaCppBackend and the GGUF converter, on the tiny random Llama converted to GGUF."""

from __future__ import annotations

import itertools
import json
import pathlib
import re
import sys
import time
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from funcroute.backends.base import Request
from funcroute.errors import BackendError

llama_cpp = pytest.importorskip(
    "llama_cpp", reason='llama-cpp-python is not installed (pip install "funcroute-llm[llamacpp]")'
)
pytest.importorskip("gguf", reason="gguf is not installed")

from funcroute.backends.llamacpp import LlamaCppBackend  # noqa: E402
from funcroute.testing.gguf import convert_to_gguf  # noqa: E402

CONTROL = re.compile(r"[\x00-\x1f\x7f]")

CALL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "function": {"enum": ["search", "get_weather", "file_analytics"]},
        "params": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "maxLength": 24},
                "limit": {"type": "integer", "minimum": 1},
                "exact": {"type": "boolean"},
                "tags": {"type": "array", "items": {"type": "string", "maxLength": 8}, "maxItems": 3},
                "unit": {"anyOf": [{"const": "celsius"}, {"const": "fahrenheit"}, {"type": "null"}]},
            },
            "required": ["query"],
            "additionalProperties": False,
        },
    },
    "required": ["function", "params"],
    "additionalProperties": False,
}

PROMPTS = [
    f"A chat. USER: {text} ASSISTANT: "
    for text in [
        "What is the weather in Paris?",
        "Count the words in report.txt",
        "search for python asyncio",
        "How many lines are in notes.md?",
        "Find GPU prices",
        "weather in Tokyo tomorrow, in fahrenheit",
        "Search the web for São Paulo news",
        "Summarize data/sales_2023.csv",
        "tell me the time",
        "Zürich weather please",
        "grouped count of column city",
        "find the word 'error' in /var/log/syslog",
        "",
        "{",
        '"function": "',
        "Résumé ünïcödé 漢字 😀",
        "1 2 3 4 5 6 7 8 9",
        "\t\n",
        "ASSISTANT: ASSISTANT:",
        "please please please please please please please please",
    ]
]


@pytest.fixture(scope="module")
def tiny_gguf(tiny_model_dir: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return convert_to_gguf(tiny_model_dir, tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.fixture(scope="module", params=["llguidance", "gbnf"])
def backend(tiny_gguf: pathlib.Path, request: pytest.FixtureRequest) -> Iterator[LlamaCppBackend]:
    """The backend on each grammar engine in turn (llguidance is the default where installed)."""
    with LlamaCppBackend(tiny_gguf, n_ctx=1024, n_threads=1, grammar_engine=request.param) as b:
        assert isinstance(b, LlamaCppBackend) and b.grammar_engine == request.param
        yield b


# --------------------------------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------------------------------


def test_conversion_is_fast_and_loads(tiny_model_dir: pathlib.Path, tmp_path: pathlib.Path) -> None:
    start = time.perf_counter()
    out = convert_to_gguf(tiny_model_dir, tmp_path / "sub" / "m.gguf")
    assert time.perf_counter() - start < 5.0
    assert out == tmp_path / "sub" / "m.gguf" and out.stat().st_size > 1_000_000
    llm = llama_cpp.Llama(str(out), vocab_only=True, verbose=False)
    try:
        assert llm.n_vocab() % 64 == 0  # the padded embedding rows are in the vocabulary
        assert llm.token_bos() == 0 and llm.token_eos() == 1
    finally:
        llm.close()


def test_conversion_rejects_other_models(tiny_model_dir: pathlib.Path, tmp_path: pathlib.Path) -> None:
    import shutil

    from funcroute.errors import UsageError

    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "model_type": "gpt2"}))
    with pytest.raises(UsageError, match="llama"):
        convert_to_gguf(other, tmp_path / "x.gguf")
    (other / "config.json").write_text(
        json.dumps({**config, "rope_scaling": {"rope_type": "yarn", "factor": 4.0}})
    )
    with pytest.raises(UsageError, match="RoPE"):
        convert_to_gguf(other, tmp_path / "x.gguf")


def test_tokenizer_and_logits_match_transformers(
    tiny_model_dir: pathlib.Path, backend: LlamaCppBackend
) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_model_dir)
    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    llm = backend.llm
    text = 'A chat. USER: count "words" in report.txt\tplease ASSISTANT: {"function": "é漢😀"}'
    ids = tokenizer(text)["input_ids"]
    assert llm.tokenize(text.encode(), add_bos=True, special=True) == ids

    with torch.no_grad():
        expected = model(torch.tensor([ids])).logits[0]
    context = llama_cpp.Llama(
        str(backend.model_path), n_ctx=256, logits_all=True, verbose=False, n_threads=1, n_threads_batch=1
    )
    try:
        context.eval(ids)
        got = torch.tensor(context.scores[: len(ids)])
    finally:
        context.close()
    max_diff = float((got - expected).abs().max())
    print(f"max |logit diff| = {max_diff:.2e}")
    assert max_diff < 1e-3

    hf = model.generate(
        torch.tensor([ids]),
        attention_mask=torch.ones(1, len(ids), dtype=torch.long),
        max_new_tokens=16,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
    )[0, len(ids) :].tolist()
    ours = []
    for token in llm.generate(ids, temp=0.0, reset=True):
        ours.append(token)
        if len(ours) == len(hf):
            break
    assert ours == hf


# --------------------------------------------------------------------------------------------------
# Completion
# --------------------------------------------------------------------------------------------------


def test_completion(backend: LlamaCppBackend) -> None:
    result = backend.complete(Request(prompt=PROMPTS[0], max_new_tokens=12))
    assert isinstance(result.text, str) and result.text
    assert result.finish_reason == "length"
    assert result.completion_tokens == 12
    assert result.prompt_tokens == len(backend.llm.tokenize(PROMPTS[0].encode(), add_bos=True, special=True))
    assert result.elapsed_s > 0
    again = backend.complete(Request(prompt=PROMPTS[0], max_new_tokens=12))
    assert again.text == result.text  # greedy: deterministic


def test_stop_strings(backend: LlamaCppBackend) -> None:
    for prompt in PROMPTS[:5]:
        free = backend.complete(Request(prompt=prompt, max_new_tokens=24)).text
        assert len(free) > 6, free
        stop = free[3:6]
        cut = backend.complete(Request(prompt=prompt, max_new_tokens=24, stop=("never-produced", stop)))
        assert cut.text == free[: free.index(stop)]
        assert stop not in cut.text
        assert cut.finish_reason == "stop"
        assert cut.completion_tokens is not None and cut.completion_tokens < 24


def test_stop_when(backend: LlamaCppBackend) -> None:
    calls: list[str] = []

    def detector(text: str) -> int | None:
        calls.append(text)
        return 5 if len(text) >= 5 else None

    result = backend.complete(Request(prompt=PROMPTS[1], max_new_tokens=50, stop_when=detector))
    assert len(result.text) == 5
    assert result.finish_reason == "stop"
    assert calls and all(b.startswith(a) for a, b in itertools.pairwise(calls))  # sees the text grow
    assert result.completion_tokens is not None and result.completion_tokens < 50


def _without_separator_spaces(text: str, anywhere: bool = False) -> str:
    """``text`` less single spaces outside strings: after ':' and ',' only, or ``anywhere``.

    A run of two spaces keeps its second one, so the text no longer equals its compact JSON.
    """
    out: list[str] = []
    in_string = escaped = False
    for index, char in enumerate(text):
        if in_string:
            escaped, in_string = (not escaped and char == "\\"), in_string and (escaped or char != '"')
        elif char == '"':
            in_string = True
        elif char == " " and text[index - 1 : index] != " ":
            if anywhere or text[index - 1 : index] in (":", ","):
                continue
        out.append(char)
    return "".join(out)


def test_grammar_constrained_output_is_always_valid(backend: LlamaCppBackend) -> None:
    seen = set()
    for prompt in PROMPTS:
        result = backend.complete(Request(prompt=prompt, max_new_tokens=160, schema=CALL_SCHEMA))
        assert result.finish_reason == "stop", result
        assert not CONTROL.search(result.text), repr(result.text)
        value = json.loads(result.text)
        jsonschema.validate(value, CALL_SCHEMA)
        # The JSON spacing real models write: at most one space, only after ':' or ',' (GBNF), or
        # between any two JSON tokens (llguidance), never a run of them.
        assert json.dumps(value, separators=(",", ":"), ensure_ascii=False) == _without_separator_spaces(
            result.text, anywhere=backend.grammar_engine == "llguidance"
        )
        seen.add(result.text)
    assert len(PROMPTS) == 20


def test_llguidance_feeds_forced_tokens_in_fewer_passes_than_tokens(tiny_gguf: pathlib.Path) -> None:
    with LlamaCppBackend(tiny_gguf, n_ctx=512, n_threads=1, grammar_engine="llguidance") as guided:
        result = guided.complete(Request(prompt=PROMPTS[0], max_new_tokens=160, schema=CALL_SCHEMA))
    assert result.finish_reason == "stop" and result.text.lstrip().startswith('{"function"')
    assert result.forward_passes is not None and result.completion_tokens is not None
    # '{"function": "' and '"params":' are forced: fed with the next pass, not one pass per token
    assert result.forward_passes < result.completion_tokens


def test_llguidance_sampling_stays_valid_and_follows_the_seed(tiny_gguf: pathlib.Path) -> None:
    def sampled(seed: int) -> list[str]:
        with LlamaCppBackend(tiny_gguf, n_ctx=512, n_threads=1, seed=seed) as b:
            assert b.grammar_engine == "llguidance"
            return [
                b.complete(
                    Request(prompt=p, max_new_tokens=160, schema=CALL_SCHEMA, extra={"temperature": 1.0})
                ).text
                for p in PROMPTS[:4]
            ]

    first, again, other = sampled(1), sampled(1), sampled(2)
    for text in first:
        jsonschema.validate(json.loads(text), CALL_SCHEMA)
    assert first == again  # the backend's seed drives the sampler
    assert first != other


def test_grammar_engine_is_checked(tiny_gguf: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from funcroute.backends import llamacpp
    from funcroute.errors import UsageError

    with pytest.raises(UsageError, match="grammar_engine"):
        LlamaCppBackend(tiny_gguf, grammar_engine="xgrammar")  # type: ignore[arg-type]
    monkeypatch.setattr(llamacpp, "guidance_for_llama", lambda: False)
    with pytest.raises(BackendError, match="llguidance"):
        LlamaCppBackend(tiny_gguf, grammar_engine="llguidance")
    with LlamaCppBackend(tiny_gguf, n_ctx=256, n_threads=1) as fallback:
        assert fallback.grammar_engine == "gbnf"  # auto, without llguidance


def test_grammar_off_ignores_schema(tiny_gguf: pathlib.Path) -> None:
    with LlamaCppBackend(tiny_gguf, n_ctx=256, n_threads=1, grammar=False) as free:
        result = free.complete(Request(prompt=PROMPTS[0], max_new_tokens=8, schema=CALL_SCHEMA))
    assert result.finish_reason == "length" and not result.text.startswith("{")


def test_grammar_and_stop_when_together(backend: LlamaCppBackend) -> None:
    result = backend.complete(
        Request(
            prompt=PROMPTS[2],
            max_new_tokens=160,
            schema=CALL_SCHEMA,
            stop_when=lambda t: t.find(",") if "," in t else None,
        )
    )
    assert re.match(r' ?\{ ?"function": ?"', result.text) and "," not in result.text, result.text


def test_prompt_too_long(backend: LlamaCppBackend) -> None:
    with pytest.raises(BackendError, match="context window") as info:
        backend.complete(Request(prompt="word " * 3000, max_new_tokens=4))
    assert info.value.retryable is False


def test_max_tokens_capped_by_context(tiny_gguf: pathlib.Path) -> None:
    with LlamaCppBackend(tiny_gguf, n_ctx=256, n_threads=1) as small:
        n_ctx = small.llm.n_ctx()  # llama.cpp may round the window up
        prompt = "word " * (n_ctx - 20)
        n_prompt = len(small.llm.tokenize(prompt.encode(), add_bos=True, special=True))
        assert n_prompt < n_ctx
        result = small.complete(Request(prompt=prompt, max_new_tokens=500))
    assert result.finish_reason == "length"
    assert result.completion_tokens == n_ctx - n_prompt


def test_missing_file(tmp_path: pathlib.Path) -> None:
    with pytest.raises(BackendError, match="not found") as info:
        LlamaCppBackend(tmp_path / "nope.gguf")
    assert info.value.retryable is False


def test_not_a_gguf(tmp_path: pathlib.Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a model")
    with pytest.raises(BackendError, match="cannot load"):
        LlamaCppBackend(bogus)


def test_install_hint(monkeypatch: pytest.MonkeyPatch, tiny_gguf: pathlib.Path) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(BackendError, match=r'pip install "funcroute-llm\[llamacpp\]"'):
        LlamaCppBackend(tiny_gguf)


def test_close_twice_and_use_after_close(tiny_gguf: pathlib.Path) -> None:
    b = LlamaCppBackend(tiny_gguf, n_ctx=128, n_threads=1)
    b.close()
    b.close()
    with pytest.raises(BackendError, match="closed"):
        b.complete(Request(prompt="x", max_new_tokens=2))


def test_complete_many_and_async(backend: LlamaCppBackend) -> None:
    import asyncio

    requests = [Request(prompt=p, max_new_tokens=6) for p in PROMPTS[:4]]
    many = backend.complete_many(requests)
    one_by_one = [backend.complete(r) for r in requests]
    assert [c.text for c in many] == [c.text for c in one_by_one]

    async def run() -> list[str]:
        results = await asyncio.gather(*(backend.acomplete(r) for r in requests))
        return [c.text for c in results]

    assert asyncio.run(run()) == [c.text for c in one_by_one]


@pytest.mark.parametrize("fmt", ["hermes", "pythonic", "qwen3-xml", "functiongemma"])
def test_format_grammar_constrains_llama_cpp(backend: LlamaCppBackend, fmt: str) -> None:
    from funcroute import ToolSet
    from funcroute.formats import get_format
    from funcroute.formats.grammar import reasoning_then

    tools = ToolSet()

    @tools.tool
    def get_weather(city: str, days: int = 1) -> str:
        """Get the weather."""
        return city

    grammar = get_format(fmt).grammar([(t.name, t.schema) for t in tools])
    completion = backend.complete(Request("Weather in Paris? ", max_new_tokens=160, grammar=grammar))
    if completion.finish_reason == "stop":  # a random model may run out of tokens inside a string
        assert tools.parse(completion.text, format=fmt).function == "get_weather"
    else:
        assert completion.text.startswith(("<tool_call>", "[get_weather(", "<start_function_call>"))
    # A reasoning wrapper compiles too (llama.cpp parses the text-until automaton).
    thought = backend.complete(Request("Hi ", max_new_tokens=8, grammar=reasoning_then(grammar)))
    assert isinstance(thought.text, str)


def test_chat_template_from_gguf_metadata(backend: LlamaCppBackend) -> None:
    from funcroute.errors import TemplateError

    with pytest.raises(TemplateError, match="no tokenizer"):
        backend.chat_template()  # the tiny model ships no chat template
