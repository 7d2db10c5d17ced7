"""Late interaction: every question token finds its best-matching token in a passage.

A pooled vector blurs a passage into its topic, so the passages of one story look alike;
matching token by token (ColBERT's MaxSim, here on e5's own token states) rewards the
passage that holds the question's specific details — which of the neighbours answers.

Tokens found in most passages (punctuation, 的, and in this report 杭州, 改革, 服务 …) tell
no passage apart; like ColBERT's skip list they are dropped on both sides, which cuts the
work by a third at no cost (eval/questions.jsonl MRR 0.933 → 0.935, eval/heldout.jsonl
0.904 → 0.908, shares of 20–60 % tried).

The token vectors are stored as 2-bit codes (index/quantize.py, 16× smaller than float32)
and a query reads and decodes only its candidates' (``read_codes``, ``vectors``): at a million
passages they are far too many to hold in memory. The codes come from the build's file here, or
from a passage store that keeps them (index/milvus_store.py), passed in as ``codes``.
"""
from __future__ import annotations

import ctypes
import os
import weakref
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index import postings
from index.atomic import write_atomic
from index.npy_rows import read_exactly
from index.quantize import ResidualCodec

# A token in more than this share of the passages is common; with fewer passages than
# MIN_PASSAGES the shares are too coarse to tell, and nothing is dropped.
COMMON_SHARE = 0.3
MIN_PASSAGES = 50

# A loaded index whose decoded token vectors take at most this many bytes decodes them once and
# keeps them: decoding a query's ~8 000 candidate tokens costs more than the rest of its late
# interaction (/ask p50 52 against 40 ms, eval/RESULTS.md), and a corpus of a few thousand
# passages holds little. Past it (a million passages: ~170 GB decoded) the codes stay on disk.
DECODED_IN_MEMORY = 512 << 20

Codes = list[np.ndarray]  # each passage's (tokens, codec.row_bytes) uint8 rows


