"""The words a store's own data uses (product texts, FAQ and page sentences), to tell a question about
something the store never mentions ("is it BPA free?", "do you ship to Canada?") from one its data answers."""

from __future__ import annotations

import bisect
import difflib
import re
from collections import Counter
from collections.abc import Iterable

_WORD = re.compile(r"[a-z]+")
_SUFFIXES = ("iness", "ness", "ings", "ing", "able", "ible", "ers", "er", "ies", "ied", "ed", "es", "s", "ily", "ly",
             "y")
MIN_WORD = 3
MIN_PREFIX = 4  # a word this long is known when a word the store uses begins with it
MIN_TYPO_WORD = 5  # shorter words are too alike ("tall", "tell", "wall") to be taken for a misspelling
TYPO_CUTOFF = 0.8  # a misspelling ("waterprof") of a word the store uses is that word
MAX_TYPO_LENGTH_GAP = 2
MAX_COUNTED = 10_000
ALWAYS = 1 << 30  # an empty vocabulary (a version built before it was kept) knows every word


def stem(word: str) -> str:
    """A light stem, enough to meet "hikers" with "hiking", "coziness" with "cozy", "shipping" with "ship"."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= MIN_WORD:
            word = word[: -len(suffix)]
            break
    return word[:-1] if len(word) > MIN_WORD and word[-1] == word[-2] and word[-1] not in "aeiouls" else word


class Vocabulary:
    def __init__(self, texts: Iterable[str]) -> None:
        self._texts_using: Counter[str] = Counter()  # stem → how many texts use a word of that stem
        self.texts = 0
        words: set[str] = set()
        for text in texts:
            self.texts += 1
            found = {w for w in _WORD.findall(text.lower()) if len(w) >= MIN_WORD}
            words |= found
            self._texts_using.update({stem(w) for w in found})
        self._words = sorted(words)
        self._known = words
        self._counted: dict[str, int] = {}
        self._by_start: dict[str, list[str]] = {}  # first letter → words: a misspelling is looked for among these
        for w in self._words:
            self._by_start.setdefault(w[0], []).append(w)

    def __len__(self) -> int:
        return len(self._words)

    def knows(self, word: str) -> bool:
        return self.texts_using(word) > 0

    def texts_using(self, word: str) -> int:
        """How many of the texts use the word: another form of it ("shipping" for "ship"), or a word it is a
        misspelling of, counts as the word."""
        if not self._words:
            return ALWAYS
        word = word.lower()
        if word not in self._counted:  # asked again by each step of one answer
            if len(self._counted) >= MAX_COUNTED:  # bounded, whatever shoppers type
                self._counted.clear()
            self._counted[word] = max((self._texts_using[stem(form)] for form in self._forms(word)), default=0)
        return self._counted[word]

    def _forms(self, word: str) -> set[str]:
        """The words the store uses that are this one: the same stem, a longer form ("ship" → "shipping"), a
        shorter one ("internationally" → "international"), or close to it (a misspelling)."""
        forms = {word} if stem(word) in self._texts_using else set()
        if len(word) >= MIN_PREFIX:
            at = bisect.bisect_left(self._words, word)
            if at < len(self._words) and self._words[at].startswith(word):
                forms.add(self._words[at])
        forms |= {word[:end] for end in range(MIN_PREFIX + 1, len(word)) if word[:end] in self._known}
        if not forms and len(word) >= MIN_TYPO_WORD:
            # Same first letter, about as long: bounded however large the store (a few ms, not 40 ms per word)
            alike = [w for w in self._by_start.get(word[0], ()) if abs(len(w) - len(word)) <= MAX_TYPO_LENGTH_GAP]
            forms = set(difflib.get_close_matches(word, alike, n=1, cutoff=TYPO_CUTOFF))
        return forms
