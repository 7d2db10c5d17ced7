"""The question-form models (service/question_form.py): the report's own words masked, the
committed models read as they were fitted, and the service weighing them."""
from __future__ import annotations

import numpy as np

from service.answerability import FittedAnswerability
from service.question_form import CharModel, QuestionForm, form_model_name, form_text


def test_the_reports_own_words_are_masked_and_the_rest_kept(searcher):
    form = form_text(searcher.analyzer.run("梦创社区负责人张懿的联系电话是多少？"))
    assert "梦创社区" not in form and "某" in form
    assert "联系电话" in form and form.endswith("是多少？")  # the report never gives a telephone number
    off_topic = form_text(searcher.analyzer.run("红烧肉怎么做才能肥而不腻？"))
    assert "红烧肉" in off_topic
    assert form_text(searcher.analyzer.run("How many companies does Mengchuang serve?")) == "How many X does X X?"
    assert "dollar" in form_text(searcher.analyzer.run("What is today's exchange rate between the US dollar and the yuan?"))


def test_the_committed_models_read_the_embedders_vectors_and_the_characters(searcher):
    form = QuestionForm.load(form_model_name("answerability"), searcher.analyzer.run, searcher.dense_vector)
    assert form.dense.meta["fitted_by"] == "python -m eval.fit_answerability"
    assert "qa_heldout.jsonl" not in str(form.dense.meta["training"])
    assert len(form.dense.features) == searcher.dense_vector("问题").shape[0]
    # The numpy form of the dense logistic regression equals the model's own, feature by feature.
    question = "钱塘区2022年的GDP是多少？"
    values = dict(zip(form.dense.features, searcher.dense_vector(form_text(searcher.analyzer.run(question))).tolist()))
    assert np.isclose(form.probabilities(question)["question_form"], form.dense.probability(values), atol=1e-9)
    far, near = form.probabilities("从杭州东站坐高铁到上海虹桥要多久？"), form.probabilities("梦创社区服务多少家企业？")
    assert far["question_form"] < near["question_form"] and far["question_form_chars"] < near["question_form_chars"]


def test_the_character_model_computes_what_scikit_learn_does():
    """CharModel applies a TfidfVectorizer(analyzer="char") and a LogisticRegression by hand."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts = ["某某的联系电话是多少？", "某有多少家某？", "红烧肉怎么做才能肥而不腻？", "How many X does X X?", "What is  the  price of X?", "某是哪一年某的？"] * 3
    y = [0, 1, 0, 1, 0, 1] * 3
    pipeline = make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True), LogisticRegression(C=10.0)).fit(texts, y)
    vectorizer, logistic = pipeline.named_steps["tfidfvectorizer"], pipeline.named_steps["logisticregression"]
    model = CharModel({g: int(k) for g, k in vectorizer.vocabulary_.items()}, tuple(vectorizer.idf_), tuple(logistic.coef_[0]), float(logistic.intercept_[0]))
    for text in [*texts[:6], "某某某的电话号码是多少？", "", "Where  is X?"]:
        assert np.isclose(model.probability(text), pipeline.predict_proba([text])[0, 1], atol=1e-12)


def test_the_service_weighs_the_question_form(searcher):
    answerability = FittedAnswerability.for_searcher(searcher, searcher.analyzer)
    assert answerability is not None
    question = "梦创社区服务多少家企业？"
    features = answerability.features(question, searcher.search(question, 5), [])
    assert {k: features[k] for k in ("question_form", "question_form_chars")} == answerability.form(question)


def test_a_model_name_without_answerability_in_it_gets_its_own_form_name():
    assert form_model_name("answerability-e5-dense") == "question_form-e5-dense"
    assert form_model_name("mine") == "mine.question_form"
