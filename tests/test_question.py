"""Question analysis over the real index (service/question.py): answer types, entities the report
lacks, coverage, focus words, the cases a question compares."""
from __future__ import annotations

import pytest

from service.question import answer_type, holds_type, parts


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("梦创社区服务多少家企业？", "count"),
        ("江洲村的强村公司叫什么名字？", "name"),
        ("谁写了钱塘的专家点评？", "person"),
        ("余杭是哪一年在永安村试点“田长制”的？", "date"),
        ("永安村有多大比例的土地属于永久农田？", "amount"),
        ("余杭“321”机制里的“3”具体指什么？", "definition"),
        ("哪些案例提到了“工业上楼”？", "list"),
        ("潘毅刚认为有哪三大启示？", "list"),
        ("高新区(滨江)培育的8家上市企业分别是哪几家？", "list"),
        ("滨江有十几家独角兽企业吗？", "yesno"),
        ("滨江为什么要建嵌入式幼儿园？", "why"),
        ("仓前街道如何破解社区治理难题？", "how"),
        ("Who wrote the commentary on Qiantang?", "person"),
        ("How many companies does Mengchuang serve?", "count"),
    ],
)
def test_the_expected_answer_type(question, kind):
    assert answer_type(question) == kind


def test_entities_the_report_never_names_are_unknown(searcher):
    a = searcher.analyzer.run("深圳前海的深港合作改革有哪些新举措？")
    assert "深圳" in a.unknown
    known = searcher.analyzer.run("梦创社区负责人张懿说了什么？")
    assert known.unknown == () and {"梦创社区", "张懿"} <= {e.text for e in known.entities}


def test_coverage_weighs_what_the_report_holds(searcher):
    off = searcher.analyzer.run("红烧肉怎么做才能肥而不腻？")
    on = searcher.analyzer.run("梦创社区服务多少家企业？")
    assert off.coverage < 0.5 < on.coverage
    assert on.measure == "家" and on.language == "zh"


def test_focus_is_what_is_asked_beside_the_subject(searcher):
    a = searcher.analyzer.run("梦创社区负责人张懿今年多大年纪？")
    focus = [t.text for t in a.focus]
    assert "年纪" in focus and "梦创社区" not in focus and "张懿" not in focus


def test_years_and_english_names(searcher):
    assert searcher.analyzer.run("钱塘区2022年的GDP是多少？").years == (2022,)
    english = searcher.analyzer.run("Who is the Party secretary of Liangzhu Culture Village in Yuhang?")
    assert english.language == "en" and any(t.text == "余杭" for t in english.terms)


def test_a_question_about_two_cases_names_both(searcher):
    cases = searcher.analyzer.cases_compared("紫金港科技城和钱塘分别是哪项改革的省级试点？")
    titles = {c.id: c.title for c in searcher.cases}
    assert len(cases) == 2 and {titles[c][:2] for c in cases} == {"紫金", "杭州"}
    assert searcher.analyzer.cases_compared("梦创社区服务多少家企业？") == []


def test_answer_shapes(searcher):
    count = searcher.analyzer.run("梦创社区服务多少家企业？")
    assert holds_type(count, "服务62个园区、95幢楼宇、6000余家企业") is True
    assert holds_type(count, "提供一站式行政审批服务") is False
    assert holds_type(searcher.analyzer.run("滨江为什么要建嵌入式幼儿园？"), "任何文字") is None


def test_what_the_question_itself_states_is_not_an_answer(searcher):
    # The count a question names as its given (54家…中) is no answer to “how many of them”.
    part = searcher.analyzer.run("富阳累计培育的54家强村公司中，做工程服务的有几家？")
    assert holds_type(part, "累计培育强村公司54家、职业经理人试点10个") is False
    assert holds_type(part, "其中工程服务类强村公司12家") is True
    day = searcher.analyzer.run("半年度总结推进会是7月几号开的？")
    assert holds_type(day, "7月,杭州市委召开半年度总结推进会") is False
    assert holds_type(day, "7月5日,杭州市委召开半年度总结推进会") is True


