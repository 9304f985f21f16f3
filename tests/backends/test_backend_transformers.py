"""TransformersBackend and the tiny test model, run for real on CPU."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funcroute.backends.base import Completion, Request
from funcroute.errors import BackendError, UsageError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from funcroute.backends.transformers import TransformersBackend  # noqa: E402
from funcroute.testing import build_tiny_model  # noqa: E402

CHAT = "A chat between a curious user and an assistant. USER: count words in report.txt ASSISTANT:"
PROMPTS = [
    CHAT,
    "Hello",
    '{"function": "',
    "x " * 50,
    "Plan: search the web\n:evidence0: = Search[",
    "日本語のテキスト",
    "a",
    "USER: hi ASSISTANT:",
]
TRICKY = [
    "",
    " ",
    "  leading and trailing  ",
    "tabs\tand\r\nnewlines\n\n",
    "\x00\x01\x07\x1b[31m\x7f",
    "日本語 😀 👩‍👩‍👧 é vs e\u0301",
    "<s>literal specials</s><pad><unk>",
    '{"function": "file_analytics", "params": {"action": "count_occurrences"}}',
    "\ufeffBOM and \u200bzero width",
]


@pytest.fixture(scope="module")
def tokenizer(tiny_backend: TransformersBackend) -> Any:
    return tiny_backend.tokenizer


def full_greedy(backend: TransformersBackend, prompt: str, n: int = 40) -> str:
    completion = backend.complete(Request(prompt, max_new_tokens=n))
    assert completion.finish_reason == "length"
    return completion.text


# -- the tiny model ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", TRICKY)
def test_tokenizer_round_trips_tricky_text(tokenizer: Any, text: str) -> None:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == text


@settings(max_examples=150, deadline=None)
@given(text=st.text())
def test_tokenizer_round_trips_any_text(tokenizer: Any, text: str) -> None:
    assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text


def test_tokenizer_specials_and_bos(tokenizer: Any) -> None:
    assert (tokenizer.bos_token, tokenizer.eos_token) == ("<s>", "</s>")
    assert (tokenizer.unk_token, tokenizer.pad_token) == ("<unk>", "<pad>")
    assert tokenizer.padding_side == "left"
    ids = tokenizer("hello")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id
    assert tokenizer.eos_token_id not in ids
    assert 5000 <= len(tokenizer) <= 6000


def test_model_vocab_is_padded_beyond_tokenizer(tiny_backend: TransformersBackend) -> None:
    model, tok = tiny_backend.model, tiny_backend.tokenizer
    rows = model.get_input_embeddings().weight.shape[0]
    assert rows == model.config.vocab_size > len(tok)
    assert rows % 64 == 0
    assert model.config.tie_word_embeddings


def test_build_is_deterministic(tiny_model_dir: Path, tmp_path: Path) -> None:
    again = build_tiny_model(tmp_path / "again")
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert (again / name).read_bytes() == (tiny_model_dir / name).read_bytes()
    other = build_tiny_model(tmp_path / "other", seed=1)
    assert (other / "model.safetensors").read_bytes() != (again / "model.safetensors").read_bytes()


# -- complete ------------------------------------------------------------------------------------


def test_complete_returns_text_and_counts(tiny_backend: TransformersBackend, tokenizer: Any) -> None:
    completion = tiny_backend.complete(Request(CHAT, max_new_tokens=12))
    assert isinstance(completion.text, str) and completion.text
    assert completion.prompt_tokens == len(tokenizer(CHAT)["input_ids"])
    assert completion.completion_tokens == 12
    assert completion.finish_reason == "length"
    assert completion.elapsed_s > 0
    assert tiny_backend.name.startswith("transformers:")


def test_greedy_is_repeatable(tiny_backend: TransformersBackend) -> None:
    assert full_greedy(tiny_backend, CHAT) == full_greedy(tiny_backend, CHAT)


def test_prompt_spelling_out_bos_gets_one_bos(tiny_backend: TransformersBackend, tokenizer: Any) -> None:
    plain = tiny_backend.complete(Request("hello there", max_new_tokens=4))
    spelled = tiny_backend.complete(Request("<s>hello there", max_new_tokens=4))
    assert spelled.prompt_tokens == plain.prompt_tokens
    assert spelled.text == plain.text


def test_max_new_tokens_gives_length(tiny_backend: TransformersBackend) -> None:
    for n in (1, 7):
        completion = tiny_backend.complete(Request("USER: hi ASSISTANT:", max_new_tokens=n))
        assert (completion.finish_reason, completion.completion_tokens) == ("length", n)
    empty = tiny_backend.complete(Request("USER: hi ASSISTANT:", max_new_tokens=0))
    assert (empty.text, empty.completion_tokens, empty.finish_reason) == ("", 0, "length")


def test_stop_string_cuts_before_it(tiny_backend: TransformersBackend) -> None:
    full = full_greedy(tiny_backend, "USER: hi ASSISTANT:")
    stop = full[6:9]
    expected = full[: full.find(stop)]
    completion = tiny_backend.complete(
        Request("USER: hi ASSISTANT:", max_new_tokens=40, stop=("NEVER-SEEN", stop))
    )
    assert completion.text == expected
    assert completion.finish_reason == "stop"
    assert completion.completion_tokens is not None and completion.completion_tokens < 40


def test_stop_when_cuts_where_it_says(tiny_backend: TransformersBackend) -> None:
    full = full_greedy(tiny_backend, CHAT)
    seen: list[str] = []

    def detector(text: str) -> int | None:
        seen.append(text)
        return 5 if len(text) >= 12 else None

    completion = tiny_backend.complete(Request(CHAT, max_new_tokens=40, stop_when=detector))
    assert completion.text == full[:5]
    assert completion.finish_reason == "stop"
    assert completion.completion_tokens is not None and completion.completion_tokens < 40
    assert all(full.startswith(t) for t in seen[:-1])


class ForceEosAfter:
    """Logits processor that forces EOS once a row has produced ``token``, whatever the batch."""

    def __init__(self, token: int, eos: int) -> None:
        self.token, self.eos = token, eos

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        hit = input_ids[:, -1] == self.token
        scores[hit] = float("-inf")
        scores[hit, self.eos] = 0.0
        return scores


def test_eos_stops_and_is_not_in_text(tiny_backend: TransformersBackend) -> None:
    prompt = "USER: hi ASSISTANT:"
    ids = tiny_backend.tokenizer(prompt)["input_ids"]
    plain = tiny_backend.model.generate(
        torch.tensor([ids]), max_new_tokens=5, do_sample=False, pad_token_id=3
    )[0, len(ids) :].tolist()
    first = plain.index(plain[2])  # the trigger token may already occur earlier
    processor = ForceEosAfter(plain[first], tiny_backend.tokenizer.eos_token_id)
    backend = TransformersBackend(
        tiny_backend.model,
        tiny_backend.tokenizer,
        logits_processor=transformers.LogitsProcessorList([processor]),
    )
    completion = backend.complete(Request(prompt, max_new_tokens=30))
    assert completion.finish_reason == "stop"
    assert completion.completion_tokens == first + 2  # tokens up to the trigger, then EOS
    assert completion.text == tiny_backend.tokenizer.decode(plain[: first + 1])
    batch = backend.complete_many([Request(p, max_new_tokens=30) for p in [prompt, *PROMPTS]])
    assert batch[0] == _same_timing(completion, batch[0])


def _same_timing(expected: Completion, actual: Completion) -> Completion:
    """``expected`` with ``actual``'s wall time, so completions compare on everything else."""
    return dataclasses.replace(expected, elapsed_s=actual.elapsed_s)


