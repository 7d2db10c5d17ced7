"""Search benchmarks: in process on the built index, and at scale on synthetic passages.

    python -m eval.bench_search [--embedder SPEC] [--sparse e5|none] [--rounds 3] [--index-rounds 3] [--json out.json]
    python -m eval.bench_search --scale 100000,1000000 [--store embedded|milvus|both] [--uri milvus:///abs/file.db] [--json out.json]

Without ``--scale``: query latency per retriever on the build, indexing overhead, peak memory.
Targets on the 2-core machine: hybrid p50 ≤ 15 ms; indexing time beyond the bare encoders'
(dense and e5 tokens) ≤ 10 %.

With ``--scale N[,N…]``: for each N and backend, in a process of its own (so its RSS is its own),
N passages are synthesised from the bundled build and searched the way ``Searcher.search`` ranks
hybrid (dense, sparse and keyword channels through the backend's ``PassageStore``, late
interaction over their pooled candidates, fusion and the cue bonuses), with no filter, a report
filter (~1000 passages) and a page filter (~1 %). The real questions (eval/questions.jsonl) are
encoded once up front with the real encoders; only retrieval is timed. Targets at a million on this
2-core, 24 GB machine: hybrid p50 ≤ 50 ms, recall@10 ≥ 0.95 against exact search, RAM ≤ 8 GB.

The synthetic passages (``synthesize``), each drawn from the real build's own distributions:

- the 99 real passages are planted at random rows, whole (vectors, terms, features, tokens), so
  real questions have their real answers among the distractors;
- dense: a random convex mix of two real passage vectors plus Gaussian noise with the real
  vectors' covariance (standard normals times the centred real vectors / sqrt(n-1)), made unit
  length. Not a Gaussian-mixture fit: 99 points in 512 dimensions fit no full covariance per
  component; mixing real vectors keeps the corpus's topics and puts the distractors between and
  around them, where they compete with the real passages;
- keywords: a real passage's BM25 length, its tokens drawn by the real terms' collection frequency
  (jieba tokens of the bundled corpus, 3 551 terms). A real million-passage corpus has a larger
  vocabulary, so its postings are shorter than these: keyword search here is pessimistic;
- sparse (e5 latent terms): a real passage's feature count (256), distinct features drawn by the
  real document frequencies, each weight one of that feature's real weights, unit length. Only the
  ~3 100 features the bundled corpus uses appear, so postings are longer than a real corpus's
  (a question touches ~40 postings per passage): pessimistic too;
- late interaction: each synthetic passage borrows a random real passage (its donor: text for the
  cues, sentences, e5 tokens). Scoring a candidate runs the build's own ``LateIndex`` on its donor's
  tokens (decoding its codes where index/late.py stores codes), so it costs what a real passage of
  that length does. The token store is not built at N: its size is tokens × the bytes a token takes
  in index/late.py as it is when the benchmark runs (extrapolated, and said so in the output);
- filters: synthetic passages spread over reports of ~1000 passages and pages 1–100; the real
  passages keep their report (seeds) and pages.

Made at N so RSS counts them (``loaded_rest``): the passages as a loaded build holds them
(``Chunk`` objects with their own texts), the token positions and the sentence spans. Not built:
the sentence vectors, which a build this large reads per query from its file, as it does the
token codes.
"""
from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import faiss
import numpy as np

from eval.gold import load_questions
from index.bm25 import BM25
from index.build import Indexer, make_faiss, sentence_rows
from index.chunk import SectionChunker
from index.corpus import load_corpus
from index.e5_tokens import TokenEncoder
from index.embed import Embedder
from index.models import Chunk
from index.passage_store import EmbeddedStore, MaskCache, Where, top
from index.late import LateIndex
from index.sparse import SparseIndex
from index.store import live_build
from service.search import CANDIDATES, Searcher
from touyan.settings import Settings


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(values, p))


def bench_queries(searcher: Searcher, questions: list[str], rounds: int) -> dict:
    out = {}
    for retriever in searcher.retrievers:
        searcher.search(questions[0], 5, retriever=retriever)  # warm up
        times = []
        for _ in range(rounds):
            for q in questions:
                start = time.perf_counter()
                searcher.search(q, 5, retriever=retriever)
                times.append((time.perf_counter() - start) * 1000)
        out[retriever] = {"p50_ms": round(percentile(times, 50), 2), "p95_ms": round(percentile(times, 95), 2), "n": len(times)}
    return out


def bench_indexing(settings: Settings, embedder: Embedder, tokens: TokenEncoder | None, rounds: int = 3) -> dict:
    """Full index build (parse, chunk, encode, BM25, FAISS, save) against encoding alone.

    Encoding is what the build encodes (``Indexer.encoding_jobs``): passages, dense and by
    e5's tokens (sparse + late interaction), and sentences, dense.
    """
    chunks = SectionChunker(settings.chunk_chars).run(load_corpus(settings.corpus_dir).cases)
    indexer = Indexer(embedder, tokens, settings.chunk_chars)
    bares, fulls = [], []
    for _ in range(rounds):  # alternated, and the fastest of each kept: this VM's noise is ±5 % a run
        start = time.perf_counter()
        for texts, encode in indexer.encoding_jobs(chunks, sentence_rows(chunks)).values():
            encode(texts, None)
        bares.append(time.perf_counter() - start)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            indexer.run(load_corpus(settings.corpus_dir), Path(tmp))
            fulls.append(time.perf_counter() - start)
    bare, full = min(bares), min(fulls)
    return {
        "passages": len(chunks),
        "bare_embed_s": round(bare, 2),
        "full_build_s": round(full, 2),
        "bare_passages_per_s": round(len(chunks) / bare, 1),
        "build_passages_per_s": round(len(chunks) / full, 1),
        "overhead_pct": round(100 * (full - bare) / bare, 1),
    }


# -- the synthetic corpus at scale (--scale) -------------------------------------------------------

ROWS_PER_REPORT = 1000  # a synthetic report's passages: the report filter allows about this many
PAGES = 100  # synthetic passages spread over pages 1..PAGES: the page filter allows about 1 %
FILTER_PAGE = 29  # a page of the bundled report too, so the page filter holds real passages
STEP = 50_000  # passages synthesised at a time
TOP = 10


