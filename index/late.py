"""Late interaction: every question token finds its best-matching token in a passage.

A pooled vector blurs a passage into its topic, so the passages of one story look alike;
matching token by token (ColBERT's MaxSim, here on e5's own token states) rewards the
passage that holds the question's specific details — which of the neighbours answers.

Tokens found in most passages (punctuation, 的, and in this report 杭州, 改革, 服务 …) tell
no passage apart; like ColBERT's skip list they are dropped on both sides, which cuts the
work by a third at no cost (eval/questions.jsonl MRR 0.933 → 0.935, eval/heldout.jsonl
0.904 → 0.908, shares of 20–60 % tried).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from index.atomic import write_atomic

# A token in more than this share of the passages is common; with fewer passages than
# MIN_PASSAGES the shares are too coarse to tell, and nothing is dropped.
COMMON_SHARE = 0.3
MIN_PASSAGES = 50


class LateIndex:
    """All passages' token vectors in one float32 matrix; passage i owns rows offsets[i]:offsets[i+1].

    Saved as a plain .npy, loaded into memory (float32, as converting per query would cost
    more than scoring): a memory map of a file that shrinks under a running server kills it.
    """

    VECTORS = "late_vectors.npy"
    META = "late.npz"

    def __init__(self, vectors: np.ndarray, offsets: np.ndarray, common: np.ndarray, positions: np.ndarray):
        self.vectors = vectors
        self.offsets = offsets
        self.common = common
        self.positions = positions  # where each token begins in its passage's text (for a sentence's tokens)

    @property
    def n_docs(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def fit(cls, passages: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> LateIndex:
        """From each passage's (token vectors, token ids, token starts)."""
        common = np.zeros(0, np.int32)
        if len(passages) >= MIN_PASSAGES:
            ids, counts = np.unique(np.concatenate([np.unique(i) for _, i, _ in passages]), return_counts=True)
            common = ids[counts > COMMON_SHARE * len(passages)].astype(np.int32)
        masks = [~np.isin(ids, common) for _, ids, _ in passages]
        kept = [tokens[m] for (tokens, _, _), m in zip(passages, masks)]
        offsets = np.concatenate([[0], np.cumsum([len(k) for k in kept])]).astype(np.int64)
        dim = passages[0][0].shape[1] if passages else 0
        positions = np.concatenate([starts[m] for (_, _, starts), m in zip(passages, masks)] or [np.zeros(0, np.int32)]).astype(np.int32)
        return cls(np.concatenate(kept) if kept else np.zeros((0, dim), np.float32), offsets, common, positions)

    def query_tokens(self, tokens: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """The question's tokens that are not common; all of them if every one is."""
        keep = ~np.isin(ids, self.common)
        return tokens[keep] if keep.any() else tokens

    def scores(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Mean over the query's tokens of their best cosine in each of these passages.

        Passages in consecutive rows share one matrix product over their token block (a
        view, nothing copied), so a few passages of a large index never touch the rest.
        """
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(rows), np.float32)
        if len(query) == 0 or len(rows) == 0:
            return out
        order = np.argsort(rows)
        ranked = rows[order]
        breaks = np.flatnonzero(np.diff(ranked) != 1) + 1
        for block, positions in zip(np.split(ranked, breaks), np.split(order, breaks)):
            first, last = block[0], block[-1]
            offsets = self.offsets[first : last + 2] - self.offsets[first]
            # Query rows against token columns: the faster shape for BLAS (one long output row per query token).
            sims = query @ self.vectors[self.offsets[first] : self.offsets[last + 1]].T
            filled = offsets[1:] > offsets[:-1]
            if filled.any():
                out[positions[filled]] = np.maximum.reduceat(sims, offsets[:-1][filled], axis=1).mean(axis=0)
        return out

    def span_scores(self, query: np.ndarray, row: int, spans: list[tuple[int, int]]) -> list[float | None]:
        """Late interaction of the query with each character span (a sentence) of passage ``row``:
        its tokens that begin inside the span; None for a span holding none of the kept tokens."""
        first, last = self.offsets[row], self.offsets[row + 1]
        if len(query) == 0 or last == first:
            return [None] * len(spans)
        sims = query @ self.vectors[first:last].T
        starts = self.positions[first:last]
        out: list[float | None] = []
        for a, b in spans:
            inside = (starts >= a) & (starts < b)
            out.append(float(sims[:, inside].max(axis=1).mean()) if inside.any() else None)
        return out

    def save(self, folder: Path) -> None:
        write_atomic(folder / self.VECTORS, lambda f: np.save(f, np.ascontiguousarray(self.vectors)))
        write_atomic(folder / self.META, lambda f: np.savez(f, offsets=self.offsets, common=self.common, positions=self.positions))

    @classmethod
    def load(cls, folder: Path) -> LateIndex:
        with np.load(folder / cls.META, allow_pickle=False) as z:
            offsets, common, positions = z["offsets"], z["common"], z["positions"]
        return cls(np.load(folder / cls.VECTORS), offsets, common, positions)
