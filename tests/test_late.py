"""Late interaction scoring (pure logic: random unit vectors stand in for token states)."""
from __future__ import annotations

import numpy as np
import pytest

from index.late import MIN_PASSAGES, LateIndex

rng = np.random.default_rng(0)


def unit(n: int, dim: int = 8) -> np.ndarray:
    x = rng.normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def passage(tokens: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A passage's tokens, ids, and starts two characters apart."""
    return tokens, ids, np.arange(len(ids), dtype=np.int32) * 2


def maxsim(query: np.ndarray, passage: np.ndarray) -> float:
    return float((query @ passage.T).max(axis=1).mean()) if len(passage) else 0.0


def test_scores_are_maxsim_for_any_subset_and_order():
    passages = [passage(unit(n), np.arange(n, dtype=np.int32) + 100 * k) for k, n in enumerate([3, 5, 0, 4, 2, 6])]
    index = LateIndex.fit(passages)
    query = unit(4)
    for rows in ([0, 1, 2, 3, 4, 5], [5, 0, 3], [4], [2], [3, 1]):
        expected = [maxsim(query, passages[r][0]) for r in rows]
        np.testing.assert_allclose(index.scores(query, np.array(rows)), expected, rtol=1e-5, atol=1e-6)
    assert index.scores(query[:0], np.array([0, 1])).tolist() == [0.0, 0.0]


def test_common_tokens_are_dropped_once_there_are_enough_passages():
    shared = 7
    passages = [passage(unit(3), np.array([shared, 1000 + k, 2000 + k], dtype=np.int32)) for k in range(MIN_PASSAGES)]
    index = LateIndex.fit(passages)
    assert index.common.tolist() == [shared]
    assert index.offsets[-1] == 2 * MIN_PASSAGES
    query, ids = unit(2), np.array([shared, 1000], dtype=np.int32)
    assert len(index.query_tokens(query, ids)) == 1
    assert len(index.query_tokens(query[:1], ids[:1])) == 1, "a question of only common tokens keeps them"
    few = LateIndex.fit(passages[: MIN_PASSAGES - 1])
    assert few.common.tolist() == [] and few.offsets[-1] == 3 * (MIN_PASSAGES - 1)


def test_save_load_round_trip_reads_the_vectors_into_memory(tmp_path):
    index = LateIndex.fit([passage(unit(3), np.arange(3, dtype=np.int32)), passage(unit(2), np.arange(2, dtype=np.int32))])
    index.save(tmp_path)
    again = LateIndex.load(tmp_path)
    # Not memory-mapped: a map of a file that shrinks under a running server would kill it (SIGBUS).
    assert not isinstance(again.vectors, np.memmap) and again.vectors.dtype == np.float32
    query = unit(2)
    np.testing.assert_array_equal(again.scores(query, np.array([0, 1])), index.scores(query, np.array([0, 1])))
    np.testing.assert_array_equal(again.positions, index.positions)


def test_a_span_scores_the_tokens_that_begin_inside_it():
    tokens, ids, starts = passage(unit(6), np.arange(6, dtype=np.int32))  # tokens begin at 0, 2, 4, 6, 8, 10
    index = LateIndex.fit([(tokens, ids, starts)])
    query = unit(3)
    first, second, empty = index.span_scores(query, 0, [(0, 5), (5, 12), (20, 30)])
    assert first == pytest.approx(maxsim(query, tokens[:3])) and second == pytest.approx(maxsim(query, tokens[3:]))
    assert empty is None