def test_a_date_is_checked_in_the_unit_asked(searcher):
    year = searcher.analyzer.run("富春田翁“共富工坊”是哪一年成立的？")
    assert year.date_unit == "year"
    assert holds_type(year, "去年,富春田翁“共富工坊”获评典型案例") is True
    assert holds_type(year, "今年上半年销售额达1000万元") is True
    assert holds_type(year, "上半年销售额达1000万元,服务2000余家企业") is False
    month = searcher.analyzer.run("架空层改造是哪年哪月完工的？")
    assert month.date_unit == "month"
    assert holds_type(month, "2023年7月完工") is True
    assert holds_type(month, "今年完工") is False
    assert searcher.analyzer.run("江洲村是在什么时候成立公司的？").date_unit is None


@pytest.mark.parametrize(
    ("question", "asks_part"),
    [
        ("富阳累计培育的54家强村公司中，做工程服务的有几家？", True),
        ("梦创社区帮企业解决了三百多个问题，其中有多少是帮员工找房子的？", True),
        ("“富春红链”的8大优势特色乡村产业，除了茶叶、林下、农旅，另外五个是什么？", True),
        ("How many of the 84 members of Qiantang's industry-education consortium are universities?", True),
        ("Besides corn and rice, what are the other three products it sells?", True),
        # A whole named but no part of it asked; 村里 and 中心 are not “among”.
        ("东洲街道打造的8家“共富工坊”中，除富春田翁外，报道还点名了哪一家？", False),
        ("江洲村引进的那个露营地，一年能给村里的集体账上多添多少钱？", False),
        ("余杭那些给党员和老百姓办事的中心，把各路单位请进来以后，一共能提供多少项打包好的服务？", False),
        ("How many companies does Mengchuang serve?", False),
    ],
)
def test_a_question_asking_for_a_part_of_a_whole_it_states(searcher, question, asks_part):
    assert searcher.analyzer.run(question).asks_part is asks_part


def test_what_a_question_about_two_cases_asks_of_each(searcher):
    question = "紫金港科技城和钱塘分别是哪项改革的省级试点？"
    asked = {searcher.analyzer.about_case(question, c) for c in searcher.analyzer.cases_compared(question)}
    assert asked == {"紫金港科技城是哪项改革的省级试点？", "钱塘是哪项改革的省级试点？"}
    one = "梦创社区服务多少家企业？"
    assert all(searcher.analyzer.about_case(one, c.id) == one for c in searcher.cases)


def test_an_english_questions_words_are_read_through_the_glossary(searcher):
    a = searcher.analyzer.run("How many hectares of farmland does Yong'an village have?")
    by_text = {t.text: t for t in a.terms}
    assert "永安" in by_text and "农田" in by_text["farmland"].forms and by_text["farmland"].in_corpus
    assert by_text["farmland"].held_in("永安村的农田") and not by_text["farmland"].held_in("永安村")
    off = searcher.analyzer.run("Is a typhoon expected to hit Hangzhou this month?")
    assert not {t.text: t for t in off.terms}["typhoon"].in_corpus


def test_an_english_questions_chinese_places_are_named_known_or_not(searcher):
    """Ningbo and Yinzhou are places the dictionary spells (宁波, 鄞州) and the report never names;
    Hangzhou it names; Vision Valley is a name of no known kind (not counted either way)."""
    a = searcher.analyzer.run("How does Ningbo's Yinzhou district train new farmers, compared with Hangzhou and China Vision Valley?")
    assert set(a.unknown) == {"ningbo", "yinzhou"}
    assert any(e.text == "hangzhou" or e.text == "Hangzhou" for e in a.entities if e.known)


def test_a_place_jieba_does_not_tag_as_one_is_still_a_place(searcher):
    """jieba tags 义乌 nz (a word of no kind); the dictionary knows it as a city, one the report never names."""
    assert searcher.analyzer.run("义乌的共富工坊是怎么带动农户增收的？").unknown == ("义乌",)


