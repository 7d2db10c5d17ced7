"""Pinyin names in English questions mapped to the corpus's Chinese terms."""
from __future__ import annotations

from index.transliterate import PinyinNames

NAMES = PinyinNames(["余杭", "余杭区", "滨江", "富春田翁", "富春江", "梦创社区", "阿里巴巴", "企业", "杭州", "the", "2023"])


def test_capitalised_pinyin_words_name_terms():
    assert NAMES.terms("How many talents does Binjiang attract? And Yuhang?") == ["滨江", "余杭"]
    assert NAMES.terms("How many employees did Alibaba have in Hangzhou?") == ["阿里巴巴", "杭州"]


def test_two_words_may_spell_one_term_and_a_word_may_lead_one():
    assert NAMES.terms("the Fuchun Tianweng workshop") == ["富春田翁"]
    assert NAMES.terms("the Mengchuang community") == ["梦创社区"]
    assert NAMES.terms("the Fuchun river") == ["富春江", "富春田翁"]


def test_ordinary_and_lowercase_words_are_left_alone():
    assert NAMES.terms("What does the enterprise do? qiye yuhang") == []
    assert NAMES.terms("余杭的企业") == []


def test_a_pinyin_apostrophe_joins_syllables_and_a_possessive_does_not(searcher):
    assert searcher.names.terms("Yong'an village") == ["永安"] == searcher.names.terms("Yongan")
    assert searcher.names.terms("Fuyang's workers") == searcher.names.terms("Fuyang workers")
