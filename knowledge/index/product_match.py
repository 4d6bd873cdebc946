"""Which products a question names: by title words (IDF-weighted, typo-tolerant) or by SKU.

Titles are short and distinctive, so a word-level match beats the embedding here: "how much is the chaz
kangeroo hoodie?" names exactly one of 200 products, while its embedding is as close to every hoodie.
"""

from __future__ import annotations

import difflib
import heapq
import math
import re
from collections import defaultdict
from dataclasses import dataclass

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

from knowledge.index.catalog import Catalog
from knowledge.sources.records import ProductRecord

_WORD = re.compile(r"[a-z]+|\d+(?:[.,]\d+)?")
_STOP = frozenset(STOPWORDS_EN) | {"s", "t"}
MIN_FUZZY_LEN = 6  # shorter words are matched exactly: "tee" must not become "tech", "promo" not "primo"
FUZZY_CUTOFF = 0.85  # "kangaroo" finds "Kangeroo"; "rather" must not find "Aether"
NEAR_CACHE_SIZE = 50_000  # words remembered with their nearest title word
SHORTLIST = 30  # candidates scored in full per question
NAMED_COVERAGE = 0.6  # share of a title's (IDF-weighted) words a question must hold to name that product
NAMED_WITH_UNIQUE_WORD = 0.4  # ... when one of the words it holds is in no other title


@dataclass(frozen=True, slots=True)
class ProductMatch:
    product: ProductRecord
    coverage: float  # IDF-weighted share of the title's words found in the question
    weight: float  # IDF weight of the title words found in the question itself
    exact_sku: bool = False
    names_head: bool = False  # the question names the title's last word, and no other title ends in it
    names_unique: bool = False  # the question names a title word no other product has ("lumen")

    @property
    def named(self) -> bool:
        """The question names this product: most of its title, its distinctive head noun ("the brick"), or
        a word only its title has and a fair share of the rest ("the lumen 800")."""
        return (self.exact_sku or self.coverage >= NAMED_COVERAGE or (self.names_head and self.coverage > 0)
                or (self.names_unique and self.coverage >= NAMED_WITH_UNIQUE_WORD))


class NameTokenizer:
    def __init__(self) -> None:
        self._stemmer = Stemmer.Stemmer("english")

    def __call__(self, text: str) -> list[str]:
        words = [w for w in _WORD.findall(text.lower().replace("'", "")) if w not in _STOP]
        return list(self._stemmer.stemWords(words))


