"""Retrieval over the stored index: dense (FAISS), keyword (jieba BM25) and their fusion."""
from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

import faiss
import numpy as np

from index.build import ensure_index
from index.embed import Embedder, load_embedder
from index.models import Case, Chunk
from index.store import StoredIndex
from index.tokenize import Tokenizer
from touyan.settings import Settings

log = logging.getLogger("touyan.search")

RETRIEVERS = ("hybrid", "dense", "bm25")
FUSIONS = ("rrf", "weighted")
# How deep each retriever's list goes before fusion; the answer is almost always in both top 50.
CANDIDATES = 50
RRF_K = 60
# Weighted fusion: 0.65 × min-max dense score + 0.35 × BM25/max (best of 0.45–0.7 on the eval set).
DENSE_WEIGHT = 0.65
NUMBER = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Hit:
    rank: int
    chunk: Chunk
    score: float
    dense: float | None
    bm25: float | None


class Searcher:
    """Answers queries against one loaded index; safe to share between request threads.

    Hybrid ranking fuses the dense and BM25 lists (a weighted sum of normalised scores by
    default, or reciprocal-rank fusion) and adds a small bonus for passages that contain
    the numbers the question asks about.
    """

    def __init__(
        self,
        stored: StoredIndex,
        embedder: Embedder,
        cases: list[Case],
        retriever: str = "hybrid",
        fusion: str = "weighted",
        dense_weight: float = DENSE_WEIGHT,
    ):
        if retriever not in RETRIEVERS or fusion not in FUSIONS:
            raise ValueError(f"retriever must be one of {RETRIEVERS} and fusion one of {FUSIONS}")
        self.stored = stored
        self.embedder = embedder
        self.cases = cases
        self.retriever = retriever
        self.fusion = fusion
        self.dense_weight = dense_weight
        self.tokenizer = Tokenizer(stored.user_words)
        self._chunks = stored.chunks
        self._case_of = np.array([c.case_id for c in self._chunks])
        self._page_of = np.array([-1 if c.page is None else c.page for c in self._chunks])
        self._case_ids = {c.id for c in cases}
        self._embed_lock = threading.Lock()

    @property
    def embedder_name(self) -> str:
        return self.embedder.name

    @property
    def chunk_count(self) -> int:
        return len(self._chunks)

    def has_case(self, case_id: str) -> bool:
        return case_id in self._case_ids

    def search(
        self,
        query: str,
        top_k: int = 5,
        *,
        case_id: str | None = None,
        page: int | None = None,
        retriever: str | None = None,
    ) -> list[Hit]:
        retriever = retriever or self.retriever
        if retriever not in RETRIEVERS:
            raise ValueError(f"unknown retriever {retriever!r}: expected one of {RETRIEVERS}")
        allowed = self._allowed(case_id, page)
        if allowed is not None and not allowed.any():
            return []
        depth = max(CANDIDATES, top_k)
        dense = self._dense(query, depth, allowed) if retriever != "bm25" else {}
        keyword = self._bm25(query, depth, allowed) if retriever != "dense" else {}
        if retriever == "dense":
            scored = dense
        elif retriever == "bm25":
            scored = keyword
        else:
            scored = self._fuse(query, dense, keyword)
        best = sorted(scored, key=lambda i: -scored[i])[:top_k]
        return [
            Hit(rank, self._chunks[i], float(scored[i]), dense.get(i), keyword.get(i))
            for rank, i in enumerate(best, 1)
        ]

    def _allowed(self, case_id: str | None, page: int | None) -> np.ndarray | None:
        if case_id is None and page is None:
            return None
        mask = np.ones(len(self._chunks), dtype=bool)
        if case_id is not None:
            mask &= self._case_of == case_id
        if page is not None:
            mask &= self._page_of == page
        return mask

    def _query_vector(self, query: str) -> np.ndarray:
        with self._embed_lock:
            return self.embedder.encode_queries([query])

    def _dense(self, query: str, depth: int, allowed: np.ndarray | None) -> dict[int, float]:
        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.flatnonzero(allowed).astype("int64")))
        scores, ids = self.stored.faiss_index.search(self._query_vector(query), depth, params=params)
        return {int(i): float(s) for s, i in zip(scores[0], ids[0]) if i >= 0}

    def _bm25(self, query: str, depth: int, allowed: np.ndarray | None) -> dict[int, float]:
        scores = self.stored.bm25.scores(self.tokenizer.tokenize(query))
        if allowed is not None:
            scores = np.where(allowed, scores, 0)
        top = np.argsort(-scores)[:depth]
        return {int(i): float(scores[i]) for i in top if scores[i] > 0}

    def _fuse(self, query: str, dense: dict[int, float], keyword: dict[int, float]) -> dict[int, float]:
        if self.fusion == "rrf":
            fused = {i: 1 / (RRF_K + r) for r, i in enumerate(sorted(dense, key=lambda i: -dense[i]), 1)}
            for r, i in enumerate(sorted(keyword, key=lambda i: -keyword[i]), 1):
                fused[i] = fused.get(i, 0) + 1 / (RRF_K + r)
        else:
            fused = {}
            d_lo, d_hi = (min(dense.values()), max(dense.values())) if dense else (0, 1)
            k_hi = max(keyword.values()) if keyword else 1
            for i in dense.keys() | keyword.keys():
                d = (dense[i] - d_lo) / (d_hi - d_lo or 1) if i in dense else 0.0
                k = keyword.get(i, 0.0) / k_hi
                fused[i] = self.dense_weight * d + (1 - self.dense_weight) * k
        numbers = set(NUMBER.findall(query))
        if numbers:
            scale = max(fused.values(), default=0) * 0.1
            for i in fused:
                fused[i] += scale * len(numbers & set(NUMBER.findall(self._chunks[i].text))) / len(numbers)
        return fused


def open_searcher(settings: Settings, progress: Callable[[str], None] | None = None, force: bool = False) -> Searcher:
    """Load the index for these settings, building or refreshing it first when needed."""
    say = progress or log.info
    embedder = load_embedder(settings.embedder, settings.threads)
    last = [-1]

    def on_embed(done: int, total: int) -> None:
        step = done * 10 // max(total, 1)
        if step != last[0]:
            last[0] = step
            say(f"embedding passages: {done}/{total}")

    stored, corpus, reason = ensure_index(settings.corpus_dir, settings.index_dir, embedder, settings.chunk_chars, on_embed, force)
    for err in corpus.errors:
        say(f"skipped {err.source}: {err.reason}")
    say(f"index {'built (' + reason + ')' if reason else 'loaded'}: {len(stored.chunks)} passages, {len(corpus.cases)} cases, {embedder.name}")
    return Searcher(stored, embedder, corpus.cases, settings.retriever, settings.fusion)
