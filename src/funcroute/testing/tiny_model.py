"""A tiny, random, fully local Llama model for tests.

Real Airoboros checkpoints are gigabytes and live on the Hugging Face Hub; tests must run offline in
seconds. :func:`build_tiny_model` therefore trains a small byte-level BPE tokenizer on generated text
that looks like funcroute's prompts and replies (so token boundaries resemble the real thing) and pairs
it with a randomly initialised ``LlamaForCausalLM``. The output is gibberish, but every code path —
tokenisation, batching, stop handling, grammar masks over a padded vocabulary — runs for real.

torch, transformers and tokenizers are imported inside the function, so importing this module costs
nothing when the ``transformers`` extra is not installed.
"""

from __future__ import annotations

import json
import os
import pathlib
import random
from typing import Any

__all__ = ["build_tiny_model"]

_SPECIAL_TOKENS = ["<s>", "</s>", "<unk>", "<pad>"]

_SYSTEM = (
    "A chat between a curious user and an assistant. The assistant gives helpful, detailed, "
    "accurate, uncensored responses to the user's input."
)
_FUNCTIONS = [
    ("file_analytics", "Analyze a text file.", "action", ["count_occurrences", "word_count", "summary"]),
    ("search", "Search the web for a query.", "query", ["weather in Paris", "python asyncio", "GPU prices"]),
    ("csv_analytics", "Aggregate rows of a CSV file.", "action", ["count", "filter", "grouped_count"]),
    ("send_email", "Send an email to a recipient.", "to", ["bob@example.com", "alice@example.org"]),
    ("get_weather", "Get the current weather for a city.", "city", ["Paris", "Tokyo", "São Paulo", "Zürich"]),
    ("calendar.create_event", "Create a calendar event.", "title", ["Standup", "Dentist", "Lunch with Ana"]),
    ("image_processing", "Resize or crop an image.", "operation", ["resize", "crop", "rotate"]),
]
_WORDS = (
    "the a an of to in for on with by from about file files text count word words line lines number "
    "numbers please can you could find show me tell what how many is are was were this that report "
    "data table column row rows value values filter sort group date dates email weather city search "
    "query result results answer question function call params parameters action keyword options "
    "between after before today tomorrow yesterday every each all some none first last next"
).split()
_FILE_NAMES = ["report.txt", "data/sales_2023.csv", "notes.md", "/var/log/syslog", "C:\\Users\\me\\a.json"]
_PLAN_TOOLS = ["Search", "Scraper", "LinkExtractor", "KnowledgeModel", "Calculator"]
_EXTS = ["txt", "csv", "json", "yaml", "py", "md", "log", "pdf"]
_SYLLABLES = (
    "ka ri to na mo se lu vi den ar en or is an ex pro con ter ment ing tion al er ly ness able "
    "str gr pl th ch sh qu bl cr fl tr ph wh ze xo yu"
).split()


def _pseudo_word(rng: random.Random) -> str:
    word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 4)))
    return word.capitalize() if rng.random() < 0.2 else word


def _sentence(rng: random.Random) -> str:
    words = [
        rng.choice(_WORDS) if rng.random() < 0.7 else _pseudo_word(rng) for _ in range(rng.randint(4, 16))
    ]
    if rng.random() < 0.3:
        name = rng.choice(_FILE_NAMES) if rng.random() < 0.5 else f"{_pseudo_word(rng)}.{rng.choice(_EXTS)}"
        words.insert(rng.randrange(len(words)), name)
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words)), str(rng.randint(0, 100000)))
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice([".", "?", "!", ":", ""])


def _tool_yaml(rng: random.Random) -> str:
    lines = []
    for name, desc, param, _ in rng.sample(_FUNCTIONS, rng.randint(2, len(_FUNCTIONS))):
        lines += [
            f"{name}:",
            f"  description: {desc}",
            "  params:",
            f"    {param}: The {param.replace('_', ' ')} to use.",
        ]
    return "\n".join(lines)


def _call(rng: random.Random) -> str:
    name, _, param, values = rng.choice(_FUNCTIONS)
    params: dict[str, object] = {param: rng.choice(values)}
    if rng.random() < 0.5:
        params["filters"] = {"keyword": rng.choice(_WORDS), "limit": rng.randint(1, 50)}
    if rng.random() < 0.5:
        body = json.dumps({"function": name, "params": params}, ensure_ascii=rng.random() < 0.5)
        return body if rng.random() < 0.7 else json.dumps({"function": name, "params": params}, indent=2)
    lines = [f"function: {name}", "params:", f"  {param}: {params[param]}"]
    return "\n".join(lines)


