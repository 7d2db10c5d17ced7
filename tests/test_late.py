"""Late interaction over stored token codes: scoring logic on random vectors, then the shared
index's real e5 codes read from their file."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from index.late import MIN_PASSAGES, LateIndex
from index.store import IndexCorrupt, live_build

rng = np.random.default_rng(0)


def unit(n: int, dim: int = 8) -> np.ndarray:
    x = rng.normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def passage(tokens: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A passage's tokens, ids, and starts two characters apart."""
    return tokens, ids, np.arange(len(ids), dtype=np.int32) * 2


def maxsim(query: np.ndarray, passage: np.ndarray) -> float:
    return float((query @ passage.T).max(axis=1).mean()) if len(passage) else 0.0


def test_scores_are_maxsim_over_the_decoded_tokens_for_any_subset_and_order():
    passages = [passage(unit(n), np.arange(n, dtype=np.int32) + 100 * k) for k, n in enumerate([3, 5, 0, 4, 2, 6])]
    index = LateIndex.fit(passages)
    decoded = index.vectors(range(index.n_docs))
    assert [len(d) for d in decoded] == [3, 5, 0, 4, 2, 6]
    query = unit(4)
    for rows in ([0, 1, 2, 3, 4, 5], [5, 0, 3], [4], [2], [3, 1], [1, 1, 0]):
        expected = [maxsim(query, decoded[r]) for r in rows]
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


def test_save_load_reads_the_codes_from_the_file(tmp_path):
    index = LateIndex.fit([passage(unit(3), np.arange(3, dtype=np.int32)), passage(unit(2), np.arange(2, dtype=np.int32))])
    before = [c.copy() for c in index.read_codes([0, 1])]
    index.save(tmp_path)
    assert (tmp_path / LateIndex.CODES).stat().st_size == 5 * index.bytes_per_token
    again = LateIndex.load(tmp_path)
    for a, b in zip(again.read_codes([0, 1]), before):
        np.testing.assert_array_equal(a, b)
    query = unit(2)
    np.testing.assert_array_equal(again.scores(query, np.array([0, 1])), index.scores(query, np.array([0, 1])))
    np.testing.assert_array_equal(again.positions, index.positions)


def test_a_span_scores_the_tokens_that_begin_inside_it():
    tokens, ids, starts = passage(unit(6), np.arange(6, dtype=np.int32))  # tokens begin at 0, 2, 4, 6, 8, 10
    index = LateIndex.fit([(tokens, ids, starts)])
    (decoded,) = index.vectors([0])
    query = unit(3)
    first, second, empty = index.span_scores(query, 0, [(0, 5), (5, 12), (20, 30)])
    assert first == pytest.approx(maxsim(query, decoded[:3])) and second == pytest.approx(maxsim(query, decoded[3:]))
    assert empty is None


# -- the shared index's real codes ---------------------------------------------------------------


def build_folder(settings):
    return settings.index_dir / "builds" / live_build(settings.index_dir)


def test_codes_read_in_runs_are_the_rows_read_one_by_one(searcher):
    late = searcher.stored.late
    rows = [7, 3, 4, 5, 90, 4, 0]  # runs, a gap, a repeat, out of order
    together = late.read_codes(rows)
    for row, codes in zip(rows, together):
        (alone,) = late.read_codes([row])
        np.testing.assert_array_equal(codes, alone)
        assert len(codes) == late.offsets[row + 1] - late.offsets[row]


def test_real_scores_match_maxsim_over_decoded_passages(searcher):
    late = searcher.stored.late
    encoding = searcher.tokens.encode_query("梦创社区服务多少家企业？")
    query = late.query_tokens(encoding.tokens, encoding.ids)
    rows = np.arange(late.n_docs)
    decoded = late.vectors(rows)
    np.testing.assert_allclose(late.scores(query, rows), [maxsim(query, d) for d in decoded], rtol=1e-5, atol=1e-6)
    # Given codes (as a Milvus store hands them over) score the same as codes read from the file.
    np.testing.assert_array_equal(late.scores(query, rows[::3], late.read_codes(rows[::3])), late.scores(query, rows[::3]))


def test_a_codes_file_cut_short_under_a_running_process_is_index_corrupt(settings, searcher, tmp_path):
    for name in (LateIndex.CODES, LateIndex.CODEC, LateIndex.META):
        shutil.copy(build_folder(settings) / name, tmp_path / name)
        (tmp_path / name).chmod(0o644)  # builds are read-only
    late = LateIndex.load(tmp_path, decoded_limit=0)  # as a large index: codes read per query
    last = late.n_docs - 1
    query = late.vectors([0])[0][:4]
    cut = int(late.offsets[last]) * late.bytes_per_token + 1  # through the last passage's first token
    with open(tmp_path / LateIndex.CODES, "r+b") as f:
        f.truncate(cut)
    assert len(late.read_codes([0, 1])[1]) == late.offsets[2] - late.offsets[1], "rows before the cut still read"
    with pytest.raises(IndexCorrupt, match=r"late_codes.bin ends before token row .*touyan index --force"):
        late.scores(query, np.array([0, last]))
    (tmp_path / LateIndex.CODES).unlink()
    with pytest.raises(IndexCorrupt):  # gone altogether: the open file is read, and is short
        late.read_codes([last])


def test_search_over_codes_finds_the_asked_detail(searcher):
    hits = searcher.search("梦创社区服务多少家企业？", 5)
    assert any("6000余家企业" in h.chunk.text for h in hits[:3])
    assert all(h.late is not None for h in hits)
    late_only = searcher.search("梦创社区服务多少家企业？", 5, retriever="late")
    assert "仓前" in late_only[0].chunk.case_title
    # The answerer's sentence scores read the same codes.
    chunk = next(h.chunk for h in hits if "6000余家企业" in h.chunk.text)
    at = chunk.text.index("6000余家企业")
    scores = searcher.sentence_late("梦创社区服务多少家企业？", [(chunk, 0, at + 20), (chunk, len(chunk.text) + 5, len(chunk.text) + 9)])
    assert scores[0] is not None and 0 < scores[0] <= 1 and scores[1] is None
