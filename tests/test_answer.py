"""The extractive answerer and the LLM reply checks, on hand-made passages (no model needed)."""
from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from index.models import Chunk
from index.text import sentence_spans
from service.answer import ExtractiveAnswerer
from service.answerability import FEATURES as ANSWERABILITY_FEATURES
from service.fitted import LogisticModel, load_classifier
from service.quotes import FEATURES as QUOTE_FEATURES
from service.cues import is_latin
from service.llm import LLMAnswerer, cited_numbers, keep_valid_marks
from service.search import Hit
from service.api.app import make_answerer
from service.api.routers.ask import answer_question
from touyan.settings import Settings

YUHANG = (
    "余杭始终坚持向改革要效益、以创新求突破，深入实施“321”破难事、办实事长效机制。\n"
    "截至目前，50个部门、12个镇街组团破解126个难题，妥善解决人民群众的揪心事。"
)
QIANTANG = "钱塘区企业综合服务中心推出281项增值服务。服务中心设在钱塘区。"


class DenseJudge:
    """A stand-in for the fitted answerability model (these are unit tests of the answer logic):
    the best dense score is the confidence."""

    threshold = 0.75

    def confidence(self, question, hits, quotes) -> float:
        return max((h.dense or 0.0) for h in hits)


def hit(text: str, rank: int = 1, dense: float | None = 0.85, case: str = "余杭", kind: str = "body", start: int = 0) -> Hit:
    chunk = Chunk(
        id=f"{case}-{rank}",
        text=text,
        case_id=f"c-{case}",
        case_title=f"{case}：案例标题",
        project=None,
        page=29,
        section="导语",
        section_kind=kind,
        source="000.txt",
        start=start,
        end=start + len(text),
        spans=((start, start + len(text)),),
    )
    return Hit(rank=rank, chunk=chunk, score=1.0 / rank, dense=dense, sparse=None, late=None, bm25=None)


@pytest.fixture(scope="module")
def answerer() -> ExtractiveAnswerer:
    return ExtractiveAnswerer(answerability=DenseJudge())


def test_quotes_the_sentence_holding_the_question_words(answerer):
    hits = [hit(YUHANG), hit(QIANTANG, rank=2, case="钱塘")]
    answer = answerer.run("余杭“321”机制有多少部门和镇街参与，破解了多少难题？", hits)
    assert answer.found
    first = answer.citations[0]
    assert first.n == 1 and first.chunk_id == "余杭-1"
    assert "50个部门、12个镇街" in first.quote
    assert answer.text.startswith(first.quote + "[1]")


def test_every_quote_is_the_exact_span_of_its_passage(answerer):
    hits = [hit(YUHANG), hit(QIANTANG, rank=2, case="钱塘")]
    answer = answerer.run("钱塘区企业综合服务中心推出了多少项增值服务？", hits)
    texts = {h.chunk.id: h.chunk.text for h in hits}
    assert answer.citations
    for c in answer.citations:
        assert texts[c.chunk_id][c.start : c.end] == c.quote
        assert c.quote and not c.quote[0].isspace() and not c.quote[-1].isspace()
        assert f"{c.quote}[{c.n}]" in answer.text
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))


def test_answers_are_short(answerer):
    long_text = "。".join(f"余杭第{i}项改革破解了难题" for i in range(30)) + "。"
    answer = answerer.run("余杭破解了哪些难题？", [hit(long_text), hit(long_text, rank=2, case="钱塘")])
    assert 1 <= len(answer.citations) <= 3


def test_which_cases_question_quotes_several_cases(answerer):
    hits = [
        hit("紫金港科技城朝着新质生产力加速奔跑。", rank=1, case="紫金港"),
        hit("仓前街道探索如何加快形成同新质生产力更相适应的生产关系。", rank=2, case="仓前"),
    ]
    answer = answerer.run("哪些案例讨论了发展新质生产力？", hits)
    assert {c.case_id for c in answer.citations} == {"c-紫金港", "c-仓前"}


