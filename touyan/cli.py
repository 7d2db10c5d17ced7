"""The ``touyan`` command: one subcommand per job, all reading the same Settings."""
from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError

from service.query import MAX_TOP_K, RETRIEVERS, clean_query
from touyan.settings import Settings


# The flag that sets each setting, for error messages (the variable may not be what the user typed).
FLAGS = {
    "corpus_dir": "--corpus", "index_dir": "--index-dir", "embedder": "--embedder", "sparse": "--sparse",
    "retriever": "--retriever", "top_k": "--top-k", "host": "--host", "port": "--port", "store": "--store",
}
# Where argparse keeps each flag's value (subcommands' flags are absent from other subcommands).
DESTS = {field: flag.removeprefix("--").replace("-", "_") for field, flag in FLAGS.items()}


def _print_json(data) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _load_corpus(settings: Settings):
    from index.corpus import load_corpus

    corpus = _warn_skipped(settings, load_corpus(settings.corpus_dir, settings.documents_dir))
    if not corpus.cases:  # an empty listing would look like success
        raise ValueError(f"no cases found in {settings.corpus_dir} ({len(corpus.texts)} report files read; .txt and .md are)")
    return corpus


def _warn_skipped(settings: Settings, corpus):
    """Name each corpus file that could not be read, or read only in part; the rest was used."""
    for err in corpus.errors:
        print(f"warning: skipped {_file(settings, err.source)}: {err.reason}", file=sys.stderr)
    for warning in corpus.warnings:
        print(f"warning: {_file(settings, warning.source)}: {warning.reason}", file=sys.stderr)
    return corpus


def _file(settings: Settings, source: str) -> Path:
    """Where a corpus source name is on disk: under the corpus folder, or (uploads/…) the documents folder."""
    from index.corpus import UPLOADS

    head, _, rest = source.partition("/")
    return settings.documents_dir / rest if head == UPLOADS and rest else settings.corpus_dir / source


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _page(page: int | None) -> str:
    return f"{page}版" if page is not None else "—"


def cmd_cases(settings: Settings, args) -> int:
    corpus = _load_corpus(settings)
    if args.json:
        _print_json({"cases": [c.summary() for c in corpus.cases]})
        return 0
    for c in corpus.cases:
        print(f"{_page(c.page):>5}  {c.title}  [{c.id}]")
        if c.project:
            print(f"       改革项目: {c.project}")
        if c.authors:
            print(f"       作者: {' '.join(c.authors)}")
        for s in c.sections:
            print(f"       - {s.title} ({s.kind})")
    return 0


def cmd_chunks(settings: Settings, args) -> int:
    from index.chunk import SectionChunker

    from index.build import located

    corpus = _load_corpus(settings)
    chunks = located(SectionChunker(settings.chunk_chars).run(corpus.cases), corpus)
    if args.json:
        _print_json({"chunks": [c.to_dict() for c in chunks]})
        return 0
    for c in chunks:
        print(f"[{c.id}] {_page(c.page)} {c.case_title} / {c.section} ({c.section_kind}) {c.source}:{c.start}-{c.end}")
        print(_indent(c.text, "    "))
    return 0


@contextmanager
def _progress_bar():
    """An embedding progress callback that draws a bar on stderr; log lines print above the bar,
    and the bar is closed before the command's own last line, interrupted or not."""
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="text", desc="encoding", file=sys.stderr)  # passages and their sentences
        bar.update(done - bar.n)

    try:
        with logging_redirect_tqdm():
            yield update
    finally:
        if bar is not None:
            bar.close()


