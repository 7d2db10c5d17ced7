"""The sparse inverted index of e5 latent terms (the encoder is tested in test_e5_tokens.py)."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from index.postings import summed
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


def with_kernel_from(index: SparseIndex, postings: int) -> SparseIndex:
    return SparseIndex(index.features, index.indptr, index.doc_ids, index.weights, index.n_docs, kernel_from=postings)


def test_past_the_threshold_the_engine_kernel_sums_the_same_cosines():
    rng = np.random.default_rng(1)
    index, _ = random_index(rng)
    query = vector(rng.choice(500, 60, replace=False), rng.random(60) + 0.01)
    numpy_sums = with_kernel_from(index, 10**9).scores(query)
    np.testing.assert_allclose(with_kernel_from(index, 0).scores(query), numpy_sums, rtol=1e-5, atol=1e-7)


@settings(max_examples=200, deadline=None)
@given(
    docs=st.lists(st.lists(st.tuples(st.integers(0, 40), st.floats(0, 10, width=32)), max_size=12), max_size=30),
    query=st.lists(st.tuples(st.integers(0, 45), st.floats(0, 10, width=32)), max_size=15),
)
def test_the_kernel_agrees_with_numpy_on_any_index(docs, query):
    vectors = [vector(*zip(*dict(d).items())) if d else vector([], []) for d in docs]
    q = vector(*zip(*dict(query).items())) if query else vector([], [])
    index = SparseIndex.fit(vectors)
    np.testing.assert_allclose(with_kernel_from(index, 0).scores(q), with_kernel_from(index, 10**9).scores(q), rtol=1e-5, atol=1e-6)


def test_the_kernel_skips_postings_naming_no_passage():
    doc_ids = np.array([0, 5, -1, 2, 1 << 30], np.int32)  # 5, -1 and 2**30 are outside three passages
    weights = np.ones(5, np.float32)
    got = summed(doc_ids, weights, np.array([0]), np.array([5]), np.array([2.0]), 3)
    assert got.tolist() == [2.0, 0.0, 2.0]


def test_past_the_threshold_a_few_allowed_passages_are_scored_exactly():
    rng = np.random.default_rng(4)
    index, _ = random_index(rng)
    query = vector(rng.choice(500, 60, replace=False), rng.random(60) + 0.01)
    exact = index.scores(query)
    allowed = np.zeros(index.n_docs, bool)
    allowed[rng.choice(index.n_docs, 30, replace=False)] = True
    got = with_kernel_from(index, 1000).scores(query, allowed=allowed)
    np.testing.assert_allclose(got[allowed], exact[allowed], rtol=1e-5)
    assert not got[~allowed].any()


def test_postings_not_in_passage_order_are_put_in_it():
    rng = np.random.default_rng(2)
    index, _ = random_index(rng, n_docs=300, n_features=50, per_doc=10)
    shuffled = np.concatenate([a + rng.permutation(b - a) for a, b in zip(index.indptr[:-1], index.indptr[1:])])
    older = SparseIndex(index.features, index.indptr, index.doc_ids[shuffled], index.weights[shuffled], index.n_docs)
    assert older.doc_ids.tolist() == index.doc_ids.tolist() and older.weights.tolist() == index.weights.tolist()


def test_bm25_past_the_kernel_threshold_scores_the_same(monkeypatch):
    import index.bm25 as bm25_module
    from index.bm25 import BM25

    rng = np.random.default_rng(5)
    words = [f"w{i}" for i in range(50)]
    bm25 = BM25().fit([list(rng.choice(words, rng.integers(1, 30))) for _ in range(500)])
    query = ["w1", "w7", "w7", "w33", "absent"]
    numpy_sums = bm25.scores(query)
    monkeypatch.setattr(bm25_module, "KERNEL_FROM", 0)
    np.testing.assert_allclose(bm25.scores(query), numpy_sums, rtol=1e-6)


def test_top_over_many_rows_is_the_exact_top():
    from index.passage_store import top

    rng = np.random.default_rng(6)
    scores = rng.random(300_000).astype(np.float32)
    scores[rng.choice(300_000, 1000)] = 0
    allowed = rng.random(300_000) < 0.5
    for mask in (None, allowed):
        kept = scores if mask is None else np.where(mask, scores, 0)
        order = np.lexsort((np.arange(len(kept)), -kept))[:50]
        assert list(top(scores, 50, mask).items()) == [(int(i), float(kept[i])) for i in order]
    assert top(np.zeros(100_000, np.float32), 10, None) == {}


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_a_filters_passages_alone_get_the_sums_all_passages_get(data):
    from index.postings import summed_among

    n_docs = data.draw(st.integers(1, 60))
    terms = data.draw(st.lists(st.sets(st.integers(0, n_docs - 1), max_size=n_docs), max_size=8))
    doc_ids = np.array([d for t in terms for d in sorted(t)], np.int32)
    weights = np.array(data.draw(st.lists(st.floats(0, 4, width=32), min_size=len(doc_ids), max_size=len(doc_ids))), np.float32)
    ends = np.cumsum([len(t) for t in terms]).astype(np.int64)
    starts = ends - [len(t) for t in terms]
    q = np.array(data.draw(st.lists(st.floats(0, 4, width=32), min_size=len(terms), max_size=len(terms))), np.float32)
    among = np.array(sorted(data.draw(st.sets(st.integers(0, n_docs - 1)))), np.int32)
    whole = summed(doc_ids, weights, starts, ends, q, n_docs)
    np.testing.assert_allclose(summed_among(doc_ids, weights, starts, ends, q, among), whole[among], rtol=1e-5, atol=1e-5)
