"""Convert the tiny test Llama (or any small float Llama with a byte-level BPE tokenizer) to GGUF.

llama.cpp reads GGUF files only. :func:`convert_to_gguf` writes one straight from a Hugging Face
directory (``config.json``, ``*.safetensors``, ``tokenizer.json``) with the ``gguf`` package's
``GGUFWriter``, in well under a second for the tiny model, without llama.cpp's conversion script or
torch. The facts it relies on:

* Query and key projections are permuted per head (llama.cpp rotates interleaved pairs where
  Hugging Face rotates halves), keys with the number of KV heads.
* With tied embeddings no ``output.weight`` is written; llama.cpp then reuses ``token_embd.weight``.
* The tokenizer is stored as ``gpt2`` (byte-level BPE) with pre-tokenizer ``gpt-2``; special tokens
  are ``CONTROL`` tokens, and rows of a padded embedding matrix get ``[PADn]`` ``UNUSED`` tokens so the
  vocabulary matches the model's.
* Every tensor is stored as float32, so llama.cpp's logits match transformers' to about 1e-4.

Requires the ``llamacpp`` extra (``gguf``, which brings numpy) and ``safetensors``.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

from funcroute._install import install_hint
from funcroute.errors import UsageError

__all__ = ["convert_to_gguf"]

_LAYER_TENSORS = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def _permute(weights: Any, n_head: int) -> Any:
    """Reorder a q/k projection's rows from Hugging Face's rotate-half to llama.cpp's layout."""
    shape = weights.shape
    return weights.reshape(n_head, 2, shape[0] // n_head // 2, *shape[1:]).swapaxes(1, 2).reshape(shape)


def _rope_theta(config: dict[str, Any]) -> float:
    theta = config.get("rope_theta")
    for key in ("rope_parameters", "rope_scaling"):  # transformers 5 / transformers 4 spellings
        params = config.get(key) or {}
        kind = params.get("rope_type", params.get("type", "default"))
        if kind not in ("default", None):
            raise UsageError(f"convert_to_gguf supports plain RoPE only, not rope_type {kind!r}")
        theta = theta if theta is not None else params.get("rope_theta")
    return float(theta if theta is not None else 10000.0)


def _vocabulary(hf_dir: pathlib.Path, n_vocab: int) -> tuple[list[str], list[int], list[str]]:
    """Tokens, token types and merges of a byte-level BPE ``tokenizer.json``, padded to ``n_vocab``."""
    import gguf

    data = json.loads((hf_dir / "tokenizer.json").read_text(encoding="utf-8"))
    model = data.get("model", {})
    if model.get("type") != "BPE" or (data.get("pre_tokenizer") or {}).get("type") != "ByteLevel":
        raise UsageError("convert_to_gguf needs a byte-level BPE tokenizer.json")
    by_id: dict[int, str] = {int(i): tok for tok, i in model["vocab"].items()}
    special: set[int] = set()
    for added in data.get("added_tokens", []):
        by_id[int(added["id"])] = added["content"]
        if added.get("special", False):
            special.add(int(added["id"]))
    if max(by_id) >= n_vocab:
        raise UsageError(f"tokenizer has ids up to {max(by_id)}, but the model's vocabulary is {n_vocab}")
    tokens: list[str] = []
    types: list[int] = []
    for i in range(n_vocab):
        if i in by_id:
            tokens.append(by_id[i])
            types.append(int(gguf.TokenType.CONTROL if i in special else gguf.TokenType.NORMAL))
        else:
            tokens.append(f"[PAD{i}]")
            types.append(int(gguf.TokenType.UNUSED))
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    return tokens, types, merges


def _special_ids(hf_dir: pathlib.Path, config: dict[str, Any], tokens: list[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    tok_config_path = hf_dir / "tokenizer_config.json"
    tok_config = json.loads(tok_config_path.read_text(encoding="utf-8")) if tok_config_path.exists() else {}
    for kind in ("bos", "eos", "unk", "pad"):
        value = config.get(f"{kind}_token_id")
        if value is None:
            token = tok_config.get(f"{kind}_token")
            if isinstance(token, dict):
                token = token.get("content")
            if isinstance(token, str) and token in tokens:
                value = tokens.index(token)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, int):
            ids[kind] = value
    return ids


def convert_to_gguf(hf_dir: str | os.PathLike[str], out_path: str | os.PathLike[str]) -> pathlib.Path:
    """Write a float32 GGUF file of a small Hugging Face Llama checkpoint.

    Meant for :func:`funcroute.testing.build_tiny_model`'s output; works for any unquantized
    ``LlamaForCausalLM`` with plain RoPE and a byte-level BPE ``tokenizer.json`` (GPT-2 style
    pre-tokenization) whose weights fit in memory.

    Args:
        hf_dir: the model directory (``config.json``, ``*.safetensors``, ``tokenizer.json``).
        out_path: the ``.gguf`` file to write (its directory is created; an existing file is replaced).

    Returns:
        ``out_path`` as a :class:`pathlib.Path`.

    Raises:
        UsageError: the directory is not a supported model (another architecture, RoPE scaling, a
            non byte-level tokenizer, missing tensors).
        ImportError: ``gguf`` or ``safetensors`` is not installed (``pip install "funcroute-llm[llamacpp]"``).

    Example:
        >>> from funcroute.testing import build_tiny_model
        >>> from funcroute.testing.gguf import convert_to_gguf
        >>> gguf_file = convert_to_gguf(build_tiny_model(tmp / "hf"), tmp / "tiny.gguf")  # doctest: +SKIP
    """
    try:
        import gguf
        import numpy as np
        from safetensors.numpy import load_file
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            f"convert_to_gguf needs gguf and safetensors: {install_hint('llamacpp')} safetensors"
        ) from exc

    src = pathlib.Path(hf_dir)
    out = pathlib.Path(out_path)
    config: dict[str, Any] = json.loads((src / "config.json").read_text(encoding="utf-8"))
    if config.get("model_type") != "llama":
        raise UsageError(f"convert_to_gguf supports llama models, not {config.get('model_type')!r}")
    tensors = _load_tensors(src, load_file)
    heads, n_layer = _heads(config), int(config["num_hidden_layers"])
    embeddings = tensors.get("model.embed_tokens.weight")
    if embeddings is None:
        raise UsageError(f"{src} has no model.embed_tokens.weight")
    n_vocab = int(embeddings.shape[0])
    tokens, token_types, merges = _vocabulary(src, n_vocab)
    special = _special_ids(src, config, tokens)

    out.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(out), "llama")
    try:
        # The metadata is written in this order, then the tensors: the file is byte-for-byte stable.
        _add_hyperparameters(writer, gguf, src.name or "model", config, n_vocab, heads, n_layer)
        _add_tokenizer(writer, tokens, token_types, merges, special)
        _add_tensors(writer, np, src, tensors, heads, n_layer, tied=bool(config.get("tie_word_embeddings")))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    return out


