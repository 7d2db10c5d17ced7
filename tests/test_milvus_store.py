"""Issue 17: the Milvus store against a real milvus-lite 2.5.1 file, row for row against the embedded store.

The shared index (the bundled corpus, built once per session) is written once into a milvus-lite
.db in a temporary folder; dense and sparse search must give the embedded store's rows and scores,
every filter its rows, and keyword search (Milvus's own BM25 and jieba) the passage a question
names. A milvus-lite that cannot start fails the module with its reason; nothing is skipped.
"""
from __future__ import annotations

import numpy as np
import pytest

from index.build import keyword_text
from index.milvus_store import MilvusStore, collection_name, expression, literal, parse_uri
from index.passage_store import EmbeddedStore, Where

QUESTIONS = [
    "梦创社区服务多少家企业",
    "余杭的“321”机制中“2”指什么？",
    "永安村有多大比例的土地属于永久农田保护范畴？",
    "专家点评是谁写的？",
    "How many companies does the Mengchuang community serve?",
]
DEPTH = 20


@pytest.fixture(scope="module")
def lite_uri(tmp_path_factory) -> str:
    return f"milvus://{tmp_path_factory.mktemp('milvus') / 'touyan.db'}"


@pytest.fixture(scope="module")
def milvus(searcher, lite_uri):
    try:
        store = MilvusStore.create(lite_uri, collection_name("test-build"), searcher.stored, batch=40)
    except Exception as e:  # noqa: BLE001 - named in the failure, never skipped
        pytest.fail(f"milvus-lite could not take the build at {lite_uri}: {type(e).__name__}: {e}")
    yield store
    store.close()


@pytest.fixture(scope="module")
def embedded(searcher) -> EmbeddedStore:
    s = searcher.stored
    return EmbeddedStore.of(s)


def queries(searcher, question: str):
    """The question as each channel takes it: dense vector, e5 latent terms, BM25 tokens."""
    return (
        searcher.embedder.encode_queries([question])[0],
        searcher.tokens.encode_query(question).sparse,
        searcher.tokenizer.tokenize(question) + searcher.names.terms(question),
    )


def assert_same(ours: dict[int, float], theirs: dict[int, float], what: str) -> None:
    """Same rows with the same scores (within 1e-4), so the same order but for near-ties; a row only one
    side lists must be a tie at the cut (the k-th score)."""
    for a, b in ((ours, theirs), (theirs, ours)):
        for i in set(a) - set(b):
            assert len(a) == len(b) and abs(a[i] - min(b.values())) < 1e-4, f"{what}: row {i} ({a[i]}) only on one side"
    worst = max((abs(ours[i] - theirs[i]) for i in set(ours) & set(theirs)), default=0.0)
    assert worst < 1e-4, f"{what}: scores differ by {worst}"