def test_sentence_similarity_picks_the_quote_when_no_words_are_shared():
    """A stand-in similarity (a unit test of the selection logic; tests/test_api.py runs the real one)."""

    def similarity(question, sentences):
        return [0.9 if "126个难题" in c.text[a:b] else 0.1 for c, a, b in sentences]

    plain = ExtractiveAnswerer().run("How many problems were solved?", [hit(YUHANG)])
    assert "321" in plain.citations[0].quote
    guided = ExtractiveAnswerer(similarity=similarity).run("How many problems were solved?", [hit(YUHANG)])
    assert "126个难题" in guided.citations[0].quote


def test_low_support_is_not_found(answerer):
    answer = answerer.run("怎么做红烧肉？", [hit(YUHANG, dense=0.70)])
    assert not answer.found
    assert answer.citations == []
    assert answer.text.startswith("报告中没有找到")
    assert "余杭：案例标题" in answer.text  # points at the closest passage


def test_no_hits_is_not_found(answerer):
    answer = answerer.run("余杭的“321”机制是什么？", [])
    assert not answer.found and answer.text.startswith("报告中没有找到")


def test_without_an_answerability_model_any_passage_will_do():
    assert ExtractiveAnswerer().run("怎么做红烧肉？", [hit(YUHANG, dense=0.1)]).found
    assert not ExtractiveAnswerer().run("怎么做红烧肉？", []).found


def test_the_confidence_is_the_models_and_decides_at_its_threshold(answerer):
    assert answerer.run("余杭的321机制是什么？", [hit(YUHANG, dense=0.8)]).confidence == 0.8
    assert not answerer.run("余杭的321机制是什么？", [hit(YUHANG, dense=0.7)]).found


def test_settings_without_an_index_choose_the_support_signal_only():
    default = ExtractiveAnswerer.for_settings(Settings())
    assert default.signal == "sparse" and default.answerability is None
    assert ExtractiveAnswerer.for_settings(Settings(sparse="none", embedder="e5")).signal == "dense"


@pytest.mark.parametrize(("name", "features"), [("answerability", ANSWERABILITY_FEATURES), ("quotes", QUOTE_FEATURES)])
def test_the_committed_models_weigh_the_features_the_code_computes(name, features):
    model = load_classifier(name)
    assert model.features == tuple(features)
    assert model.meta["fitted_by"].startswith("python -m eval.fit_")
    assert "qa_heldout.jsonl" not in str(model.meta["training"]) and "blind.jsonl" not in str(model.meta["training"])
    zeros, ones = dict.fromkeys(features, 0.0), dict.fromkeys(features, 1.0)
    assert 0 <= model.probability(zeros) <= 1 and 0 <= model.probability(ones) <= 1
    if isinstance(model, LogisticModel):
        middle = dict(zip(model.features, model.mean))
        assert model.probability(middle) == pytest.approx(1 / (1 + 2.718281828 ** -model.intercept), rel=1e-6)


def test_sentence_spans_trim_paragraph_breaks():
    text = "第一句。\n第二句！  第三句没有句号"
    assert [text[a:b] for a, b in sentence_spans(text)] == ["第一句。", "第二句！", "第三句没有句号"]
    text = "浙江省社科院研究员 唐晓燕\n余杭的探索发挥了示范引领作用。"
    assert [text[a:b] for a, b in sentence_spans(text)] == ["浙江省社科院研究员 唐晓燕", "余杭的探索发挥了示范引领作用。"]


def test_llm_marks_are_checked_against_the_passages():
    assert cited_numbers("A[2]。B[1, 3]【2】") == [2, 1, 3]
    assert keep_valid_marks("A[1][7]。B[2,9]", count=2) == "A[1]。B[2]"