@dataclass
class Profile:
    """What synthesis samples from: the real build's vectors, terms, features and token counts."""

    vectors: np.ndarray  # unit passage vectors (n_real × d)
    noise: np.ndarray  # (n_real × d): standard normal rows times this have the real vectors' covariance
    terms: list[str]  # BM25 terms
    term_p: np.ndarray  # each term's share of all term occurrences (collection frequency)
    doc_lens: np.ndarray  # BM25 tokens per real passage
    real_terms: list[tuple[np.ndarray, np.ndarray]]  # each real passage's (term rows, tfs)
    features: np.ndarray  # sparse feature ids the build holds
    feature_p: np.ndarray  # each feature's share of the postings (document frequency)
    feature_indptr: np.ndarray  # the real postings of features[r] are weights[indptr[r]:indptr[r+1]]
    feature_weights: np.ndarray
    feature_counts: np.ndarray  # latent terms per real passage
    real_sparse: list[tuple[np.ndarray, np.ndarray]]  # each real passage's (feature ids, unit weights)
    sparse_ptr: np.ndarray  # the same, passage-major: passage i's feature rows (into features) and weights
    sparse_rows: np.ndarray
    sparse_weights: np.ndarray
    token_counts: np.ndarray  # kept e5 tokens per real passage
    token_bytes: int  # what the late-interaction index stores per token
    pages: np.ndarray  # each real passage's page (-1 for none)

    @classmethod
    def of(cls, stored) -> Profile:
        vectors = np.asarray(stored.vectors, np.float32)
        centred = vectors - vectors.mean(axis=0)
        bm25 = stored.bm25
        df = np.diff(bm25._indptr)
        cf = np.bincount(np.repeat(np.arange(len(df)), df), weights=bm25._tfs, minlength=len(df))
        real_terms: list[list] = [[[], []] for _ in range(bm25.n_docs)]
        for row, (a, b) in enumerate(zip(bm25._indptr[:-1], bm25._indptr[1:])):
            for d, tf in zip(bm25._doc_ids[a:b].tolist(), bm25._tfs[a:b].tolist()):
                real_terms[d][0].append(row)
                real_terms[d][1].append(tf)
        sp = stored.sparse
        sdf = np.diff(sp.indptr)
        by_doc: list[list] = [[[], []] for _ in range(sp.n_docs)]
        for f, a, b in zip(sp.features.tolist(), sp.indptr[:-1], sp.indptr[1:]):
            for d, w in zip(sp.doc_ids[a:b].tolist(), sp.weights[a:b].tolist()):
                by_doc[d][0].append(f)
                by_doc[d][1].append(w)
        late = stored.late
        return cls(
            vectors=vectors,
            noise=centred / np.sqrt(max(len(vectors) - 1, 1)),
            terms=list(bm25.terms),
            term_p=cf / cf.sum(),
            doc_lens=np.asarray(bm25._doc_lens),
            real_terms=[(np.array(t, np.int32), np.array(f, np.int32)) for t, f in real_terms],
            features=sp.features.astype(np.int32),
            feature_p=sdf / sdf.sum(),
            feature_indptr=sp.indptr,
            feature_weights=sp.weights,
            feature_counts=np.bincount(sp.doc_ids, minlength=sp.n_docs),
            real_sparse=[(np.array(f, np.int32), np.array(w, np.float32)) for f, w in by_doc],
            sparse_ptr=np.concatenate([[0], np.cumsum([len(f) for f, _ in by_doc])]).astype(np.int64),
            sparse_rows=np.searchsorted(sp.features, np.concatenate([np.array(f, np.int32) for f, _ in by_doc])).astype(np.int64),
            sparse_weights=np.concatenate([np.array(w, np.float32) for _, w in by_doc]),
            token_counts=np.diff(late.offsets),
            token_bytes=late_bytes_per_token(late),
            pages=np.array([-1 if c.page is None else c.page for c in stored.chunks]),
        )


@dataclass
class Synthetic:
    """``n`` passages, the real ones planted among them (row ``planted[i]`` is real passage i).

    Keyword and sparse postings are passage-major CSR (passage d owns ``*_ptr[d]:*_ptr[d+1]``).
    """

    n: int
    planted: np.ndarray
    donor: np.ndarray  # the real passage whose text, kind and sentences a row borrows (cues, the sentence channel)
    second: np.ndarray  # the other real passage of the mix
    mix: np.ndarray  # donor's share of the mix (1 for a planted real passage)
    report: np.ndarray  # 0 is the real report
    page: np.ndarray
    dense: np.ndarray
    kw_ptr: np.ndarray
    kw_terms: np.ndarray
    kw_tfs: np.ndarray
    sp_ptr: np.ndarray
    sp_ids: np.ndarray
    sp_weights: np.ndarray
    token_count: np.ndarray  # kept e5 tokens: the mix's share of each real passage's


