"""The BM25 tokenizer: lower-cased words, English stop words removed, Snowball-stemmed."""

from __future__ import annotations

import re

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

_WORD = re.compile(r"\w\w+|\d")
_STOP = frozenset(STOPWORDS_EN)


class Tokenizer:
    def __init__(self) -> None:
        self._stemmer = Stemmer.Stemmer("english")

    def __call__(self, text: str) -> list[str]:
        words = [w for w in _WORD.findall(text.lower()) if w not in _STOP]
        return list(self._stemmer.stemWords(words))