def test_llm_reply_becomes_citations_with_quotes(answerer):
    llm = LLMAnswerer("http://127.0.0.1:9/v1", "m", answerer)
    hits = [hit(YUHANG), hit(QIANTANG, rank=2, case="钱塘")]
    answer = llm.parse("50个部门和12个镇街参与，破解126个难题[1]。钱塘推出281项增值服务[2][5]。", "问题", hits)
    assert answer.found and answer.mode == "llm"
    assert "[5]" not in answer.text
    assert [c.n for c in answer.citations] == [1, 2]
    assert "126个难题" in answer.citations[0].quote
    assert "281项" in answer.citations[1].quote
    for c, h in zip(answer.citations, hits):
        assert h.chunk.text[c.start : c.end] == c.quote


def test_llm_reply_without_citations_falls_back(answerer):
    llm = LLMAnswerer("http://127.0.0.1:9/v1", "m", answerer)
    answer = llm.parse("余杭很好。", "余杭“321”机制破解了多少难题？", [hit(YUHANG)])
    assert answer.mode == "extractive" and answer.note and "没有引用" in answer.note
    assert answer.citations


def test_llm_not_found_reply(answerer):
    llm = LLMAnswerer("http://127.0.0.1:9/v1", "m", answerer)
    answer = llm.parse("报告中没有找到相关内容。", "西湖大学的科研经费有多少？", [hit(YUHANG)])
    assert not answer.found and answer.citations == []


def test_unreachable_llm_falls_back_to_the_extractive_answer(answerer):
    llm = LLMAnswerer("http://127.0.0.1:9/v1", "m", answerer, timeout=2)
    answer = llm.run("余杭“321”机制破解了多少难题？", [hit(YUHANG)])
    assert answer.found and answer.mode == "extractive"
    assert answer.note and "大模型调用失败" in answer.note


def test_llm_request_carries_numbered_passages(answerer, monkeypatch):
    sent = {}

    def fake_post(url, **kwargs):
        sent.update(url=url, **kwargs)
        return httpx.Response(200, json={"choices": [{"message": {"content": "破解126个难题[1]。"}}]}, request=httpx.Request("POST", url))

    monkeypatch.setattr(httpx, "post", fake_post)
    llm = LLMAnswerer("http://llm.example/v1/", "qwen", answerer, api_key="k")
    answer = llm.run("余杭破解了多少难题？", [hit(YUHANG)])
    assert sent["url"] == "http://llm.example/v1/chat/completions"
    assert sent["headers"] == {"Authorization": "Bearer k"}
    assert sent["json"]["model"] == "qwen"
    assert "[1]《余杭：案例标题》第29版" in sent["json"]["messages"][1]["content"]
    assert answer.found and answer.mode == "llm" and answer.citations[0].n == 1


def test_passage_of_fragments_is_quoted_whole(answerer):
    answer = answerer.run("余杭呢？", [hit("余杭。好。")])
    assert answer.found and answer.citations[0].quote == "余杭。好。"


CONTENTS = "28版 杭州钱塘(新)区:钱塘江畔弄新潮\n29版 余杭:为民办事有“一套” 美美与共绘新景"


@pytest.mark.parametrize(
    ("question", "quote"),
    [
        ("报告的目录里有哪些案例？", CONTENTS),
        ("第29版刊登了哪些案例？", "29版 余杭:为民办事有“一套” 美美与共绘新景"),
        ("Which article appears on page 28?", "28版 杭州钱塘(新)区:钱塘江畔弄新潮"),
    ],
)
def test_a_question_about_the_contents_or_a_page_quotes_the_list_or_that_pages_line(answerer, question, quote):
    hits = [hit(YUHANG, dense=0.5), hit(CONTENTS, rank=2, dense=0.5, case="再出发", kind="contents")]
    answer = answerer.run(question, hits)  # a list matches no question: the support threshold is not what decides
    assert answer.found and answer.citations[0].quote == quote


