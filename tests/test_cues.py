"""Question cues: pure text rules, no index."""
from __future__ import annotations

import pytest

from service.cues import Cues, is_byline


@pytest.mark.parametrize(
    "question, holds, lacks",
    [
        ("梦创社区服务多少家企业？", "服务62个园区、95幢楼宇、6000余家企业", "走访企业人才460人次"),
        ("余杭“321”机制有多少部门参与？", "50个部门、12个镇街", "150余家机关"),
        ("滨江已经建成了几个新型的产业社区？", "现已在全球建成4个现代产业社区", "4家企业"),  # 几个 counts in 个 whatever the noun
        ("最后前后磨了多少回才谈拢？", "经过3轮全面走访", "3个社区"),
        ("去年一共贷出来多少钱？", "授信120万元", "120家企业"),
        ("紫金港科技城企业服务驿站提供几大增值服务专区？", "设立四大专区", "4个专区"),
        ("How many unicorn companies has Binjiang cultivated?", "独角兽企业46家", "46个项目"),
        ("How many people have the workshops employed?", "吸纳就业8500余人", "8500余家"),
    ],
)
def test_a_count_in_the_asked_measure_word_is_held(question, holds, lacks):
    cues = Cues.of(question)
    assert cues.counts_held(holds) == 1.0 and cues.counts_held(lacks) == 0.0


@pytest.mark.parametrize("question", ["哪个村几乎所有地都只能种粮？", "哪座城市连着十几年都被评为最舒心的地方？", "公司是由哪几个村共同组建的？", "江洲村成立的强村公司叫什么名字？"])
def test_questions_that_ask_no_count_have_none(question):
    assert Cues.of(question).counts == ()


def test_numbers_named_by_the_question():
    cues = Cues.of("紫金港计划到2027年成交多少项产权？")
    assert cues.numbers_held("到2027年，成交1000项") == 1.0 and cues.numbers_held("2023年") == 0.0


def test_who_wrote_the_commentary_wants_its_byline():
    cues = Cues.of("钱塘案例的专家点评是谁写的？")
    assert cues.kinds == {"commentary"} and cues.wants_author
    assert not Cues.of("钱塘有多少个行政村？").wants_author
    assert is_byline("浙江工商大学党委书记 郁建兴教授") and not is_byline("营商环境是一个国家和地区的重要软实力，")


def test_a_question_keeps_a_few_counts_however_many_it_asks():
    question = "".join(f"多少{chr(0x4E00 + i)}" for i in range(200))
    assert len(Cues.of(question).counts) == 4 and len(Cues.of("多少家多少家多少家").counts) == 1


@pytest.mark.parametrize(
    ("question", "summary"),
    [("报告前言讲了什么？", True), ("仓前街道的专家点评说了什么？", True), ("What does the preface say?", True),
     ("请概括一下滨江案例的专家点评", True), ("有位学者点评时用了哪三个词来概括？", False), ("江洲村成立的公司叫什么名字？", False)],
)
def test_a_question_asking_what_a_part_says_wants_a_summary(question, summary):
    assert Cues.of(question).wants_summary is summary


def test_a_page_is_named_with_or_without_第_and_its_number_is_no_number_cue():
    for question in ("29版是什么内容？", "第29版讲了什么？", "What is on page 29?"):
        cues = Cues.of(question)
        assert cues.pages == {29} and "contents" in cues.kinds and not cues.numbers
    assert not Cues.of("2024版的报告有哪些案例？").pages
