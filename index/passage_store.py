"""Where a build's passages are searched by meaning (dense), by latent terms (sparse) and by words
(keyword): one small interface, two backends chosen by a setting.

Rows are the passages' positions in the build (``StoredIndex.chunks``), so every backend's
results join the late-interaction scores, the sentence vectors and the passage texts the build
keeps. A ``Where`` says which rows a search may return; each backend turns it into its own
filter (a row mask here, an expression in Milvus).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import faiss
import numpy as np

from index.bm25 import BM25
from index.late import Codes, LateIndex
from index.models import Chunk
from index.sparse import SparseIndex, SparseVector
from index.store import StoredIndex


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


# Below this share of allowed rows, a filtered dense search over HNSW is exact over the allowed rows instead.
EXACT_FILTER_SHARE = 0.05
# HNSW's search breadth: the build's 128 found 0.90 of the exact top 10 on 100 000 synthetic passages
# (clustered like the corpus), 512 finds 0.98 for ~1 ms more (eval/bench_search.py --scale).
HNSW_EF = 512


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


class MaskCache:
    """The last ``size`` filters' row masks, read-only, shared by a store's request threads."""

    def __init__(self, size: int, make: Callable[[Where], np.ndarray]) -> None:
        self._size = size
        self._make = make
        self._masks: OrderedDict[Where, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, where: Where) -> np.ndarray:
        with self._lock:
            if (mask := self._masks.get(where)) is not None:
                self._masks.move_to_end(where)
                return mask
        mask = self._make(where)
        mask.flags.writeable = False
        with self._lock:
            self._masks[where] = mask
            if len(self._masks) > self._size:
                self._masks.popitem(last=False)
        return mask

    def clear(self) -> None:
        with self._lock:
            self._masks.clear()


class EmbeddedStore:
    """The build's own files: exact (or HNSW) FAISS, the sparse inverted index, BM25, the token codes; filters as row masks."""

    hnsw_ef = HNSW_EF

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
        # A search asks for its filter's mask five times, and at a million passages one costs 2 ms
        # (a report) to 23 ms (hidden documents): the last few are kept.
        self._masks = MaskCache(8, self._mask)

    @classmethod
    def of(cls, stored: StoredIndex) -> EmbeddedStore:
        """The store over a loaded build's own files."""
        return cls(stored.chunks, stored.faiss_index, stored.sparse, stored.bm25, stored.late)

    def allowed(self, where: Where) -> np.ndarray | None:
        return None if where.everything else self._masks.get(where)

    def _mask(self, where: Where) -> np.ndarray:
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
        index, selector = self.faiss_index, None
        if mask is not None:
            # A bitmap, not IDSelectorBatch: no hash set of the allowed rows built per query.
            bitmap = np.packbits(mask, bitorder="little")
            selector = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bitmap))
            if isinstance(index, faiss.IndexHNSW) and mask.sum() < EXACT_FILTER_SHARE * len(mask):
                # HNSW walks a graph the filter has mostly cut away (slow, and it misses neighbours);
                # exact search over the allowed rows of its own storage is both faster and exact.
                index = faiss.downcast_index(index.storage)
        if isinstance(index, faiss.IndexHNSW):
            params = faiss.SearchParametersHNSW(efSearch=max(self.hnsw_ef, k))
            if selector is not None:
                params.sel = selector
        else:
            params = None if selector is None else faiss.SearchParameters(sel=selector)
        scores, ids = index.search(np.asarray(vector, np.float32).reshape(1, -1), k, params=params)
        return {int(i): float(s) for s, i in zip(scores[0], ids[0]) if i >= 0}

    def sparse(self, vector: SparseVector, k: int, where: Where) -> dict[int, float]:
        allowed = self.allowed(where)
        return top(self.sparse_index.scores(vector, allowed=allowed), k, allowed)

    def keyword(self, tokens: list[str], k: int, where: Where) -> dict[int, float]:
        return top(self.bm25.scores(tokens), k, self.allowed(where))

    def token_codes(self, rows: Sequence[int]) -> Codes:
        if self.late is None:
            raise ValueError("this build has no token vectors (built with TOUYAN_SPARSE=none)")
        return self.late.read_codes(rows)


# ``top`` over more rows than this first finds a floor the k best must reach, from every SAMPLE-th row.
SAMPLED_FROM = 1 << 16
SAMPLE = 16


def top(scores: np.ndarray, k: int, allowed: np.ndarray | None) -> dict[int, float]:
    """The ``k`` best positive scores among the allowed rows, best first (ties by row)."""
    if allowed is not None:
        scores = np.where(allowed, scores, 0)
    floor = 0.0
    if len(scores) >= SAMPLED_FROM and len(scores) >= 4 * SAMPLE * k:
        # The k-th best of every SAMPLE-th row: at least k rows reach it, so the k best all do, and
        # ~SAMPLE × k rows are sorted instead of a million (5 ms at a million rows, 1 after).
        sample = scores[::SAMPLE]
        floor = max(float(np.partition(sample, len(sample) - k)[len(sample) - k]), 0.0)
    rows = np.flatnonzero(scores >= floor) if floor > 0 else np.flatnonzero(scores > 0)
    if len(rows) > k:  # a partial sort: a full one is 80 ms at a million rows
        rows = rows[np.argpartition(-scores[rows], k - 1)[:k]]
    best = rows[np.lexsort((rows, -scores[rows]))]
    return {int(i): float(scores[i]) for i in best}
