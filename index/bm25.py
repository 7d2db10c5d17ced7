"""Okapi BM25 over token lists, with an inverted index so a query only touches its postings."""
from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from index.atomic import write_atomic
from index.postings import KERNEL_FROM, summed


class BM25:
    """Keyword scorer; ``BM25(k1, b).fit(docs)`` builds it, ``scores`` ranks documents.

    Postings are stored in CSR form: the postings of ``terms[i]`` are
    ``doc_ids[indptr[i]:indptr[i + 1]]`` with term frequencies ``tfs``.
    """

    def __init__(self, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self.fit([])  # unfitted means fitted on no documents: every method still works

    @property
    def n_docs(self) -> int:
        return len(self._doc_lens)

    @property
    def terms(self) -> list[str]:
        return self._terms

    def fit(self, docs: list[list[str]]) -> BM25:
        postings: defaultdict[str, list[tuple[int, int]]] = defaultdict(list)
        for doc_id, doc in enumerate(docs):
            for term, tf in Counter(doc).items():
                postings[term].append((doc_id, tf))
        terms = sorted(postings)
        pairs = np.array([p for t in terms for p in postings[t]], dtype=np.int32).reshape(-1, 2)
        indptr = np.cumsum([0] + [len(postings[t]) for t in terms], dtype=np.int64)
        doc_lens = np.array([len(doc) for doc in docs], dtype=np.int32)
        self._set_postings(terms, indptr, pairs[:, 0], pairs[:, 1], doc_lens)
        return self

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every document; each distinct query term counts once."""
        rows = np.array(sorted({row for term in query_tokens if (row := self._rows.get(term)) is not None}), np.int64)
        starts, ends = self._indptr[rows], self._indptr[rows + 1]
        if (ends - starts).sum() > KERNEL_FROM:  # a large index: the engine's kernel (index/postings.py)
            return summed(self._doc_ids, self._weights, starts, ends, np.ones(len(rows), np.float32), self.n_docs)
        scores = np.zeros(self.n_docs, dtype=np.float32)
        for start, end in zip(starts.tolist(), ends.tolist()):
            scores[self._doc_ids[start:end]] += self._weights[start:end]
        return scores

    def idf(self, term: str) -> float:
        """The term's inverse document frequency (a term no document holds gets the highest)."""
        row = self._rows.get(term)
        df = 0 if row is None else int(self._indptr[row + 1] - self._indptr[row])
        return float(np.log1p((self.n_docs - df + 0.5) / (df + 0.5)))

    def save(self, path: Path) -> None:
        """One .npz, written atomically so a crash never leaves a half-written index."""
        arrays = {
            "k1": np.float64(self.k1),
            "b": np.float64(self.b),
            "terms": np.array(self._terms, dtype=str),
            "indptr": self._indptr,
            "doc_ids": self._doc_ids,
            "tfs": self._tfs,
            "doc_lens": self._doc_lens,
        }
        write_atomic(path, lambda f: np.savez(f, **arrays))

    @classmethod
    def load(cls, path: Path) -> BM25:
        with np.load(path, allow_pickle=False) as z:
            bm25 = cls(k1=float(z["k1"]), b=float(z["b"]))
            bm25._set_postings(z["terms"].tolist(), z["indptr"], z["doc_ids"], z["tfs"], z["doc_lens"])
        return bm25

    def _set_postings(
        self,
        terms: list[str],
        indptr: np.ndarray,
        doc_ids: np.ndarray,
        tfs: np.ndarray,
        doc_lens: np.ndarray,
    ) -> None:
        """Keep the raw statistics (what is saved) and precompute each posting's score."""
        self._terms = terms
        self._rows = {term: i for i, term in enumerate(terms)}
        self._indptr = indptr
        self._doc_ids = doc_ids
        self._tfs = tfs
        self._doc_lens = doc_lens
        n = len(doc_lens)
        df = np.diff(indptr)
        idf = np.log1p((n - df + 0.5) / (df + 0.5))
        avgdl = doc_lens.mean() if n and doc_lens.any() else 1.0
        self._weights = np.empty(len(doc_ids), np.float32)
        for lo in range(0, len(doc_ids), 1 << 22):  # float64 a window at a time: a million passages' postings would take GBs at once
            hi = min(lo + (1 << 22), len(doc_ids))
            tf = tfs[lo:hi].astype(np.float64)
            norm = self.k1 * (1 - self.b + self.b * doc_lens[doc_ids[lo:hi]] / avgdl)
            term_of = np.searchsorted(indptr, np.arange(lo, hi), side="right") - 1
            self._weights[lo:hi] = idf[term_of] * tf * (self.k1 + 1) / (tf + norm)
