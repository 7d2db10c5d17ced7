"""Shared fixtures: the real bundled corpus, parsed once per test session, and its index with the
default settings, built once per test session and only read by the tests (``copy_index`` gives
a test a copy of its own to change)."""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from eval.serve_process import ServeProcess
from index.chunk import SectionChunker
from index.corpus import load_corpus
from service.search import Searcher, open_searcher
from touyan.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"


@pytest.fixture(scope="session")
def corpus():
    return load_corpus(SEEDS)


@pytest.fixture(scope="session")
def chunks(corpus):
    return SectionChunker().run(corpus.cases)


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    """Default settings over the bundled corpus, with the session's shared index folder."""
    return Settings(corpus_dir=SEEDS, index_dir=tmp_path_factory.mktemp("shared") / "index")


@pytest.fixture(scope="session")
def searcher(settings) -> Searcher:
    """The loaded shared index (built on first use: the one build of the session's default index)."""
    return open_searcher(settings)


@pytest.fixture(scope="session")
def index_dir(settings, searcher) -> Path:
    """The shared index folder, built: for servers started on it (they only read it)."""
    return settings.index_dir


@contextmanager
def running_server(env: dict[str, str]) -> Iterator[ServeProcess]:
    """`touyan serve` with these settings added to the environment, started (a server that does not
    come up fails the test, with its log) and stopped afterwards."""
    proc = ServeProcess(env=env)
    try:
        proc.start()
    except RuntimeError as e:
        pytest.fail(str(e))
    try:
        yield proc
    finally:
        proc.stop()


def copy_index(index_dir: Path, to: Path) -> Path:
    """A writable copy of an index folder (builds are read-only), encoding cache included."""
    shutil.copytree(index_dir, to, copy_function=shutil.copy)
    for path in [to, *to.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return to


def find_case(corpus, title_part: str):
    matches = [c for c in corpus.cases if title_part in c.title]
    assert len(matches) == 1, f"{title_part!r} matches {[c.title for c in matches]}"
    return matches[0]
