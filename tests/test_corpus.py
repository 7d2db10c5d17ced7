"""The document model over the real report files: cases, pages, sections, clean paragraphs."""
from __future__ import annotations

import codecs
import json
import shutil
import subprocess
import sys

import pytest

from index.corpus import load_corpus
from tests.conftest import SEEDS, find_case


@pytest.mark.parametrize(
    "title, page",
    [
        ("余杭：为民办事", 29),
        ("紫金港科技城", 29),
        ("仓前街道", 33),
        ("引才改革", 33),
        ("共富工坊", 33),
        ("江洲村", 33),
        ("钱塘江畔弄新潮", 28),
        ("高新区(滨江)", 35),
        ("再出发", None),
    ],
)
def test_every_case_has_its_page(corpus, title, page):
    assert find_case(corpus, title).page == page


def test_preface_and_contents(corpus):
    preface = find_case(corpus, "再出发")
    assert preface.kind == "preface"
    assert preface.authors == ["赵路"]
    assert preface.sections[0].kind == "contents"
    assert any("29版" in p.text and "紫港科技城" in p.text for p in preface.sections[0].paragraphs)
    assert {s.kind for s in preface.sections[1:]} == {"preface"}
    assert "“四敢”精神一路走来" in [s.title for s in preface.sections]
    assert {(e.page, e.title) for e in corpus.contents} >= {(33, "富阳东洲街道:微改革大民生"), (36, "杭州科创生态的“建圈”与“破圈”")}


def test_case_fields(corpus):
    yuhang = find_case(corpus, "余杭：为民办事")
    assert yuhang.project == "“321”破难事、办实事机制改革"
    assert yuhang.authors == ["胡金", "首芸云"]
    qiantang = find_case(corpus, "钱塘江畔弄新潮")
    assert qiantang.project == "“三个升维”看改革方法论"
    assert qiantang.authors == ["黄骏钰", "刘健"]
    assert len({c.id for c in corpus.cases}) == len(corpus.cases) == 9


def test_sections_markdown_and_plain(corpus):
    yuhang = find_case(corpus, "余杭：为民办事")
    assert [(s.title, s.kind) for s in yuhang.sections] == [
        ("导语", "body"),
        ("三方协同 共商居民“心头事”", "body"),
        ("串珠成链 鼓起村民“钱袋子”", "body"),
        ("专业集成 点亮民生“幸福圈”", "body"),
        ("在共建共治共享中落实 以人民为中心改革发展理念", "commentary"),
    ]
    assert yuhang.sections[-1].byline == "浙江省社科院政治学所研究员 唐晓燕"
    qiantang = find_case(corpus, "钱塘江畔弄新潮")
    assert [s.title for s in qiantang.sections][1:] == [
        "解题升级 创新思维直面突出矛盾",
        "服务升级 系统集成提供体验增值",
        "治理升级 人民首创推动改革常新",
        "把制度优势转化为治理效能的钱塘样本",
    ]
    assert qiantang.sections[-1].kind == "commentary"
    cangqian = find_case(corpus, "仓前街道")
    assert "经济维度—— 实体运作科创社区" in [s.title for s in cangqian.sections]
    for part in ("紫金港科技城", "仓前街道", "高新区(滨江)"):
        assert find_case(corpus, part).sections[-1].kind == "commentary"


def _paragraphs(corpus):
    return [p for c in corpus.cases for s in c.sections for p in s.paragraphs]


@pytest.mark.parametrize("joined", ["推动城乡融合发展的必答题", "企业只用了60天", "本质上,这也是各大城市", "打破圈层，元素驱动", "社区服务不足等问题"])
def test_paragraphs_cut_by_layout_are_joined(corpus, joined):
    assert any(joined in p.text for p in _paragraphs(corpus))


@pytest.mark.parametrize("noise", ["采摘径山茶", "朱旭洁 摄", "图片由", "俯瞰仓前", "杭州紫金港科技城\n", "头雁先飞 杭州", "幸福村社"])
def test_captions_and_running_heads_are_gone(corpus, noise):
    assert not any(noise in p.text for p in _paragraphs(corpus))
    assert not any(p.text in {"深化改革 强基固本", "体制机制", "科技创新", "深化改革", "强基固本"} for p in _paragraphs(corpus))


def test_offsets_point_at_the_source_text(corpus, chunks):
    for c in corpus.cases:
        src = corpus.texts[c.source]
        for s in c.sections:
            for p in s.paragraphs:
                assert "".join(src[a:b] for a, b in p.spans) == p.text
    for ch in chunks:
        src = corpus.texts[ch.source]
        assert "".join(src[a:b] for a, b in ch.spans) == ch.text.replace("\n", "")
        assert (src[ch.start], src[ch.end - 1]) == (ch.text[0], ch.text[-1])


