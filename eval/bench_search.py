"""In-process benchmark: query latency per retriever, indexing overhead, peak memory, flat vs HNSW.

    python -m eval.bench_search [--embedder SPEC] [--sparse e5|none] [--rounds 3] [--index-rounds 3] [--scale 10000,50000,100000] [--json out.json]

Targets on the 2-core machine: hybrid p50 ≤ 15 ms; indexing time beyond the bare
encoders' (dense and e5 tokens) ≤ 10 %.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

from eval.gold import load_questions
from index.build import Indexer, make_faiss, sentence_rows
from index.corpus import load_corpus
from index.chunk import SectionChunker
from index.embed import Embedder
from index.e5_tokens import TokenEncoder
from service.search import Searcher
from touyan.settings import Settings


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(values, p))


def bench_queries(searcher: Searcher, questions: list[str], rounds: int) -> dict:
    out = {}
    for retriever in searcher.retrievers:
        searcher.search(questions[0], 5, retriever=retriever)  # warm up
        times = []
        for _ in range(rounds):
            for q in questions:
                start = time.perf_counter()
                searcher.search(q, 5, retriever=retriever)
                times.append((time.perf_counter() - start) * 1000)
        out[retriever] = {"p50_ms": round(percentile(times, 50), 2), "p95_ms": round(percentile(times, 95), 2), "n": len(times)}
    return out


def bench_indexing(settings: Settings, embedder: Embedder, tokens: TokenEncoder | None, rounds: int = 3) -> dict:
    """Full index build (parse, chunk, encode, BM25, FAISS, save) against encoding alone.

    Encoding is what the build encodes (``Indexer.encoding_jobs``): passages, dense and by
    e5's tokens (sparse + late interaction), and sentences, dense.
    """
    chunks = SectionChunker(settings.chunk_chars).run(load_corpus(settings.corpus_dir).cases)
    indexer = Indexer(embedder, tokens, settings.chunk_chars)
    bares, fulls = [], []
    for _ in range(rounds):  # alternated, and the fastest of each kept: this VM's noise is ±5 % a run
        start = time.perf_counter()
        for texts, encode in indexer.encoding_jobs(chunks, sentence_rows(chunks)).values():
            encode(texts, None)
        bares.append(time.perf_counter() - start)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            indexer.run(load_corpus(settings.corpus_dir), Path(tmp))
            fulls.append(time.perf_counter() - start)
    bare, full = min(bares), min(fulls)
    return {
        "passages": len(chunks),
        "bare_embed_s": round(bare, 2),
        "full_build_s": round(full, 2),
        "bare_passages_per_s": round(len(chunks) / bare, 1),
        "build_passages_per_s": round(len(chunks) / full, 1),
        "overhead_pct": round(100 * (full - bare) / bare, 1),
    }


def bench_scale(sizes: list[int], dim: int, queries: int = 200) -> list[dict]:
    """Exact vs HNSW search time on synthetic unit vectors: where the approximate index pays off."""
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        # Clustered like real passage embeddings (topics), not uniform noise, which no ANN index handles.
        centers = rng.standard_normal((max(n // 100, 1), dim), dtype=np.float32)
        x = centers[rng.integers(0, len(centers), n)] + 0.5 * rng.standard_normal((n, dim), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        q = x[rng.integers(0, n, queries)] + 0.05 * rng.standard_normal((queries, dim), dtype=np.float32)
        row = {"n": n}
        for kind, threshold in (("flat", n + 1), ("hnsw", 0)):
            start = time.perf_counter()
            index = make_faiss(x, threshold)
            build = time.perf_counter() - start
            times = []
            for v in q:
                start = time.perf_counter()
                index.search(v[None, :], 5)
                times.append((time.perf_counter() - start) * 1000)
            row[f"{kind}_p50_ms"] = round(percentile(times, 50), 3)
            row[f"{kind}_build_s"] = round(build, 2)
        exact = faiss.IndexFlatIP(dim)
        exact.add(x)
        hnsw = make_faiss(x, 0)
        _, truth = exact.search(q, 5)
        _, approx = hnsw.search(q, 5)
        row["hnsw_recall@5"] = round(float(np.mean([len(set(a) & set(t)) / 5 for a, t in zip(approx, truth)])), 3)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", help="embedder spec (default from settings)")
    parser.add_argument("--sparse", choices=["e5", "none"], help="e5 token channels, sparse and late interaction (default from settings)")
    parser.add_argument("--index-dir", type=Path, help="index folder (default from settings)")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the question set per retriever")
    parser.add_argument("--index-rounds", type=int, default=3, help="times the bare encoders and the full build this often each; the fastest of each counts (default 3)")
    parser.add_argument("--scale", default="10000,50000,100000", help="vector counts for flat vs HNSW ('' to skip)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args(argv)
    settings = Settings.from_flags(embedder=args.embedder, sparse=args.sparse, index_dir=args.index_dir)

    from service.search import open_searcher

    searcher = open_searcher(settings, progress=lambda m: None)
    questions = [q.question for q in load_questions()]
    result = {
        "embedder": searcher.embedder_name,
        "tokens": searcher.tokens.name if searcher.tokens else None,
        "queries": bench_queries(searcher, questions, args.rounds),
        "indexing": bench_indexing(settings, searcher.embedder, searcher.tokens, args.index_rounds),
        "scale": bench_scale([int(n) for n in args.scale.split(",") if n], searcher.stored.manifest.dim),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(f"embedder: {result['embedder']}, tokens: {result['tokens'] or 'none'}")
    print(f"{'retriever':<8} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    for name, r in result["queries"].items():
        print(f"{name:<8} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['n']:>8}")
    i = result["indexing"]
    print(
        f"indexing {i['passages']} passages: bare encoders {i['bare_embed_s']} s ({i['bare_passages_per_s']}/s), "
        f"full build {i['full_build_s']} s ({i['build_passages_per_s']}/s), overhead {i['overhead_pct']} %"
    )
    for row in result["scale"]:
        print(
            f"{row['n']:>7} vectors: flat p50 {row['flat_p50_ms']} ms, hnsw p50 {row['hnsw_p50_ms']} ms "
            f"(build {row['hnsw_build_s']} s, recall@5 {row['hnsw_recall@5']})"
        )
    print(f"peak memory: {result['peak_rss_mb']} MB")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
