"""Passages: whole sentences, within one section, about 300 characters, with full metadata."""
from __future__ import annotations

import pytest

from index.chunk import ATTRIBUTION, SectionChunker
from index.text import ends_sentence


def test_chunks_are_short_whole_sentences(chunks):
    assert len(chunks) > 50
    for ch in chunks:
        assert len(ch.text) <= 300 or "。" not in ch.text[:-1].rstrip("”")
        if ch.section_kind != "contents":
            assert ends_sentence(ch.text), ch.text[-20:]
    lengths = sorted(len(c.text) for c in chunks)
    assert 150 <= lengths[len(lengths) // 2] <= 300


def test_chunks_stay_in_their_section(corpus, chunks):
    by_section = {(c.id, s.title): "".join(p.text for p in s.paragraphs) for c in corpus.cases for s in c.sections}
    for ch in chunks:
        assert ch.text.replace("\n", "") in by_section[(ch.case_id, ch.section)]


def test_chunks_carry_their_case_and_page(corpus, chunks):
    cases = {c.id: c for c in corpus.cases}
    for ch in chunks:
        case = cases[ch.case_id]
        assert (ch.case_title, ch.page, ch.project, ch.source) == (case.title, case.page, case.project, case.source)
        assert ch.section_kind in {"body", "commentary", "preface", "contents"}
    assert any(ch.section_kind == "commentary" for ch in chunks)
    assert any(ch.section_kind == "contents" for ch in chunks)


def test_chunk_ids_are_stable_and_unique(corpus, chunks):
    again = SectionChunker().run(corpus.cases)
    assert [c.id for c in again] == [c.id for c in chunks]
    assert len({c.id for c in chunks}) == len(chunks)


def test_max_chars_is_respected_for_smaller_sizes(corpus):
    """Over the limit only a single sentence, or a quotation with its attribution (“…。”某负责人说。)."""
    for ch in SectionChunker(max_chars=120).run(corpus.cases):
        quotation, _, attribution = ch.text.rpartition("”")
        assert len(ch.text) <= 120 or ch.text.count("。") <= 1 or (quotation.count("。") <= 1 and ATTRIBUTION.fullmatch(attribution))


@pytest.mark.parametrize("max_chars", [120, 300])
def test_an_attribution_stays_with_its_quotation(corpus, max_chars):
    chunks = SectionChunker(max_chars=max_chars).run(corpus.cases)
    assert not [c.text[:20] for c in chunks if ATTRIBUTION.match(c.text)]
    assert any("文化休闲旅游线。”江洲村相关负责人说。" in c.text for c in chunks)