def synthesize(profile: Profile, n: int, seed: int = 0, progress: Callable[[str], None] = lambda m: None) -> Synthetic:
    """``n`` passages drawn from the real build's distributions (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n_real, dim = profile.vectors.shape
    if n < n_real:
        raise ValueError(f"--scale {n} is smaller than the real corpus ({n_real} passages)")
    planted = np.sort(rng.choice(n, n_real, replace=False))
    real_at = np.full(n, -1, np.int64)
    real_at[planted] = np.arange(n_real)
    donor = np.zeros(n, np.int32)  # a synthetic passage mixes real passages donor and second by mix : 1 - mix
    donor[planted] = np.arange(n_real)
    second, mix = donor.copy(), np.ones(n, np.float32)
    report = rng.integers(0, max(n // ROWS_PER_REPORT, 1), n).astype(np.int32)
    report[planted] = 0
    page = rng.integers(1, PAGES + 1, n).astype(np.int16)
    page[planted] = profile.pages
    dense = np.empty((n, dim), np.float32)
    kw_ptr, sp_ptr = np.zeros(n + 1, np.int64), np.zeros(n + 1, np.int64)
    kw_terms, kw_tfs, sp_ids, sp_weights = [], [], [], []
    for lo in range(0, n, STEP):
        hi = min(lo + STEP, n)
        m = hi - lo
        real = real_at[lo:hi]
        # Dense: a random mix of two real passage vectors plus noise with the real vectors' covariance, unit length.
        a, b = rng.integers(0, n_real, m), rng.integers(0, n_real, m)
        share = rng.random((m, 1), dtype=np.float32)
        synthetic = real < 0
        donor[lo:hi][synthetic], second[lo:hi][synthetic], mix[lo:hi][synthetic] = a[synthetic], b[synthetic], share[synthetic, 0]
        x = share * profile.vectors[a] + (1 - share) * profile.vectors[b] + rng.standard_normal((m, n_real), dtype=np.float32) @ profile.noise
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        x[real >= 0] = profile.vectors[real[real >= 0]]
        dense[lo:hi] = x
        # Keywords: a real passage length, tokens drawn by the terms' collection frequency.
        lens = rng.choice(profile.doc_lens, m)
        doc = np.repeat(np.arange(m, dtype=np.int64), lens)
        key = np.sort(doc * len(profile.terms) + _draw(rng, profile.term_p, len(doc)))
        first = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
        key, tfs = key[first], np.diff(np.concatenate([first, [len(key)]]))
        rows, terms = key // len(profile.terms), (key % len(profile.terms)).astype(np.int32)
        rows, terms, tfs = _plant(rows, terms, tfs.astype(np.int32), real, [profile.real_terms[r] for r in real[real >= 0]])
        kw_ptr[lo + 1 : hi + 1] = kw_ptr[lo] + np.cumsum(np.bincount(rows, minlength=m))
        kw_terms.append(terms)
        kw_tfs.append(tfs.astype(np.int16))
        # Sparse: the same mix of the two real passages' latent terms plus noise terms drawn by
        # document frequency (a quarter as many, each with one of that term's real weights times
        # U(0,1)), cut to a real passage's count of its heaviest terms (as e5's head keeps its top
        # TOP_K), unit length.
        counts = rng.choice(profile.feature_counts, m)
        rows_a, f_a, w_a = _rows_of(profile.sparse_ptr, profile.sparse_rows, profile.sparse_weights, a)
        rows_b, f_b, w_b = _rows_of(profile.sparse_ptr, profile.sparse_rows, profile.sparse_weights, b)
        noise_rows = np.repeat(np.arange(m, dtype=np.int64), counts // 4)
        noise_f = _draw(rng, profile.feature_p, len(noise_rows))
        pick = profile.feature_indptr[noise_f] + (rng.random(len(noise_f)) * np.diff(profile.feature_indptr)[noise_f]).astype(np.int64)
        rows = np.concatenate([rows_a, rows_b, noise_rows])
        f = np.concatenate([f_a, f_b, noise_f])
        w = np.concatenate([w_a * share[rows_a, 0], w_b * (1 - share[rows_b, 0]), profile.feature_weights[pick] * rng.random(len(pick))]).astype(np.float32)
        key = rows * len(profile.features) + f
        order = np.argsort(key, kind="stable")
        key, w = key[order], w[order]
        first = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
        key, w = key[first], np.add.reduceat(w, first)  # a term of both passages: its weights add up
        rows, f = key // len(profile.features), key % len(profile.features)
        order = np.lexsort((-w, rows))
        rows, f, w = rows[order], f[order], w[order]
        start = np.searchsorted(rows, np.arange(m))
        keep = np.arange(len(rows)) - start[rows] < counts[rows]
        rows, f, w = rows[keep], f[keep], w[keep]
        w /= np.sqrt(np.bincount(rows, weights=w.astype(np.float64) ** 2, minlength=m))[rows].astype(np.float32)
        rows, ids, w = _plant(rows, profile.features[f], w, real, [profile.real_sparse[r] for r in real[real >= 0]])
        sp_ptr[lo + 1 : hi + 1] = sp_ptr[lo] + np.cumsum(np.bincount(rows, minlength=m))
        sp_ids.append(ids.astype(np.int16))
        sp_weights.append(w)
        progress(f"synthesised {hi}/{n} passages")
    token_count = (np.round(mix * profile.token_counts[donor]) + np.round((1 - mix) * profile.token_counts[second])).astype(np.int32)
    return Synthetic(
        n, planted, donor, second, mix, report, page, dense, kw_ptr, np.concatenate(kw_terms), np.concatenate(kw_tfs),
        sp_ptr, np.concatenate(sp_ids), np.concatenate(sp_weights), token_count,
    )


def _rows_of(ptr: np.ndarray, ids: np.ndarray, values: np.ndarray, which: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The entries of CSR rows ``which`` (in that order): (position in ``which``, id, value)."""
    lengths = ptr[which + 1] - ptr[which]
    at = np.repeat(ptr[which] - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
    return np.repeat(np.arange(len(which), dtype=np.int64), lengths), ids[at], values[at]


def _draw(rng: np.random.Generator, p: np.ndarray, size: int) -> np.ndarray:
    """``size`` indices drawn with probabilities ``p``."""
    return np.minimum(np.searchsorted(np.cumsum(p), rng.random(size)), len(p) - 1)


def _plant(rows: np.ndarray, ids: np.ndarray, values: np.ndarray, real: np.ndarray, planted: list[tuple[np.ndarray, np.ndarray]]):
    """Replace the synthetic entries of the window's real rows (``real[row] >= 0``) by the real passages', passage-major."""
    if not planted:
        return rows, ids, values
    spots = np.flatnonzero(real >= 0)
    keep = ~np.isin(rows, spots)
    rows = np.concatenate([rows[keep]] + [np.full(len(i), r) for r, (i, _) in zip(spots, planted)])
    ids = np.concatenate([ids[keep]] + [i for i, _ in planted]).astype(ids.dtype)
    values = np.concatenate([values[keep]] + [v for _, v in planted]).astype(values.dtype)
    order = np.argsort(rows, kind="stable")
    return rows[order], ids[order], values[order]


def invert(ptr: np.ndarray, key: np.ndarray, n_keys: int, columns: list[np.ndarray], step: int = 1 << 24) -> tuple[np.ndarray, list[np.ndarray]]:
    """Passage-major CSR postings → key-major (CSR by ``key``, passage order kept within a key), by
    a counting sort a window at a time so no posting-sized int64 array is made: (indptr over the
    keys, [the passage of each posting] + each of ``columns`` reordered)."""
    counts = np.zeros(n_keys, np.int64)
    for lo in range(0, len(key), step):
        counts += np.bincount(key[lo : lo + step], minlength=n_keys)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    cursor = indptr[:-1].copy()
    order = np.empty(len(key), np.int32)
    for lo in range(0, len(key), step):
        k = key[lo : lo + step]
        by = np.argsort(k, kind="stable")
        ks = k[by]
        starts = np.flatnonzero(np.concatenate([[True], ks[1:] != ks[:-1]]))
        rank = np.arange(len(ks)) - np.repeat(starts, np.diff(np.concatenate([starts, [len(ks)]])))
        order[cursor[ks] + rank] = lo + by
        cursor += np.bincount(ks, minlength=n_keys)
    out = [np.empty(len(key), np.int32)] + [np.empty(len(key), c.dtype) for c in columns]
    for lo in range(0, len(key), step):
        o = order[lo : lo + step]
        out[0][lo : lo + len(o)] = np.searchsorted(ptr, o, side="right") - 1
        for dst, c in zip(out[1:], columns):
            dst[lo : lo + len(o)] = c[o]
    return indptr, out


def embedded_parts(syn: Synthetic, profile: Profile, progress: Callable[[str], None]) -> tuple[SparseIndex, BM25, dict]:
    """The sparse index and BM25 the build would hold for these passages, built straight from the arrays."""
    took = {}
    start = time.perf_counter()
    seen = np.zeros(1 << 14, bool)
    for lo in range(0, len(syn.sp_ids), 1 << 24):
        seen[syn.sp_ids[lo : lo + (1 << 24)]] = True
    features = np.flatnonzero(seen).astype(np.int32)
    row = np.zeros(1 << 14, np.int32)
    row[features] = np.arange(len(features))
    key = np.empty(len(syn.sp_ids), np.int32)
    for lo in range(0, len(key), 1 << 24):
        ids = syn.sp_ids[lo : lo + (1 << 24)]
        key[lo : lo + len(ids)] = row[ids]
    indptr, (doc_ids, weights) = invert(syn.sp_ptr, key, len(features), [syn.sp_weights])
    del key
    sparse = SparseIndex(features, indptr, doc_ids, weights, syn.n)
    took["sparse_s"] = time.perf_counter() - start
    progress(f"sparse index: {len(sparse.doc_ids):,} postings in {took['sparse_s']:.1f} s")
    start = time.perf_counter()
    indptr, (doc_ids, tfs) = invert(syn.kw_ptr, syn.kw_terms, len(profile.terms), [syn.kw_tfs])
    doc_lens = np.zeros(syn.n, np.int64)
    filled = np.diff(syn.kw_ptr) > 0
    doc_lens[filled] = np.add.reduceat(syn.kw_tfs.astype(np.int64), syn.kw_ptr[:-1][filled])
    bm25 = BM25()
    bm25._set_postings(profile.terms, indptr, doc_ids, tfs.astype(np.int32), doc_lens.astype(np.int32))
    took["bm25_s"] = time.perf_counter() - start
    progress(f"BM25: {len(bm25._doc_ids):,} postings in {took['bm25_s']:.1f} s")
    return sparse, bm25, took


class SampledLate:
    """Late interaction of a synthetic row through the build's own ``LateIndex`` (whatever it stores:
    float32 vectors or codes), so a candidate costs what a real passage of its length does: its
    tokens are the mix's share of its two real passages' (the first ``mix`` of donor's, the last
    ``1 - mix`` of second's). With float32 vectors (no codes to cut) a row scores as its donor."""

    def __init__(self, late, syn: Synthetic):
        self.late, self.syn = late, syn
        self.codes = hasattr(late, "read_codes")  # the token-code API (index/late.py compressed) or float32 vectors

    def query_tokens(self, tokens: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return self.late.query_tokens(tokens, ids)

    def scores(self, query: np.ndarray, rows, codes=None) -> np.ndarray:
        rows = np.asarray(rows, np.int64)
        a, b, mix = self.syn.donor[rows], self.syn.second[rows], self.syn.mix[rows]
        if not self.codes:
            return self.late.scores(query, a)
        first, last = self.late.read_codes(a), self.late.read_codes(b)
        mixed = []
        for x, y, s in zip(first, last, mix.tolist()):
            if s >= 1:
                mixed.append(x)
            else:
                mixed.append(np.concatenate([x[: round(s * len(x))], y[len(y) - round((1 - s) * len(y)) :]]))
        return self.late.scores(query, a, mixed)


def late_bytes_per_token(late) -> int:
    """What the build's late-interaction index stores per token."""
    per = getattr(late, "bytes_per_token", None)
    if per is not None:
        return int(per() if callable(per) else per)
    return int(late.vectors.dtype.itemsize * late.vectors.shape[1])


class Donors(Sequence):
    """Row r's passage: the real one where planted, else its donor's text with the row's own page."""

    def __init__(self, chunks: list[Chunk], syn: Synthetic):
        self.chunks, self.syn = chunks, syn
        self.real = set(syn.planted.tolist())

    def __len__(self) -> int:
        return self.syn.n

    def __getitem__(self, r):
        chunk = self.chunks[self.syn.donor[r]]
        return chunk if r in self.real else replace(chunk, page=int(self.syn.page[r]))


class Timed:
    """A store or late index whose calls add their time to ``spent``."""

    def __init__(self, inner, spent: dict[str, float], names: dict[str, str]):
        self.inner, self.spent, self.names = inner, spent, names

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if name not in self.names:
            return attr

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self.spent[self.names[name]] = self.spent.get(self.names[name], 0.0) + time.perf_counter() - start

        return timed


def scaled_searcher(base: Searcher, syn: Synthetic, store, encodings: dict) -> Searcher:
    """``base`` (the real build's searcher) reading the synthetic passages through ``store``; the
    questions' encodings are looked up, not computed."""
    searcher = Searcher.__new__(Searcher)
    searcher.__dict__.update(base.__dict__)
    searcher._chunks = Donors(base._chunks, syn)
    searcher._page_of = syn.page.astype(np.int64)
    searcher.stored = replace(base.stored, late=SampledLate(base.stored.late, syn))
    searcher.store = store
    store.token_codes = lambda rows: None  # SampledLate reads its donors' codes itself
    searcher._query_vector = lambda q: encodings[q][0]
    searcher._token_encoding = lambda q: encodings[q][1]
    sentences, starts = base.stored.sentences.vectors, base._sentence_start

    def best_sentence(query: str, rows: list[int]) -> dict[int, float]:
        q = encodings[query][0][0]
        out = {}
        for r in rows:
            d = syn.donor[r]
            if starts[d + 1] > starts[d]:
                out[r] = float((sentences[starts[d] : starts[d + 1]] @ q).max())
        return out

    searcher._best_sentence = best_sentence
    return searcher


def hybrid_top(searcher: Searcher, question: str, where: Where) -> list[int]:
    """What ``Searcher.search`` ranks for hybrid: the three channels, late interaction of their pool, fusion."""
    lists = searcher.channel_lists(question, "hybrid", CANDIDATES, where)
    fused = searcher._fuse(question, lists)
    return sorted(fused, key=lambda i: -fused[i])[:TOP]


class Exact:
    """The same store searching exactly (FAISS's flat storage for dense, every posting for sparse),
    each answer kept: the reference the ranking and the channels are compared with, computed once.
    A question's exact sparse scores are kept too, so each filter's top costs no second scoring."""

    def __init__(self, store: EmbeddedStore):
        index = store.faiss_index
        self.flat = faiss.downcast_index(index.storage) if isinstance(index, faiss.IndexHNSW) else index
        self.store, self.kept, self.last = store, {}, (None, None)

    def allowed(self, where: Where):
        return self.store.allowed(where)

    def keyword(self, tokens, k, where):
        return self.store.keyword(tokens, k, where)

    def dense(self, vector, k, where):
        key = ("dense", np.asarray(vector, np.float32).tobytes(), k, where)
        if key not in self.kept:
            flat = EmbeddedStore.__new__(EmbeddedStore)
            flat.__dict__.update(self.store.__dict__)
            flat.faiss_index = self.flat
            self.kept[key] = flat.dense(vector, k, where)
        return self.kept[key]

    def sparse(self, vector, k, where, also=()):
        ids = vector.ids.tobytes() + vector.weights.tobytes()
        key = ("sparse", ids, k, where)
        if key not in self.kept:
            if self.last[0] != ids:
                self.last = (ids, self.store.sparse_index.scores(vector))
            self.kept[key] = top(self.last[1], k, self.store.allowed(where))
        return self.kept[key]


def old_channels(store: EmbeddedStore):
    """The channels as they were before issue 17's scale work: a full argsort per list, a hash
    set of the allowed rows for filtered HNSW, every posting of the question's latent terms."""

    sp = store.sparse_index
    numpy_sums = SparseIndex(sp.features, sp.indptr, sp.doc_ids, sp.weights, sp.n_docs, kernel_from=1 << 62)  # bincount over every posting

    def old_top(scores, k, allowed):
        if allowed is not None:
            scores = np.where(allowed, scores, 0)
        best = np.argsort(-scores)[:k]
        return {int(i): float(scores[i]) for i in best if scores[i] > 0}

    def mask(where):  # made anew on every call, as it was
        return None if where.everything else store._mask(where)

    def dense(vector, k, where):
        allowed = mask(where)
        params = None if allowed is None else faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.flatnonzero(allowed).astype("int64")))
        scores, ids = store.faiss_index.search(np.asarray(vector, np.float32).reshape(1, -1), k, params=params)
        return {int(i): float(s) for s, i in zip(scores[0], ids[0]) if i >= 0}

    return {
        "dense": dense,
        "sparse": lambda v, k, where: old_top(numpy_sums.scores(v), k, mask(where)),
        "keyword": lambda t, k, where: old_top(store.bm25.scores(t), k, mask(where)),
    }


