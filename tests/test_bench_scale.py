"""The synthetic corpus of eval/bench_search.py --scale: shapes, the planted real passages, the inversion."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np

from eval.bench_search import Profile, invert, synthesize
from index.bm25 import BM25
from index.sparse import SparseIndex, SparseVector
from tests.conftest import ROOT, SEEDS


def fake_build(rng, n=12, dim=16):
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    words = [f"w{i}" for i in range(30)]
    docs = [list(rng.choice(words, rng.integers(3, 12))) for _ in range(n)]
    sparse = [SparseVector(rng.choice(300, 20, replace=False).astype(np.int32), (rng.random(20) + 0.1).astype(np.float32)) for _ in range(n)]
    counts = rng.integers(1, 9, n)
    return SimpleNamespace(
        vectors=vectors,
        bm25=BM25().fit(docs),
        sparse=SparseIndex.fit(sparse),
        late=SimpleNamespace(offsets=np.concatenate([[0], np.cumsum(counts)]), bytes_per_token=97),
        chunks=[SimpleNamespace(page=p) for p in rng.choice([None, 3, 29], n)],
    ), docs


def test_synthetic_passages_have_the_real_shapes_and_hold_the_real_ones():
    rng = np.random.default_rng(0)
    build, docs = fake_build(rng)
    profile = Profile.of(build)
    syn = synthesize(profile, 500, seed=1)
    assert syn.dense.shape == (500, 16)
    np.testing.assert_allclose(np.linalg.norm(syn.dense, axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(syn.dense[syn.planted], build.vectors)
    assert len(syn.kw_ptr) == len(syn.sp_ptr) == 501 and (np.diff(syn.kw_ptr) > 0).all()
    for i, row in enumerate(syn.planted.tolist()):  # a planted row holds its real passage's terms and features
        a, b = syn.kw_ptr[row], syn.kw_ptr[row + 1]
        got = {profile.terms[t]: int(tf) for t, tf in zip(syn.kw_terms[a:b], syn.kw_tfs[a:b])}
        assert got == {w: docs[i].count(w) for w in set(docs[i])}
        a, b = syn.sp_ptr[row], syn.sp_ptr[row + 1]
        assert sorted(syn.sp_ids[a:b].tolist()) == sorted(profile.real_sparse[i][0].tolist())
    doc = np.repeat(np.arange(500), np.diff(syn.sp_ptr))
    np.testing.assert_allclose(np.bincount(doc, weights=syn.sp_weights.astype(np.float64) ** 2), 1, rtol=1e-4)
    assert len(np.unique(doc * 20_000 + syn.sp_ids)) == len(doc)  # features distinct within a passage
    assert set(np.unique(syn.sp_ids)) <= set(profile.features.tolist())
    assert (np.diff(syn.sp_ptr) <= profile.feature_counts.max()).all()
    assert (syn.token_count[syn.planted] == profile.token_counts).all() and (syn.mix[syn.planted] == 1).all()
    mixed = np.round(syn.mix * profile.token_counts[syn.donor]) + np.round((1 - syn.mix) * profile.token_counts[syn.second])
    assert (syn.token_count == mixed).all() and 0 < syn.mix.min()
    assert (syn.report[syn.planted] == 0).all() and syn.page.min() >= -1


def test_invert_is_a_stable_counting_sort_by_key():
    rng = np.random.default_rng(3)
    ptr = np.concatenate([[0], np.cumsum(rng.integers(0, 6, 50))])
    key = rng.integers(0, 7, ptr[-1]).astype(np.int32)
    values = rng.random(ptr[-1]).astype(np.float32)
    indptr, (docs, moved) = invert(ptr, key, 7, [values], step=16)
    passage = np.repeat(np.arange(50), np.diff(ptr))
    order = np.lexsort((passage, key))
    assert indptr.tolist() == np.concatenate([[0], np.cumsum(np.bincount(key, minlength=7))]).tolist()
    assert docs.tolist() == passage[order].tolist() and moved.tolist() == values[order].tolist()


def test_the_scale_benchmark_runs_end_to_end(index_dir, tmp_path):
    """A small run of what `--scale 1000000` does: past the kernel's threshold (30 000 passages),
    with every filter; below HNSW's threshold every channel is exact, so the ranking is the exact one."""
    env = {**os.environ, "TOUYAN_INDEX_DIR": str(index_dir), "TOUYAN_CORPUS_DIR": str(SEEDS)}
    out = tmp_path / "bench.json"
    cmd = [sys.executable, "-m", "eval.bench_search", "--scale", "30000", "--store", "embedded", "--questions-limit", "4", "--json", str(out)]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    (result,) = json.loads(out.read_text(encoding="utf-8"))
    assert result["recall@10"] == {"none": 1.0, "report": 1.0, "page": 1.0}
    assert result["held_passages"] == 30000 and result["rss_serving_mb"] > result["rss_store_mb"]
    assert set(result["times"]["none"]) >= {"hybrid", "dense", "sparse", "bm25", "late"}
