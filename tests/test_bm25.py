"""BM25 over the real Chinese tokenizer: ranking, the formula, and the saved form."""
import math

import numpy as np
import pytest

from index.bm25 import BM25
from index.tokenize import Tokenizer

DOCS = [
    "梦创社区已累计服务6000余家企业，为创业团队提供一站式服务。",
    "江洲村发展民宿经济，村民在家门口吃上了旅游饭。",
    "仓前街道推进共富工坊建设，带动村民就近就业增收。",
    "群众办事实现“一网通办”，企业开办一次不用跑。",
]


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer(["梦创社区", "共富工坊", "一网通办"])


@pytest.fixture(scope="module")
def bm25(tokenizer) -> BM25:
    return BM25().fit([tokenizer.tokenize(d) for d in DOCS])


@pytest.mark.parametrize(
    ("query", "expected"),
    [("梦创社区服务多少家企业？", 0), ("江洲村的民宿", 1), ("什么是共富工坊", 2), ("如何一网通办", 3)],
)
def test_ranks_the_matching_document_first(bm25, tokenizer, query, expected):
    scores = bm25.scores(tokenizer.tokenize(query))
    assert scores.shape == (len(DOCS),) and scores.dtype == np.float32
    assert int(np.argmax(scores)) == expected


def test_matches_the_okapi_formula():
    bm25 = BM25(k1=1.2, b=0.5).fit([["a", "a", "b"], ["b"], ["c", "d"]])
    n, avgdl = 3, 2.0
    idf_a = math.log(1 + (n - 1 + 0.5) / (1 + 0.5))
    idf_b = math.log(1 + (n - 2 + 0.5) / (2 + 0.5))

    def term(idf, tf, dl):
        return idf * tf * 2.2 / (tf + 1.2 * (1 - 0.5 + 0.5 * dl / avgdl))

    expected = [term(idf_a, 2, 3) + term(idf_b, 1, 3), term(idf_b, 1, 1), 0.0]
    np.testing.assert_allclose(bm25.scores(["a", "b"]), expected, rtol=1e-6)


def test_repeated_query_tokens_count_once(bm25):
    np.testing.assert_array_equal(bm25.scores(["企业", "企业", "企业"]), bm25.scores(["企业"]))


def test_unknown_terms_score_zero(bm25):
    np.testing.assert_array_equal(bm25.scores(["不存在的词"]), np.zeros(len(DOCS), np.float32))
    np.testing.assert_array_equal(bm25.scores([]), np.zeros(len(DOCS), np.float32))


def test_scores_are_never_negative():
    bm25 = BM25().fit([["common", "x"], ["common"], ["common", "y"]])
    assert (bm25.scores(["common"]) > 0).all()


def test_save_load_round_trip(bm25, tokenizer, tmp_path):
    path = tmp_path / "bm25.npz"
    bm25.save(path)
    loaded = BM25.load(path)
    assert [p.name for p in tmp_path.iterdir()] == ["bm25.npz"]
    assert (loaded.k1, loaded.b, loaded.n_docs) == (bm25.k1, bm25.b, bm25.n_docs)
    for query in ["梦创社区服务多少家企业", "江洲村民宿", "村民", "不存在"]:
        tokens = tokenizer.tokenize(query)
        np.testing.assert_array_equal(loaded.scores(tokens), bm25.scores(tokens))


def test_empty_corpus(tmp_path):
    bm25 = BM25().fit([])
    assert bm25.scores(["a"]).shape == (0,)
    bm25.save(tmp_path / "empty.npz")
    assert BM25.load(tmp_path / "empty.npz").scores(["a"]).shape == (0,)