class LateIndex:
    """Passage i owns token rows offsets[i]:offsets[i+1] of the codes.

    Built, the codes are in memory until ``save``; loaded, a small index decodes them all once
    (``DECODED_IN_MEMORY``), a large one keeps them in their file and reads them with ``os.pread`` (not a memory map: a map of a file that shrinks under a running server
    kills it; a short read is IndexCorrupt instead). Offsets, positions and the codec stay in memory.
    """

    CODES = "late_codes.bin"
    CODEC = "late_codec.npz"
    META = "late.npz"

    def __init__(self, codec: ResidualCodec, offsets: np.ndarray, common: np.ndarray, positions: np.ndarray, codes: np.ndarray | None = None):
        self.codec = codec
        self.offsets = offsets
        self.common = common
        self.positions = positions  # where each token begins in its passage's text (for a sentence's tokens)
        self._codes = codes
        self._path: Path | None = None
        self._fd: int | None = None
        self._decoded: np.ndarray | None = None  # every token decoded, for a small index

    @property
    def n_docs(self) -> int:
        return len(self.offsets) - 1

    @property
    def bytes_per_token(self) -> int:
        """What the codes store per token (positions, 4 bytes in memory, not counted)."""
        return self.codec.row_bytes

    @classmethod
    def fit(cls, passages: list[tuple[np.ndarray, np.ndarray, np.ndarray]], codec: ResidualCodec | None = None) -> LateIndex:
        """From each passage's (token vectors, token ids, token starts); the codec is fitted on the kept tokens unless given."""
        common = np.zeros(0, np.int32)
        if len(passages) >= MIN_PASSAGES:
            ids, counts = np.unique(np.concatenate([np.unique(i) for _, i, _ in passages]), return_counts=True)
            common = ids[counts > COMMON_SHARE * len(passages)].astype(np.int32)
        masks = [~np.isin(ids, common) for _, ids, _ in passages]
        kept = [tokens[m] for (tokens, _, _), m in zip(passages, masks)]
        offsets = np.concatenate([[0], np.cumsum([len(k) for k in kept])]).astype(np.int64)
        positions = np.concatenate([starts[m] for (_, _, starts), m in zip(passages, masks)] or [np.zeros(0, np.int32)]).astype(np.int32)
        vectors = np.concatenate(kept) if kept else np.zeros((0, 0), np.float32)
        codec = codec or ResidualCodec.fit(vectors)
        return cls(codec, offsets, common, positions, codec.encode(vectors))

    def query_tokens(self, tokens: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """The question's tokens that are not common; all of them if every one is."""
        keep = ~np.isin(ids, self.common)
        return tokens[keep] if keep.any() else tokens

    def read_codes(self, rows: Sequence[int]) -> Codes:
        """These passages' codes, in their order: one read for each run of consecutive rows."""
        rows = np.asarray(rows, np.int64)
        out: Codes = [None] * len(rows)  # type: ignore[list-item]
        if len(rows) == 0:
            return out
        order = np.argsort(rows, kind="stable")
        ranked = rows[order]
        breaks = np.flatnonzero(np.diff(ranked) > 1) + 1
        for block, places in zip(np.split(ranked, breaks), np.split(order, breaks)):
            first, end = int(self.offsets[block[0]]), int(self.offsets[block[-1] + 1])
            data = self._read(first, end)
            for row, place in zip(block.tolist(), places.tolist()):
                out[place] = data[self.offsets[row] - first : self.offsets[row + 1] - first]
        return out

    def vectors(self, rows: Sequence[int], codes: Codes | None = None) -> list[np.ndarray]:
        """These passages' decoded token vectors (unit rows), from ``codes`` when given, else read."""
        if self._decoded is not None:
            return [self._decoded[self.offsets[r] : self.offsets[r + 1]] for r in rows]
        codes = self.read_codes(rows) if codes is None else codes
        decoded = self.codec.decode(np.concatenate(codes)) if codes else np.zeros((0, self.codec.dim), np.float32)
        return np.split(decoded, np.cumsum([len(c) for c in codes])[:-1])

    def scores(self, query: np.ndarray, rows: Sequence[int], codes: Codes | None = None) -> np.ndarray:
        """Mean over the query's tokens of their best cosine in each of these passages."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(rows), np.float32)
        if len(query) == 0 or len(rows) == 0:
            return out
        if self._decoded is None:
            return coded_scores(self.codec, query, self.read_codes(rows) if codes is None else codes)
        lengths = self.offsets[rows + 1] - self.offsets[rows]
        tokens = np.concatenate(self.vectors(rows))
        filled = lengths > 0
        if filled.any():
            # Query rows against token columns: the faster shape for BLAS (one long output row per query token).
            sims = query @ tokens.T
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
            out[filled] = np.maximum.reduceat(sims, starts[filled], axis=1).mean(axis=0)
        return out

    def span_scores(self, query: np.ndarray, row: int, spans: list[tuple[int, int]], codes: np.ndarray | None = None) -> list[float | None]:
        """Late interaction of the query with each character span (a sentence) of passage ``row``:
        its tokens that begin inside the span; None for a span holding none of the kept tokens."""
        first, last = self.offsets[row], self.offsets[row + 1]
        if len(query) == 0 or last == first:
            return [None] * len(spans)
        (vectors,) = self.vectors([row], None if codes is None else [codes])
        sims = query @ vectors.T
        starts = self.positions[first:last]
        out: list[float | None] = []
        for a, b in spans:
            inside = (starts >= a) & (starts < b)
            out.append(float(sims[:, inside].max(axis=1).mean()) if inside.any() else None)
        return out

    def save(self, folder: Path) -> None:
        """Write the build's files; from then on the codes are read from the file, as a loaded index's."""
        codes = np.ascontiguousarray(self._all_codes())
        write_atomic(folder / self.CODES, codes.tobytes())
        self.codec.save(folder / self.CODEC)
        write_atomic(folder / self.META, lambda f: np.savez(f, offsets=self.offsets, common=self.common, positions=self.positions))
        self._open(folder / self.CODES)

    @classmethod
    def load(cls, folder: Path, decoded_limit: int = DECODED_IN_MEMORY) -> LateIndex:
        with np.load(folder / cls.META, allow_pickle=False) as z:
            offsets, common, positions = z["offsets"], z["common"], z["positions"]
        index = cls(ResidualCodec.load(folder / cls.CODEC), offsets, common, positions)
        index._open(folder / cls.CODES, decoded_limit)
        return index

    def _all_codes(self) -> np.ndarray:
        return self._codes if self._codes is not None else self._read(0, int(self.offsets[-1]))

    def _open(self, path: Path, decoded_limit: int = DECODED_IN_MEMORY) -> None:
        self._path, self._codes = path, None
        # Kept open: a build removed from disk while a server still serves it stays readable.
        self._fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)
        tokens = int(self.offsets[-1])
        if tokens * self.codec.dim * 4 <= decoded_limit:  # small: codes and decoded vectors in memory, the file no longer read
            codes = self._read(0, tokens)
            self._decoded = self.codec.decode(codes) if tokens else np.zeros((0, self.codec.dim), np.float32)
            self._codes = codes

    def _read(self, first: int, end: int) -> np.ndarray:
        """Token rows first:end, checked: a file cut short under a running process is IndexCorrupt, not a crash."""
        width = self.codec.row_bytes
        if self._codes is not None:
            return self._codes[first:end]
        data = read_exactly(self._fd, self._path, (end - first) * width, first * width, f"token row {end}")
        return np.frombuffer(data, np.uint8).reshape(end - first, width)


def coded_scores(codec: ResidualCodec, query: np.ndarray, codes: Codes) -> np.ndarray:
    """``LateIndex.scores`` of passages given as token codes, by index/late_scores.c: each token is
    decoded, normalised and matched in cache, where numpy would decode every candidate token into
    one large matrix first (16 600 tokens × 14 query tokens: 26 ms in numpy, 5.7 ms here on one thread)."""
    from index.e5_tokens import engine_function

    query = np.ascontiguousarray(query, np.float32)
    if query.ndim != 2 or query.shape[1] != codec.dim:
        raise ValueError(f"query tokens must be (n, {codec.dim}), got {query.shape}")
    for c in codes:
        if c.dtype != np.uint8 or c.ndim != 2 or c.shape[1] != codec.row_bytes:
            raise ValueError(f"token codes must be (n, {codec.row_bytes}) uint8 rows, got {c.dtype} {c.shape}")
    bounds = np.concatenate([[0], np.cumsum([len(c) for c in codes], dtype=np.int64)]).astype(np.int64)
    joined = np.ascontiguousarray(np.concatenate(codes) if codes else np.zeros((0, codec.row_bytes), np.uint8))
    if codec.id_bytes and len(joined):  # a centroid id past the codec's would read outside its centroids
        highest = int(codec.centroid_ids(joined).max())
        if highest >= codec.k:
            raise ValueError(f"token codes name centroid {highest}; the codec has {codec.k}")
    scores = np.zeros(len(codes), np.float32)
    p = ctypes.c_void_p
    kernel = engine_function("touyan_late_scores", ctypes.c_int, p, p, ctypes.c_int64, ctypes.c_int, ctypes.c_int, p, ctypes.c_int, p, ctypes.c_int, p, ctypes.c_int, p, ctypes.c_int)
    status = kernel(
        joined.ctypes.data, bounds.ctypes.data, len(codes), codec.row_bytes, codec.id_bytes,
        codec.byte_table.ctypes.data, codec.byte_table.shape[2], codec.centroids.ctypes.data, codec.dim,
        query.ctypes.data, len(query), scores.ctypes.data, postings.THREADS,
    )
    if status != 0:
        raise MemoryError("no memory for late interaction's per-thread buffers")
    return scores