def rss_mb(pid: str = "self", field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def children() -> list[str]:
    """Processes this one started (milvus-lite runs its server as one)."""
    me, out = str(os.getpid()), []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == me:
            out.append(status.parent.name)
    return out


def pct(values: list[float], p: float) -> float:
    return round(float(np.percentile(values, p)), 2) if values else float("nan")


def overlap(a, b, k: int) -> float:
    a, b = list(a)[:k], list(b)[:k]
    return len(set(a) & set(b)) / max(len(b), 1)


FILTERS = {"none": Where(), "report": Where(report="seeds"), "page": Where(page=FILTER_PAGE)}


def run_queries(searcher: Searcher, questions: list[str], filters: dict[str, Where], exact=None) -> tuple[dict, dict, dict]:
    """Per filter: hybrid and per-channel p50/p99 ms and each question's hybrid top 10; with ``exact``
    (a store), also each question's top 10 when the searcher reads that store instead (not timed)."""
    spent: dict[str, float] = {}
    store, late = searcher.store, searcher.stored.late
    timed_store = Timed(store, spent, {"dense": "dense", "sparse": "sparse", "keyword": "bm25", "allowed": "filter"})
    timed_late = replace(searcher.stored, late=Timed(late, spent, {"scores": "late"}))
    plain = searcher.stored
    rows: dict[str, dict[str, list[float]]] = {f: {} for f in filters}
    tops: dict[str, list] = {f: [] for f in filters}
    exact_tops: dict[str, list] = {f: [] for f in filters}
    for where in filters.values():
        searcher.store = timed_store
        hybrid_top(searcher, questions[0], where)  # warm up (a filter's mask is read once)
    for q in questions:
        for name, where in filters.items():
            searcher.store, searcher.stored = timed_store, timed_late
            spent.clear()
            start = time.perf_counter()
            tops[name].append(hybrid_top(searcher, q, where))
            total = time.perf_counter() - start
            r = rows[name]
            r.setdefault("hybrid", []).append(total * 1000)
            for channel in ("dense", "sparse", "bm25", "late", "filter"):
                r.setdefault(channel, []).append(spent.get(channel, 0.0) * 1000)
            r.setdefault("fusion+rest", []).append((total - sum(spent.values())) * 1000)
            if exact is not None:
                searcher.store, searcher.stored = exact, plain
                exact_tops[name].append(hybrid_top(searcher, q, where))
    searcher.store, searcher.stored = store, plain
    times = {f: {c: {"p50": pct(v, 50), "p99": pct(v, 99)} for c, v in r.items()} for f, r in rows.items()}
    return times, tops, exact_tops


def worker(backend: str, n: int, out: Path, uri: str | None, compare: Path | None, questions_limit: int | None) -> None:
    """One backend at one size, in its own process so its memory is its own."""
    say = lambda m: print(f"[{backend} {n}] {m}", file=sys.stderr, flush=True)
    from service.search import open_searcher

    settings = Settings.from_flags(store="embedded")
    base = open_searcher(settings, progress=lambda m: None)
    if base.tokens is None:
        raise SystemExit("the scale benchmark needs e5's token channels (TOUYAN_SPARSE=e5)")
    # At N passages the token codes are far past DECODED_IN_MEMORY: read and decoded per query, as the donors' are here.
    base.stored = replace(base.stored, late=LateIndex.load(settings.index_dir / "builds" / live_build(settings.index_dir), decoded_limit=0))
    questions = [q.question for q in load_questions()][:questions_limit]
    start = time.perf_counter()
    encodings = {q: (base._query_vector(q), base._token_encoding(q)) for q in questions}
    say(f"{len(questions)} questions encoded in {time.perf_counter() - start:.1f} s (not timed below)")
    profile = Profile.of(base.stored)
    start = time.perf_counter()
    syn = synthesize(profile, n, progress=say)
    result: dict = {"backend": backend, "n": n, "questions": len(questions), "synth_s": round(time.perf_counter() - start, 1)}
    tokens = int(syn.token_count.sum())
    result["late_tokens"] = tokens
    result["late_store_bytes"] = tokens * profile.token_bytes
    result["late_bytes_per_token"] = profile.token_bytes
    if backend == "embedded":
        result |= run_embedded(base, syn, profile, encodings, questions, say)
    else:
        result |= run_milvus(base, syn, profile, encodings, questions, uri, compare, say)
    result["peak_rss_mb"] = round(max(PEAK[0], rss_mb(field="VmHWM"), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), 1)
    out.write_text(json.dumps(result, indent=1), encoding="utf-8")


def run_embedded(base: Searcher, syn: Synthetic, profile: Profile, encodings: dict, questions: list[str], say) -> dict:
    result: dict = {}
    sparse, bm25, took = embedded_parts(syn, profile, say)
    del syn.kw_terms, syn.kw_tfs, syn.sp_ids, syn.sp_weights  # the passage-major arrays only synthesis needs
    gc.collect()
    start = time.perf_counter()
    index = make_faiss(syn.dense)
    result["dense_index"] = type(index).__name__
    result["build_dense_s"] = round(time.perf_counter() - start, 1)
    say(f"{result['dense_index']} built in {result['build_dense_s']} s")
    result["build_sparse_s"], result["build_bm25_s"] = round(took["sparse_s"], 1), round(took["bm25_s"], 1)
    result["build_s"] = round(result["build_dense_s"] + took["sparse_s"] + took["bm25_s"], 1)
    reports = np.array(["seeds"] + [f"r{i}" for i in range(1, int(syn.report.max()) + 1)])
    store = EmbeddedStore.__new__(EmbeddedStore)
    store.faiss_index, store.sparse_index, store.bm25, store._rows = index, sparse, bm25, syn.n
    store._masks = MaskCache(8, store._mask)
    store._case = syn.report  # not filtered on here
    store._page = syn.page.astype(np.int64)
    store._report = reports[syn.report]
    store._source = store._report
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR", "/tmp")) as tmp:  # the files a build writes for them
        faiss.write_index(index, str(Path(tmp) / "vectors.faiss"))
        sparse.save(Path(tmp) / "sparse.npz")
        bm25.save(Path(tmp) / "bm25.npz")
        result["disk_bytes"] = sum(p.stat().st_size for p in Path(tmp).iterdir())
    syn.dense = None  # a loaded build's StoredIndex.vectors is a view of the FAISS index's own
    gc.collect()
    _trim()
    result["rss_store_mb"] = round(rss_mb(), 1)
    held = loaded_rest(base, syn)  # kept to the end, as a server keeps them
    result["held_passages"] = len(held[0])
    _trim()
    result["rss_serving_mb"] = round(rss_mb(), 1)
    say(f"RSS {result['rss_store_mb']} MB with the store, {result['rss_serving_mb']} MB with the rest a loaded build holds; timing {len(questions)} questions × {len(FILTERS)} filters")
    searcher = scaled_searcher(base, syn, store, encodings)
    for where in FILTERS.values():  # what the first questions add: filter masks
        hybrid_top(searcher, questions[0], where)
    _trim()
    result["rss_warm_mb"] = round(rss_mb(), 1)
    say(f"RSS after the first questions {result['rss_warm_mb']} MB")
    _reset_peak()
    exact_store = Exact(store)
    exact_store.token_codes = store.token_codes
    result["times"], tops, exact = run_queries(searcher, questions, FILTERS, exact_store)
    result["rss_query_peak_mb"] = round(rss_mb(field="VmHWM"), 1)
    result["exact_tops"] = exact
    result["recall@10"] = {f: round(float(np.mean([overlap(a, e, TOP) for a, e in zip(tops[f], exact[f])])), 4) for f in FILTERS}
    # Channels alone against their exact versions, and the channels as they were (before/after, one run).
    old = old_channels(store)
    channel: dict = {}
    for f, where in FILTERS.items():
        rec = {"dense@10": [], "dense@50": [], "sparse@50": []}
        before = {"dense": [], "sparse": [], "bm25": []}
        for q in questions:
            vector, enc = encodings[q][0][0], encodings[q][1]
            d, de = store.dense(vector, CANDIDATES, where), exact_store.dense(vector, CANDIDATES, where)
            rec["dense@10"].append(overlap(d, de, 10))
            rec["dense@50"].append(overlap(d, de, CANDIDATES))
            s, se = store.sparse(enc.sparse, CANDIDATES, where), exact_store.sparse(enc.sparse, CANDIDATES, where)
            rec["sparse@50"].append(overlap(s, se, CANDIDATES))
        for q in questions[: max(len(questions) // 4, 10)]:  # the old code is slow at scale: a quarter of the questions
            vector, enc = encodings[q][0][0], encodings[q][1]
            tokens = base.tokenizer.tokenize(q) + base.names.terms(q)
            for name, call, arg in (("dense", old["dense"], vector), ("sparse", old["sparse"], enc.sparse), ("bm25", old["keyword"], tokens)):
                t = time.perf_counter()
                call(arg, CANDIDATES, where)
                before[name].append((time.perf_counter() - t) * 1000)
        channel[f] = {"recall": {k: round(float(np.mean(v)), 4) for k, v in rec.items()}, "before": {k: {"p50": pct(v, 50), "p99": pct(v, 99)} for k, v in before.items()}}
    result["channels"] = channel
    if isinstance(index, faiss.IndexHNSW):
        sweep = {}
        for ef in (128, 256, 512, 1024):
            store.hnsw_ef = ef
            ms, rec = [], []
            for q in questions:
                vector = encodings[q][0][0]
                t = time.perf_counter()
                d = store.dense(vector, CANDIDATES, Where())
                ms.append((time.perf_counter() - t) * 1000)
                rec.append(overlap(d, exact_store.dense(vector, CANDIDATES, Where()), 10))
            sweep[ef] = {"p50": pct(ms, 50), "recall@10": round(float(np.mean(rec)), 4)}
        del store.hnsw_ef
        ms = []
        for q in questions:
            t = time.perf_counter()
            exact_store.flat.search(encodings[q][0].astype(np.float32).reshape(1, -1), CANDIDATES)
            ms.append((time.perf_counter() - t) * 1000)
        sweep["flat"] = {"p50": pct(ms, 50), "recall@10": 1.0}
        result["ef_sweep"] = sweep
    import index.postings as postings

    threads, default = {}, postings.THREADS
    for n in (1, 2):  # the kernel's threads (index/sparse_scores.c)
        postings.THREADS = n
        ms = []
        for q in questions:
            t = time.perf_counter()
            top(sparse.scores(encodings[q][1].sparse), CANDIDATES, None)
            ms.append((time.perf_counter() - t) * 1000)
        threads[n] = {"p50": pct(ms, 50), "p99": pct(ms, 99)}
    postings.THREADS = default
    result["sparse_threads"] = threads
    return result


def loaded_rest(base: Searcher, syn: Synthetic) -> tuple:
    """What a loaded build of ``syn.n`` passages holds beside its store (index/store.py ``load_index``),
    made here so RSS counts it: the passages (``Chunk`` objects, each text a copy of its donor's, as
    read from chunks.json), the token positions (int32 a token), the sentence spans (3 int32 a
    sentence) and the searcher's passage-id lookup. Not the token codes or the sentence vectors: a
    build this large reads them per query from their files."""
    donors = [c.to_dict() for c in base._chunks]
    chunks = [Chunk.from_dict({**donors[d], "id": f"s{r}", "text": donors[d]["text"][:-1] + donors[d]["text"][-1:]}) for r, d in enumerate(syn.donor.tolist())]
    positions = np.ones(int(syn.token_count.sum()), np.int32)
    per = len(base.stored.sentences.spans) / len(base._chunks)
    spans = np.ones((int(per * syn.n), 3), np.int32)
    return chunks, positions, spans, {c.id: i for i, c in enumerate(chunks)}


def run_milvus(base: Searcher, syn: Synthetic, profile: Profile, encodings: dict, questions: list[str], uri: str | None, compare: Path | None, say) -> dict:
    from types import SimpleNamespace

    from index.milvus_store import ANALYZERS, MilvusStore, _create, connect, dense_index

    result: dict = {}
    own = uri is None
    folder = Path(tempfile.mkdtemp(prefix="touyan-bench-milvus-", dir=os.environ.get("TMPDIR", "/tmp")))
    uri = uri or f"milvus://{folder / 'bench.db'}"
    client = connect(uri)
    collection = f"touyan_bench_{syn.n}"
    if client.has_collection(collection):
        client.drop_collection(collection)
    dense = dense_index(syn.n, uri.startswith("milvus:"))
    meta = {"touyan": 1, "rows": syn.n, "dim": int(syn.dense.shape[1]), "sparse": True, "keywords": "tokens", "bm25": True, "dense_index": dense.type, "dense_search": dense.search, "late_row_bytes": 0}
    _create(client, collection, meta, SimpleNamespace(bm25=base.stored.bm25), dense, ANALYZERS["tokens"])
    reports = ["seeds"] + [f"r{i}" for i in range(1, int(syn.report.max()) + 1)]
    terms = profile.terms
    start = last = time.perf_counter()
    batch = 1000  # as MilvusStore.create
    for lo in range(0, syn.n, batch):
        hi = min(lo + batch, syn.n)
        data = []
        for i in range(lo, hi):
            a, b = syn.sp_ptr[i], syn.sp_ptr[i + 1]
            c, d = syn.kw_ptr[i], syn.kw_ptr[i + 1]
            text = " ".join(" ".join([terms[t]] * int(tf)) for t, tf in zip(syn.kw_terms[c:d].tolist(), syn.kw_tfs[c:d].tolist()))
            data.append({
                "row": i, "case_id": reports[syn.report[i]], "report": reports[syn.report[i]], "source": reports[syn.report[i]],
                "page": int(syn.page[i]), "dense": syn.dense[i].tolist(),
                "sparse": dict(zip(syn.sp_ids[a:b].astype(np.int64).tolist(), syn.sp_weights[a:b].tolist())), "text": text,
            })
        client.insert(collection, data)
        if time.perf_counter() - last > 30 or hi == syn.n:
            last = time.perf_counter()
            rate = hi / (last - start)
            say(f"milvus: {hi}/{syn.n} rows inserted, {rate:.0f} rows/s, {(syn.n - hi) / rate:.0f} s left")
    result["insert_s"] = round(time.perf_counter() - start, 1)
    del syn.dense, syn.kw_terms, syn.kw_tfs, syn.sp_ids, syn.sp_weights  # in the engine now
    start = time.perf_counter()
    client.flush(collection)
    client.load_collection(collection)
    result["index_load_s"] = round(time.perf_counter() - start, 1)
    result["build_s"] = round(result["insert_s"] + result["index_load_s"], 1)
    result["dense_index"] = dense.type
    say(f"inserted in {result['insert_s']} s, flushed, indexed and loaded in {result['index_load_s']} s")
    store = MilvusStore(client, collection, meta | {"bm25": True})
    gc.collect()
    _trim()
    servers = children()
    result["rss_serving_mb"] = round(rss_mb(), 1)
    result["server_rss_mb"] = round(sum(rss_mb(p) for p in servers), 1)
    searcher = scaled_searcher(base, syn, store, encodings)
    for where in FILTERS.values():  # what the first questions add: filter masks, the sparse index's passage-major copy
        hybrid_top(searcher, questions[0], where)
    _trim()
    result["rss_warm_mb"] = round(rss_mb(), 1)
    say(f"RSS after the first questions {result['rss_warm_mb']} MB")
    _reset_peak()
    result["times"], tops, _ = run_queries(searcher, questions, FILTERS)
    result["rss_query_peak_mb"] = round(rss_mb(field="VmHWM"), 1)
    if compare and compare.exists():
        exact = json.loads(compare.read_text(encoding="utf-8"))["exact_tops"]
        result["recall@10_vs_embedded_exact"] = {f: round(float(np.mean([overlap(a, e, TOP) for a, e in zip(tops[f], exact[f])])), 4) for f in FILTERS}
    result["server_peak_rss_mb"] = round(sum(rss_mb(p, "VmHWM") for p in servers), 1)
    client.release_collection(collection)
    if own:
        client.close()
        result["disk_bytes"] = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder, ignore_errors=True)
    return result


PEAK = [0.0]  # the highest VmHWM read before a reset


def _reset_peak() -> None:
    """Start this process's peak RSS (VmHWM) afresh, so the query phase's peak is read apart from the
    build's (the reset also lowers getrusage's maxrss, hence PEAK)."""
    PEAK[0] = max(PEAK[0], rss_mb(field="VmHWM"))
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _trim() -> None:
    """Hand freed memory back to the system, so RSS is what the structures hold."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


def report(results: list[dict]) -> str:
    lines = []
    for r in results:
        lines.append(f"\n== {r['backend']}, {r['n']:,} passages ({r['questions']} questions; dense {r['dense_index']}) ==")
        build = f"build {r['build_s']} s"
        if r["backend"] == "embedded":
            build += f" (dense {r['build_dense_s']}, sparse {r['build_sparse_s']}, BM25 {r['build_bm25_s']})"
        else:
            build += f" (insert {r['insert_s']}, flush+index+load {r['index_load_s']})"
        lines.append(f"{build}; synthesis {r['synth_s']} s")
        warm = f" ({r['rss_warm_mb']:.0f} MB after the first questions)" if "rss_warm_mb" in r else ""
        held = f" (store alone {r['rss_store_mb']:.0f} MB; with passages, positions, spans)" if "rss_store_mb" in r else ""
        mem = f"RSS serving{held} {r['rss_serving_mb']:.0f} MB{warm}, peak while querying {r['rss_query_peak_mb']:.0f} MB, peak of the process {r['peak_rss_mb']:.0f} MB"
        if "server_rss_mb" in r:
            mem += f"; milvus-lite server {r['server_rss_mb']:.0f} MB (peak {r['server_peak_rss_mb']:.0f} MB)"
        lines.append(mem + (f"; disk {r['disk_bytes'] / 1e9:.2f} GB" if "disk_bytes" in r else ""))
        lines.append(
            f"token-vector store: {r['late_tokens']:,} tokens × {r['late_bytes_per_token']} B = {r['late_store_bytes'] / 1e9:.2f} GB "
            f"(float32: {r['late_tokens'] * 1536 / 1e9:.1f} GB; extrapolated, not built)"
        )
        cols = ("hybrid", "dense", "sparse", "bm25", "late", "filter", "fusion+rest")
        lines.append(f"{'filter':<8}" + "".join(f"{c:>17}" for c in cols) + "   (p50 / p99 ms)")
        for f, t in r["times"].items():
            lines.append(f"{f:<8}" + "".join(f"{t[c]['p50']:>8.2f} /{t[c]['p99']:>7.2f}" for c in cols))
        if "recall@10" in r:
            lines.append("recall@10 of hybrid vs exact search (flat dense, every sparse posting): " + ", ".join(f"{f} {v}" for f, v in r["recall@10"].items()))
            for f, c in r["channels"].items():
                rec = ", ".join(f"{k} {v}" for k, v in c["recall"].items())
                old = ", ".join(f"{k} {v['p50']}/{v['p99']}" for k, v in c["before"].items())
                lines.append(f"  {f}: channel recall {rec}; before (old code) p50/p99 ms: {old}")
            if "ef_sweep" in r:
                lines.append("  HNSW efSearch: " + "; ".join(f"{ef}: p50 {v['p50']} ms, recall@10 {v['recall@10']}" for ef, v in r["ef_sweep"].items()))
            if "sparse_threads" in r:
                lines.append("  sparse channel alone, unfiltered, by kernel threads: " + "; ".join(f"{n}: p50 {v['p50']} / p99 {v['p99']} ms" for n, v in r["sparse_threads"].items()))
        if "recall@10_vs_embedded_exact" in r:
            lines.append("recall@10 of hybrid vs the embedded store's exact hybrid: " + ", ".join(f"{f} {v}" for f, v in r["recall@10_vs_embedded_exact"].items()))
    return "\n".join(lines)


def bench_at_scale(sizes: list[int], stores: list[str], uri: str | None, json_out: Path | None, questions_limit: int | None) -> list[dict]:
    """Each (size, backend) in a process of its own; the embedded store first, so Milvus can be compared with its exact ranking."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            for backend in stores:
                out = Path(tmp) / f"{backend}-{n}.json"
                cmd = [sys.executable, "-m", "eval.bench_search", "--worker", backend, "--scale", str(n), "--json", str(out)]
                if uri:
                    cmd += ["--uri", uri]
                if questions_limit:
                    cmd += ["--questions-limit", str(questions_limit)]
                compare = Path(tmp) / f"embedded-{n}.json"
                if backend == "milvus" and compare.exists():
                    cmd += ["--compare", str(compare)]
                subprocess.run(cmd, check=True)
                results.append(json.loads(out.read_text(encoding="utf-8")))
                print(report(results[-1:]), flush=True)
    if json_out:
        json_out.write_text(json.dumps([{k: v for k, v in r.items() if k != "exact_tops"} for r in results], indent=1), encoding="utf-8")
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", help="embedder spec (default from settings)")
    parser.add_argument("--sparse", choices=["e5", "none"], help="e5 token channels, sparse and late interaction (default from settings)")
    parser.add_argument("--index-dir", type=Path, help="index folder (default from settings)")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the question set per retriever")
    parser.add_argument("--index-rounds", type=int, default=3, help="times the bare encoders and the full build this often each; the fastest of each counts (default 3)")
    parser.add_argument("--scale", default="", help="passage counts for the synthetic benchmark at scale, e.g. 100000,1000000")
    parser.add_argument("--store", choices=["embedded", "milvus", "both"], default="both", help="backends for --scale (default both)")
    parser.add_argument("--uri", help="Milvus for --scale (default: a milvus-lite file in a temporary folder, removed after)")
    parser.add_argument("--questions-limit", type=int, help="only the first this many questions (a quick trial)")
    parser.add_argument("--worker", choices=["embedded", "milvus"], help=argparse.SUPPRESS)
    parser.add_argument("--compare", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.scale.replace("_", "").split(",") if n]
    if args.worker:
        worker(args.worker, sizes[0], args.json, args.uri, args.compare, args.questions_limit)
        return
    if sizes:
        stores = ["embedded", "milvus"] if args.store == "both" else [args.store]
        bench_at_scale(sizes, stores, args.uri, args.json, args.questions_limit)
        return
    settings = Settings.from_flags(embedder=args.embedder, sparse=args.sparse, index_dir=args.index_dir)

    from service.search import open_searcher

    searcher = open_searcher(settings, progress=lambda m: None)
    questions = [q.question for q in load_questions()]
    result = {
        "embedder": searcher.embedder_name,
        "tokens": searcher.tokens.name if searcher.tokens else None,
        "queries": bench_queries(searcher, questions, args.rounds),
        "indexing": bench_indexing(settings, searcher.embedder, searcher.tokens, args.index_rounds),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(f"embedder: {result['embedder']}, tokens: {result['tokens'] or 'none'}")
    print(f"{'retriever':<8} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    for name, r in result["queries"].items():
        print(f"{name:<8} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['n']:>8}")
    i = result["indexing"]
    print(
        f"indexing {i['passages']} passages: bare encoders {i['bare_embed_s']} s ({i['bare_passages_per_s']}/s), "
        f"full build {i['full_build_s']} s ({i['build_passages_per_s']}/s), overhead {i['overhead_pct']} %"
    )
    print(f"peak memory: {result['peak_rss_mb']} MB")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