# -- batching ------------------------------------------------------------------------------------


def test_batched_equals_sequential(tiny_backend: TransformersBackend) -> None:
    backend = TransformersBackend(tiny_backend.model, tiny_backend.tokenizer, max_batch_size=3)
    requests = [
        Request(p, max_new_tokens=8 + 5 * i, stop=(full_greedy(tiny_backend, p, 20)[8:10],) if i % 2 else ())
        for i, p in enumerate(PROMPTS)
    ]
    requests.append(Request(CHAT, max_new_tokens=30, stop_when=lambda t: 3 if len(t) > 6 else None))
    sequential = [backend.complete(r) for r in requests]
    batched = backend.complete_many(requests)
    assert [_same_timing(s, b) for s, b in zip(sequential, batched, strict=True)] == batched
    assert {c.finish_reason for c in batched} == {"stop", "length"}
    assert backend.complete_many([]) == []


def test_acomplete_matches_complete(tiny_backend: TransformersBackend) -> None:
    request = Request(CHAT, max_new_tokens=6)
    result = asyncio.run(tiny_backend.acomplete(request))
    assert result.text == tiny_backend.complete(request).text


# -- sampling ------------------------------------------------------------------------------------


def test_sampling_is_deterministic_under_seed(tiny_backend: TransformersBackend) -> None:
    def sample(seed: int) -> str:
        backend = TransformersBackend(tiny_backend.model, tiny_backend.tokenizer, seed=seed, temperature=1.5)
        return backend.complete(Request(CHAT, max_new_tokens=24)).text

    state = torch.get_rng_state()
    assert sample(7) == sample(7)
    assert sample(7) != sample(8)
    assert sample(7) != full_greedy(tiny_backend, CHAT, 24)
    assert torch.equal(torch.get_rng_state(), state)