def _log_to_stderr() -> None:
    """The index and search steps report through logging (what was reused, what was rebuilt)."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)


def cmd_index(settings: Settings, args) -> int:
    from index.build import ensure_index
    from index.embed import load_embedder
    from index.e5_tokens import load_token_encoder

    _log_to_stderr()
    embedder = load_embedder(settings.embedder, settings.threads)
    tokens = load_token_encoder(settings.sparse, settings.threads)
    with _progress_bar() as progress:
        stored, corpus, reason = ensure_index(
            settings.corpus_dir, settings.index_dir, embedder, settings.chunk_chars, progress, args.force, tokens,
            rebuild_damaged=True, uploads=settings.documents_dir, encode=settings.encode_plan,
        )
    _warn_skipped(settings, corpus)
    if settings.store != "embedded":  # moves the build's passages into Milvus (once per build)
        from service.search import passage_store

        passage_store(settings, stored, lambda m: print(m, file=sys.stderr))
    m = stored.manifest
    state = f"built ({reason})" if reason else "up to date"
    print(
        f"index {state}: {m.chunks} passages from {len(corpus.cases)} cases, {m.embedder} ({m.dim}-d, {m.faiss_index}),"
        f" e5 tokens {m.tokens or 'none'}, in {settings.index_dir}" + ("" if settings.store == "embedded" else f"; passages in {settings.store}")
    )
    return 0


def _open_searcher(settings: Settings):
    from service.search import open_searcher

    _log_to_stderr()
    return open_searcher(settings)


def _question_and_searcher(settings: Settings, args):
    """The question, checked before the index is opened, and the searcher; ValueError for an unknown case."""
    question = clean_query(args.question)
    searcher = _open_searcher(settings)
    if args.case and not searcher.has_case(args.case):
        raise ValueError(f"unknown case id {args.case!r}; `touyan cases` lists them")
    return question, searcher


def cmd_search(settings: Settings, args) -> int:
    from service.api.schemas import SearchResult

    question, searcher = _question_and_searcher(settings, args)
    hits = searcher.search(question, settings.top_k, case_id=args.case, page=args.page)
    if not args.no_rerank and not args.retriever:  # as /search does: one retriever's own order is kept
        from service.api.app import make_answerer

        hits = make_answerer(settings, searcher).rerank(question, hits)
    if args.json:
        _print_json({"query": question, "results": [SearchResult.from_hit(h).model_dump() for h in hits]})
        return 0
    if not hits:
        print("no passages found")
    for h in hits:
        c = h.chunk
        print(f"{h.rank}. [{h.score:.3f}] {c.case_title} · {_page(c.page)} · {c.section}  ({c.source}:{c.start}-{c.end})")
        print(_indent(c.text, "   "))
    return 0


def cmd_ask(settings: Settings, args) -> int:
    from service.api.app import make_answerer
    from service.api.routers.ask import answer_question
    from service.api.schemas import AskResponse
    from index.models import page_label
    from service.cues import is_latin

    question, searcher = _question_and_searcher(settings, args)
    start = time.perf_counter()
    hits, answer = answer_question(searcher, make_answerer(settings, searcher), question, settings.top_k, args.case, args.page)
    took = round((time.perf_counter() - start) * 1000, 2)
    if args.json:
        _print_json(AskResponse.build(question, answer, hits, took).model_dump())
        return 0
    print(answer.text)
    english = is_latin(question)
    for c in answer.citations:
        print(f"  [{c.n}] 《{c.case}》{page_label(c.page, c.section_kind, english)} · {c.section}  ({c.source})")
    if answer.confidence is not None:
        print(f"  ({'confidence' if english else '置信度'} {answer.confidence:.2f})")
    return 0


def _check_json_out(path: Path) -> None:
    """Checked before the eval, which takes minutes, rather than when its table is written."""
    if path.is_dir():
        raise ValueError(f"--json {path} is a folder; name the file to write")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"--json {path}: there is no folder {path.parent}")


def cmd_eval(settings: Settings, args) -> int:
    from eval.gold import load_questions
    from eval.run import format_table, run_eval

    if args.json:
        _check_json_out(args.json)
    questions = [q for path in args.questions for q in load_questions(path)] if args.questions else load_questions()
    rows = run_eval(settings, args.embedders.split(","), args.retrievers.split(","), questions, progress=lambda m: print(m, file=sys.stderr))
    print(format_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


def cmd_serve(settings: Settings, args) -> int:
    from service.serve import serve

    serve(settings)
    return 0


def _int_in(low: int, high: int | None):
    """An argparse type: an integer from low to high (no upper bound when None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is not in {low}–{high}" if high is not None else f"{value} is less than {low}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="touyan", description="Touyan (头雁): Chinese semantic search and QA over reform-case reports.")
    parser.add_argument("--corpus", type=Path, help="folder of report files (env TOUYAN_CORPUS_DIR, default seeds/)")
    parser.add_argument("--index-dir", type=Path, help="where the index lives (env TOUYAN_INDEX_DIR, default .touyan/index)")
    parser.add_argument("--embedder", help="dense embedder: use (default), e5, e5+use, or st:<model folder or package> (env TOUYAN_EMBEDDER)")
    parser.add_argument("--sparse", choices=["e5", "none"], help="e5 token channels, latent terms and late interaction: e5 (default) or none (env TOUYAN_SPARSE)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("cases", help="list the cases with page, project, authors and sections")
    p.add_argument("--json", action="store_true", help="print JSON: {\"cases\": [...]}")
    p.set_defaults(func=cmd_cases)

    p = sub.add_parser("chunks", help="list the passages the corpus is cut into")
    p.add_argument("--json", action="store_true", help="print JSON: {\"chunks\": [...]}")
    p.set_defaults(func=cmd_chunks)

    p = sub.add_parser("index", help="build the index, or refresh it after the corpus changed")
    p.add_argument("--force", action="store_true", help="rebuild even when the index is up to date (cached encodings are reused)")
    p.add_argument("--store", help="also write the build's passages into Milvus: milvus:///abs/path/file.db or http://host:19530 (env TOUYAN_STORE)")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="the passages that best answer a question")
    p.add_argument("question")
    p.add_argument("--retriever", choices=RETRIEVERS, help="default hybrid (env TOUYAN_RETRIEVER)")
    p.add_argument("--top-k", type=_int_in(1, MAX_TOP_K), help=f"how many passages, 1–{MAX_TOP_K} (env TOUYAN_TOP_K, default 5)")
    p.add_argument("--case", help="only passages of this case id (see `touyan cases`)")
    p.add_argument("--page", type=_int_in(0, None), help="only passages on this page (版)")
    p.add_argument("--no-rerank", action="store_true", help="keep the search's own order (by default the first passages are re-ranked as /search and /ask do)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="answer a question from the report, quoting it with citations")
    p.add_argument("question")
    p.add_argument("--top-k", type=_int_in(1, MAX_TOP_K), help=f"passages to answer from, 1–{MAX_TOP_K} (env TOUYAN_TOP_K, default 5)")
    p.add_argument("--case", help="only passages of this case id (see `touyan cases`)")
    p.add_argument("--page", type=_int_in(0, None), help="only passages on this page (版)")
    p.add_argument("--json", action="store_true", help="print JSON: the fields of POST /ask")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("eval", help="score retrievers and embedders on eval/questions.jsonl")
    p.add_argument("--embedders", default="use,e5,e5+use", help="comma-separated embedder specs (default use,e5,e5+use)")
    p.add_argument("--retrievers", default="bm25,sparse,late,dense,hybrid", help="comma-separated (default bm25,sparse,late,dense,hybrid)")
    p.add_argument("--questions", type=Path, nargs="+", help="question files (default eval/questions.jsonl)")
    p.add_argument("--json", type=Path, help="also write the table as JSON to this file")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("serve", help="serve the HTTP API and chat page (builds the index on first start)")
    p.add_argument("--host", help="interface to listen on (env TOUYAN_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=_int_in(1, 65535), help="port to listen on (env TOUYAN_PORT, default 8000)")
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `touyan chunks | head` ends quietly
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_flags(**{field: getattr(args, dest, None) for field, dest in DESTS.items()})
        return args.func(settings, args)
    except ValidationError as e:  # a TOUYAN_* variable (or its flag) out of range, of the wrong type, unknown
        for err in e.errors():
            field = "_".join(str(part) for part in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            flag = f" ({FLAGS[field]})" if field in FLAGS else ""
            print(f"error: TOUYAN_{field.upper()}{flag}: {message}" if field else f"error: {message}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError, ImportError) as e:  # a missing folder, an unknown spec, an optional extra not installed, a blank question
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # the live index is untouched: a build only replaces it once complete
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
