"""Sums over inverted-index postings for a large index: every passage's sum of query weight × posting
weight over the postings of the query's terms, by index/sparse_scores.c in Touyan's engine library.

numpy's ways (``bincount``, ``np.add.at``, fancy-index ``+=`` per term) make posting-sized
temporaries or walk the scores once per term; the kernel streams the postings once, each of
``THREADS`` threads taking its share of every term's postings: a question's e5 latent terms at a
million passages (~40 million postings) 26 ms on two threads, 48 on one, numpy's bincount 746 ms
(eval/bench_search.py --scale). Postings in passage order within a term keep the writes near each
other: the same kernel took 80 ms on postings in weight order.
"""
from __future__ import annotations

import ctypes
import os
import numpy as np

THREADS = min(2, len(os.sched_getaffinity(0)))
# A query reading fewer postings is summed by numpy, as every eval figure was measured (the kernel's
# two accumulators add in another order, which can swap ties); past it (~25 000 passages for e5's
# latent terms) by the kernel.
KERNEL_FROM = 1_000_000


def summed(doc_ids: np.ndarray, weights: np.ndarray, starts: np.ndarray, ends: np.ndarray, query_weights: np.ndarray, n_docs: int) -> np.ndarray:
    """scores[d] = Σ_t query_weights[t] × weights[p] over the postings p in starts[t]:ends[t] naming passage d
    (int32 ``doc_ids``, float32 ``weights``; a posting naming no passage in 0..n_docs-1 is skipped)."""
    postings = _postings(doc_ids, weights, starts, ends, query_weights)
    scores = np.empty(n_docs, np.float32)
    status = _engine("touyan_sparse_scores", ctypes.c_int, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int)(
        *map(_ptr, postings), len(postings[-1]), _ptr(scores), n_docs, THREADS
    )
    if status != 0:
        raise MemoryError(f"no memory for {THREADS} score accumulators of {n_docs} passages")
    return scores


def summed_among(doc_ids: np.ndarray, weights: np.ndarray, starts: np.ndarray, ends: np.ndarray, query_weights: np.ndarray, among: np.ndarray) -> np.ndarray:
    """The same sums for passages ``among`` alone (ascending), where each term's postings are in passage order."""
    postings = _postings(doc_ids, weights, starts, ends, query_weights)
    among = np.ascontiguousarray(among, np.int32)
    sums = np.empty(len(among), np.float32)
    _engine("touyan_sparse_among", None, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p)(
        *map(_ptr, postings), len(postings[-1]), _ptr(among), len(among), _ptr(sums)
    )
    return sums


def _postings(doc_ids, weights, starts, ends, query_weights) -> tuple[np.ndarray, ...]:
    """The arrays both kernels read, in the types they read them as (copies only where they differ)."""
    return (
        np.ascontiguousarray(doc_ids, np.int32),
        np.ascontiguousarray(weights, np.float32),
        np.ascontiguousarray(starts, np.int64),
        np.ascontiguousarray(ends, np.int64),
        np.ascontiguousarray(query_weights, np.float32),
    )


def _engine(name: str, restype, *tail) -> ctypes._CFuncPtr:
    """A kernel of index/sparse_scores.c: five array pointers and the term count, then ``tail``."""
    from index.e5_tokens import engine_function

    return engine_function(name, restype, *[ctypes.c_void_p] * 5, ctypes.c_int, *tail)


def _ptr(array: np.ndarray) -> ctypes.c_void_p:
    return ctypes.c_void_p(array.ctypes.data)