# -- loading and hostile input -------------------------------------------------------------------


def test_missing_dir_is_a_backend_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(BackendError, match="no-such-model"):
        TransformersBackend(missing)


def test_dir_without_model_is_a_backend_error(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="could not load the model"):
        TransformersBackend(tmp_path)


def test_loaded_model_needs_tokenizer(tiny_backend: TransformersBackend) -> None:
    with pytest.raises(UsageError, match="tokenizer"):
        TransformersBackend(tiny_backend.model)


def test_loaded_model_and_tokenizer_accepted(tiny_model_dir: Path, tiny_backend: TransformersBackend) -> None:
    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    backend = TransformersBackend(model, str(tiny_model_dir))
    mine = backend.complete(Request(CHAT, max_new_tokens=10))
    assert mine == _same_timing(tiny_backend.complete(Request(CHAT, max_new_tokens=10)), mine)


def test_empty_prompt_is_a_backend_error(tiny_backend: TransformersBackend) -> None:
    with pytest.raises(BackendError, match="empty prompt"):
        tiny_backend.complete(Request(""))


def test_overlong_prompt_is_a_backend_error(tiny_backend: TransformersBackend) -> None:
    with pytest.raises(BackendError, match="context is 4096"):
        tiny_backend.complete(Request("lorem ipsum dolor " * 3000))


def test_prompt_near_the_limit_is_capped(tiny_backend: TransformersBackend, tokenizer: Any) -> None:
    prompt = "x " * 4090
    room = 4096 - len(tokenizer(prompt)["input_ids"])
    assert 0 < room < 20
    completion = tiny_backend.complete(Request(prompt, max_new_tokens=64))
    assert (completion.finish_reason, completion.completion_tokens) == ("length", room)


def test_missing_install_is_a_backend_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(BackendError, match=r"pip install \"funcroute-llm\[transformers\]\""):
        TransformersBackend(tmp_path)


def test_import_does_not_load_torch() -> None:
    code = "import sys, funcroute.backends.transformers, funcroute.testing; assert 'torch' not in sys.modules"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


def test_detector_errors_propagate_unwrapped(tiny_backend: TransformersBackend) -> None:
    def broken(text: str) -> int | None:
        raise ValueError("detector bug")

    with pytest.raises(ValueError, match="detector bug"):
        tiny_backend.complete(Request(CHAT, max_new_tokens=5, stop_when=broken))
