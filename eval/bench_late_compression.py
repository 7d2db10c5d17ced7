"""Compressed late-interaction token vectors (issue 17): bytes per token, ranking before and after, time per query.

    flock /tmp/touyan-heavy.lock .venv/bin/python -m eval.bench_late_compression [--index-dir DIR] [--json out.json]

Builds (or reuses) the bundled corpus's index with the default settings, encodes its passages'
e5 tokens again for their float32 vectors, and puts in the searcher, one at a time, a
``LateIndex`` of each codec: float32 itself (the bytes as they were stored before), the residual
codec of index/quantize.py at several bit widths and centroid counts, and faiss's PQ for
comparison. Hybrid search is scored as ``touyan eval`` scores it (eval/run.py).

Two fits: "self" fits the codec on every token and encodes the same ones (how a build stores
this corpus); "cross" fits on half the passages' tokens and encodes the other half's, and the
other way round, as most tokens of a large index are coded by a codec fitted on a sample. With
~11 000 tokens, k-means on its own points flatters; the choice needs both fits to pass.

The choice reads the training sets only (eval/questions.jsonl + eval/qa_train.jsonl); the held-out
sets are printed, never used to choose; a codec without a cross fit is shown, not chosen. Of those
that pass, the fewest bytes a token, then the closest to float32. Timing: each training question's
real candidate pool (dense, sparse and BM25 lists), late interaction as the searcher runs it on one BLAS thread:
float32 in memory the way index/late.py scored before compression, against the built index
reading its codes from the file (os.pread) and decoding them.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
from threadpoolctl import threadpool_limits

from eval.gold import Question, load_questions
from eval.run import evaluate
from index.late import LateIndex
from index.passage_store import EmbeddedStore
from index.quantize import ResidualCodec
from service.search import Searcher, open_searcher
from touyan.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ("questions.jsonl", "qa_train.jsonl")
HELDOUT = ("qa_heldout.jsonl", "heldout.jsonl", "blind.jsonl")
FLOAT32_BYTES = 384 * 4
TARGET_RATIO = 8
TOLERANCE = 0.01
Passages = list[tuple[np.ndarray, np.ndarray, np.ndarray]]


class Float32Codec:
    """The float32 rows as they were stored before (1536 bytes a token), through the same LateIndex code."""

    k, id_bytes = 1, 0

    def __init__(self, dim: int) -> None:
        self.dim, self.row_bytes = dim, 4 * dim

    def encode(self, x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x, np.float32).view(np.uint8).reshape(len(x), self.row_bytes)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(codes).view(np.float32).reshape(len(codes), self.dim)


class FaissPQCodec:
    """faiss PQ (m sub-vectors, a byte each) as a standalone encoder, decoded rows made unit: for comparison only."""

    k, id_bytes = 1, 0

    def __init__(self, x: np.ndarray, m: int) -> None:
        self.index = faiss.IndexPQ(x.shape[1], m, 8)
        self.index.pq.cp.niter = 10  # faiss's 25 take minutes here, for no better codes
        self.index.train(np.ascontiguousarray(x, np.float32))
        self.dim, self.row_bytes = x.shape[1], self.index.sa_code_size()

    def encode(self, x: np.ndarray) -> np.ndarray:
        return self.index.sa_encode(np.ascontiguousarray(x, np.float32))

    def decode(self, codes: np.ndarray) -> np.ndarray:
        x = self.index.sa_decode(np.ascontiguousarray(codes))
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class Variant:
    name: str
    fit: Callable[[np.ndarray], object]  # token vectors → codec
    cross: bool = True  # also the cross fit (left out for faiss's PQ: minutes a fit on two cores)


VARIANTS = [
    Variant("residual 2-bit", lambda x: ResidualCodec.fit(x, 2, k=None)),  # k-means centroids, PLAID's count
    Variant("residual 1-bit", lambda x: ResidualCodec.fit(x, 1, k=None)),
    Variant("residual 4-bit", lambda x: ResidualCodec.fit(x, 4, k=None)),
    Variant("scalar 4-bit (k=1)", lambda x: ResidualCodec.fit(x, 4, k=1)),
    Variant("scalar 2-bit (k=1)", lambda x: ResidualCodec.fit(x, 2, k=1)),
    Variant("faiss PQ96", lambda x: FaissPQCodec(x, 96), cross=False),
]


class Cached:
    """An encoder that remembers every question: each codec asks the same ones again."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self._seen = inner, inner.name, {}
        self.dim = getattr(inner, "dim", None)

    def encode_query(self, text: str):
        if text not in self._seen:
            self._seen[text] = self.inner.encode_query(text)
        return self._seen[text]

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        key = tuple(texts)
        if key not in self._seen:
            self._seen[key] = self.inner.encode_queries(texts)
        return self._seen[key]


