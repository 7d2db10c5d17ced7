"""How fast a build encodes, by where it encodes (index/encode_pool.py), side by side in one run.

    python -m eval.bench_encode [--rounds 1] [--index]

Encodes exactly what a build of the bundled corpus encodes (``Indexer.encoding_jobs``: every
passage dense and by e5's tokens, every sentence dense) into a fresh cache each time, through
``Indexer._embed`` (so the cache writes and the workers' start are counted):

- in this process (TOUYAN_ENCODE_WORKERS=1), the encoders' threads as set (2);
- 1 worker process × 2 threads, and 2 worker processes × 1 thread (TOUYAN_ENCODE_WORKERS=2);
- Ray, started locally with 2 CPUs, actors of 1 thread (TOUYAN_ENCODE_CLUSTER=ray); its start
  is timed apart, as a cluster would already be running.

Every backend's rows are compared with the in-process ones. ``--index`` also times
``touyan index --force`` on a fresh index folder with TOUYAN_ENCODE_WORKERS=1 and 2.
Each figure is the median of ``--rounds`` rounds; the machine is shared, so ratios in one run
say more than the absolute rates.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from index.build import Indexer, located, sentence_rows
from index.chunk import SectionChunker
from index.corpus import load_corpus
from index.e5_tokens import load_token_encoder
from index.embed import load_embedder
from index.encode_pool import EncodePlan, LocalWorkers, cores, recipe_of
from touyan.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--index", action="store_true", help="also time `touyan index --force` on a fresh index folder")
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()

    settings = Settings(corpus_dir=ROOT / "seeds")
    corpus = load_corpus(settings.corpus_dir)
    chunks = located(SectionChunker(settings.chunk_chars).run(corpus.cases), corpus)
    embedder, tokens = load_embedder(settings.embedder, settings.threads), load_token_encoder(settings.sparse, settings.threads)
    jobs = Indexer(embedder, tokens, settings.chunk_chars).encoding_jobs(chunks, sentence_rows(chunks))
    texts = sum(len(t) for t, _ in jobs.values())
    print(f"{len(chunks)} passages, {texts} texts ({', '.join(f'{len(t)} {n}' for n, (t, _) in jobs.items())}); {cores()} cores; load {os.getloadavg()[0]:.1f}")

    recipe = recipe_of(embedder, tokens)
    one_by_two = LocalWorkers(recipe, 1)  # what TOUYAN_ENCODE_WORKERS=1 would be if it used a pool
    runs: dict[str, list[float]] = {}
    reference = None

    def timed(label: str, plan: EncodePlan, backend=None) -> None:
        nonlocal reference
        with tempfile.TemporaryDirectory() as tmp:
            indexer = Indexer(embedder, tokens, settings.chunk_chars, encode=plan)
            start = time.perf_counter()
            rows = indexer._embed(Path(tmp), jobs, None, backend)
            runs.setdefault(label, []).append(time.perf_counter() - start)
        if reference is None:
            reference = rows
        else:
            worst = max(float(np.abs(a - b).max()) for n in rows for a, b in zip(rows[n], reference[n]))
            assert worst <= 1e-5, f"{label}: rows differ from in-process by {worst}"

    ray = None
    if not args.no_ray:
        import ray

        start = time.perf_counter()
        ray.init(num_cpus=cores(), include_dashboard=False, log_to_driver=False)
        ray_start = time.perf_counter() - start
    for _ in range(args.rounds):
        timed("in-process, 2 threads", EncodePlan(1))
        timed("1 worker process x 2 threads", EncodePlan(1), one_by_two)
        timed("2 worker processes x 1 thread", EncodePlan(2))
        if ray is not None:
            timed("Ray local, 2 actors x 1 thread", EncodePlan(cluster="ray"))
    if ray is not None:
        ray.shutdown()

    base = statistics.median(runs["in-process, 2 threads"])
    print(f"\n| encoding on | passages/s | texts/s | wall s | vs in-process |\n|---|---|---|---|---|")
    for label, times in runs.items():
        t = statistics.median(times)
        print(f"| {label} | {len(chunks) / t:.1f} | {texts / t:.1f} | {t:.1f} | {base / t:.2f}x |")
    if ray is not None:
        print(f"\nRay's local start (ray.init, not in the figures above): {ray_start:.1f} s")
    print("rows of every backend within 1e-5 of in-process: yes")

    if args.index:
        print("\n| touyan index --force, fresh index folder | wall s | vs 1 worker |\n|---|---|---|")
        walls = {}
        for workers in (1, 2):
            with tempfile.TemporaryDirectory() as tmp:
                env = {**os.environ, "TOUYAN_INDEX_DIR": str(Path(tmp) / "index"), "TOUYAN_ENCODE_WORKERS": str(workers),
                       "TOUYAN_CORPUS_DIR": str(settings.corpus_dir), "TOUYAN_DOCUMENTS_DIR": str(Path(tmp) / "documents")}
                start = time.perf_counter()
                subprocess.run([str(Path(sys.executable).parent / "touyan"), "index", "--force"], env=env, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                walls[workers] = time.perf_counter() - start
            print(f"| TOUYAN_ENCODE_WORKERS={workers} | {walls[workers]:.1f} | {walls[1] / walls[workers]:.2f}x |")


if __name__ == "__main__":
    main()