@pytest.mark.parametrize(
    ("question", "line"),
    [("桐庐县城城镇化的文章在报告第几版？", "34版 桐庐"), ("Which page is the Chun'an Qiandao Lake article on?", "30版 淳安")],
)
def test_a_question_asking_which_page_quotes_the_contents_line_about_it(searcher, settings, question, line):
    """The report holds only the contents line of these cases' pages, and that line answers."""

    _, answer = answer_question(searcher, make_answerer(settings, searcher), question, settings.top_k)
    assert answer.found and [c.quote[: len(line)] for c in answer.citations] == [line]


def test_a_page_question_quotes_its_line_then_a_sentence_of_that_page(answerer):
    hits = [hit(CONTENTS, dense=0.5, case="再出发", kind="contents"), hit(YUHANG, rank=2, dense=0.5)]  # YUHANG is on page 29
    answer = answerer.run("第29版讲了什么？", hits)
    assert [c.quote for c in answer.citations][0] == "29版 余杭:为民办事有“一套” 美美与共绘新景"
    assert len(answer.citations) == 2 and answer.citations[1].chunk_id == "余杭-2"


def test_the_commentary_of_a_case_that_has_none_is_not_found(answerer):
    """Only the case's own passages were retrieved for a question about its commentary."""
    answer = answerer.run("专家是怎么点评余杭这个案例的？", [hit(YUHANG, dense=0.8), hit(YUHANG, rank=2, dense=0.7)])
    assert not answer.found and answer.confidence == 0.0


def test_a_page_the_contents_do_not_list_is_not_answered_from_them(answerer):
    hits = [hit(YUHANG, dense=0.5), hit(CONTENTS, rank=2, dense=0.5, case="再出发", kind="contents")]
    assert not answerer.run("第40版讲了什么？", hits).found


@pytest.mark.parametrize(
    ("question", "says"),
    [("第28版《杭州钱塘(新)区:钱塘江畔弄新潮》讲了钱塘哪些产业？", "报告目录列有这一版（28版 杭州钱塘(新)区:钱塘江畔弄新潮）"),
     ("What industries does the page 28 article describe?", "The report's contents list this page (28版 杭州钱塘(新)区:钱塘江畔弄新潮)")],
)
def test_a_listed_pages_article_the_report_does_not_hold_is_not_answered_from_its_line(answerer, question, says):
    """Only page 29's article is retrieved (held): the list names page 28's but cannot say what it holds."""
    hits = [hit(YUHANG, dense=0.5), hit(CONTENTS, rank=2, dense=0.5, case="再出发", kind="contents")]
    answer = answerer.run(question, hits)
    assert not answer.found and answer.confidence == 0.0 and answer.text.startswith(says)


def test_other_questions_never_quote_the_contents_list(answerer):
    """Its lines name every case, so they share words with any question about one."""
    hits = [hit(CONTENTS, kind="contents", case="再出发"), hit(YUHANG, rank=2)]
    answer = answerer.run("余杭为民办事有哪些做法？", hits)
    assert answer.found and all(c.chunk_id == "余杭-2" for c in answer.citations)


def test_a_short_best_sentence_is_quoted_with_its_neighbours(answerer):
    """Alone, “某负责人说。” or a story's setting rarely answers; the sentences around it do."""
    text = "太炎花园建成于2007年。今年1月有居民反映露台漏水。在随后的5个月间三方协商完成了维修。"
    answer = answerer.run("太炎花园露台漏水是什么时候反映的？", [hit(text)])
    assert [c.quote for c in answer.citations] == [text]


def test_a_short_best_sentence_is_not_widened_across_a_paragraph_break(answerer):
    text = "数字赋能城市治理的探索还在继续。\n今年1月有居民反映露台漏水。在随后的5个月间三方协商完成了维修。"
    answer = answerer.run("露台漏水是什么时候反映的？", [hit(text)])
    assert [c.quote for c in answer.citations] == ["今年1月有居民反映露台漏水。在随后的5个月间三方协商完成了维修。"]


