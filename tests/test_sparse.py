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


def random_index(rng, n_docs=2000, n_features=500, per_doc=40) -> tuple[SparseIndex, list[SparseVector]]:
    docs = [vector(rng.choice(n_features, per_doc, replace=False), rng.random(per_doc) + 0.01) for _ in range(n_docs)]
    return SparseIndex.fit(docs), docs


def test_a_budget_reads_the_highest_impact_postings_first():
    rng = np.random.default_rng(1)
    index, _ = random_index(rng)
    query = vector(rng.choice(500, 60, replace=False), rng.random(60) + 0.01)
    exact = index.scores(query, budget=0)
    total = int(sum(np.diff(index.indptr)[np.searchsorted(index.features, query.ids)]))
    assert index.scores(query, budget=total).tolist() == exact.tolist()  # within the budget: exact
    approximate = index.scores(query, budget=total // 3)
    found = np.flatnonzero(approximate)  # the best by the heads' sums, rescored exactly (float16 weights)
    np.testing.assert_allclose(approximate[found], exact[found], rtol=2e-3)
    best = set(np.argsort(-exact)[:20].tolist())
    assert len(best & set(np.argsort(-approximate)[:20].tolist())) >= 18


def test_postings_of_an_older_build_are_put_in_impact_order_on_load():
    rng = np.random.default_rng(2)
    index, _ = random_index(rng, n_docs=300, n_features=50, per_doc=10)
    within = np.repeat(np.arange(len(index.features)), np.diff(index.indptr))
    by_passage = np.lexsort((index.doc_ids, within))  # how builds before the budget stored them
    older = SparseIndex(index.features, index.indptr, index.doc_ids[by_passage], index.weights[by_passage], index.n_docs)
    assert older.cells.tolist() == index.cells.tolist()
    query = vector([3, 7, 11], [1, 2, 3])
    assert older.scores(query, budget=40).tolist() == index.scores(query, budget=40).tolist()


def test_past_the_budget_a_few_allowed_passages_are_scored_exactly():
    rng = np.random.default_rng(4)
    index, _ = random_index(rng)
    query = vector(rng.choice(500, 60, replace=False), rng.random(60) + 0.01)
    exact = index.scores(query, budget=0)
    allowed = np.zeros(index.n_docs, bool)
    allowed[rng.choice(index.n_docs, 30, replace=False)] = True
    got = index.scores(query, budget=1000, allowed=allowed)
    np.testing.assert_allclose(got[allowed], exact[allowed], rtol=2e-3)
    assert not got[~allowed].any()
