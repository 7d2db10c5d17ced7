"""Real jieba segmentation with a user dictionary derived from the seed reports."""
import pickle
from pathlib import Path

import jieba
import pytest

from index.tokenize import Tokenizer, normalize, user_words_from

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


@pytest.fixture(scope="module")
def seed_words() -> set[str]:
    lines = [line.strip() for f in sorted(SEEDS.glob("*.txt")) for line in f.read_text("utf-8").splitlines()]
    return user_words_from(line for line in lines if line)


@pytest.fixture(scope="module")
def tokenizer(seed_words) -> Tokenizer:
    return Tokenizer(seed_words)


def test_normalize_folds_width_case_and_quotes():
    assert normalize("ＡＢＣ１２３，Ｇｏ！") == "abc123,go!"
    assert normalize("“一网通办”「共富工坊」‘好’") == '"一网通办""共富工坊"\'好\''


def test_seed_words_include_corpus_terms(seed_words):
    assert {"梦创社区", "共富工坊", "一网通办"} <= seed_words


def test_user_words_come_out_whole(tokenizer):
    tokens = tokenizer.tokenize("梦创社区建起共富工坊，群众办事实现“一网通办”。")
    assert {"梦创社区", "共富工坊", "一网通办"} <= set(tokens)


def test_question_and_stop_words_are_dropped(tokenizer):
    tokens = tokenizer.tokenize("梦创社区服务多少家企业？")
    assert "梦创社区" in tokens and "企业" in tokens
    assert not {"多少", "？", "?"} & set(tokens)
    assert tokenizer.tokenize("请问一下，什么是共富工坊呢？") == ["共富工坊"]


def test_english_stop_words_and_numbers(tokenizer):
    assert tokenizer.tokenize("How many companies are in the Dream Town?") == ["companies", "dream", "town"]
    tokens = tokenizer.tokenize("“321”机制破解126个难题，服务６０００余家企业")
    assert {"321", "126", "6000"} <= set(tokens)


def test_user_words_stay_out_of_jiebas_global_dictionary():
    Tokenizer(["头雁梦工场"])
    jieba.dt.initialize()
    assert "头雁梦工场" not in jieba.dt.FREQ


def test_pickle_keeps_the_word_list(tokenizer):
    copy = pickle.loads(pickle.dumps(tokenizer))
    assert copy.user_words == tokenizer.user_words
    text = "梦创社区服务6000余家企业"
    assert copy.tokenize(text) == tokenizer.tokenize(text)


def test_user_words_from_each_source():
    words = user_words_from([
        "三方协同 共商居民“心头事”",  # a heading: split at spaces and punctuation
        "居民把架空层叫作「第二客厅」，这是“众口难调”的好事，也是“一个很长很长很长的说法”。",
        "他在梦创社区工作。",
        "梦创社区服务企业。",
        "来到梦创社区。",
        "仅出现一次的云栖小镇。",
    ])
    assert {"三方协同", "共商居民", "心头事", "第二客厅", "众口难调", "梦创社区"} <= words
    assert "云栖小镇" not in words  # a name must occur twice
    assert not {w for w in words if w.endswith("梦创社区") and w != "梦创社区"}  # no preceding word glued on
    assert not {w for w in words if "架空层" in w}  # paragraphs are not split into pieces
    assert all(2 <= len(w) <= 8 for w in words)
