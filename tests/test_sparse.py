"""The sparse inverted index of e5 latent terms (the encoder is tested in test_e5_tokens.py)."""
from __future__ import annotations

import numpy as np

from index.sparse import SparseIndex, SparseVector


def vector(ids, weights) -> SparseVector:
    return SparseVector(np.array(ids, dtype=np.int32), np.array(weights, dtype=np.float32))


def test_scores_are_cosines_of_the_vectors():
    docs = [vector([1, 5, 9], [3, 4, 0.5]), vector([5, 7], [1, 1]), vector([2], [2])]
    query = vector([5, 9, 1000], [2, 1, 7])
    dense = np.zeros((3, 1001))
    for d, v in enumerate(docs):
        dense[d, v.ids] = v.weights
    q = np.zeros(1001)
    q[query.ids] = query.weights
    expected = dense @ q / (np.linalg.norm(dense, axis=1) * np.linalg.norm(q))
    np.testing.assert_allclose(SparseIndex.fit(docs).scores(query), expected, rtol=1e-5)


def test_unknown_features_and_empty_queries_score_zero():
    index = SparseIndex.fit([vector([1], [1.0])])
    assert index.scores(vector([2, 3], [1, 1])).tolist() == [0.0]
    assert index.scores(vector([], [])).tolist() == [0.0]
    assert SparseIndex.fit([]).scores(vector([1], [1])).shape == (0,)


def test_cache_row_round_trip():
    v = vector([16383, 0, 77], [0.5, 2.0, 1.25])
    back = SparseVector.from_row(v.to_row())
    assert back.ids.tolist() == [16383, 0, 77] and back.weights.tolist() == [0.5, 2.0, 1.25]


def test_save_load_round_trip(tmp_path):
    index = SparseIndex.fit([vector([1, 5], [3, 4]), vector([5], [1])])
    index.save(tmp_path / "sparse.npz")
    again = SparseIndex.load(tmp_path / "sparse.npz")
    query = vector([5], [1])
    assert again.scores(query).tolist() == index.scores(query).tolist()
