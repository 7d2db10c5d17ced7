"""English words to the report's Chinese words (index/glossary.py), from CC-CEDICT."""
from __future__ import annotations

from index.glossary import EnglishGlossary, english_words, name_senses

LINES = [
    "# a comment line\n",
    "農田 农田 [nong2 tian2] /farmland/cultivated land/\n",
    "直播 直播 [zhi2 bo1] /live broadcast/livestream/\n",
    "颱風 台风 [tai2 feng1] /hurricane/typhoon/\n",
    "土地 土地 [tu3 di4] /land/soil/CL:片[pian4]/\n",
    "石庫門 石库门 [shi2 ku4 men2] /traditional style of residential building in Shanghai/\n",
]


def test_english_words_map_to_the_indexs_own_words_only():
    glossary = EnglishGlossary(["农田", "直播", "土地", "石库门"], LINES)
    assert glossary.terms("farmland") == ("农田",)
    assert set(glossary.terms("land")) == {"农田", "土地"}
    assert glossary.terms("livestreams") == ("直播",)  # the plural finds the word
    assert glossary.terms("typhoon") == ()  # the dictionary has it; the index does not
    assert glossary.terms("residential") == ()  # a description, not a translation
    assert glossary.weight("typhoon") > glossary.weight("land")  # fewer glosses use it: rarer


def test_the_shipped_dictionary_translates_the_reports_words():
    glossary = EnglishGlossary(["农田", "专利", "街道"])
    assert glossary.terms("patents") == ("专利",) and glossary.terms("subdistrict") == ("街道",)


def test_content_words_leave_out_question_words():
    assert english_words("How many patents did Binjiang's companies file?") == ["patents", "binjiang", "companies", "file"]


def test_proper_names_are_spelled_by_their_pinyin_or_a_one_word_gloss():
    lines = [
        "寧波 宁波 [Ning2 bo1] /Ningbo subprovincial city in Zhejiang/",
        "澳門 澳门 [Ao4 men2] /Macao/Macau/",
        "農田 农田 [nong2 tian2] /farmland/cultivated field/",
        "義烏 义乌 [Yi4 wu1] /Yiwu, county-level city in Jinhua/",
        "小島 小岛 [Xiao3 dao3] /Kojima (Japanese surname)/",
        "大廠 大厂 [Da4 chang3] /Dachang Hui autonomous county in Langfang/",
        "大廠 大厂 [da4 chang3] /large manufacturer/",
        "張 张 [Zhang1] /surname Zhang/",
    ]
    glossary = EnglishGlossary(["农田"], lines)
    assert glossary.names("Ningbo") == ("宁波",)
    assert glossary.names("macao") == ("澳门",) and glossary.names("aomen") == ("澳门",)
    assert glossary.names("farmland") == () and glossary.terms("farmland") == ("农田",)
    senses = name_senses(lines)
    assert senses.places == {"宁波", "义乌", "大厂"}  # 澳门 is glossed by name only, 小岛 as a surname
    assert senses.common == {"农田", "大厂"}  # 大厂 is also "large manufacturer"; 张 is one character