def test_a_long_best_sentence_is_quoted_alone(answerer):
    long = "截至目前，余杭区已有50个部门、12个镇街按照“部门点题、基层答题”的方式组团攻坚，一共破解了126个难题，妥善解决人民群众的揪心事。"
    answer = answerer.run("余杭“321”机制有多少部门和镇街参与？", [hit("余杭深入实施“321”机制。" + long + "下一步还将继续推进。")])
    assert answer.citations[0].quote == long  # not widened; a sentence adding words may follow


@pytest.mark.parametrize("question", ["仓前街道的专家点评是谁写的？", "写仓前街道点评的专家在哪个单位工作？", "Which institute does the expert commenting on Cangqian work at?"])
def test_who_wrote_the_commentary_is_answered_by_its_byline(answerer, question):
    """The case's own sentences share the place the question names; the byline does not, yet it
    is the answer, to who wrote it and to where its writer works."""
    commentary = "浙江省社科院政治学研究所副所长 唐玉\n仓前街道的探索为城市核心区发展新质生产力提供了样本。"
    hits = [hit("仓前街道从三个维度着力破解体制机制障碍。", case="仓前"), hit(commentary, rank=2, case="仓前", kind="commentary")]
    answer = answerer.run(question, hits)
    assert [c.quote for c in answer.citations] == ["浙江省社科院政治学研究所副所长 唐玉"]


def test_a_question_naming_the_commentary_quotes_the_commentary(answerer):
    """The case's introduction shares the place the question names; the commentary is what was asked about."""
    commentary = "浙江省社科院政治学研究所副所长 唐玉\n仓前的探索为城市核心区发展新质生产力提供了样本。"
    hits = [hit("仓前街道从三个维度着力破解体制机制障碍。", case="仓前"), hit(commentary, rank=2, case="仓前", kind="commentary")]
    answer = answerer.run("仓前街道的专家点评怎么看新质生产力？", hits)
    assert {c.section_kind for c in answer.citations} == {"commentary"}


def test_what_the_preface_says_is_answered_by_its_opening_below_the_threshold(answerer):
    opening = "今年7月，党的二十届三中全会召开。杭州把今年作为“深化改革、强基固本”主题年。"
    later = "杭州发展民营经济的实践经验，成为了浙江乃至全国的“金名片”。"
    hits = [hit(later, case="前言", kind="preface", dense=0.5, start=500), hit(opening, rank=2, case="前言", kind="preface", dense=0.5)]
    answer = answerer.run("报告前言讲了什么？", hits)
    assert answer.found and [c.quote for c in answer.citations] == [opening]
    assert not answerer.run("报告前言里提到的高铁有多长？", hits).found  # a fact question still needs support


def test_a_question_naming_a_place_is_not_answered_from_another_places_passage():
    """余杭's count shares every word but the place with a question about 钱塘: stating it would be wrong."""
    named = ExtractiveAnswerer(answerability=DenseJudge(), cases_named=lambda q: frozenset({"c-钱塘"}) if "钱塘" in q else None)
    yuhang = [hit(YUHANG)]
    assert not named.run("钱塘有多少个部门参与破解难题？", yuhang).found
    answer = named.run("钱塘有多少个部门参与破解难题？", yuhang + [hit(QIANTANG, rank=2, case="钱塘")])
    assert answer.found and {c.case_id for c in answer.citations} == {"c-钱塘"}
    assert named.run("余杭有多少个部门参与破解难题？", yuhang).found  # names no place the stub knows


def test_a_keyword_a_passage_holds_is_answered_below_the_threshold(answerer):
    """A name typed alone (梦创) is close to no passage by cosine, yet the report plainly has it."""
    text = "梦创社区负责人张懿说，梦创社区为企业人才提供全生命周期服务。"
    assert answerer.run("梦创", [hit(text, dense=0.5)]).found
    assert not answerer.run("量子", [hit(text, dense=0.5)]).found


