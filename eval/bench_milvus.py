"""The eval figures and channel latencies with the passages in Milvus against the embedded store (issue 17).

    python -m eval.bench_milvus [--uri milvus:///tmp/touyan-bench.db] [--index-dir DIR] [--rounds 3] [--scale N] [--json out.json]

The same Searcher ranks in every row (fusion, late interaction, cues, all of service/search.py);
only the store behind its dense, sparse and keyword channels changes: the build's files
(``embedded``), Milvus with its BM25 over our own jieba tokens (``milvus``, the default), and, for
what the engine's own Chinese analysis does to ranking, Milvus's jieba tokenizer with our
normalisation (``milvus-jieba``) and its plain ``chinese`` analyzer (``milvus-chinese``). hit@1, hit@5 and MRR are over the answerable questions of each file (eval/run.py's
``evaluate``); target: the same figures on both backends within 0.01. Latency: each channel's
store call alone, the query already encoded, p50 over every question of eval/questions.jsonl,
unfiltered and filtered to one case.

``--scale N`` also times dense search over N synthetic rows, FLAT against IVF_FLAT (milvus-lite) or
HNSW (a server), with its recall against exact search: what ``dense_index`` chooses from.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from eval.gold import load_questions
from eval.run import evaluate
from index.milvus_store import EXACT_MAX_ROWS, DenseIndex, MilvusStore, collection_name, connect, dense_index, parse_uri
from index.passage_store import PassageStore, Where
from index.store import live_build
from service.search import Searcher, open_searcher
from touyan.settings import Settings

EVAL = Path(__file__).parent
SETS = ("qa_heldout", "blind", "questions")  # held out first: nothing here is tuned on them
METRICS = ("hit@1", "hit@5", "mrr")
DEPTH = 50  # service/search.py's CANDIDATES


class StoreSearcher(Searcher):
    """The searcher with its channels served by another store (everything else as the base searcher's)."""

    def __init__(self, base: Searcher, store: PassageStore):
        super().__init__(base.stored, base.embedder, base.cases, base.retriever, base.fusion, base.tokens)
        if not hasattr(self, "store"):
            raise RuntimeError("this service/search.py predates PassageStore (Searcher.store): nothing to swap")
        self.store = store


def figures(searcher: Searcher, sets: dict[str, list], retrievers: list[str]) -> dict:
    out = {}
    for name, questions in sets.items():
        for retriever in retrievers:
            result = evaluate(searcher, questions, retriever)
            out[f"{name}/{retriever}"] = {**{m: result["answerable"][m] for m in ("n", *METRICS)}, "median_ms": result["median_latency_ms"]}
    return out


def latencies(stores: dict[str, PassageStore], searcher: Searcher, questions: list[str], rounds: int) -> dict:
    """p50/p95 ms of each store's dense, sparse and keyword call, unfiltered and within one case."""
    encoded = [
        (searcher.embedder.encode_queries([q])[0], searcher.tokens.encode_query(q).sparse, searcher.tokenizer.tokenize(q) + searcher.names.terms(q))
        for q in questions
    ]
    chunks = searcher.stored.chunks
    case = max({c.case_id for c in chunks}, key=lambda c: sum(x.case_id == c for x in chunks))  # the largest case
    out: dict[str, dict] = {}
    for name, store in stores.items():
        for label, where in (("all", Where()), ("case", Where(case_id=case))):
            calls = {
                "dense": lambda e, w=where, s=store: s.dense(e[0], DEPTH, w),
                "sparse": lambda e, w=where, s=store: s.sparse(e[1], DEPTH, w),
                "keyword": lambda e, w=where, s=store: s.keyword(e[2], DEPTH, w),
            }
            for channel, call in calls.items():
                call(encoded[0])  # warm up
                times = []
                for _ in range(rounds):
                    for e in encoded:
                        start = time.perf_counter()
                        call(e)
                        times.append((time.perf_counter() - start) * 1000)
                out[f"{name}/{channel}/{label}"] = {"p50_ms": round(float(np.percentile(times, 50)), 3), "p95_ms": round(float(np.percentile(times, 95)), 3)}
    return out


def keyword_agreement(a: PassageStore, b: PassageStore, searcher: Searcher, questions: list[str], k: int = 10) -> dict:
    """How alike two stores' keyword rankings are: same first passage, and the shared share of the top k."""
    first, shared = [], []
    for q in questions:
        tokens = searcher.tokenizer.tokenize(q) + searcher.names.terms(q)
        x, y = a.keyword(tokens, k, Where()), b.keyword(tokens, k, Where())
        if not x and not y:
            continue
        first.append(float(bool(x) and bool(y) and max(x, key=x.get) == max(y, key=y.get)))
        shared.append(len(set(x) & set(y)) / max(len(x), len(y)))
    return {"questions": len(first), "same_first": round(statistics.mean(first), 3), f"shared_top{k}": round(statistics.mean(shared), 3)}


def scale(uri: str, rows: int, searcher: Searcher, questions: list[str], batch: int = 1000) -> dict:
    """Insert ``rows`` synthetic unit vectors into a dense-only collection and measure, for each dense
    index this mode can build (milvus-lite: FLAT, IVF_FLAT; a server: FLAT, HNSW), query time and
    recall@10/@50 against exact search (IVF_FLAT at several nprobe).

    The vectors are mixes of two of the build's real passage or sentence vectors plus noise, so they
    lie where real passages do (uniform random vectors would make any IVF look hopeless)."""
    from pymilvus import DataType

    rng = np.random.default_rng(0)
    real = np.concatenate([searcher.stored.vectors, searcher.stored.sentences.vectors]).astype(np.float32)
    a, b, w = rng.integers(len(real), size=rows), rng.integers(len(real), size=rows), rng.random((rows, 1), dtype=np.float32)
    vectors = w * real[a] + (1 - w) * real[b] + rng.normal(0, 0.02, size=(rows, real.shape[1])).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = np.stack([searcher.embedder.encode_queries([q])[0] for q in questions]).astype(np.float32)
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :DEPTH]
    lite = parse_uri(uri).lite
    # FLAT against what would make it faster: IVF_FLAT (4·√n lists, Milvus's rule of thumb) in milvus-lite, HNSW on a server.
    faster = DenseIndex("IVF_FLAT", {"nlist": int(4 * math.sqrt(rows))}, {"nprobe": 32}) if lite else dense_index(max(rows, EXACT_MAX_ROWS), lite)
    indexes = [DenseIndex("FLAT", {}, {}), faster]
    client = connect(uri)
    name = f"touyan_scale_{rows}"
    if client.has_collection(name):
        client.drop_collection(name)
    schema = client.create_schema(auto_id=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=vectors.shape[1])
    client.create_collection(name, schema=schema)
    start = time.perf_counter()
    for lo in range(0, rows, batch):
        client.insert(name, [{"row": i, "dense": vectors[i].tolist()} for i in range(lo, min(lo + batch, rows))])
    client.flush(name)
    out = {"rows": rows, "mode": "milvus-lite" if lite else "server", "insert_s": round(time.perf_counter() - start, 1), "chosen": dense_index(rows, lite).type, "indexes": []}
    for index in indexes:
        client.release_collection(name)
        for old in client.list_indexes(name):
            client.drop_index(name, old)
        params = client.prepare_index_params()
        params.add_index("dense", index_type=index.type, metric_type="IP", params=index.params)
        start = time.perf_counter()
        client.create_index(name, params)
        client.load_collection(name)
        client.search(name, data=[queries[0].tolist()], anns_field="dense", limit=DEPTH, search_params={"metric_type": "IP", "params": index.search})
        built = time.perf_counter() - start  # index, load and the first search
        sweep = [{"nprobe": n} for n in (8, 32, 128)] if index.type == "IVF_FLAT" else [index.search]
        for search in sweep:
            times, recall10, recall50 = [], [], []
            for q, truth in zip(queries, exact):
                started = time.perf_counter()
                found = client.search(name, data=[q.tolist()], anns_field="dense", limit=DEPTH, search_params={"metric_type": "IP", "params": search})[0]
                times.append((time.perf_counter() - started) * 1000)
                ids = [h["id"] for h in found]
                recall10.append(len(set(ids[:10]) & set(truth[:10].tolist())) / 10)
                recall50.append(len(set(ids) & set(truth.tolist())) / DEPTH)
            out["indexes"].append({
                "index": index.type, **index.params, **search, "build_s": round(built, 1),
                "p50_ms": round(float(np.percentile(times, 50)), 2), "recall@10": round(statistics.mean(recall10), 3), "recall@50": round(statistics.mean(recall50), 3),
            })
    client.drop_collection(name)
    client.close()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", help="Milvus store (default: a milvus-lite file in a temporary folder)")
    parser.add_argument("--index-dir", type=Path, help="index folder (default from settings)")
    parser.add_argument("--rounds", type=int, default=3, help="passes over eval/questions.jsonl per latency figure")
    parser.add_argument("--scale", type=int, default=0, help="also time the dense index of a collection of this many synthetic rows (0: skip)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args(argv)
    settings = Settings.from_flags(index_dir=args.index_dir)
    base = open_searcher(settings, progress=lambda m: None)
    if base.tokens is None:
        raise SystemExit("the bench compares all three channels: build the index with TOUYAN_SPARSE=e5")
    tmp = tempfile.TemporaryDirectory(prefix="touyan-milvus-")
    uri = args.uri or f"milvus://{Path(tmp.name) / 'bench.db'}"
    build = collection_name(live_build(settings.index_dir))
    writes = {}
    stores: dict[str, PassageStore] = {"embedded": base.store}
    for name, keywords in (("milvus", "tokens"), ("milvus-jieba", "jieba"), ("milvus-chinese", "chinese")):
        start = time.perf_counter()
        stores[name] = MilvusStore.create(uri, build + ("" if keywords == "tokens" else "_" + keywords), base.stored, keywords=keywords)
        writes[name] = round(time.perf_counter() - start, 2)
    sets = {name: load_questions(EVAL / f"{name}.jsonl") for name in SETS}
    every = ["hybrid", "dense", "sparse", "bm25"]
    retrievers = {"embedded": every, "milvus": every, "milvus-jieba": ["hybrid", "bm25"], "milvus-chinese": ["hybrid", "bm25"]}
    result = {
        "uri": uri if args.uri else "milvus-lite file in a temporary folder",
        "passages": len(base.stored.chunks),
        "encoders": f"{base.embedder_name} + {base.tokens.name}",
        "write_s": writes,
        "figures": {name: figures(base if name == "embedded" else StoreSearcher(base, store), sets, retrievers[name]) for name, store in stores.items()},
    }
    tuning = [q.question for q in sets["questions"]]
    result["latency"] = latencies(stores, base, tuning, args.rounds)
    result["keyword_agreement"] = {name: keyword_agreement(stores["embedded"], store, base, tuning) for name, store in stores.items() if name != "embedded"}
    result["hybrid_max_diff"] = {
        name: round(max(abs(rows[key][m] - row[m]) for key, row in result["figures"]["embedded"].items() if key.endswith("/hybrid") for m in METRICS), 3)
        for name, rows in result["figures"].items()
        if name != "embedded"
    }
    if args.scale:
        result["scale"] = scale(uri, args.scale, base, tuning)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    for store in stores.values():
        if isinstance(store, MilvusStore):
            store.close()
    tmp.cleanup()


def report(result: dict) -> str:
    lines = [f"{result['passages']} passages, {result['encoders']}; Milvus: {result['uri']}; written in {result['write_s']} s"]
    lines.append(f"{'set/retriever':<22} {'backend':<15} {'n':>4} " + " ".join(f"{m:>6}" for m in METRICS) + "  median ms (whole search)")
    keys = list(result["figures"]["embedded"])
    for key in keys:
        for backend, rows in result["figures"].items():
            if key in rows:
                r = rows[key]
                lines.append(f"{key:<22} {backend:<15} {r['n']:>4} " + " ".join(f"{r[m]:>6.3f}" for m in METRICS) + f"  {r['median_ms']:>8.2f}")
    for name, diff in result["hybrid_max_diff"].items():
        lines.append(f"hybrid, {name} vs embedded: largest difference {diff} (target ≤ 0.01)")
    lines.append(f"{'channel/filter':<22} " + " ".join(f"{b:>15}" for b in result["figures"]) + "   (p50 ms, p95 ms)")
    for channel in ("dense", "sparse", "keyword"):
        for label in ("all", "case"):
            cells = []
            for backend in result["figures"]:
                r = result["latency"][f"{backend}/{channel}/{label}"]
                cells.append(f"{r['p50_ms']:>7.3f} {r['p95_ms']:>7.3f}")
            lines.append(f"{channel + '/' + label:<22} " + " ".join(f"{c:>15}" for c in cells))
    for name, a in result["keyword_agreement"].items():
        lines.append(f"keyword top-10 vs embedded BM25, {name}: same first passage {a['same_first']}, shared top 10 {a['shared_top10']} ({a['questions']} questions)")
    if "scale" in result:
        s = result["scale"]
        lines.append(f"scale: {s['rows']} synthetic {s['mode']} rows inserted in {s['insert_s']} s; dense_index chooses {s['chosen']}")
        for row in s["indexes"]:
            what = ", ".join(f"{k} {v}" for k, v in row.items() if k not in ("build_s", "p50_ms", "recall@10", "recall@50"))
            lines.append(f"  {what}: built and loaded in {row['build_s']} s, p50 {row['p50_ms']} ms, recall@10 {row['recall@10']}, recall@50 {row['recall@50']}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
