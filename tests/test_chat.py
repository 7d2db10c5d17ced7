"""Follow-up questions resolved against the conversation, and the chat reply's sources."""
from __future__ import annotations

import pytest

from service.answer import Answer, Citation
from service.chat import format_reply, resolve, standalone_question, subject

U, A = "user", "assistant"


@pytest.mark.parametrize(
    ("previous", "follow_up", "expected"),
    [
        ("余杭的“321”机制中“2”指什么？", "那钱塘呢？", "钱塘的“321”机制中“2”指什么？"),
        ("余杭是哪一年在永安村试点“田长制”的？", "钱塘呢", "钱塘是哪一年在永安村试点“田长制”的？"),
        ("钱塘区企业综合服务中心推出了多少项增值服务？", "那滨江呢？", "滨江企业综合服务中心推出了多少项增值服务？"),
        ("梦创社区服务多少家企业？", "那江洲村呢？", "江洲村服务多少家企业？"),
        ("紫金港科技城的规划面积有多少平方公里？", "那么高新区(滨江)呢", "高新区(滨江)的规划面积有多少平方公里？"),
        ("余杭案例的专家点评是谁写的？", "它的作者是哪个单位的？", "余杭案例的作者是哪个单位的？"),
        ("仓前的三方协同是什么？", "那钱塘呢？", "钱塘的三方协同是什么？"),  # jieba: 仓/nr 前/f
        # A quoted follow-up replaces the quoted term of its kind, not the subject.
        ("余杭实施的“321”机制里，“3”指什么？", "那“2”呢？", "余杭实施的“321”机制里，“2”指什么？"),
        ("钱塘的“三支队伍”是什么？", "那“四链”呢？", "钱塘的“四链”是什么？"),
        ("How many enterprises does the community in Cangqian serve?", "What about Binjiang?",
         "How many enterprises does the community in Binjiang serve?"),
        ("What does Yuhang's 321 mechanism do?", "who wrote its commentary?", "who wrote Yuhang's commentary?"),
    ],
)
def test_follow_ups_replace_the_subject(previous, follow_up, expected):
    assert resolve(follow_up, previous) == expected


@pytest.mark.parametrize(
    ("previous", "follow_up", "expected"),
    [
        ("第29版讲了什么？", "第33版呢？", "第33版讲了什么？"),
        ("钱塘区在第29版讲了什么？", "那第33版呢？", "钱塘区在第33版讲了什么？"),
        ("余杭的专家点评是谁写的？", "第33版呢？", "第33版的专家点评是谁写的？"),
        ("第29版讲了什么？", "那钱塘呢？", "钱塘讲了什么？"),
        ("What is on page 29?", "What about page 33?", "What is on page 33?"),
    ],
)
def test_a_page_replaces_the_page_else_the_subject(previous, follow_up, expected):
    assert resolve(follow_up, previous) == expected


def test_a_person_pronoun_gets_the_subject_beside_it_for_the_person_is_named_in_the_answer_not_the_question():
    """The previous question's subject is a place: 他 → 钱塘 would ask for a place's job title, 钱塘 beside 他 finds its commentary."""
    assert resolve("他是什么职务？", "谁写了钱塘的专家点评？") == "钱塘 他是什么职务？"
    assert resolve("他说接下来打算怎么做？", "每日互动的董事长是谁？") == "每日互动 他说接下来打算怎么做？"
    assert resolve("Where does he work?", "Who wrote the expert commentary on Qiantang?") == "Qiantang: Where does he work?"


@pytest.mark.parametrize(
    ("previous", "follow_up", "expected"),
    [
        ("钱塘有个专门为外来务工人员提供社区化服务的新型社区，叫什么？", "这个社区的书记是谁？", "钱塘这个社区的书记是谁？"),
        ("余杭那篇案例的专家点评是谁写的？", "写这篇点评的人在哪个单位工作？", "写余杭这篇点评的人在哪个单位工作？"),
        ("高新区(滨江)的嵌入式幼儿园是怎么回事？", "第一家是哪一年开的、叫什么？", "高新区(滨江) 第一家是哪一年开的、叫什么？"),
    ],
)
def test_a_demonstrative_or_an_ordinal_gets_the_subject(previous, follow_up, expected):
    assert resolve(follow_up, previous) == expected


def test_a_description_that_opens_with_a_demonstrative_stands_alone():
    assert resolve("那个专为园区公司和人才办事的新型社区，一共把多少项业务放到了身边？", "余杭的321机制是什么？").startswith("那个专为")
    assert resolve("哪些案例讨论了发展新质生产力？", "余杭的321机制是什么？") == "哪些案例讨论了发展新质生产力？"


def test_the_subject_carries_through_a_turn_that_names_none():
    turns = [(U, "仓前街道为什么要从传统社区中剥离出科创社区？"), (U, "成立的那个科创社区叫什么？"), (U, "它的负责人是谁？")]
    assert "仓前街道" in standalone_question(turns)


