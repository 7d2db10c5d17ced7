"""What indexing an uploaded document costs beside encoding its passages (issue 16: at most +10 %).

    python -m eval.bench_documents [--pages 20] [--json out.json]

The upload's build encodes as the server's does (TOUYAN_ENCODE_WORKERS, one worker process per
core from 300 texts on); the encoders alone run in this process.

Builds the index of the bundled corpus in a temporary folder (its encodings cached), then adds
a newspaper PDF of ``--pages`` pages (two columns, made as tests/test_readers.py makes them, each
page's text its own) as an upload and refreshes the index as the server does after
POST /documents (index/build.py ensure_index: read, parse, chunk, encode what the cache lacks,
build, verify, switch). The same texts are then encoded again by the encoders alone. Prints
both times, their ratio and the build's progress lines (rate and time left).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from index.build import Indexer, ensure_index, located, sentence_rows
from index.chunk import SectionChunker
from index.corpus import load_corpus
from index.e5_tokens import load_token_encoder
from index.embed import load_embedder
from tests.conftest import SEEDS
from tests.test_readers import newspaper_pdf
from touyan.settings import Settings

TARGET = 1.10


def paper(pages: int) -> bytes:
    """A newspaper PDF whose every page says something of its own (nothing the cache already holds)."""
    blocks = []
    for n in range(1, pages + 1):
        lines = [f"第{n}个社区今年新建了{n + 10}座邻里中心，服务居民{n * 1000 + 37}户，满意度达到{80 + n % 20}%。" * 2,
                 f"该社区第{n}期改造投入资金{n * 3 + 1}万元，完成了{n + 4}个小区的加装电梯和{n * 2 + 7}处停车位改造。" * 2,
                 f"社区书记介绍，第{n}批志愿者共{n * 5 + 20}人，每周开展{n % 6 + 2}次上门服务，惠及老人{n * 40 + 11}名。" * 2]
        title = [("title", "临平：社区改革百页纪实"), ("byline", "张三 李四")] if n == 1 else [("subhead", f"第{n}篇 社区新事")]
        blocks.append([*title, *[("p", t) for t in lines]])
    return newspaper_pdf(blocks, first_label=100)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    settings = Settings()
    embedder, tokens = load_embedder(settings.embedder, settings.threads), load_token_encoder(settings.sparse, settings.threads)
    with tempfile.TemporaryDirectory() as tmp:
        index_dir, uploads = Path(tmp) / "index", Path(tmp) / "documents"
        ensure_index(SEEDS, index_dir, embedder, settings.chunk_chars, tokens=tokens, uploads=uploads)
        (uploads / "bench").mkdir(parents=True)
        (uploads / "bench" / "paper.pdf").write_bytes(paper(args.pages))
        progress: list[tuple[float, int, int]] = []
        start = time.perf_counter()
        stored, corpus, reason = ensure_index(SEEDS, index_dir, embedder, settings.chunk_chars, lambda d, t: progress.append((time.perf_counter() - start, d, t)), tokens=tokens, uploads=uploads,
            encode=settings.encode_plan,  # as the server's upload does (TOUYAN_ENCODE_WORKERS=1: in this process)
        )
        indexing = time.perf_counter() - start

        new = [c for c in located(SectionChunker(settings.chunk_chars).run(corpus.cases), corpus) if c.source.startswith("uploads/")]
        jobs = Indexer(embedder, tokens, settings.chunk_chars).encoding_jobs(new, sentence_rows(new))
        start = time.perf_counter()
        for texts, encode in jobs.values():
            encode(texts, None)
        encoding = time.perf_counter() - start
    ratio = indexing / encoding
    report = {
        "pages": args.pages, "new_passages": len(new), "new_texts": sum(len(t) for t, _ in jobs.values()),
        "indexing_s": round(indexing, 2), "encoding_alone_s": round(encoding, 2), "ratio": round(ratio, 3), "target": TARGET,
        "progress": [f"{t:.1f}s {d}/{total}" for t, d, total in progress[:: max(1, len(progress) // 10)]],
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))
    print(f"indexing a {args.pages}-page PDF took {ratio:.3f}× encoding its texts alone (target ≤ {TARGET}) {'ok' if ratio <= TARGET else 'MISSED'}")
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
