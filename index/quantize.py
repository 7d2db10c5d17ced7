"""Token vectors as ColBERTv2-style residual codes: the nearest of k centroids, and each dimension
of what is left in ``nbits`` bits, against per-dimension buckets (Lloyd–Max fitted).

A token is one row of bytes: the centroid id (little-endian, 1 or 2 bytes; none with one
centroid) then the packed residual. Decoded rows are scaled back to unit length, as the stored
vectors were. With k > 1 the buckets are fitted on tokens k-means did not see (ColBERTv2 §3.1):
on its own points k-means leaves residuals smaller than an unseen token's.

The build uses one centroid, the mean, and 2 bits: 96 bytes a token, 16× less than float32.
eval/bench_late_compression.py chose it on the training questions over k-means centroids (the
PLAID rule), 1 and 4 bits and faiss's PQ (docs/scale.md); it needs no k-means
and no nearest-centroid search when a million passages are encoded.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from index.atomic import write_atomic

NBITS = 2
CENTROIDS = 1
# PLAID's 2^floor(log2(16·sqrt(tokens))) centroids, capped so ids fit 2 bytes, and at one centroid
# per MIN_POINTS tokens: with fewer, centroids memorise their points.
MAX_CENTROIDS = 1 << 16
MIN_POINTS = 32
HELDOUT_FRACTION = 0.05  # of the fitting sample, kept out of k-means to fit the buckets on
MIN_HELDOUT = 2048
MAX_FIT_VECTORS = 1 << 20  # a sample is enough (faiss's k-means itself takes ≤ 256 points a centroid)
LLOYD_ROUNDS = 4
# Residuals the buckets are fitted on: 3 cutoffs and 4 weights a dimension are well set by this
# many values, and fitting on more cost an upload's build 1.6 s at 31 000 tokens (eval/bench_documents.py).
MAX_BUCKET_VECTORS = 1 << 14


def centroid_count(n_vectors: int) -> int:
    if n_vectors < 2 * MIN_POINTS:
        return 1
    plaid = 2 ** math.floor(math.log2(16 * math.sqrt(n_vectors)))
    enough = 2 ** math.floor(math.log2(n_vectors / MIN_POINTS))
    return int(min(plaid, enough, MAX_CENTROIDS))


@dataclass
class ResidualCodec:
    centroids: np.ndarray  # (k, dim) float32
    cutoffs: np.ndarray  # (dim, 2^nbits - 1) each dimension's ascending bucket boundaries
    weights: np.ndarray  # (dim, 2^nbits) what each bucket decodes to
    nbits: int = NBITS
    byte_table: np.ndarray = field(init=False, repr=False)  # (code bytes, 256, per): what byte b's value v decodes to
    _table: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.nbits not in (1, 2, 4, 8) or self.dim % (8 // self.nbits):
            raise ValueError(f"{self.nbits}-bit codes need a dimension that packs into whole bytes (got {self.dim})")
        self.centroids = np.ascontiguousarray(self.centroids, np.float32)
        # Byte b's value v decodes to ``per`` dimensions at once: decoding is one gather.
        per, mask = 8 // self.nbits, (1 << self.nbits) - 1
        digit = (np.arange(256)[:, None] >> (self.nbits * np.arange(per))[None, :]) & mask  # (256, per)
        dims = np.arange(self.dim).reshape(-1, per)  # (code bytes, per)
        self.byte_table = table = np.ascontiguousarray(self.weights[dims[:, None, :], digit[None, :, :]], np.float32)
        # An entry of 2 or 4 floats as one float64/complex128 item: numpy's 1-D take moves items faster than rows.
        item = {1: np.float32, 2: np.float64, 4: np.complex128, 8: None}[per]
        self._table = table.reshape(-1, per) if item is None else table.reshape(-1, per).view(item).ravel()

    @property
    def dim(self) -> int:
        return self.weights.shape[0]

    @property
    def k(self) -> int:
        return len(self.centroids)

    @property
    def id_bytes(self) -> int:
        return 0 if self.k == 1 else 1 if self.k <= 256 else 2

    @property
    def row_bytes(self) -> int:
        """Bytes stored per token: centroid id and residual."""
        return self.id_bytes + self.dim * self.nbits // 8

    @classmethod
    def fit(cls, vectors: np.ndarray, nbits: int = NBITS, k: int | None = CENTROIDS, seed: int = 0) -> ResidualCodec:
        """From unit token vectors (a sample of them when there are many); ``k`` centroids (None:
        ``centroid_count``'s); k=1 is per-dimension scalar quantisation around the mean."""
        x = np.ascontiguousarray(vectors, np.float32)
        if x.ndim != 2 or len(x) == 0:
            raise ValueError("fit needs a non-empty (n, dim) matrix of token vectors")
        rng = np.random.default_rng(seed)
        if len(x) > MAX_FIT_VECTORS:
            x = x[np.sort(rng.choice(len(x), MAX_FIT_VECTORS, replace=False))]
        k = centroid_count(len(x)) if k is None else k
        if k == 1:  # the mean memorises nothing: fit the buckets on every vector
            centroids, held = x.mean(axis=0, keepdims=True), x
        else:
            order = rng.permutation(len(x))
            n_held = min(max(int(HELDOUT_FRACTION * len(x)), MIN_HELDOUT), len(x) // 4)
            # centroid_count already keeps MIN_POINTS a centroid: faiss's own minimum would only warn.
            kmeans = faiss.Kmeans(x.shape[1], k, niter=20, seed=seed, verbose=False, min_points_per_centroid=1)
            kmeans.train(x[order[n_held:]])
            centroids, held = kmeans.centroids, x[order[:n_held]]
        if len(held) > MAX_BUCKET_VECTORS:
            held = held[np.sort(rng.choice(len(held), MAX_BUCKET_VECTORS, replace=False))]
        residuals = held - centroids[nearest(centroids, held)]
        return cls(centroids, *fit_buckets(residuals, nbits), nbits)

    def encode(self, vectors: np.ndarray, batch: int = 1 << 16) -> np.ndarray:
        """(n, dim) → (n, row_bytes) uint8."""
        x = np.asarray(vectors, np.float32).reshape(-1, self.dim)
        out = np.empty((len(x), self.row_bytes), np.uint8)
        for a in range(0, len(x), batch):  # batches bound the temporaries
            chunk = x[a : a + batch]
            ids = nearest(self.centroids, chunk)
            out[a : a + batch, : self.id_bytes] = ids.astype("<u2").view(np.uint8).reshape(-1, 2)[:, : self.id_bytes]
            out[a : a + batch, self.id_bytes :] = pack(bucketize(chunk - self.centroids[ids], self.cutoffs), self.nbits)
        return out

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """(n, row_bytes) uint8 → (n, dim) unit float32 rows."""
        codes = np.asarray(codes, np.uint8).reshape(-1, self.row_bytes)
        residual = codes[:, self.id_bytes :]
        index = residual.astype(np.intp) + np.arange(residual.shape[1]) * 256
        x = np.take(self._table, index, axis=0 if self._table.ndim == 2 else None)
        x = (x if self._table.ndim == 2 else x.view(np.float32)).reshape(len(codes), self.dim)
        x += self.centroids[0] if self.id_bytes == 0 else self.centroids[self.centroid_ids(codes)]
        x /= np.maximum(np.sqrt(np.einsum("ij,ij->i", x, x)), 1e-12)[:, None]
        return x

    def centroid_ids(self, codes: np.ndarray) -> np.ndarray:
        """Each (n, row_bytes) code row's centroid id (its first id_bytes, little-endian); zeros with one centroid."""
        ids = np.zeros(len(codes), np.intp)
        for byte in range(self.id_bytes):
            ids |= codes[:, byte].astype(np.intp) << (8 * byte)
        return ids

    def save(self, path: Path) -> None:
        arrays = {"centroids": self.centroids, "cutoffs": self.cutoffs, "weights": self.weights, "nbits": np.array(self.nbits)}
        write_atomic(path, lambda f: np.savez(f, **arrays))

    @classmethod
    def load(cls, path: Path) -> ResidualCodec:
        with np.load(path, allow_pickle=False) as z:
            return cls(z["centroids"], z["cutoffs"], z["weights"], int(z["nbits"]))


def nearest(centroids: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Each row's nearest centroid (the smallest residual)."""
    if len(centroids) == 1 or len(x) == 0:
        return np.zeros(len(x), np.int64)
    index = faiss.IndexFlatL2(centroids.shape[1])
    index.add(np.ascontiguousarray(centroids, np.float32))
    return index.search(np.ascontiguousarray(x, np.float32), 1)[1][:, 0]


def fit_buckets(residuals: np.ndarray, nbits: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension cutoffs and weights: equal-count quantiles (as ColBERTv2's), then Lloyd–Max
    rounds (cutoffs halfway between weights, weights each bucket's mean), for less squared error."""
    levels = 1 << nbits
    r = np.asarray(residuals, np.float32)
    cutoffs = np.quantile(r, np.arange(1, levels) / levels, axis=0).T.astype(np.float32)
    weights = np.quantile(r, (np.arange(levels) + 0.5) / levels, axis=0).T.astype(np.float32)
    flat_dims = levels * np.arange(r.shape[1])[None, :]
    for step in range(LLOYD_ROUNDS + 1):
        flat = (bucketize(r, cutoffs).astype(np.int64) + flat_dims).ravel()
        sums = np.bincount(flat, weights=r.ravel().astype(np.float64), minlength=weights.size).reshape(weights.shape)
        counts = np.bincount(flat, minlength=weights.size).reshape(weights.shape)
        weights = np.where(counts > 0, sums / np.maximum(counts, 1), weights).astype(np.float32)  # an empty bucket keeps its value
        if step < LLOYD_ROUNDS:
            cutoffs = (weights[:, :-1] + weights[:, 1:]) / 2
    return np.ascontiguousarray(cutoffs, np.float32), np.ascontiguousarray(weights, np.float32)


def bucketize(residuals: np.ndarray, cutoffs: np.ndarray) -> np.ndarray:
    """(n, dim) bucket numbers: how many of its dimension's cutoffs each value exceeds."""
    out = np.empty(residuals.shape, np.uint8)
    for d in range(residuals.shape[1]):
        out[:, d] = np.searchsorted(cutoffs[d], residuals[:, d], side="right")
    return out


def pack(digits: np.ndarray, nbits: int) -> np.ndarray:
    """(n, dim) numbers below 2^nbits → (n, dim·nbits/8) bytes, dimension j of a byte at bits nbits·j."""
    per = 8 // nbits
    grouped = digits.reshape(len(digits), -1, per).astype(np.uint8)
    out = np.zeros(grouped.shape[:2], np.uint8)
    for j in range(per):
        out |= grouped[:, :, j] << np.uint8(nbits * j)
    return out