def test_a_full_question_is_kept():
    assert resolve("钱塘产教联合体联合了多少家机构？", "余杭的“321”机制是什么？") == "钱塘产教联合体联合了多少家机构？"
    assert resolve("那个专为园区公司和人才办事的新型社区，一共把多少项业务放到了身边？", "余杭的321机制是什么？").startswith("那个专为")


def test_asking_for_more_keeps_the_subject():
    assert resolve("具体呢？", "余杭的321机制是什么？") == "余杭的321机制是什么？ 具体"


def test_follow_up_without_a_subject_in_the_previous_question_adds_the_new_name():
    assert resolve("那共同富裕呢？", "哪些案例讨论了发展新质生产力？") == "共同富裕 哪些案例讨论了发展新质生产力？"


def test_subject_is_read_from_the_shape_of_the_question():
    assert subject("仓前街道全区首个实体型科创社区是哪天成立的？") == "仓前街道"
    assert subject("杭州“深化改革、强基固本”主题年包含多少项重点工作？") == "杭州"
    assert subject("哪个村的公司最多？") is None
    assert subject("第29版讲了什么？") == "第29版" and subject("What is on page 29?") == "page 29"


def test_follow_ups_chain_through_the_conversation():
    turns = [
        ("system", "你是助手"),
        (U, "余杭的专家点评是谁写的？"),
        (A, "……[1]"),
        (U, "那钱塘呢？"),
        (A, "……[1]"),
        (U, "滨江呢？"),
    ]
    assert standalone_question(turns) == "滨江的专家点评是谁写的？"


def test_only_user_turns_count():
    assert standalone_question([(A, "余杭的321机制是什么？"), (U, "那钱塘呢？")]) == "那钱塘呢？"


def test_no_user_turn_is_an_error():
    with pytest.raises(ValueError):
        standalone_question([("system", "hi"), (A, "hello"), (U, "   ")])


def test_a_blank_last_user_turn_is_an_error_not_the_previous_question():
    with pytest.raises(ValueError, match="last user message"):
        standalone_question([(U, "余杭的专家点评是谁写的？"), (A, "……[1]"), (U, "  ")])


def test_earlier_blank_user_turns_are_skipped():
    assert standalone_question([(U, "余杭的专家点评是谁写的？"), (U, " "), (A, "……[1]"), (U, "那钱塘呢？")]) == "钱塘的专家点评是谁写的？"


def test_reply_lists_its_sources_with_case_and_page():
    citation = Citation(1, "abc", "c1", "余杭：为民办事有“一套”", 29, "导语", "000.txt", "截至目前。", 0, 5)
    reply = format_reply(Answer("截至目前。[1]", found=True, citations=[citation], note="大模型调用失败（ConnectError），以下为摘录式回答。"))
    assert reply.startswith("截至目前。[1]")
    assert "大模型调用失败" in reply
    assert reply.endswith("来源：\n[1] 《余杭：为民办事有“一套”》第29版 · 导语")
    assert format_reply(Answer("报告中没有找到……", found=False)) == "报告中没有找到……"


def test_sources_name_the_preface_and_a_case_the_contents_do_not_list_apart():
    """Only the report's preface has no page by nature; a new case missing from the contents is not the preface."""
    preface = Citation(1, "a", "c0", "杭州“深化改革、强基固本”再出发", None, "导语", "003.txt", "人到半山。", 0, 5, "preface")
    unlisted = Citation(2, "b", "c9", "临安青山湖街道：新案例", None, "导语", "009.txt", "新做法。", 0, 4, "body")
    reply = format_reply(Answer("人到半山。[1]新做法。[2]", found=True, citations=[preface, unlisted]))
    assert "《杭州“深化改革、强基固本”再出发》报告前言" in reply and "《临安青山湖街道：新案例》版面未列入目录" in reply


def test_a_follow_up_naming_nothing_it_asks_about_gets_the_conversations_subject():
    resolved = resolve("为啥要把工厂往楼上搬？", "滨江今年开园的荟鼎智创中心是干什么用的？")
    assert resolved.startswith("滨江") and resolved.endswith(" 为啥要把工厂往楼上搬？")
    assert resolve("How many projects have settled there so far?", "紫金港科技城眼下在打造的省级产业园叫什么？") == "How many projects have settled in 紫金港科技城 so far?"
    assert resolve("How many people took part?", "What did Binjiang build for its companies?") == "Binjiang: How many people took part?"


def test_a_question_about_the_whole_report_is_not_tied_to_the_conversation():
    assert resolve("报告一共收录了多少个案例？", "滨江今年开园的荟鼎智创中心是干什么用的？") == "报告一共收录了多少个案例？"
    assert resolve("Is there a preface?", "What did Binjiang build for its companies?") == "Is there a preface?"