def test_ids_are_stable_across_rebuilds_and_new_files(tmp_path, corpus, chunks):
    from index.chunk import SectionChunker

    shutil.copytree(SEEDS, tmp_path / "seeds")
    (tmp_path / "seeds" / "005_new.txt").write_text(
        "头雁先飞 杭州精品改革案例智库报告\n\n改革项目：产业链招商改革\n\n杭州：循链而上 链动全球\n\n张三 李四\n\n"
        "杭州以产业链为纽带开展招商。今年新引进项目120个。\n",
        encoding="utf-8",
    )
    again = load_corpus(tmp_path / "seeds")
    new = find_case(again, "循链而上")
    assert new.page == 14 and new.project == "产业链招商改革" and new.authors == ["张三", "李四"]
    assert {c.id for c in corpus.cases} < {c.id for c in again.cases}
    assert {c.id for c in chunks} < {c.id for c in SectionChunker().run(again.cases)}


def test_bad_files_are_reported_and_skipped(tmp_path):
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder)
    (folder / "empty.txt").write_text("  \n")
    (folder / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (folder / "gbk.txt").write_bytes("改革项目：测试".encode("gbk"))
    corpus = load_corpus(folder)
    reasons = {e.source: e.reason for e in corpus.errors}
    assert reasons.keys() == {"empty.txt", "binary.txt", "gbk.txt"}
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["binary.txt"]
    assert "UTF-8" in reasons["gbk.txt"]
    assert len(corpus.cases) == 9


def test_cases_cli_json():
    out = subprocess.run([sys.executable, "-m", "touyan.cli", "--corpus", str(SEEDS), "cases", "--json"], capture_output=True, text=True, check=True)
    cases = json.loads(out.stdout)["cases"]
    assert {"id", "title", "project", "page", "authors", "sections"} <= cases[0].keys()
    assert all(c["page"] is None or isinstance(c["page"], int) for c in cases)
    assert [c["page"] for c in cases if "再出发" in c["title"]] == [None]


def test_cli_names_a_missing_corpus_folder(tmp_path):
    out = subprocess.run([sys.executable, "-m", "touyan.cli", "--corpus", str(tmp_path / "nope"), "cases"], capture_output=True, text=True)
    assert out.returncode == 2 and "corpus folder not found" in out.stderr


def _case_model(corpus, source: str) -> list[tuple]:
    """What a file parses into: cases with their ids, pages, sections and paragraphs."""
    return [
        (c.id, c.title, c.page, c.authors, [(s.title, s.kind, [(p.text, p.spans) for p in s.paragraphs]) for s in c.sections])
        for c in corpus.cases
        if c.source == source
    ]


def _small_case(place: str, headings: tuple[str, ...] = ("### 主要做法", "### 取得成效")) -> str:
    parts = [f"改革项目：{place}改革\n\n{place}:小切口撬动大改革\n\n张三 李四\n\n{place}从群众身边小事改起。"]
    parts += [f"{h}\n\n{place}的{h.lstrip('# ')}写在这里，一共三句。第二句。第三句。" for h in headings]
    return "\n\n".join(parts) + "\n"


@pytest.mark.parametrize("seed", sorted(p.name for p in SEEDS.iterdir()))
def test_a_copied_page_changes_no_other_file(tmp_path, corpus, seed):
    """A page copied with one paragraph changed: its headings and text are not running heads."""
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder)
    text = (SEEDS / seed).read_text(encoding="utf-8")
    longest = max(text.splitlines(), key=len)
    (folder / f"zz_copy_{seed}").write_text(text.replace(longest, "这一段在副本里改写了。"), encoding="utf-8")
    again = load_corpus(folder)
    for name in corpus.texts:
        assert _case_model(again, name) == _case_model(corpus, name)
    sections = lambda source: [[s.title for s in c.sections] for c in again.cases if c.source == source]  # noqa: E731
    assert sections(f"zz_copy_{seed}") == sections(seed)


def test_copied_page_keeps_its_section_headings(tmp_path):
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder)
    seed = next(SEEDS.glob("001_*.txt"))
    text = seed.read_text(encoding="utf-8")
    (folder / "zz_copy.txt").write_text(text.replace("社区是城市的基本单位", "社区是城市的细胞"), encoding="utf-8")
    again = load_corpus(folder)
    for source in (seed.name, "zz_copy.txt"):
        cangqian = next(c for c in again.cases if c.source == source and "仓前街道" in c.title)
        assert [s.title for s in cangqian.sections][1:4] == ["经济维度—— 实体运作科创社区", "民生维度—— 全域建设未来社区", "治理维度—— 三方协同破解难题"]
        paragraphs = [p.text for c in again.cases if c.source == source for s in c.sections for p in s.paragraphs]
        assert any(p.startswith("以位于东洲街道的富春田翁“共富工坊”为例") for p in paragraphs)


def test_markdown_headings_shared_by_files_are_not_running_heads(tmp_path):
    (tmp_path / "a.txt").write_text(_small_case("甲镇"), encoding="utf-8")
    (tmp_path / "b.txt").write_text(_small_case("乙村"), encoding="utf-8")
    corpus = load_corpus(tmp_path)
    assert [[s.title for s in c.sections] for c in corpus.cases] == [["导语", "主要做法", "取得成效"]] * 2