def float32_scores(vectors: np.ndarray, offsets: np.ndarray, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Late interaction as index/late.py computed it before compression: float32 in memory, one product per run of rows."""
    out = np.zeros(len(rows), np.float32)
    order = np.argsort(rows)
    ranked = rows[order]
    breaks = np.flatnonzero(np.diff(ranked) != 1) + 1
    for block, places in zip(np.split(ranked, breaks), np.split(order, breaks)):
        first, last = block[0], block[-1]
        bounds = offsets[first : last + 2] - offsets[first]
        sims = query @ vectors[offsets[first] : offsets[last + 1]].T
        filled = bounds[1:] > bounds[:-1]
        if filled.any():
            out[places[filled]] = np.maximum.reduceat(sims, bounds[:-1][filled], axis=1).mean(axis=0)
    return out


class Bench:
    def __init__(self, index_dir: Path) -> None:
        base = open_searcher(Settings(corpus_dir=ROOT / "seeds", index_dir=index_dir))
        self.built = base.stored.late  # the build's own, reading its codes file
        self.searcher = Searcher(base.stored, Cached(base.embedder), base.cases, "hybrid", "weighted", Cached(base.tokens))
        encodings = base.tokens.encode_passages([c.text for c in base.stored.chunks])
        self.passages: Passages = [(e.tokens, e.ids, e.starts) for e in encodings]
        self.float32 = LateIndex.fit(self.passages, Float32Codec(encodings[0].tokens.shape[1]))
        if not np.array_equal(self.float32.offsets, self.built.offsets):
            raise RuntimeError("the passages' tokens differ from the index's: rebuild it (--index-dir elsewhere)")
        self.exact = np.concatenate(self.float32.vectors(np.arange(self.float32.n_docs)))
        self.train = [q for name in TRAIN for q in load_questions(ROOT / "eval" / name)]
        self.heldout = {name.removesuffix(".jsonl"): load_questions(ROOT / "eval" / name) for name in HELDOUT}

    def use(self, late: LateIndex) -> None:
        s = self.searcher
        s.stored.late = late
        s.store = EmbeddedStore.of(s.stored)

    def quality(self, late: LateIndex, heldout: bool = True) -> dict:
        self.use(late)
        pick = lambda questions, retriever: {k: evaluate(self.searcher, questions, retriever)["answerable"][k] for k in ("n", "hit@1", "hit@5", "mrr")}
        out = {"train": pick(self.train, "hybrid"), "train_late": pick(self.train, "late")}
        if heldout:
            out |= {name: pick(questions, "hybrid") for name, questions in self.heldout.items()}
        return out

    def cross(self, variant: Variant) -> LateIndex:
        """Each half of the passages coded by a codec fitted on the other half's tokens; float32 rows of
        the decoded approximations, so one LateIndex holds both halves."""
        fold = np.repeat(np.arange(self.float32.n_docs) % 2, np.diff(self.float32.offsets))
        approx = np.empty_like(self.exact)
        for f in (0, 1):
            codec = variant.fit(self.exact[fold != f])
            approx[fold == f] = codec.decode(codec.encode(self.exact[fold == f]))
        f32 = self.float32
        return LateIndex(f32.codec, f32.offsets, f32.common, f32.positions, f32.codec.encode(approx))

    def late_ms(self, questions: list[Question]) -> dict:
        """Median and p90 ms of late interaction over each question's candidate pool: float32 as before, against the built index."""
        self.use(self.built)
        f32 = self.float32
        before, after, sizes = [], [], []
        with threadpool_limits(1, user_api="blas"):
            for q in questions:
                lists = self.searcher.channel_lists(q.question, "hybrid")
                rows = np.array(sorted(set(lists["dense"]) | set(lists["sparse"]) | set(lists["bm25"])), np.int64)
                encoding = self.searcher.tokens.encode_query(q.question)
                query = self.built.query_tokens(encoding.tokens, encoding.ids)
                old = lambda q=query, r=rows: float32_scores(self.exact, f32.offsets, q, r)
                new = lambda q=query, r=rows: self.built.scores(q, r)
                for times, run in ((before, old), (after, new)):
                    run()
                    start = time.perf_counter()
                    for _ in range(5):
                        run()
                    times.append((time.perf_counter() - start) / 5 * 1000)
                sizes.append(int(f32.offsets[rows + 1].sum() - f32.offsets[rows].sum()))
        stat = lambda t: {"p50": round(statistics.median(t), 3), "p90": round(float(np.percentile(t, 90)), 3)}
        return {"float32_ms": stat(before), "codes_ms": stat(after), "candidate_tokens_p50": int(statistics.median(sizes)), "questions": len(questions)}


def passes(q: dict, ref: dict) -> bool:
    """Training hit@1 and MRR of hybrid search, and MRR of late interaction alone (which the other
    channels mask with 99 passages, and will not with a million), within TOLERANCE of float32's."""
    return (
        q["train"]["hit@1"] >= ref["train"]["hit@1"] - TOLERANCE
        and q["train"]["mrr"] >= ref["train"]["mrr"] - TOLERANCE
        and q["train_late"]["mrr"] >= ref["train_late"]["mrr"] - TOLERANCE
    )


def run(bench: Bench, say: Callable[[str], None], only: list[str] | None = None) -> dict:
    faiss.omp_set_num_threads(1)
    say("float32")
    ref = bench.quality(bench.float32)
    rows = []
    for variant in [v for v in VARIANTS if not only or any(o in v.name for o in only)]:
        say(variant.name)
        start = time.perf_counter()
        codec = variant.fit(bench.exact)
        fit_s = time.perf_counter() - start
        late = LateIndex.fit(bench.passages, codec)
        decoded = np.concatenate(late.vectors(np.arange(late.n_docs)))
        row = {
            "name": variant.name,
            "k": codec.k,
            "bytes_per_token": codec.row_bytes,
            "ratio": round(FLOAT32_BYTES / codec.row_bytes, 2),
            "fit_s": round(fit_s, 1),
            "mean_cos": round(float(np.einsum("ij,ij->i", decoded, bench.exact).mean()), 4),
            "self": bench.quality(late),
        }
        if variant.cross:
            row["cross"] = bench.quality(bench.cross(variant), heldout=False)
        row["passes"] = row["ratio"] >= TARGET_RATIO and passes(row["self"], ref) and "cross" in row and passes(row["cross"], ref)
        rows.append(row)
    passing = [r for r in rows if r["passes"]]
    # The fewest bytes among those that pass; then the closer to float32.
    choice = min(passing, key=lambda r: (r["bytes_per_token"], -r["mean_cos"]))["name"] if passing else None
    say("built index: timing")
    built = {
        "codec": f"{bench.built.codec.nbits}-bit k={bench.built.codec.k}",
        "bytes_per_token": bench.built.bytes_per_token,
        "ratio": round(FLOAT32_BYTES / bench.built.bytes_per_token, 2),
        "quality": bench.quality(bench.built),
        "timing": bench.late_ms(bench.train),
    }
    return {"tokens": int(bench.float32.offsets[-1]), "passages": bench.float32.n_docs, "float32": ref, "codecs": rows, "choice": choice, "built": built}


def table(result: dict) -> str:
    sets = ["train", "qa_heldout", "heldout", "blind"]
    cell = lambda q: "  ".join(f"{q[s]['hit@1']:.3f}/{q[s]['hit@5']:.3f}/{q[s]['mrr']:.3f}" if s in q else f"{'':17}" for s in sets)
    head = f"{'codec':<22} {'fit':<5} {'B/tok':>5} {'ratio':>5} {'cos':>6} {'late MRR':>8}  " + "  ".join(f"{s + ' h@1/h@5/MRR':>17}" for s in sets)
    lines = [head, "-" * len(head)]
    ref = result["float32"]
    lines.append(f"{'float32':<22} {'-':<5} {FLOAT32_BYTES:>5} {1.0:>5.1f} {1.0:>6.4f} {ref['train_late']['mrr']:>8.3f}  {cell(ref)}")
    for r in result["codecs"]:
        for fit in [f for f in ("self", "cross") if f in r]:
            name = r["name"] + (" ✓" if r["passes"] and fit == "self" else "")
            cos = f"{r['mean_cos']:>6.4f}" if fit == "self" else f"{'':>6}"
            lines.append(f"{name if fit == 'self' else '':<22} {fit:<5} {r['bytes_per_token']:>5} {r['ratio']:>5.1f} {cos} {r[fit]['train_late']['mrr']:>8.3f}  {cell(r[fit])}")
    b = result["built"]
    lines.append(f"{'built index (' + b['codec'] + ')':<22} {'':<5} {b['bytes_per_token']:>5} {b['ratio']:>5.1f} {'':>6} {b['quality']['train_late']['mrr']:>8.3f}  {cell(b['quality'])}")
    t = b["timing"]
    lines += [
        (f"{result['tokens']} tokens in {result['passages']} passages; answerable questions: " + ", ".join(f"{s} {ref[s]['n']}" for s in sets)),
        "✓: ≥ 8× smaller and, in both fits, training hit@1, MRR and late-alone MRR within 0.01 of float32's; cross: fitted on the other half's passages (held-out sets not run)",
        f"chosen on the training sets: {result['choice']}",
        (
            f"late interaction per query over its candidates (median {t['candidate_tokens_p50']} tokens, {t['questions']} training questions, 1 BLAS thread): "
            f"float32 in memory p50 {t['float32_ms']['p50']} ms p90 {t['float32_ms']['p90']} ms; codes read from the file and decoded p50 {t['codes_ms']['p50']} ms p90 {t['codes_ms']['p90']} ms"
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, default=Path(tempfile.gettempdir()) / "touyan-late-compression" / "index", help="built here on first use, reused after")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--only", nargs="+", help="run only the codecs whose names hold one of these")
    args = parser.parse_args(argv)
    result = run(Bench(args.index_dir), lambda m: print(m, flush=True), args.only)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
