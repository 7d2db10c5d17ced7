"""Where a build's passages are searched by meaning (dense), by latent terms (sparse) and by words
(keyword): one small interface, two backends chosen by a setting.

Rows are the passages' positions in the build (``StoredIndex.chunks``), so every backend's
results join the late-interaction scores, the sentence vectors and the passage texts the build
keeps. A ``Where`` says which rows a search may return; each backend turns it into its own
filter (a row mask here, an expression in Milvus).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import faiss
import numpy as np

from index.bm25 import BM25
from index.late import Codes, LateIndex
from index.models import Chunk
from index.sparse import SparseIndex, SparseVector


@dataclass(frozen=True)
class Where:
    """Which passages a search may return; all of them when every field is empty."""

    case_id: str | None = None
    page: int | None = None
    report: str | None = None
    hidden: frozenset[str] = frozenset()  # sources of deleted documents

    @property
    def everything(self) -> bool:
        return self.case_id is None and self.page is None and self.report is None and not self.hidden


class PassageStore(Protocol):
    def dense(self, vector: np.ndarray, k: int, where: Where) -> dict[int, float]: ...

    def sparse(self, vector: SparseVector, k: int, where: Where) -> dict[int, float]: ...

    def keyword(self, tokens: list[str], k: int, where: Where) -> dict[int, float]: ...

    def allowed(self, where: Where) -> np.ndarray | None:
        """The rows ``where`` allows as a mask over all rows (None: every row)."""
        ...

    def token_codes(self, rows: Sequence[int]) -> Codes:
        """These rows' late-interaction token codes, in their order (``LateIndex`` decodes them)."""
        ...


class EmbeddedStore:
    """The build's own files: exact (or HNSW) FAISS, the sparse inverted index, BM25, the token codes; filters as row masks."""

    def __init__(self, chunks: list[Chunk], faiss_index: faiss.Index, sparse_index: SparseIndex | None, bm25: BM25, late: LateIndex | None = None) -> None:
        self.faiss_index = faiss_index
        self.sparse_index = sparse_index
        self.bm25 = bm25
        self.late = late
        self._case = np.array([c.case_id for c in chunks])
        self._page = np.array([-1 if c.page is None else c.page for c in chunks])
        self._report = np.array([c.report for c in chunks])
        self._source = np.array([c.source for c in chunks])
        self._rows = len(chunks)

    def allowed(self, where: Where) -> np.ndarray | None:
        if where.everything:
            return None
        mask = np.ones(self._rows, dtype=bool)
        if where.case_id is not None:
            mask &= self._case == where.case_id
        if where.page is not None:
            mask &= self._page == where.page
        if where.report is not None:
            mask &= self._report == where.report
        if where.hidden:
            mask &= ~np.isin(self._source, list(where.hidden))
        return mask

    def dense(self, vector: np.ndarray, k: int, where: Where) -> dict[int, float]:
        mask = self.allowed(where)
        params = None if mask is None else faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.flatnonzero(mask).astype("int64")))
        scores, ids = self.faiss_index.search(np.asarray(vector, np.float32).reshape(1, -1), k, params=params)
        return {int(i): float(s) for s, i in zip(scores[0], ids[0]) if i >= 0}

    def sparse(self, vector: SparseVector, k: int, where: Where) -> dict[int, float]:
        return top(self.sparse_index.scores(vector), k, self.allowed(where))

    def keyword(self, tokens: list[str], k: int, where: Where) -> dict[int, float]:
        return top(self.bm25.scores(tokens), k, self.allowed(where))

    def token_codes(self, rows: Sequence[int]) -> Codes:
        if self.late is None:
            raise ValueError("this build has no token vectors (built with TOUYAN_SPARSE=none)")
        return self.late.read_codes(rows)


def top(scores: np.ndarray, k: int, allowed: np.ndarray | None) -> dict[int, float]:
    """The ``k`` best positive scores among the allowed rows."""
    if allowed is not None:
        scores = np.where(allowed, scores, 0)
    best = np.argsort(-scores)[:k]
    return {int(i): float(scores[i]) for i in best if scores[i] > 0}
