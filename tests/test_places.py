"""Which places a question names, and which cases are about them (pure logic, hand-made cases)."""
from __future__ import annotations

from index.models import Case, Chunk
from service.places import Places, name_forms


def case(cid: str, title: str) -> Case:
    return Case(id=cid, title=title, kind="case", source="000.txt")


def chunk(cid: str, text: str, kind: str = "body") -> Chunk:
    return Chunk(id=f"{cid}-{len(text)}", text=text, case_id=cid, case_title="", project=None, page=None, section="导语",
                 section_kind=kind, source="000.txt", start=0, end=len(text), spans=((0, len(text)),))


CASES = [case("yh", "余杭：为民办事有“一套”"), case("qt", "杭州钱塘(新)区：钱塘江畔弄新潮"), case("bj", "杭州高新区(滨江):奋进世界领先科技园区"),
         case("pre", "杭州“深化改革、强基固本”再出发")]
CHUNKS = [
    chunk("yh", "杭州余杭区50个部门组团破解126个难题。"),
    chunk("qt", "杭州钱塘区推出281项增值服务。"),
    chunk("bj", "杭州高新区(滨江)每年引进人才超4万人。"),
    chunk("pre", "杭州的改革，从余杭到钱塘。"),
    chunk("pre", "- 14版 杭州:循链而上 链动全球\n- 27版 临安:数字化改革赋能农房管理\n- 29版 余杭:为民办事有“一套” 紫港科技城:站在改革潮头", kind="contents"),
]


def test_a_place_is_known_by_the_forms_questions_shorten_it_to():
    places = ["杭州", "杭州钱塘(新)区", "杭州高新区(滨江)", "杭州市场监管"]
    assert {"钱塘", "钱塘区", "杭州钱塘(新)区"} <= name_forms("杭州钱塘(新)区", places)
    assert {"滨江", "高新区", "杭州高新区"} <= name_forms("杭州高新区(滨江)", places)
    assert "场监管" not in name_forms("杭州市场监管", places)


def test_a_case_is_about_the_places_its_title_or_text_names_and_the_contents_name_none():
    places = Places(CASES, CHUNKS)
    assert places.cases_about(places.named("钱塘有多少个部门参与破解难题？")) == {"qt", "pre"}
    assert places.cases_about(places.named("滨江每年引进多少人才？")) == {"bj"}
    assert places.named("临安的专家点评是谁写的？") == ["临安"] and places.cases_about(["临安"]) == frozenset()


def test_a_place_most_cases_name_tells_none_apart():
    places = Places(CASES, CHUNKS)
    assert places.named("杭州有多少个部门？") == [] and places.named("江心小岛上那个村子") == []
