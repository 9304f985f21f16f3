"""The fast paths are the same paths: masks off the critical path, prefix KV reuse, fast parsing.

Each optimisation is checked against the slow way it replaces, on real inputs (BFCL toolsets, the
tiny random Llama, llguidance's own mask kernel), never against timings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from funcroute import ToolSet
from funcroute.backends.base import Request
from funcroute.constrain.bounds import DecodeBounds
from funcroute.errors import CallValidationError
from funcroute.parsing import ParseLimits, iter_documents, whole_json

BFCL = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "bfcl" / "BFCL_v4_simple_python.json"
BOUNDS = DecodeBounds(max_string_chars=16, max_items=3)


# ------------------------------------------------------------------------------ parsing fast paths

SEED = '```json\n{\n  "function": "f",\n  "params": {\n    "a": "x"\n  }\n}\n```'


@pytest.mark.parametrize(
    "reply",
    [
        SEED,
        '```\n{"function": "f", "params": {}}\n```',
        '  ```JSON extra words\n[{"function": "f", "params": {}}]\n```  \n',
        # ``` inside a string: the careful path
        '```json\n{"function": "f", "params": {"code": "a ``` b"}}\n```',
        '```json\n{"function": "f"}\n```\nand then\n```json\n{}\n```',  # two blocks: careful path
        '```json\n{"function": "f"}```',  # fence closing a content line: careful path
        "```yaml\nfunction: f\nparams: {}\n```",  # not JSON: careful path
        '```json\n{"function": NaN}\n```',  # refused by the checks either way
    ],
)
def test_one_fence_fast_path_reads_what_the_careful_path_reads_first(reply: str) -> None:
    fast = whole_json(reply, ParseLimits())
    try:
        first = next(iter(iter_documents(reply, ParseLimits())))
    except (StopIteration, Exception):
        first = None
    if fast is not None:
        assert fast == first


def test_seed_reply_validates_through_the_fast_path() -> None:
    tools = ToolSet()

    @tools.tool
    def f(a: str) -> str:
        """Echo."""
        return a

    call = tools.parse(SEED)
    assert (call.function, call.arguments, tools.dispatch(call)) == ("f", {"a": "x"}, "x")
    with pytest.raises(CallValidationError, match="a"):
        tools.parse('```json\n{"function": "f", "params": {"a": [1]}}\n```')


class Inner(BaseModel):
    """Only strings and ints: no float can hide here."""

    name: str
    count: int | None = None
    tags: list[str] = []


class WithFloat(BaseModel):
    """A float two levels down."""

    inner: Inner
    weight: float


def test_nan_scan_skipped_only_where_no_float_can_be() -> None:
    from funcroute.tools.validators import _float_free

    assert _float_free(str) and _float_free(int | None) and _float_free(list[Inner])
    assert _float_free(Literal["a", "b"]) and _float_free(dict[str, int]) and _float_free(tuple[int, ...])
    assert not _float_free(float) and not _float_free(WithFloat) and not _float_free(Any)
    assert not _float_free(dict) and not _float_free(list[float | str])

    tools = ToolSet()

    @tools.tool
    def g(item: WithFloat, label: Inner) -> str:
        """Both kinds of field."""
        return label.name

    label = {"name": "x"}
    bad = {"function": "g", "params": {"item": {"inner": {"name": "n"}, "weight": "nan"}, "label": label}}
    with pytest.raises(CallValidationError, match="finite"):
        tools.parse(json.dumps(bad))
    good = {"function": "g", "params": {"item": {"inner": {"name": "n"}, "weight": 1.5}, "label": label}}
    assert tools.dispatch(tools.parse(json.dumps(good))) == "x"


# ------------------------------------------------------------------------------ masks


def test_in_place_mask_equals_llguidance_kernel() -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("llguidance")
    from funcroute.constrain._mask import apply_mask_, lltorch

    generator = torch.Generator().manual_seed(0)
    for vocab in (31, 32, 33, 1000, 49152, 49153):
        width = (vocab + 31) // 32
        bitmask = torch.randint(-(2**31), 2**31 - 1, (3, width), dtype=torch.int32, generator=generator)
        logits = torch.randn(3, vocab, generator=generator)
        ours, theirs = logits.clone(), logits.clone()
        apply_mask_(ours, bitmask, [0, 2])
        part = theirs[[0, 2]]
        lltorch().apply_token_bitmask_inplace(part, bitmask[[0, 2]])
        theirs[[0, 2]] = part
        assert torch.equal(ours, theirs), vocab
        # logits wider than the mask: the ids past it are never allowed
        wide = torch.randn(1, width * 32 + 5, generator=generator)
        apply_mask_(wide, bitmask[:1])
        assert torch.isinf(wide[0, width * 32 :]).all()


def test_prefix_cache_hands_out_the_shared_prefix_once() -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from transformers import DynamicCache

    from funcroute.constrain._prefix import PrefixCache

    cache = DynamicCache()
    cache.update(torch.zeros(1, 2, 20, 4), torch.zeros(1, 2, 20, 4), 0)
    prefix = PrefixCache(min_tokens=4)
    assert prefix.take(list(range(30))) == (None, 0)
    prefix.keep(list(range(20)), cache)
    got, shared = prefix.take([*range(12), 99, 100])
    assert got is cache and shared == 12 and cache.get_seq_length() == 12
    assert prefix.take(list(range(30))) == (None, 0)  # handed over: nobody else extends it
    prefix.keep(list(range(12)), cache)
    got, shared = prefix.take(list(range(12)))  # the same prompt: one token is still fed
    assert shared == 11 and cache.get_seq_length() == 11
    prefix.keep(list(range(11)), cache)
    assert prefix.take([50, *range(11)]) == (None, 0)  # nothing shared


def _cases(count: int) -> list[tuple[ToolSet, str]]:
    if not BFCL.exists():
        pytest.skip(f"BFCL corpus not found at {BFCL}")
    from funcroute.prompts.templates import get_template

    cases = []
    for line in BFCL.read_text(encoding="utf-8").splitlines()[:count]:
        entry = json.loads(line)
        tools = ToolSet.from_bfcl(entry["function"])
        prompt = get_template("airoboros-2").render(tools.prompt(entry["question"][0][-1]["content"]))
        cases.append((tools, prompt))
    return cases


@pytest.mark.timeout(600)
def test_prefix_reuse_and_background_masks_change_no_greedy_reply(tiny_model_dir: Path) -> None:
    pytest.importorskip("llguidance")
    from funcroute.backends.transformers import TransformersBackend

    reused = TransformersBackend(tiny_model_dir, device="cpu", decode_bounds=BOUNDS)
    fresh = TransformersBackend(tiny_model_dir, device="cpu", decode_bounds=BOUNDS, prefix_cache=False)
    cases = _cases(6)
    for tools, prompt in cases:
        request = Request(prompt=prompt, max_new_tokens=96, schema=tools.json_schema())
        assert reused.complete(request).text == fresh.complete(request).text
    assert reused.prefix_cache is not None and reused.prefix_cache.reused_tokens > 20 * (len(cases) - 1)


@pytest.mark.timeout(600)
def test_batched_grammar_with_prefetch_equals_one_by_one(tiny_model_dir: Path) -> None:
    pytest.importorskip("llguidance")
    from funcroute.backends.transformers import TransformersBackend

    backend = TransformersBackend(tiny_model_dir, device="cpu", decode_bounds=BOUNDS, prefix_cache=False)
    requests = [
        Request(prompt=prompt, max_new_tokens=64, schema=tools.json_schema()) for tools, prompt in _cases(4)
    ]
    batched = [c.text for c in backend.complete_many(requests)]
    backend.jump_forward = False  # one by one through the batched processor's token-per-step rules
    single = [backend.complete(r).text for r in requests]
    assert batched == single
    for (tools, _), text in zip(_cases(4), batched, strict=True):
        if text.endswith("}"):
            tools.parse(text)


@pytest.mark.timeout(600)
def test_llamacpp_prefix_reuse_changes_no_greedy_reply(tiny_model_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    pytest.importorskip("gguf")
    from funcroute.backends.llamacpp import LlamaCppBackend
    from funcroute.testing.gguf import convert_to_gguf

    path = convert_to_gguf(tiny_model_dir, tmp_path / "tiny.gguf")
    with (
        LlamaCppBackend(path, n_ctx=2048, n_threads=1) as reused,
        LlamaCppBackend(path, n_ctx=2048, n_threads=1, prefix_cache=False) as fresh,
    ):
        for tools, prompt in _cases(4):
            request = Request(prompt=prompt, max_new_tokens=48, schema=tools.json_schema())
            assert reused.complete(request).text == fresh.complete(request).text