def wheres(searcher) -> list[Where]:
    chunks = searcher.stored.chunks
    sources = sorted({c.source for c in chunks})
    case = chunks[len(chunks) // 2].case_id
    page = next(c.page for c in chunks if c.page is not None)
    return [
        Where(case_id=case),
        Where(page=page),
        Where(report=chunks[0].report),
        Where(report="no such report"),
        Where(hidden=frozenset(sources[:2])),
        Where(case_id=case, hidden=frozenset(sources[:1])),
        Where(case_id=case, page=page),
        Where(case_id='x" or case_id != "'),  # an injection attempt matches nothing
    ]


def test_written_whole(milvus, searcher):
    assert milvus.count() == len(searcher.stored.chunks)
    assert milvus.engine_bm25 and milvus.has_sparse
    assert milvus.meta["dense_index"] == "FLAT"  # exact, as FAISS's flat index for a corpus this size


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_channel_matches_the_embedded_store(milvus, embedded, searcher, question):
    dense, sparse, tokens = queries(searcher, question)
    assert_same(embedded.dense(dense, DEPTH, Where()), milvus.dense(dense, DEPTH, Where()), "dense")
    assert_same(embedded.sparse(sparse, DEPTH, Where()), milvus.sparse(sparse, DEPTH, Where()), "sparse")
    # The engine's BM25 over our own tokens, with the build's k1 and b, is our BM25.
    assert_same(embedded.keyword(tokens, DEPTH, Where()), milvus.keyword(tokens, DEPTH, Where()), "keyword")


def test_token_codes_are_the_builds_and_only_the_asked_rows(milvus, embedded, searcher):
    late = searcher.stored.late
    rows = [40, 0, 17, 18, 3, 17, late.n_docs - 1]  # out of order, a run, a repeat
    codes = milvus.token_codes(rows)
    assert [len(c) for c in codes] == [late.offsets[r + 1] - late.offsets[r] for r in rows]
    for ours, theirs in zip(embedded.token_codes(rows), codes):
        np.testing.assert_array_equal(ours, theirs)
    assert milvus.token_codes([]) == []


def test_late_interaction_scores_from_milvus_codes(milvus, searcher):
    from service.search import Searcher

    over_milvus = Searcher(searcher.stored, searcher.embedder, searcher.cases, tokens=searcher.tokens)
    over_milvus.store = milvus
    for question in QUESTIONS[:3]:
        # The late retriever scores every passage: every row's codes come from the collection.
        assert over_milvus.channel_lists(question, "late")["late"] == searcher.channel_lists(question, "late")["late"]
    chunk = searcher.stored.chunks[5]
    spans = [(chunk, 0, 30), (chunk, 30, len(chunk.text))]
    assert over_milvus.sentence_late(QUESTIONS[0], spans) == searcher.sentence_late(QUESTIONS[0], spans)


def test_filters_allow_the_same_rows(milvus, embedded, searcher):
    assert milvus.allowed(Where()) is None
    dense, sparse, tokens = queries(searcher, QUESTIONS[0])
    for where in wheres(searcher):
        mask = embedded.allowed(where)
        assert np.array_equal(milvus.allowed(where), mask), where
        assert_same(embedded.dense(dense, DEPTH, where), milvus.dense(dense, DEPTH, where), f"dense {where}")
        assert_same(embedded.sparse(sparse, DEPTH, where), milvus.sparse(sparse, DEPTH, where), f"sparse {where}")
        assert_same(embedded.keyword(tokens, DEPTH, where), milvus.keyword(tokens, DEPTH, where), f"keyword {where}")


@pytest.mark.parametrize("keywords", ["tokens", "jieba"])
def test_keyword_search_finds_the_named_community(milvus, searcher, lite_uri, keywords):
    """With our tokens and with Milvus's own jieba analyzer (which splits 梦创社区 in two)."""
    store = milvus if keywords == "tokens" else MilvusStore.create(lite_uri, collection_name("test-jieba"), searcher.stored, keywords=keywords)
    assert store.meta["keywords"] == keywords
    _, _, tokens = queries(searcher, QUESTIONS[0])
    found = store.keyword(tokens, 5, Where())
    best = max(found, key=found.get)
    assert "梦创社区" in keyword_text(searcher.stored.chunks[best])
    source = searcher.stored.chunks[best].source
    assert all(searcher.stored.chunks[i].source != source for i in store.keyword(tokens, 5, Where(hidden=frozenset({source}))))


def test_keyword_without_engine_bm25_is_the_builds(milvus, embedded, searcher):
    fallback = MilvusStore(milvus.client, milvus.collection, {**milvus.meta, "bm25": False}, searcher.stored.bm25)
    where = wheres(searcher)[0]
    for question in QUESTIONS:
        _, _, tokens = queries(searcher, question)
        assert fallback.keyword(tokens, DEPTH, where) == embedded.keyword(tokens, DEPTH, where)


def test_delete_source_and_rewrite(searcher, lite_uri, milvus):
    chunks = searcher.stored.chunks
    name = collection_name("test-delete")
    store = MilvusStore.create(lite_uri, name, searcher.stored)
    source = chunks[0].source
    gone = {i for i, c in enumerate(chunks) if c.source == source}
    assert store.delete_source(source) == len(gone)
    assert store.count() == len(chunks) - len(gone)
    assert store.delete_source(source) == 0
    dense, sparse, tokens = queries(searcher, QUESTIONS[1])
    for found in (store.dense(dense, len(chunks), Where()), store.sparse(sparse, len(chunks), Where()), store.keyword(tokens, len(chunks), Where())):
        assert found and not gone & set(found)
    assert not store.allowed(Where(report=chunks[0].report))[list(gone)].any()
    # A collection that lacks rows of its build is written anew; a whole one is reopened as it is.
    again = MilvusStore.create(lite_uri, name, searcher.stored)
    assert again.count() == len(chunks)
    assert MilvusStore.open(lite_uri, name).meta == again.meta
    dropped = MilvusStore.prune(lite_uri, keep=milvus.collection)
    assert name in dropped and milvus.collection not in dropped
    assert milvus.client.list_collections() == [milvus.collection]
    with pytest.raises(LookupError):
        MilvusStore.open(lite_uri, name)


def test_filter_literals_and_uris():
    assert literal('a"b\\c') == '"a\\"b\\\\c"'
    assert expression(Where(case_id="梦创", page=3, hidden=frozenset({"b.txt", 'a"'}))) == 'case_id == "梦创" and page == 3 and source not in ["a\\"", "b.txt"]'
    with pytest.raises(ValueError):
        literal("new\nline")
    assert parse_uri("milvus:///data/touyan.db").lite
    server = parse_uri("http://root:Milvus@milvus.internal:19530")
    assert (server.uri, server.token, server.lite) == ("http://milvus.internal:19530", "root:Milvus", False)
    for bad in ("milvus://relative.db", "milvus:///data/touyan", "ftp://host", "/data/touyan.db"):
        with pytest.raises(ValueError):
            parse_uri(bad)
    assert collection_name("20261206-165319-bncpzn5d") == "touyan_20261206_165319_bncpzn5d"


def test_touyan_index_moves_the_index_into_milvus_and_search_reads_it_there(index_dir, tmp_path):
    """One setting and one command: `touyan index --store URI` writes the live build's passages into
    Milvus; with TOUYAN_STORE set, search answers from there, the same passages as the embedded store."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.conftest import SEEDS, copy_index

    own = copy_index(index_dir, tmp_path / "index")
    uri = f"milvus://{tmp_path / 'store.db'}"
    env = {**os.environ, "TOUYAN_INDEX_DIR": str(own), "TOUYAN_CORPUS_DIR": str(SEEDS)}
    touyan = str(Path(sys.executable).with_name("touyan"))
    moved = subprocess.run([touyan, "index", "--store", uri], env=env, capture_output=True, text=True)
    assert moved.returncode == 0, moved.stderr
    assert f"passages in {uri}" in moved.stdout and "writing the build's" in moved.stderr

    def results(store_env: dict[str, str]) -> list[str]:
        run = subprocess.run([touyan, "search", "--json", "梦创社区服务多少家企业？"], env={**env, **store_env}, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        return [r["chunk_id"] for r in json.loads(run.stdout)["results"]]

    assert results({"TOUYAN_STORE": uri}) == results({})
    bad = subprocess.run([touyan, "search", "梦创社区"], env={**env, "TOUYAN_STORE": "milvus://relative.db"}, capture_output=True, text=True)
    assert bad.returncode == 2 and "TOUYAN_STORE (--store)" in bad.stderr
