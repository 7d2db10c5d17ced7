"""The ``touyan`` command: one subcommand per job, all reading the same Settings."""
from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from touyan.settings import Settings


def _print_json(data) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _load_corpus(settings: Settings):
    from index.corpus import load_corpus

    corpus = load_corpus(settings.corpus_dir)
    for err in corpus.errors:
        print(f"warning: skipped {settings.corpus_dir / err.source}: {err.reason}", file=sys.stderr)
    return corpus


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

    chunks = SectionChunker(settings.chunk_chars).run(_load_corpus(settings).cases)
    if args.json:
        _print_json({"chunks": [c.to_dict() for c in chunks]})
        return 0
    for c in chunks:
        print(f"[{c.id}] {_page(c.page)} {c.case_title} / {c.section} ({c.section_kind}) {c.source}:{c.start}-{c.end}")
        print(f"    {c.text}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="touyan", description="Touyan (头雁): Chinese semantic search and QA over reform-case reports.")
    parser.add_argument("--corpus", type=Path, help="folder of report files (env TOUYAN_CORPUS_DIR, default seeds/)")
    parser.add_argument("--index-dir", type=Path, help="where the index lives (env TOUYAN_INDEX_DIR, default .touyan/index)")
    parser.add_argument("--embedder", help="e5 (default), use, or st:<model folder or package> (env TOUYAN_EMBEDDER)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("cases", help="list the cases with page, project, authors and sections")
    p.add_argument("--json", action="store_true", help="print JSON: {\"cases\": [...]}")
    p.set_defaults(func=cmd_cases)

    p = sub.add_parser("chunks", help="list the passages the corpus is cut into")
    p.add_argument("--json", action="store_true", help="print JSON: {\"chunks\": [...]}")
    p.set_defaults(func=cmd_chunks)
    return parser


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `touyan chunks | head` ends quietly
    args = build_parser().parse_args(argv)
    settings = Settings().with_overrides(corpus_dir=args.corpus, index_dir=args.index_dir, embedder=args.embedder)
    try:
        return args.func(settings, args)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