class ProductMatcher:
    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._tokenize = NameTokenizer()
        self._names: dict[str, tuple[str, ...]] = {}
        postings: dict[str, set[str]] = defaultdict(set)
        heads: dict[str, int] = defaultdict(int)
        for product in catalog:
            tokens = tuple(dict.fromkeys(self._tokenize(product.title)))
            self._names[product.id] = tokens
            for token in tokens:
                postings[token].add(product.id)
            if tokens:
                heads[tokens[-1]] += 1
        self._unique_heads = frozenset(head for head, count in heads.items() if count == 1 and not head.isdigit())
        self._facets: dict[str, frozenset[str]] = {
            p.id: frozenset(self._tokenize(" ".join((p.title, p.category, *p.tags)))) for p in catalog
        }
        self._facet_vocabulary = sorted(set().union(*self._facets.values())) if self._facets else []
        self._facet_vocabulary_set = frozenset(self._facet_vocabulary)
        total = max(1, len(self._names))
        self._postings = dict(postings)
        self._idf = {t: math.log(1 + total / len(ids)) for t, ids in postings.items()}
        self._weight = {pid: sum(self._idf[t] for t in name) for pid, name in self._names.items()}
        # Near-misspellings are looked for among title words of the same first two letters: a scan of the
        # whole vocabulary costs milliseconds per word in a large catalogue.
        self._by_prefix: dict[str, list[str]] = defaultdict(list)
        for token in sorted(self._idf):
            self._by_prefix[token[:2]].append(token)
        # Shoppers reuse the same few hundred words; difflib is the costliest step of a match (ms per word).
        self._near: dict[str, str] = {}

    def tokens(self, text: str) -> list[str]:
        """The question's words as title vocabulary: stemmed, with near-misspellings mapped to title words."""
        out: list[str] = []
        for token in self._tokenize(text):
            if token in self._idf or len(token) < MIN_FUZZY_LEN or token.isdigit():
                out.append(token)
                continue
            out.append(self._nearest_title_word(token))
        return out

    def _nearest_title_word(self, token: str) -> str:
        near = self._near.get(token)
        if near is None:
            close = difflib.get_close_matches(token, self._by_prefix.get(token[:2], []), n=1, cutoff=FUZZY_CUTOFF)
            near = close[0] if close else token
            if len(self._near) >= NEAR_CACHE_SIZE:  # bounded: arbitrary shopper text must not grow it forever
                self._near.clear()
            self._near[token] = near
        return near

    def match(self, text: str, also: str = "") -> list[ProductMatch]:
        """Products named in `text`, best first. `also` (e.g. the title in focus) adds words that count
        for coverage but never make a match on their own: "and the 55 cm one" after the 75 cm ball."""
        sku = self._sku_in(text)
        if sku is not None:
            return [ProductMatch(sku, 1.0, 1.0, exact_sku=True)]
        asked = set(self.tokens(text))
        exact = set(self._tokenize(text))  # a word spelled as in a title, not a near-miss of one
        context = set(self.tokens(also)) - asked if also else set()
        from_question: dict[str, float] = defaultdict(float)
        from_context: dict[str, float] = defaultdict(float)
        for tokens, sink in ((asked, from_question), (context, from_context)):
            for token in tokens:
                for product_id in self._postings.get(token, ()):
                    sink[product_id] += self._idf[token]
        coverage_of = {pid: (w + from_context.get(pid, 0.0)) / max(self._weight[pid], 1e-9)
                       for pid, w in from_question.items()}
        # Only the best few by words and coverage can win; the rest are not worth their flags.
        best = heapq.nlargest(SHORTLIST, from_question, key=lambda pid: from_question[pid] + coverage_of[pid])
        matches: list[ProductMatch] = []
        for product_id in best:
            weight = from_question[product_id]
            name, total = self._names[product_id], self._weight[product_id]
            product = self._catalog.get(product_id)
            if product is None or total <= 0:
                continue
            head = name[-1] in asked and name[-1] in self._unique_heads
            unique = any(len(self._postings[t]) == 1 and not t.isdigit() for t in name if t in exact)
            matches.append(ProductMatch(product, coverage_of[product_id], weight, names_head=head,
                                        names_unique=unique))
        # Most of the question explained first ("mona pullover hoodie" is the Mona, not the plain "Hoodie"),
        # then most of the title ("the beanie" is "Beanie", not "Beanie with Logo").
        matches.sort(key=lambda m: (m.weight + (m.coverage if m.named else 0), m.coverage, -len(m.product.title)),
                     reverse=True)
        return matches

    def sibling(self, text: str, of: ProductRecord) -> ProductRecord | None:
        """A product sharing words with `of` whose other title words the question names: "and the 55 cm one"
        after the 75 cm ball, "and the one with the logo" after the beanie."""
        asked = set(self.tokens(text))
        mine = set(self._names.get(of.id, ()))
        best: tuple[float, ProductRecord] | None = None
        for token in asked:
            for product_id in self._postings.get(token, ()):
                name = set(self._names[product_id])
                extra = name - mine
                if product_id == of.id or not (name & mine) or not extra or not extra <= asked:
                    continue
                weight = sum(self._idf[t] for t in extra)
                product = self._catalog.get(product_id)
                if product is not None and (best is None or weight > best[0]):
                    best = (weight, product)
        return best[1] if best else None

    def of_kind(self, words: str, among: list[ProductRecord] | None = None) -> list[ProductRecord] | None:
        """Products whose title, category or tags hold every catalogue word of `words` ("men's jacket");
        every product when `words` names nothing; None when its last word, the kind of thing asked for, is
        nothing the store has. Among given products (a list just shown), unknown words are passed over."""
        pool = list(self._catalog) if among is None else among
        tokens = [t for t in self._tokenize(words) if not t.isdigit()]
        if not tokens:
            return pool
        known = [self._known_facet(t) for t in tokens]
        if known[-1] is None and among is None:  # the head noun ("running shoes" → shoes) is unknown here
            return None
        asked = [t for t in known if t is not None]
        if not asked:
            return None
        return self._titled_first([p for p in pool if all(t in self._facets.get(p.id, ()) for t in asked)], asked)

    def of_kind_named(self, question: str) -> list[ProductRecord]:
        """The products of the kind a question names with catalogue words, its other words passed over
        ("how much is the tent?" → every tent); none when it names no kind."""
        asked = [t for t in self._tokenize(question) if not t.isdigit() and self._known_facet(t) is not None]
        if not asked:
            return []
        return self._titled_first([p for p in self._catalog if all(t in self._facets.get(p.id, ()) for t in asked)],
                                  asked)

    def _titled_first(self, products: list[ProductRecord], asked: list[str]) -> list[ProductRecord]:
        """Products whose titles hold more of the asked words first ("yoga pants": the Karmen Yoga Pant before a
        jogging pant tagged yoga), otherwise in catalogue order."""
        return sorted(products, key=lambda p: -sum(t in self._names.get(p.id, ()) for t in asked))

    def _known_facet(self, token: str) -> str | None:
        # Exact (stemmed) words only: a near-miss here turns "protein powder" into "power shorts".
        return token if token in self._facet_vocabulary_set else None

    def _sku_in(self, text: str) -> ProductRecord | None:
        for word in re.findall(r"[A-Za-z0-9][A-Za-z0-9_-]{3,}", text):
            if any(c.isdigit() for c in word) or "-" in word:
                found = self._catalog.by_sku(word) or self._catalog.get(word)
                if found is not None:
                    return found
        return None
