"""Retrieval over the stored index: dense (FAISS), learned sparse (e5 latent terms), late interaction
(e5 token vectors), keyword (jieba BM25) and their fusion."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import zip_longest

import numpy as np
from threadpoolctl import ThreadpoolController

from index.build import ensure_index, keyword_text
from index.embed import Embedder, load_embedder
from index.models import Case, Chunk
from index.passage_store import EmbeddedStore, PassageStore, Where, top
from index.e5_tokens import TokenEncoder, TokenEncoding, load_token_encoder
from index.store import StoredIndex, live_build
from index.text import sentence_spans
from index.tokenize import Tokenizer
from index.glossary import EnglishGlossary, dictionary_name_senses
from index.transliterate import PinyinNames
from service.cues import Cues, is_byline, is_latin
from service.fitted import MODELS, LogisticModel
from service.places import Places
from service.question import QuestionAnalyzer
from service.question_form import form_text
from service.query import FUSIONS, RETRIEVERS, TOKEN_RETRIEVERS, clean_query
from touyan.settings import Settings

log = logging.getLogger("touyan.search")

# How deep each retriever's list goes before fusion; the answer is almost always in every top 50.
CANDIDATES = 50
# At most this many passages of a page the question names join the candidates (Searcher._on_pages).
PAGE_ROWS = 4 * CANDIDATES
RRF_K = 60
# Weighted fusion of the channels' scaled scores. These weights and the cue bonuses below were
# set by hand on eval/questions.jsonl; fitted rankers and weights fitted to the whole training set
# did not beat them on held-out questions (eval/fit_ranker.py; the figures behind each constant are
# in eval/RESULTS.md, "Hand-set ranking constants"). Late interaction dominates because it finds
# the passage holding the asked detail among a story's look-alike passages; without e5's token
# channels dense and BM25 share the weight.
WEIGHTS = {"dense": 0.1, "sparse": 0.1, "bm25": 0.15, "late": 0.65}
WEIGHTS_WITHOUT_TOKENS = {"dense": 0.65, "bm25": 0.35}
# The dense cosine of a candidate's best sentence: an English question matches the Chinese text
# poorly token by token, and a passage's pooled vector blurs the sentence that answers it.
SENTENCE_WEIGHT = 0.3
# Cues (service/cues.py) add a share of the best fused score, so they reorder close candidates
# without outweighing the channels: a passage holding the numbers the question names or a count
# in the measure word it asks for (多少家 → “6000余家”); the section kind the question names
# (“…的专家点评是谁写的？”, “according to the preface”), with a commentary's byline when it asks
# who wrote it; for an English question the share of its pinyin names (Binjiang → 滨江) a passage
# holds under its titles, as e5's English tokens do not match Chinese names. The contents list and
# a named page match no question's words, so they get the largest bonuses, the list's above the
# page's, so the list's line for that page stays first and the page's passages follow it.
NUMBER_BONUS = 0.1
COUNT_BONUS = 0.1
NAME_BONUS = 0.1
PAGE_BONUS = 0.6
KIND_BONUS = {"commentary": 0.3, "preface": 0.3, "contents": 1.0}
AUTHOR_BONUS = 0.1
BONUS = {"numbers": NUMBER_BONUS, "counts": COUNT_BONUS, "names": NAME_BONUS, "page": PAGE_BONUS, **KIND_BONUS, "author": AUTHOR_BONUS}
CHANNELS = ("dense", "sparse", "bm25", "late", "sentence")
# What hybrid ranking weighs for each pooled passage (Searcher.rank_features).
RANK_FEATURES = (*CHANNELS, *BONUS)


@dataclass(frozen=True)
class Hit:
    rank: int
    chunk: Chunk
    score: float
    dense: float | None
    sparse: float | None
    late: float | None
    bm25: float | None


class Searcher:
    """Answers queries against one loaded index; safe to share between request threads.

    Hybrid ranking fuses the dense, sparse and BM25 lists and the late-interaction scores of
    their candidates (a weighted sum of normalised scores by default, or reciprocal-rank
    fusion) and adds bonuses for what the question's cues ask of its answer: the numbers
    it names, a count in the measure word it asks for, the section kind it names, a
    commentary's byline, and for an English question the places it names in pinyin, which
    also reach BM25 that way.
    """

    def __init__(
        self,
        stored: StoredIndex,
        embedder: Embedder,
        cases: list[Case],
        retriever: str = "hybrid",
        fusion: str = "weighted",
        tokens: TokenEncoder | None = None,
    ):
        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}: expected one of {FUSIONS}")
        if (tokens is None) != (stored.sparse is None):
            raise ValueError("the token encoder and the index's sparse and token vectors come together")
        self.stored = stored
        self.embedder = embedder
        self.tokens = tokens
        self.cases = cases
        self.retriever = retriever
        self.fusion = fusion
        # A fitted ranker over RANK_FEATURES instead of the hand-set weights: eval/fit_ranker.py writes
        # it only when it beats them on held-out questions, which it has not (eval/RESULTS.md).
        self.ranker = LogisticModel.load("ranker") if (MODELS / "ranker.json").exists() and tokens else None
        self.weights = {**(WEIGHTS if tokens else WEIGHTS_WITHOUT_TOKENS), "sentence": SENTENCE_WEIGHT}
        self.tokenizer = Tokenizer(stored.user_words)
        self.names = PinyinNames(stored.bm25.terms)
        self.places = Places(stored.cases, stored.chunks)
        self.analyzer = QuestionAnalyzer(stored.chunks, self.tokenizer, self.names, glossary=lambda: EnglishGlossary(stored.bm25.terms), senses=dictionary_name_senses)
        self._chunks = stored.chunks
        self._row_of = {c.id: i for i, c in enumerate(self._chunks)}
        self._ending_at = {(c.source, c.end): c for c in self._chunks}
        self._sentence_of = {tuple(span): k for k, span in enumerate(stored.sentences.spans.tolist())}
        # Sentence rows come in passage order: passage i owns rows _sentence_start[i]:_sentence_start[i + 1].
        self._sentence_start = np.searchsorted(stored.sentences.spans[:, 0], np.arange(len(self._chunks) + 1))
        self._last_query: tuple[str, np.ndarray, str, np.ndarray] | None = None  # a query and its vector, its form and that one's
        self._last_tokens: tuple[str, TokenEncoding] | None = None
        self._page_of = np.array([-1 if c.page is None else c.page for c in self._chunks])
        self.reports = sorted({c.report for c in self._chunks})
        self.store: PassageStore = EmbeddedStore.of(stored)
        self._case_ids = {c.id for c in cases}
        self.hidden: frozenset[str] = frozenset()  # sources of deleted documents not yet out of the build
        # Encoders and late scoring run one request at a time: they keep both cores busy, and
        # interleaving them stalls e5's OpenMP threads (eval/bench_http.py at concurrency 8).
        self._cpu_lock = threading.Lock()
        self._blas = ThreadpoolController()
        self._check_retriever(retriever)

    @property
    def retrievers(self) -> tuple[str, ...]:
        """The retrievers this index can serve."""
        return RETRIEVERS if self.tokens else tuple(r for r in RETRIEVERS if r not in TOKEN_RETRIEVERS)

    def _check_retriever(self, retriever: str) -> None:
        """One rule for the default retriever and a request's: a known name this index can serve."""
        if retriever not in RETRIEVERS:
            raise ValueError(f"unknown retriever {retriever!r}: expected one of {RETRIEVERS}")
        if retriever not in self.retrievers:
            raise ValueError(f"the {retriever} retriever reads e5 token vectors, which an index built with TOUYAN_SPARSE=none lacks")

    @property
    def embedder_name(self) -> str:
        return self.embedder.name

    @property
    def chunk_count(self) -> int:
        return len(self._chunks)

    def has_case(self, case_id: str) -> bool:
        return case_id in self._case_ids

    def search(
        self,
        query: str,
        top_k: int = 5,
        *,
        case_id: str | None = None,
        page: int | None = None,
        retriever: str | None = None,
        report: str | None = None,
    ) -> list[Hit]:
        query = clean_query(query)
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1 (got {top_k})")
        if page is not None and page < 0:
            raise ValueError(f"page must be 0 or more (got {page})")
        retriever = retriever or self.retriever
        self._check_retriever(retriever)
        where = Where(case_id, page, report, self.hidden)
        allowed = self.store.allowed(where)
        if allowed is not None and not allowed.any():
            return []
        if retriever == "hybrid" and case_id is None and page is None and report is None and (compared := self.analyzer.cases_compared(query)):
            return self._search_each(query, top_k, compared)
        lists = self.channel_lists(query, retriever, max(CANDIDATES, top_k), where)
        scored = self._fuse(query, lists) if retriever == "hybrid" else lists[retriever]
        best = sorted(scored, key=lambda i: -scored[i])[:top_k]
        return [
            Hit(rank, self._chunks[i], float(scored[i]), lists["dense"].get(i), lists["sparse"].get(i), lists["late"].get(i), lists["bm25"].get(i))
            for rank, i in enumerate(best, 1)
        ]

    def _search_each(self, query: str, top_k: int, cases: list[str]) -> list[Hit]:
        """A question about several cases (紫金港和钱塘分别…) is searched in each, and their best
        passages taken in turn: one case's passages would otherwise fill the list."""
        per_case = [self.search(query, top_k, case_id=case) for case in cases]  # hidden sources stay hidden
        merged = [hit for rank in zip_longest(*per_case) for hit in rank if hit is not None][:top_k]
        return [replace(hit, rank=r) for r, hit in enumerate(merged, 1)]

    def channel_lists(self, query: str, retriever: str = "hybrid", depth: int = CANDIDATES, where: Where = Where()) -> dict[str, dict[int, float]]:
        """Each channel's scores of its candidates (passage row → score): what ranking fuses."""
        hybrid_tokens = retriever == "hybrid" and self.tokens is not None
        allowed = self.store.allowed(where)
        lists = {
            "dense": self.store.dense(self._query_vector(query)[0], depth, where) if retriever in ("dense", "hybrid") else {},
            "sparse": self.store.sparse(self._token_encoding(query).sparse, depth, where) if retriever == "sparse" or hybrid_tokens else {},
            "bm25": self.store.keyword(self.tokenizer.tokenize(query) + self.names.terms(query), depth, where) if retriever in ("bm25", "hybrid") else {},
        }
        pool = sorted(set().union(*lists.values()) | self._on_pages(query, retriever, allowed, where))
        if retriever == "late":
            lists["late"] = self._late(query, depth, allowed)
        elif hybrid_tokens:  # late interaction rescores the pooled candidates of the other three
            lists["late"] = self._late_of(query, pool)
        else:
            lists["late"] = {}
        if retriever == "hybrid" and is_latin(query):
            lists["sentence"] = self._best_sentence(query, pool)
        return lists

    def _on_pages(self, query: str, retriever: str, allowed: np.ndarray | None, where: Where) -> set[int]:
        """For hybrid, the passages of the pages a question names (第35版): its words may match none of them.
        Where many reports have that page, its PAGE_ROWS passages nearest the question: late interaction
        scores every one (10 000 passages at a million, seconds)."""
        pages = Cues.of(query).pages if retriever == "hybrid" else frozenset()
        if not pages:
            return set()
        rows = np.isin(self._page_of, list(pages))
        rows = np.flatnonzero(rows if allowed is None else rows & allowed)
        if len(rows) <= PAGE_ROWS:
            return set(rows.tolist())
        vector = self._query_vector(query)[0]
        return set().union(*(self.store.dense(vector, PAGE_ROWS, replace(where, page=p)) for p in pages if where.page in (None, p)))

    def cases_named(self, question: str) -> frozenset[str] | None:
        """Ids of the cases about the places the question names (an English one in pinyin); None when it names none."""
        text = " ".join(self.names.terms(question)) if is_latin(question) else question
        names = self.places.named(text)
        return self.places.cases_about(names) if names else None

    def sentence_similarities(self, question: str, sentences: list[tuple[Chunk, int, int]]) -> list[float | None]:
        """Dense cosine of the question with each (passage, start, end) sentence; None for one not indexed."""
        q = self._query_vector(question)[0]
        rows = [self._sentence_of.get((self._row_of.get(c.id, -1), a, b)) for c, a, b in sentences]
        return [None if k is None else float(self.stored.sentences.vectors[k] @ q) for k in rows]

    def preceding(self, chunk: Chunk) -> str:
        """The last sentence of the passage the text runs on from into this one (a passage split
        inside a paragraph: its first sentence may be 其中，“3”指…, whose lead-in is there); "" if none."""
        before = self._ending_at.get((chunk.source, chunk.start))
        if before is None:
            return ""
        spans = sentence_spans(before.text)
        return before.text[spans[-1][0] : spans[-1][1]] if spans else ""

    def token_matches(self, question: str, chunks: list[Chunk]) -> tuple[np.ndarray, np.ndarray]:
        """Each of the question's e5 tokens, as where it begins in the question, and its best cosine
        with any token of these passages (empty arrays without token vectors)."""
        rows = [r for c in chunks if (r := self._row_of.get(c.id)) is not None]
        if self.tokens is None or not rows:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        encoding = self._token_encoding(question)
        passage_tokens = np.concatenate(self.stored.late.vectors(rows, self.store.token_codes(rows)))
        if len(encoding.tokens) == 0 or len(passage_tokens) == 0:
            return encoding.starts, np.zeros(len(encoding.starts), np.float32)
        with self._cpu_lock, self._blas.limit(limits=1, user_api="blas"):
            return encoding.starts, (encoding.tokens @ passage_tokens.T).max(axis=1)

    def sentence_late(self, question: str, sentences: list[tuple[Chunk, int, int]]) -> list[float | None]:
        """Late interaction of the question's e5 tokens with each (passage, start, end) sentence's
        own tokens; None without token vectors or for a sentence holding none of them."""
        if self.tokens is None:
            return [None] * len(sentences)
        encoding = self._token_encoding(question)
        query = self.stored.late.query_tokens(encoding.tokens, encoding.ids)
        out: list[float | None] = [None] * len(sentences)
        by_row: dict[int, list[int]] = {}
        for k, (chunk, _, _) in enumerate(sentences):
            if (row := self._row_of.get(chunk.id)) is not None:
                by_row.setdefault(row, []).append(k)
        codes = dict(zip(by_row, self.store.token_codes(list(by_row))))  # read before the lock: it may wait on a server
        with self._cpu_lock, self._blas.limit(limits=1, user_api="blas"):  # as for late interaction in search
            for row, ks in by_row.items():
                for k, v in zip(ks, self.stored.late.span_scores(query, row, [sentences[k][1:] for k in ks], codes[row])):
                    out[k] = v
        return out

    def dense_vector(self, text: str) -> np.ndarray:
        """A text's dense query vector: the question form's (service/question_form.py), which was
        encoded with its question when that was searched last."""
        with self._cpu_lock:
            if self._last_query is not None and self._last_query[2] == text:
                return self._last_query[3]
            return self.embedder.encode_queries([text])[0]

    def _query_vector(self, query: str) -> np.ndarray:
        """The query's dense vector; the last one is kept, as answering a question asks for it
        again. Its masked form (service/question_form.py) is encoded in the same batch, which costs
        less than a second encoding when the answerability model asks for it."""
        with self._cpu_lock:
            if self._last_query is None or self._last_query[0] != query:
                form = form_text(self.analyzer.run(query))
                vectors = self.embedder.encode_queries([query, form])
                self._last_query = (query, vectors[:1], form, vectors[1])
            return self._last_query[1]

    def _token_encoding(self, query: str) -> TokenEncoding:
        """The query's e5 token encoding, kept for the next channel that asks for it."""
        with self._cpu_lock:
            if self._last_tokens is None or self._last_tokens[0] != query:
                self._last_tokens = (query, self.tokens.encode_query(query))
            return self._last_tokens[1]

    def _late(self, query: str, depth: int, allowed: np.ndarray | None) -> dict[int, float]:
        rows = np.arange(len(self._chunks)) if allowed is None else np.flatnonzero(allowed)
        scores = np.zeros(len(self._chunks), np.float32)
        scores[rows] = self._late_scores(query, rows)
        return top(scores, depth, allowed)

    def _late_of(self, query: str, rows: list[int]) -> dict[int, float]:
        return {i: float(v) for i, v in zip(rows, self._late_scores(query, np.array(rows, dtype=np.int64)))}

    def _late_scores(self, query: str, rows: np.ndarray) -> np.ndarray:
        encoding = self._token_encoding(query)
        tokens = self.stored.late.query_tokens(encoding.tokens, encoding.ids)
        codes = self.store.token_codes(rows)  # only the candidates' codes, read before the lock
        # One BLAS thread: more spin against e5's OpenMP threads on two cores (eval/bench_search.py).
        with self._cpu_lock, self._blas.limit(limits=1, user_api="blas"):
            return self.stored.late.scores(tokens, rows, codes)

    def _best_sentence(self, query: str, rows: list[int]) -> dict[int, float]:
        """Each passage's best sentence cosine with the question (passages without a stored sentence are left out)."""
        q = self._query_vector(query)[0]
        vectors, start = self.stored.sentences.vectors, self._sentence_start
        return {r: float((vectors[start[r] : start[r + 1]] @ q).max()) for r in rows if start[r + 1] > start[r]}

    def _fuse(self, query: str, lists: dict[str, dict[int, float]]) -> dict[int, float]:
        if self.fusion == "rrf":
            fused: dict[int, float] = {}
            for scores in lists.values():
                for r, i in enumerate(sorted(scores, key=lambda i: -scores[i]), 1):
                    fused[i] = fused.get(i, 0.0) + 1 / (RRF_K + r)
            return fused
        features = self.rank_features(query, lists)
        if self.ranker is not None:
            return {i: self.ranker.probability(f) for i, f in features.items()}
        base = {i: sum(self.weights.get(c, 0.0) * f[c] for c in CHANNELS) for i, f in features.items()}
        best = max(base.values(), default=0.0)
        return {i: base[i] + best * sum(BONUS[c] * f[c] for c in BONUS) for i, f in features.items()}

    def rank_features(self, query: str, lists: dict[str, dict[int, float]]) -> dict[int, dict[str, float]]:
        """Every pooled passage's ranking features (``RANK_FEATURES``): each channel's score scaled
        over the candidates (BM25 by its best, as its zero means "no shared word"; the vector
        scores, which never reach zero, by their spread), 0 where a channel did not list it, and
        what the question's cues ask of it."""
        pool = sorted(set().union(*(set(scores) for scores in lists.values())))
        out = {i: dict.fromkeys(RANK_FEATURES, 0.0) for i in pool}
        for name, scores in lists.items():
            if not scores:
                continue
            hi = max(scores.values())
            lo = 0.0 if name == "bm25" else min(scores.values())
            for i, v in scores.items():
                out[i][name] = (v - lo) / (hi - lo or 1)
        cues = Cues.of(query)
        names = set(self.names.terms(query)) if is_latin(query) else set()
        for i, f in out.items():
            chunk = self._chunks[i]
            f["numbers"] = cues.numbers_held(chunk.text)
            f["counts"] = cues.counts_held(chunk.text)
            if names:
                titled = keyword_text(chunk)
                f["names"] = sum(n in titled for n in names) / len(names)
            f["page"] = float(chunk.page in cues.pages)
            if chunk.section_kind in cues.kinds:
                f[chunk.section_kind] = 1.0
                f["author"] = float(cues.wants_author and any(map(is_byline, chunk.text.splitlines())))
        return out


