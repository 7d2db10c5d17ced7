"""The question-form model (service/question_form.py): the report's own words masked, the
committed model read as it was fitted, and the service weighing it."""
from __future__ import annotations

import numpy as np

from service.answerability import FittedAnswerability
from service.fitted import LogisticModel
from service.question_form import QuestionForm, form_model_name, form_text


def test_the_reports_own_words_are_masked_and_the_rest_kept(searcher):
    form = form_text(searcher.analyzer.run("梦创社区负责人张懿的联系电话是多少？"))
    assert "梦创社区" not in form and "某" in form
    assert "联系电话" in form and form.endswith("是多少？")  # the report never gives a telephone number
    off_topic = form_text(searcher.analyzer.run("红烧肉怎么做才能肥而不腻？"))
    assert "红烧肉" in off_topic
    assert form_text(searcher.analyzer.run("How many companies does Mengchuang serve?")) == "How many X does X X?"
    assert "dollar" in form_text(searcher.analyzer.run("What is today's exchange rate between the US dollar and the yuan?"))


def test_the_committed_model_reads_the_embedders_vectors(searcher):
    model = LogisticModel.load(form_model_name("answerability"))
    assert model.meta["fitted_by"] == "python -m eval.fit_answerability"
    assert "qa_heldout.jsonl" not in str(model.meta["training"])
    form = QuestionForm(model, searcher.analyzer.run, searcher.dense_vector)
    assert len(model.features) == searcher.dense_vector("问题").shape[0]
    # The numpy form of the logistic regression equals the model's own, feature by feature.
    question = "钱塘区2022年的GDP是多少？"
    values = dict(zip(model.features, searcher.dense_vector(form_text(searcher.analyzer.run(question))).tolist()))
    assert np.isclose(form.probability(question), model.probability(values), atol=1e-9)
    assert form.probability("从杭州东站坐高铁到上海虹桥要多久？") < form.probability("梦创社区服务多少家企业？")


def test_the_service_weighs_the_question_form(searcher):
    answerability = FittedAnswerability.for_searcher(searcher, searcher.analyzer)
    assert answerability is not None
    question = "梦创社区服务多少家企业？"
    hits = searcher.search(question, 5)
    assert answerability.features(question, hits, [])["question_form"] == answerability.form(question)


def test_a_model_name_without_answerability_in_it_gets_its_own_form_name():
    assert form_model_name("answerability-e5-dense") == "question_form-e5-dense"
    assert form_model_name("mine") == "mine.question_form"