def test_a_lead_in_is_quoted_up_to_the_answer_after_it(searcher):
    """A sentence naming what was asked but holding no answer of its type (…有三大启示值得关注。) is
    followed to the sentences that hold one."""
    from service.answer import _Sentence

    answerer = ExtractiveAnswerer(analyzer=searcher.analyzer)
    text = "从滨江改革经验看，科创活动有三大启示值得关注。一是科技创新体制机制、要素配置机制、创新生态。二是别的。"
    lead = _Sentence(hit(text), 0, text.index("。") + 1, 1.0, frozenset())
    continued = answerer._continued(lead, "滨江的科创活动有哪三大启示？")
    assert continued.text == text[: text.index("二是")]
    plain = _Sentence(hit(text), 0, lead.end, 1.0, frozenset())
    assert answerer._continued(plain, "滨江为什么要改革？") is plain  # a why question has no answer shape to look for


def test_who_wrote_two_cases_commentaries_is_answered_by_both_bylines():
    from service.answer import byline_quote

    hits = [
        hit("浙江省社科院研究员 唐晓燕\n基层工作无小事。", rank=1, case="余杭", kind="commentary"),
        hit("浙江工商大学党委书记 郁建兴教授\n营商环境是软实力。", rank=2, case="钱塘", kind="commentary"),
    ]
    question = "余杭和钱塘的专家点评分别是谁写的？"
    assert [q.text for q in byline_quote(question, hits)] == ["浙江省社科院研究员 唐晓燕"]
    both = byline_quote(question, hits, ["c-余杭", "c-钱塘"])
    assert [q.text for q in both] == ["浙江省社科院研究员 唐晓燕", "浙江工商大学党委书记 郁建兴教授"]


def test_the_quote_model_reranks_the_first_passages_only(searcher, settings):
    """The first RERANK_DEPTH passages are re-ordered by the fused score plus the fitted weight times
    their best sentence's probability; the rest keep their order, and ranks are renumbered."""
    from service.answer import RERANK_DEPTH

    answerer = ExtractiveAnswerer.for_settings(settings, searcher)
    assert answerer.quote_model.meta["rerank_weight"] >= 0
    question = "小区楼房底下那层空着的地方翻新以后，邻居们拿它当什么用？"
    hits = searcher.search(question, RERANK_DEPTH + 3)
    reranked = answerer.rerank(question, hits)
    assert [h.rank for h in reranked] == list(range(1, len(hits) + 1))
    assert {h.chunk.id for h in reranked[:RERANK_DEPTH]} == {h.chunk.id for h in hits[:RERANK_DEPTH]}
    assert [h.chunk.id for h in reranked[RERANK_DEPTH:]] == [h.chunk.id for h in hits[RERANK_DEPTH:]]
    unweighted = replace(answerer.quote_model, meta={**answerer.quote_model.meta, "rerank_weight": 0.0})
    assert ExtractiveAnswerer(analyzer=searcher.analyzer, quote_model=unweighted).rerank(question, hits) == hits


def test_a_question_asking_two_things_quotes_an_answer_to_each(searcher, settings):
    """Each part of “…是谁？…又是谁？” gets its own best sentence (and each part's own passages are
    retrieved), not just the sentences about the part with more words."""

    question = "点评紫金港的浙江省社科院研究员是谁？序言里发表看法的浙江省社会科学院院长又是谁？"
    hits, answer = answer_question(searcher, make_answerer(settings, searcher), question, settings.top_k)
    assert answer.found
    assert "周盛" in answer.text and "查志强" in answer.text
    assert len({h.chunk.id for h in hits}) == len(hits)