def test_running_heads_of_the_seeds_are_page_furniture(corpus):
    from index.parse import running_heads

    heads = running_heads(list(corpus.texts.values()))
    assert {"头雁先飞杭州精品改革案例智库报告", "深化改革强基固本", "深化改革", "强基固本", "体制机制", "专家点评"} <= heads
    for name, text in corpus.texts.items():
        assert running_heads([text, text]) <= heads, name  # a page twice is the same cases twice


def test_same_title_in_two_files_gets_two_ids(tmp_path, corpus, chunks):
    from index.chunk import SectionChunker
    from index.parse import case_id

    case = _small_case("甲镇")
    (tmp_path / "a.txt").write_text(case, encoding="utf-8")
    (tmp_path / "b.txt").write_text(case + "\n" + case, encoding="utf-8")
    small = load_corpus(tmp_path)
    assert [c.source for c in small.cases] == ["a.txt", "b.txt", "b.txt"]
    assert small.cases[0].id == case_id("甲镇:小切口撬动大改革")
    assert len({c.id for c in small.cases}) == 3
    ids = [ch.id for ch in SectionChunker().run(small.cases)]
    assert len(ids) == len(set(ids))

    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder)
    shutil.copy(next(SEEDS.glob("000_*.txt")), folder / "000_reprint.txt")
    again = load_corpus(folder)
    assert {c.id for c in again.cases if c.source in corpus.texts} == {c.id for c in corpus.cases}
    assert len({c.id for c in again.cases}) == len(again.cases) == 11
    ids = [ch.id for ch in SectionChunker().run(again.cases)]
    assert len(ids) == len(set(ids)) and set(ids) > {ch.id for ch in chunks}


def test_a_case_missing_from_the_contents_gets_no_page(tmp_path):
    from index.corpus import assign_pages
    from index.models import Case, ContentsEntry

    contents = [ContentsEntry(27, "临安:数字化改革赋能农房管理良性循环"), ContentsEntry(22, "上城:“最美红巷”引领基层治理新标杆")]
    cases = [Case("a", "测试区1:数字化改革赋能基层治理", "case", "a.txt"), Case("b", "临安区：数字化改革赋能农房管理", "case", "b.txt")]
    assign_pages(cases, contents)
    assert [c.page for c in cases] == [None, 27]

    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder)
    (folder / "005_test.txt").write_text(
        "改革项目：基层治理数字化改革\n\n测试区1:数字化改革赋能基层治理\n\n张三 李四\n\n测试区以数字化改革赋能基层治理。\n", encoding="utf-8"
    )
    assert find_case(load_corpus(folder), "测试区1").page is None


def test_cli_says_a_corpus_file_is_not_a_folder(tmp_path):
    path = tmp_path / "report.txt"
    path.write_text(_small_case("甲镇"), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "touyan.cli", "--corpus", str(path), "cases"], capture_output=True, text=True)
    assert out.returncode == 2 and "not a folder" in out.stderr and "not found" not in out.stderr


def test_suffixes_are_read_in_any_case_and_utf16_with_a_bom(tmp_path):
    (tmp_path / "a.TXT").write_text(_small_case("甲镇"), encoding="utf-8")
    (tmp_path / "b.Md").write_text(_small_case("乙村"), encoding="utf-16")
    (tmp_path / "c.txt").write_bytes(codecs.BOM_UTF16_BE + _small_case("丙街道").encode("utf-16-be"))
    (tmp_path / "d.txt").write_bytes(codecs.BOM_UTF16_LE + b"\x00\xd8")  # a lone surrogate
    (tmp_path / "e.txt").write_bytes(codecs.BOM_UTF16_LE + b"\x00\x00\x01\x00")  # NUL characters
    corpus = load_corpus(tmp_path)
    assert [(c.source, c.title) for c in corpus.cases] == [
        ("a.TXT", "甲镇:小切口撬动大改革"),
        ("b.Md", "乙村:小切口撬动大改革"),
        ("c.txt", "丙街道:小切口撬动大改革"),
    ]
    for c in corpus.cases:
        src = corpus.texts[c.source]
        assert all("".join(src[a:b] for a, b in p.spans) == p.text for s in c.sections for p in s.paragraphs)
    reasons = {e.source: e.reason for e in corpus.errors}
    assert reasons.keys() == {"d.txt", "e.txt"}
    assert "UTF-16" in reasons["d.txt"] and "binary" in reasons["e.txt"]


def test_commentary_whose_expert_line_follows_the_mark_at_once(tmp_path):
    """专家点评 / the expert's line / text: no headline between them."""
    (tmp_path / "009.txt").write_text(
        "改革项目：测试改革\n\n临安青山湖街道：新案例\n\n王五 赵六\n\n青山湖街道推出新做法。\n\n"
        "专家点评\n\n浙江工业大学教授 陈立\n\n这一做法体现了以人民为中心的发展思想。\n",
        encoding="utf-8",
    )
    (case,) = load_corpus(tmp_path).cases
    commentary = case.sections[-1]
    assert (commentary.title, commentary.kind, commentary.byline) == ("专家点评", "commentary", "浙江工业大学教授 陈立")
    assert [p.text for p in commentary.paragraphs] == ["浙江工业大学教授 陈立", "这一做法体现了以人民为中心的发展思想。"]