def open_searcher(settings: Settings, progress: Callable[[str], None] | None = None, force: bool = False) -> Searcher:
    """Load the index for these settings, building or refreshing it first when needed."""
    say = progress or log.info
    embedder = load_embedder(settings.embedder, settings.threads)
    tokens = load_token_encoder(settings.sparse, settings.threads)
    last, started = [-1], time.monotonic()

    def on_embed(done: int, total: int) -> None:
        step = done * 10 // max(total, 1)
        if step != last[0]:
            last[0] = step
            rate = done / max(time.monotonic() - started, 1e-9)
            left = f", {(total - done) / rate:.0f} s left" if 0 < done < total else ""
            say(f"encoding texts (passages and their sentences): {done}/{total} at {rate:.1f} texts/s{left}")

    stored, corpus, reason = ensure_index(
        settings.corpus_dir, settings.index_dir, embedder, settings.chunk_chars, on_embed, force, tokens,
        uploads=settings.documents_dir, encode=settings.encode_plan,
    )
    for err in corpus.errors:
        say(f"skipped {err.source}: {err.reason}")
    encoders = embedder.name + (f" + {tokens.name}" if tokens else "")
    say(f"index {'built (' + reason + ')' if reason else 'loaded'}: {len(stored.chunks)} passages, {len(corpus.cases)} cases, {encoders}")
    searcher = Searcher(stored, embedder, stored.cases, settings.retriever, settings.fusion, tokens)
    searcher.store = passage_store(settings, stored, say)
    return searcher


def passage_store(settings: Settings, stored: StoredIndex, say: Callable[[str], None] = log.info) -> PassageStore:
    """The store ``TOUYAN_STORE`` names for the live build: its own files, or its collection in
    Milvus (written first when it is not there yet, as the index is built on a first start)."""
    if settings.store == "embedded":
        return EmbeddedStore.of(stored)
    from index.milvus_store import MilvusStore, collection_name

    collection = collection_name(live_build(settings.index_dir))
    try:
        return MilvusStore.open(settings.store, collection, stored.bm25)
    except LookupError:
        say(f"writing the build's {len(stored.chunks)} passages into {collection} at {settings.store}")
        return MilvusStore.create(settings.store, collection, stored, progress=lambda done, total: say(f"milvus: {done}/{total} passages"))