def test_a_parts_quote_in_context_takes_in_a_quote_already_chosen(searcher, settings):
    """A part's best sentence quoted with its neighbours can hold a sentence the answer already
    quotes: the two become one quote, not the same sentence cited twice."""

    question = "为了让投资项目“件件有着落”，杭州汇聚了多少条数据？钱塘的“工匠有约”平台又帮多少名技术人才找到了工作？"
    _, answer = answer_question(searcher, make_answerer(settings, searcher), question, settings.top_k)
    spans = [(c.chunk_id, c.start, c.end) for c in answer.citations]
    assert all(not (a[0] == b[0] and a[1] < b[2] and b[1] < a[2]) for i, a in enumerate(spans) for b in spans[i + 1 :])
    # The first part names no place: the second's (钱塘) does not keep the preface's passage out.
    assert "40万条数据" in answer.text and "3000多名" in answer.text


def test_the_answer_threshold_setting_replaces_the_fitted_one(searcher, settings):
    """An operator trades answering against refusing: at 1.0 only the report's structure answers."""
    fitted = ExtractiveAnswerer.for_settings(settings, searcher)
    strict = ExtractiveAnswerer.for_settings(settings.with_overrides(answer_threshold=1.0), searcher)
    assert strict.answerability.threshold == 1.0 != fitted.answerability.threshold
    question = "小区楼房底下那层空着的地方翻新以后，邻居们拿它当什么用？"
    hits = searcher.search(question, settings.top_k)
    assert fitted.run(question, hits).found and not strict.run(question, hits).found


def test_the_boosted_trees_are_evaluated_as_lightgbm_evaluates_them():
    """service/fitted.py reads LightGBM's text format itself (the service does not import LightGBM):
    the committed model's probabilities equal LightGBM's, at thresholds and zeros too."""
    import lightgbm
    import numpy as np

    model = load_classifier("answerability")
    rng = np.random.default_rng(0)
    X = rng.uniform(-0.5, 1.5, (500, len(model.features)))
    X[:50], X[50:100] = 0.0, 1.0
    expected = np.mean([lightgbm.Booster(model_str=text).predict(X) for text in model.boosters], axis=0)
    got = [model.probability(dict(zip(model.features, row))) for row in X]
    assert np.allclose(got, expected, rtol=0, atol=1e-12)


def test_a_definition_question_quotes_the_defining_sentence_first(searcher, settings):
    # The issue's own example: the lead-in naming the mechanism is in the passage before the
    # one that says what the “3” is.
    _, answer = answer_question(searcher, make_answerer(settings, searcher), "余杭“321”机制里的“3”具体指什么？", settings.top_k)
    assert answer.found and answer.citations[0].quote.startswith("其中，“3”指")


def test_a_later_part_naming_the_whole_city_is_not_held_to_the_place_before_it(searcher, settings):
    question = "滨江那家研究极弱磁场的研究院是哪年哪月成立的？杭州今年开“新春第一会”部署改革主题年又是在几月？"
    _, answer = answer_question(searcher, make_answerer(settings, searcher), question, settings.top_k)
    quotes = "".join(c.quote for c in answer.citations)
    assert "2020年12月" in quotes and "今年2月" in quotes


@pytest.mark.parametrize(
    ("question", "found"),
    [("《杭州科创生态的“建圈”与“破圈”》那篇里，专家对杭州科创生态提了哪些建议？", False),
     ("“钱塘(新)区江海之城，现代化新城平地起”那篇文章里，新城规划了哪些功能区？", False),
     ("《钱塘江畔弄新潮》这篇讲钱塘有多少个行政村？", True)],
)
def test_a_quoted_title_whose_article_the_report_lacks_is_not_found(searcher, settings, question, found):
    """The contents list names these pages' articles; the report holds the article of the last only."""
    _, answer = answer_question(searcher, make_answerer(settings, searcher), question, settings.top_k)
    assert answer.found is found
    if not found:
        assert answer.text.startswith("报告目录列有这一版") and answer.confidence == 0.0
