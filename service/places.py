"""The places a report's titles name (余杭：…, 33版 仓前街道:…), and which of its cases are about each.

A question naming a place asks about that place: a passage of another place that shares its
other words (“钱塘有多少个部门参与破解难题？” against 余杭's “50个部门…破解126个难题”) answers
nothing. Titles and contents lines put their place before the colon; a question shortens it
(杭州钱塘(新)区 → 钱塘, 杭州高新区(滨江) → 滨江), so each place is also known by those forms;
a place heading a title of its own (杭州:循链而上…) is the larger one others begin with.
A case is about a place when its title or its own text names it; a place most cases name
(杭州) tells none apart and is not read from questions.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from index.corpus import PLACE
from index.models import Case, Chunk
from index.parse import CONTENTS_LINE, CONTENTS_SPLIT

SUFFIX = re.compile(r"(?:\(新\))?(?:区|县|市|街道|乡|镇|村|社区|科技城|园区|开发区)$")
INNER = re.compile(r"[(（]([^)）]+)[)）]")
MIN_CHARS = 2


def name_forms(place: str, places: Iterable[str] = ()) -> set[str]:
    """A place as titles write it and as questions shorten it: without a leading place of its own
    (杭州钱塘(新)区 → 钱塘(新)区, when 杭州 heads a title too), its suffix or its bracket."""
    forms = {place} | {place[len(p) :] for p in places if p != place and place.startswith(p)}
    forms |= {m.group(1) for f in forms if (m := INNER.search(f))}
    forms |= {INNER.sub("", f) for f in forms}
    forms |= {SUFFIX.sub("", f) for f in forms}
    return {f for f in forms if len(f) >= MIN_CHARS}


def title_places(titles: Iterable[str]) -> set[str]:
    """The places before the colon of titles and contents entries."""
    out = set()
    for title in titles:
        if m := PLACE.match(title.strip()):
            out.add(m.group(1))
    return out


class Places:
    """Place names (every form) → ids of the cases about them, for the places that tell cases apart."""

    def __init__(self, cases: list[Case], chunks: list[Chunk]) -> None:
        entries = [
            entry
            for c in chunks
            if c.section_kind == "contents"
            for line in c.text.splitlines()
            if (m := CONTENTS_LINE.match(line.strip()))
            for entry in CONTENTS_SPLIT.split(m.group(2))
        ]
        text_of = {case.id: case.title for case in cases}
        for c in chunks:
            if c.section_kind != "contents":  # the list names every place
                text_of[c.case_id] = text_of.get(c.case_id, "") + "\n" + c.text
        self.about: dict[str, frozenset[str]] = {}
        places = title_places([case.title for case in cases] + entries)
        for place in places:
            for form in name_forms(place, places):
                about = frozenset(cid for cid, text in text_of.items() if form in text)
                if len(about) <= len(text_of) / 2:
                    self.about[form] = about
        self._longest_first = sorted(self.about, key=len, reverse=True)

    def named(self, text: str) -> list[str]:
        """The places ``text`` names, longest forms first, none inside another."""
        found: list[str] = []
        for form in self._longest_first:
            if form in text and not any(form in f for f in found):
                found.append(form)
        return found

    def cases_about(self, names: list[str]) -> frozenset[str]:
        return frozenset().union(*(self.about[n] for n in names)) if names else frozenset()