def test_an_ordinary_word_jieba_takes_for_a_name_is_not_an_unknown_one(searcher):
    # jieba's dictionary tags 东西 a place and 张罗 a person; CC-CEDICT gives both an ordinary meaning.
    assert searcher.analyzer.run("小区楼底下乱堆东西有什么坏处？").unknown == ()
    assert searcher.analyzer.run("那位经理张罗过一场什么演出活动？").unknown == ()
    assert searcher.analyzer.run("西安高新区是如何建设现代产业社区的？").unknown == ("西安高新区",)


def test_words_about_the_report_and_the_asking_are_not_content(searcher):
    assert [t.text for t in searcher.analyzer.run("哪些案例讲到了成立强村公司？").terms] == ["强村公司", "成立"]
    a = searcher.analyzer.run("江洲村的露营地一年能给村集体多添多少钱？")
    assert "多少钱" not in [t.text for t in a.terms] and a.unknown == ()
    assert "几家" not in [t.text for t in searcher.analyzer.run("滨江培育的上市企业是哪几家？").terms]
    assert "那位" not in [t.text for t in searcher.analyzer.run("点评仓前的那位专家叫什么？").terms]


def test_a_quoted_number_is_what_a_definition_question_asks_about(searcher):
    a = searcher.analyzer.run("余杭“321”机制里的“3”具体指什么？")
    assert "“3”" in [t.text for t in a.focus] and "具体" not in [t.text for t in a.terms]
    term = next(t for t in a.focus if t.text == "“3”")
    assert term.held_in("其中3指依托三跨联动调研") and not term.held_in("深入实施321机制") and not term.held_in("2023年")
    # The defining sentence holds the answer's shape; the lead-in naming the mechanism does not.
    assert holds_type(a, "其中，“3”指依托“跨层级、跨领域、跨部门”的三跨联动调研")
    assert not holds_type(a, "余杭坚持向改革要效益：深入实施“321”破难事、办实事长效机制。")


def test_a_passage_split_inside_a_paragraph_reads_its_lead_in_from_the_one_before(searcher):
    chunks = sorted(searcher.stored.chunks, key=lambda c: (c.source, c.start))
    pairs = [(a, b) for a, b in zip(chunks, chunks[1:]) if a.source == b.source and a.end == b.start]
    assert pairs, "the bundled corpus has passages split inside a paragraph"
    before, after = pairs[0]
    assert searcher.preceding(after) and before.text.rstrip().endswith(searcher.preceding(after))
    assert searcher.preceding(chunks[0]) == ""


def test_only_a_measure_word_is_what_a_count_is_in(searcher):
    assert searcher.analyzer.run("富阳的新农人中，有多少是返乡大学生？").measure is None
    assert searcher.analyzer.run("富阳有多少名新农人？").measure == "人名位"


def test_a_name_glued_to_a_role_still_finds_its_case(searcher):
    """jieba tags 职业经理人罗泽锋 as one name; no text holds it whole, each of its words one case."""
    cases = searcher.analyzer.cases_compared("富阳的两位乡村职业经理人罗泽锋和朱晓晨，分别是什么时候到岗的？")
    assert len(cases) == 2


@pytest.mark.parametrize(("question", "expected"), [
    ("富阳设了多少个试点？紫金港又有多少名科学家落地？", ["富阳设了多少个试点？", "紫金港又有多少名科学家落地？"]),
    ("钱塘有多少人？", ["钱塘有多少人？"]),
    ("是谁？又是谁？", ["是谁？又是谁？"]),  # pieces too short to stand alone
    ("余杭和钱塘分别是什么？", ["余杭和钱塘分别是什么？"]),
    ("钱塘有多少人？" * 4, ["钱塘有多少人？" * 4]),  # more than three: read whole, each part would cost a search
])
def test_the_parts_of_a_question_asking_two_things(question, expected):
    assert parts(question) == expected
