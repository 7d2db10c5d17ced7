"""The eval: its question sets fit the corpus, its scores are right, `touyan eval` runs end to end."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from eval.gold import CATEGORIES, KINDS, Scores, load_conversations, load_questions
from index.text import fold
from tests.conftest import ROOT, SEEDS

CONVERSATIONS = sorted((ROOT / "eval").glob("chat*_*.jsonl"))
SETS = sorted(set((ROOT / "eval").glob("*.jsonl")) - set(CONVERSATIONS))


@pytest.mark.parametrize("path", SETS, ids=lambda p: p.name)
def test_every_evidence_string_is_in_a_passage_of_its_case(path, corpus, chunks):
    questions = load_questions(path)
    assert len(questions) >= 50 and len({q.id for q in questions}) == len(questions)
    assert {q.category for q in questions} <= set(CATEGORIES)  # a batch may be written for some categories only
    check_gold(questions, corpus, chunks)


def test_the_sets_together_have_every_category():
    assert {q.category for path in SETS for q in load_questions(path)} == set(CATEGORIES)


@pytest.mark.parametrize("path", CONVERSATIONS, ids=lambda p: p.name)
def test_every_conversation_ends_in_a_question_its_case_answers(path, corpus, chunks):
    conversations = load_conversations(path)
    assert len(conversations) >= 15 and len({c.id for c in conversations}) == len(conversations)
    assert all(len(c.turns) >= 2 for c in conversations)
    check_gold([c.last for c in conversations], corpus, chunks)


def test_every_new_question_names_its_key_facts_and_kinds():
    """Issue 14's sets: each answerable question says which facts its answer must quote, each unanswerable one its kind."""
    for path in sorted((ROOT / "eval").glob("qa*_*.jsonl")):
        for q in load_questions(path):
            assert (q.kind in KINDS) if q.category == "unanswerable" else bool(q.key), q.id


def check_gold(questions, corpus, chunks) -> None:
    for q in questions:
        if q.category == "unanswerable":
            continue
        for key in q.cases:
            assert sum(fold(key) in fold(c.title) for c in corpus.cases) == 1, (q.id, key)
        gold = q.gold_cases(corpus.cases)
        headings = [s.title for c in corpus.cases if c.id in gold for s in c.sections]
        for evidence in q.evidence:  # a heading is no passage's text, but it does name what its section says
            in_passage = any(c.case_id in gold and "".join(evidence.split()) in "".join(c.text.split()) for c in chunks)
            assert in_passage or evidence in headings, (q.id, evidence)
        assert q.answering(corpus.cases, chunks), q.id


def test_scores_count_the_first_answering_rank():
    scores = Scores()
    scores.add(["a", "b", "c"], {"b"})
    scores.add(["a", "b", "c", "d", "e"], {"z"})
    scores.add(["x", "a"], {"x", "y"})
    summary = scores.summary()
    assert summary["n"] == 3
    assert (summary["hit@1"], summary["hit@3"], summary["hit@5"]) == (0.333, 0.667, 0.667)
    assert summary["mrr"] == 0.5
    ndcg = [1 / math.log2(3), 0, 1 / (1 + 1 / math.log2(3))]
    assert summary["ndcg@5"] == round(sum(ndcg) / 3, 3)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "x"', "line 2: not JSON"),
        ('["x"]', "line 2: a question is an object with id, question"),
        ('{"id": "x", "question": "q"}', "line 2: a question is an object with id, question"),
        ('{"id": "x", "question": "q", "category": "facts", "cases": [], "evidence": []}', "line 2: category 'facts'"),
    ],
)
def test_a_bad_question_line_is_named(tmp_path, line, message):
    path = tmp_path / "q.jsonl"
    path.write_text((SETS[0].read_text(encoding="utf-8").splitlines()[0]) + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_questions(path)


def test_eval_cli_prints_the_table_and_writes_json(tmp_path):
    lines = (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    picked = [line for line in lines if '"fact"' in line][:3] + [line for line in lines if '"unanswerable"' in line][:2]
    (tmp_path / "q.jsonl").write_text("\n".join(picked) + "\n", encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "touyan.cli", "--corpus", str(SEEDS), "--index-dir", str(tmp_path / "idx"), "eval",
         "--embedders", "use", "--retrievers", "bm25,hybrid", "--questions", str(tmp_path / "q.jsonl"), "--json", str(tmp_path / "t.json")],
        capture_output=True, text=True, check=True,
    )
    assert "hit@1  hit@3  hit@5    mrr ndcg@5" in out.stdout and "unanswerable AUC" in out.stdout
    rows = json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))
    assert sorted(r["retriever"] for r in rows) == ["bm25", "hybrid-rrf", "hybrid-weighted", "hybrid-weighted+rerank"]
    for row in rows:
        assert row["answerable"]["n"] == 3 and row["by_category"]["fact"]["n"] == 3
        assert row["median_latency_ms"] > 0 and row["median_passage_chars"] <= 300 and row["no_answering_passage"] == []
    assert all(r["answerable"]["hit@5"] == 1.0 for r in rows if r["retriever"].startswith("hybrid"))


def test_eval_cli_refuses_an_unknown_retriever_before_building_anything(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "touyan.cli", "--corpus", str(SEEDS), "--index-dir", str(tmp_path / "idx"), "eval", "--retrievers", "bm25,nope"],
        capture_output=True, text=True,
    )
    assert out.returncode == 2 and "unknown retriever nope" in out.stderr and not (tmp_path / "idx").exists()


@pytest.mark.parametrize(("json_path", "message"), [("missing/t.json", "there is no folder"), (".", "is a folder")])
def test_eval_cli_refuses_a_json_path_it_cannot_write_before_building_anything(tmp_path, json_path, message):
    out = subprocess.run(
        [sys.executable, "-m", "touyan.cli", "--corpus", str(SEEDS), "--index-dir", str(tmp_path / "idx"), "eval", "--json", str(tmp_path / json_path)],
        capture_output=True, text=True,
    )
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr and not (tmp_path / "idx").exists()


def test_the_baselines_map_a_stacks_passages_to_cases_by_offsets(corpus):
    """Other stacks' passages are judged by the rule of `touyan eval`: which cases' paragraphs they overlap."""
    from eval.baselines import Passage, passage_cases

    case = next(c for c in corpus.cases if c.sections and c.sections[0].paragraphs)
    start, end = case.sections[0].paragraphs[0].spans[0]
    text = corpus.texts[case.source]
    passages = [Passage("inside", case.source, start, end, text[start:end]), Passage("lost", case.source, None, None, "")]
    assert passage_cases(passages, corpus) == {"inside": {case.id}, "lost": set()}


def test_a_share_comes_with_its_95_percent_interval():
    from eval.answers import share

    small, large = share([True] * 9 + [False]), share([True] * 900 + [False] * 100)
    assert small["share"] == large["share"] == 0.9
    assert small["ci95"][0] < large["ci95"][0] < 0.9 < large["ci95"][1] < small["ci95"][1] <= 1.0
    assert share([]) == {"n": 0, "share": None, "ci95": None}


def test_calibration_is_zero_when_confidence_matches_the_share_answerable():
    from eval.answers import calibration

    matched = calibration([0.8] * 8 + [0.2] * 2, [0.8] * 2 + [0.2] * 8)  # 80 % of the 0.8s answerable, 20 % of the 0.2s
    assert matched["ece"] == 0.0 and 0 < matched["brier"] < 0.25
    assert calibration([1.0] * 10, [1.0] * 10)["ece"] == 0.5
