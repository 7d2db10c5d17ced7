"""The embedded store's pure parts: the best rows of a score array."""
from __future__ import annotations

import numpy as np

from index.passage_store import top


def test_top_is_the_k_best_positive_scores_best_first_ties_by_row():
    scores = np.array([0, 3, 1, 3, 0, 2, -1], np.float32)
    assert list(top(scores, 2, None).items()) == [(1, 3.0), (3, 3.0)]
    assert list(top(scores, 10, None)) == [1, 3, 5, 2]  # no zero or negative score
    allowed = np.array([1, 0, 1, 0, 1, 1, 1], bool)
    assert list(top(scores, 2, allowed)) == [5, 2]


def test_top_matches_a_full_sort_on_many_rows():
    rng = np.random.default_rng(0)
    scores = rng.random(100_000).astype(np.float32)
    assert list(top(scores, 50, None)) == np.argsort(-scores)[:50].tolist()
