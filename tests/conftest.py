"""Shared fixtures: the real bundled corpus, parsed once per test session."""
from __future__ import annotations

from pathlib import Path

import pytest

from index.chunk import SectionChunker
from index.corpus import load_corpus

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"


@pytest.fixture(scope="session")
def corpus():
    return load_corpus(SEEDS)


@pytest.fixture(scope="session")
def chunks(corpus):
    return SectionChunker().run(corpus.cases)


def find_case(corpus, title_part: str):
    matches = [c for c in corpus.cases if title_part in c.title]
    assert len(matches) == 1, f"{title_part!r} matches {[c.title for c in matches]}"
    return matches[0]