def _plan(rng: random.Random) -> str:
    lines = []
    for i in range(rng.randint(2, 4)):
        tool = rng.choice(_PLAN_TOOLS)
        arg = _sentence(rng) if i == 0 else f"{_sentence(rng)} given :evidence{i - 1}:"
        lines.append(f"Plan: {_sentence(rng)}\n:evidence{i}: = {tool}[{arg}]")
    lines.append(f"Answer: :evidence{len(lines) - 1}:")
    return "\n".join(lines)


def _document(rng: random.Random) -> str:
    kind = rng.randrange(6)
    if kind == 0:
        user = _sentence(rng)
        return f"{_SYSTEM} USER: {user} ASSISTANT: {_call(rng)}</s>"
    if kind == 1:
        return (
            f"{_SYSTEM} USER: As an AI assistant, please select the most suitable function and "
            f"parameters from the list of available functions below, based on the user's input. "
            f"Provide your response in JSON format.\n\nInput: {_sentence(rng)}\n\nAvailable functions:\n"
            f"{_tool_yaml(rng)}\nASSISTANT: {_call(rng)}"
        )
    if kind == 2:
        return f"{_SYSTEM} USER: {_sentence(rng)}\nASSISTANT: {_plan(rng)}"
    if kind == 3:
        return _call(rng)
    if kind == 4:
        numbers = " ".join(str(rng.choice([rng.randint(0, 999), rng.random() * 100])) for _ in range(6))
        return f"{_sentence(rng)} {numbers} {rng.choice(_FILE_NAMES)}"
    return " ".join(_sentence(rng) for _ in range(rng.randint(1, 4)))


def _corpus(rng: random.Random, lines: int) -> list[str]:
    return [_document(rng) for _ in range(lines)]


def build_tiny_model(
    directory: str | os.PathLike[str], *, seed: int = 0, vocab_size: int = 6000
) -> pathlib.Path:
    """Write a tiny random Llama model and its tokenizer to ``directory`` and return its path.

    The tokenizer is a byte-level BPE (so ``decode(encode(text)) == text`` for any text, control
    characters and unicode included) trained on generated Airoboros-style prompts, JSON/YAML calls and
    reWOO plans, with special tokens ``<s>`` (BOS, added in front of every encoded text), ``</s>`` (EOS),
    ``<unk>`` and ``<pad>``. The model is a ~1.5M-parameter ``LlamaForCausalLM`` with random weights
    (hidden 128, 4 layers, 4 heads / 2 KV heads, 4096 positions, tied embeddings). Its embedding matrix
    is rounded up to a multiple of 64 rows, so the model's vocabulary is deliberately larger than the
    tokenizer's, as in many real checkpoints.

    Everything is deterministic in ``seed`` and takes a few seconds on a CPU. Load the result with
    ``AutoModelForCausalLM.from_pretrained(path)`` / ``AutoTokenizer.from_pretrained(path)`` or pass the
    path to :class:`funcroute.backends.transformers.TransformersBackend`.

    Args:
        directory: where to write the model (created if missing; existing files are overwritten).
        seed: seeds both the generated training text and the model's weights.
        vocab_size: target size of the BPE vocabulary (special tokens included).

    Returns:
        The directory, as a :class:`pathlib.Path`.

    Example:
        >>> from funcroute.testing import build_tiny_model
        >>> path = build_tiny_model(tmp_path / "tiny")  # doctest: +SKIP
    """
    import torch
    from transformers import LlamaForCausalLM

    from funcroute.backends._hf_load import no_progress_bars

    path = pathlib.Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = _train_tokenizer(seed, vocab_size)
    config = _config(tokenizer)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    with no_progress_bars():
        model.save_pretrained(path, safe_serialization=True)
        tokenizer.save_pretrained(path)
    # transformers 5 writes its own class name; the generic one loads on 4.x and 5.x alike.
    config_file = path / "tokenizer_config.json"
    tokenizer_config = json.loads(config_file.read_text(encoding="utf-8"))
    tokenizer_config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_file.write_text(json.dumps(tokenizer_config, indent=2) + "\n", encoding="utf-8")
    return path


def _config(tokenizer: Any) -> Any:
    """The model's shape: ~1.5M parameters, the embedding rows rounded up to a multiple of 64."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=-(-len(tokenizer) // 64) * 64,
        hidden_size=128,
        intermediate_size=352,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def _train_tokenizer(seed: int, vocab_size: int) -> Any:
    """The byte-level BPE tokenizer trained on the generated corpus, as a ``PreTrainedTokenizerFast``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_corpus(random.Random(seed), 4000), trainer=trainer)
    bos_id = bpe.token_to_id("<s>")
    bpe.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos_id)]
    )
    fast_tokenizer_class: Any = PreTrainedTokenizerFast  # untyped in transformers 5
    return fast_tokenizer_class(
        tokenizer_object=bpe,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        padding_side="left",
        clean_up_tokenization_spaces=False,
        model_max_length=4096,
    )
