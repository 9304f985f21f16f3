"""Constrained decoding on SmolLM2 through both backends: BFCL calls valid, jump-forward text unchanged.

Both backends decode with llguidance: the grammar's forced text goes to the model as the tokenizer's
own tokens, all in one forward pass (jump-forward). ``TransformersBackend`` can switch jump-forward
off, so the test below compares it with the token-by-token loop; ``LlamaCppBackend`` is compared
with llama.cpp's own grammar sampler (``grammar_engine="gbnf"``), which lets the model spell forced
text in any tokens.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from funcroute.backends.base import Request
from funcroute.backends.presets import Preset
from funcroute.errors import UsageError
from funcroute.evaluation.cases import read_bfcl
from funcroute.evaluation.scoring import Case
from funcroute.routing.router import Router

pytestmark = [pytest.mark.realmodel, pytest.mark.funcroute_real_backend]

CASES = 5
MAX_NEW_TOKENS = 96


@pytest.fixture(scope="module")
def bfcl_simple() -> list[Case]:
    """The first BFCL ``simple_python`` cases (``shared/corpora/bfcl`` beside the checkout)."""
    try:
        return read_bfcl("simple_python")[:CASES]
    except UsageError as exc:
        pytest.skip(f"BFCL corpus not found: {exc}")


def test_every_bfcl_reply_parses_and_validates_on_the_first_attempt(
    smol: Preset, bfcl_simple: list[Case]
) -> None:
    for case in bfcl_simple:
        router = Router(
            case.tools, smol.backend, template=smol.template, max_retries=0, max_new_tokens=MAX_NEW_TOKENS
        )
        result = router.route(case.input, dry_run=True)  # a failure here is a constrained-decoding bug
        assert result.call is not None and len(result.attempts) == 1, case.id
        reply = result.attempts[0].reply
        assert json.loads(reply)["function"] in case.tools.names, (case.id, reply)
        assert case.tools.parse(reply) == result.call
        assert not any(ord(c) < 0x20 for c in reply), reply  # no raw control characters inside strings


@pytest.fixture
def token_by_token(smol_transformers: Preset) -> Iterator[Preset]:
    """The shared transformers model with jump-forward off for one test, then on again."""
    backend = smol_transformers.backend
    assert getattr(backend, "jump_forward", None) is True
    backend.jump_forward = False  # type: ignore[attr-defined]
    try:
        yield smol_transformers
    finally:
        backend.jump_forward = True  # type: ignore[attr-defined]


def test_transformers_jump_forward_gives_the_token_by_token_text_in_fewer_passes(
    smol_transformers: Preset, bfcl_simple: list[Case], request: pytest.FixtureRequest
) -> None:
    preset = smol_transformers
    requests = []
    for case in bfcl_simple[:1]:  # each completion costs seconds on the dequantised float32 model
        prompt = preset.template.render(case.tools.prompt(case.input))
        schema = case.tools.json_schema()
        requests.append(
            Request(prompt, max_new_tokens=MAX_NEW_TOKENS, stop=preset.template.stop, schema=schema)
        )
    jumped = [preset.backend.complete(r) for r in requests]
    request.getfixturevalue("token_by_token")
    stepped = [preset.backend.complete(r) for r in requests]
    for fast, slow in zip(jumped, stepped, strict=True):
        assert fast.text == slow.text  # the same text, token for token, on the real tokenizer
        assert fast.forward_passes is not None and slow.forward_passes is not None
        assert slow.forward_passes == slow.completion_tokens  # one pass per token
        assert fast.forward_passes < slow.forward_passes


def test_llamacpp_feeds_forced_text_as_the_tokenizers_own_tokens(smol_llamacpp: Preset) -> None:
    """BFCL simple_python_292: with llama.cpp's sampler SmolLM2 spelled ``{`` ``"`` ``function`` and
    `` [`` ``".``, and wrote the chords as ``[".C, F, G"]``; fed canonical tokens, it writes them."""
    try:
        case = next(c for c in read_bfcl("simple_python") if c.id == "simple_python_292")
    except UsageError as exc:
        pytest.skip(f"BFCL corpus not found: {exc}")
    backend = smol_llamacpp.backend
    assert getattr(backend, "grammar_engine", None) == "llguidance"
    router = Router(
        case.tools, backend, template=smol_llamacpp.template, max_retries=0, max_new_tokens=MAX_NEW_TOKENS
    )
    result = router.route(case.input, dry_run=True)
    assert result.call is not None and result.call.function == "compose_melody"
    assert result.call.arguments["progression"] == ["C", "F", "G"], result.attempts[0].reply
    completion = result.attempts[0].completion
    assert completion is not None and completion.forward_passes is not None
    assert completion.completion_tokens is not None
    assert completion.forward_passes < completion.completion_tokens  # forced runs cost one pass