def _load_tensors(src: pathlib.Path, load_file: Any) -> dict[str, Any]:
    """All tensors of the directory's ``*.safetensors`` files, by name."""
    files = sorted(src.glob("*.safetensors"))
    if not files:
        raise UsageError(f"no *.safetensors files in {src}")
    tensors: dict[str, Any] = {}
    for file in files:
        tensors.update(load_file(str(file)))
    return tensors


def _heads(config: dict[str, Any]) -> tuple[int, int, int]:
    """Attention heads, key/value heads and the head dimension."""
    n_head = int(config["num_attention_heads"])
    n_head_kv = int(config.get("num_key_value_heads") or n_head)
    return n_head, n_head_kv, int(config.get("head_dim") or int(config["hidden_size"]) // n_head)


def _add_hyperparameters(
    writer: Any,
    gguf: Any,
    name: str,
    config: dict[str, Any],
    n_vocab: int,
    heads: tuple[int, int, int],
    n_layer: int,
) -> None:
    n_head, n_head_kv, head_dim = heads
    writer.add_name(name)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_context_length(int(config.get("max_position_embeddings", 4096)))
    writer.add_embedding_length(int(config["hidden_size"]))
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head_kv)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(_rope_theta(config))
    writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-6)))
    writer.add_vocab_size(n_vocab)


def _add_tokenizer(
    writer: Any, tokens: list[str], token_types: list[int], merges: list[str], special: dict[str, int]
) -> None:
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(tokens)
    writer.add_token_types(token_types)
    writer.add_token_merges(merges)
    if "bos" in special:
        writer.add_bos_token_id(special["bos"])
    if "eos" in special:
        writer.add_eos_token_id(special["eos"])
    if "unk" in special:
        writer.add_unk_token_id(special["unk"])
    if "pad" in special:
        writer.add_pad_token_id(special["pad"])
    writer.add_add_bos_token("bos" in special)
    writer.add_add_eos_token(False)


def _add_tensors(
    writer: Any,
    np: Any,
    src: pathlib.Path,
    tensors: dict[str, Any],
    heads: tuple[int, int, int],
    n_layer: int,
    *,
    tied: bool,
) -> None:
    """Every weight under its GGUF name, as float32 (Q and K rows permuted for llama.cpp's RoPE)."""
    n_head, n_head_kv, _ = heads

    def put(name: str, array: Any) -> None:
        writer.add_tensor(name, np.ascontiguousarray(array, dtype=np.float32))

    put("token_embd.weight", tensors["model.embed_tokens.weight"])
    put("output_norm.weight", tensors["model.norm.weight"])
    if not tied:
        if "lm_head.weight" not in tensors:
            raise UsageError(f"{src} has untied embeddings but no lm_head.weight")
        put("output.weight", tensors["lm_head.weight"])
    for layer in range(n_layer):
        for hf_name, gguf_name in _LAYER_TENSORS.items():
            key = f"model.layers.{layer}.{hf_name}"
            if key not in tensors:
                raise UsageError(f"{src} has no tensor {key}")
            array = tensors[key]
            if hf_name == "self_attn.q_proj.weight":
                array = _permute(array, n_head)
            elif hf_name == "self_attn.k_proj.weight":
                array = _permute(array, n_head_kv)
            put(f"blk.{layer}.{gguf_name}", array)
