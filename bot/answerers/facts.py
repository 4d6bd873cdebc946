"""The default answerer, no LLM: small talk, catalogue lists, product facts from the record, and FAQ or page
answers cut to the sentences that answer — with the conversation's focus for follow-ups."""

from __future__ import annotations

import re

from bot.answerers.catalogue import answer_catalogue
from bot.answerers.comparison import compare, compared_detail
from bot.answerers.details import asks_detail
from bot.answerers.intents import (
    FILLER,
    POLICY,
    SUPERLATIVE,
    catalogue_ask,
    catalogue_words,
    facets,
    price_comparison,
    variant_ask,
)
from bot.answerers.passages import Knowledge, PassageAnswerer
from bot.answerers.phrasing import agree, join_words, price_text
from bot.answerers.products import Context, answer_product
from bot.answerers.replies import decline, list_reply, product_reply, which_product
from bot.answerers.sentences import SentencePicker
from bot.answerers.smalltalk import small_talk_kind, small_talk_reply
from bot.answerers.unmentioned import unmentioned
from bot.types import Reply, Turn, focus_of
from knowledge.index.live import LiveIndex
from knowledge.index.product_match import ProductMatch
from knowledge.sources.records import ProductRecord

OVERRIDE_FOCUS = 0.9  # with "it"/"that" in the question, only a near-full title switches product
SHORT_FOLLOW_UP_WORDS = 4
FULL_NAME = 0.6  # in a question about orders, shipping or returns, only most of a title names a product
LISTED = 3
MAX_LABEL_WORDS = 5
_REFERS = re.compile(r"\b(?:it|its|it's|that|this|those|these|they|them|that one|this one)\b", re.IGNORECASE)
# "the women's one", "the one with the logo": the product in focus or its sibling (never a page's topic)
_ONE = re.compile(r"\bthe\s+(?:[\w'’-]+\s+){0,2}one\b", re.IGNORECASE)
_LEADS = re.compile(r"^\s*(?:and|also|or|what about|how about|same|but|ok|okay|so|then|fine|no)\b", re.IGNORECASE)
_PLURAL = re.compile(r"\b(?:they|them|those|these|both|each|all of them)\b", re.IGNORECASE)
_LIST_REFERENCE = re.compile(r"\b(?:those|these|them|of them|which one|which)\b", re.IGNORECASE)
_EXISTS = re.compile(r"^(?:do|does|d'you)\s+(?:you|u|ya|y'all)\s+(?:guys\s+)?(?:sell|have|carry|stock|offer|do|got)"
                     r"\s+(.+)|^(?:any|got any)\s+(.+)", re.IGNORECASE)
# "what tents do you have?", "which backpacks do you sell?"
_WHICH_DO_YOU_HAVE = re.compile(
    r"^(?:what|which)\s+(?:kinds? of\s+|sorts? of\s+|types? of\s+)?([a-z][a-z' -]{2,30}?)\s+"
    r"(?:do|does)\s+(?:you|u|ya|y'all)\s+(?:guys\s+)?(?:sell|have|carry|stock|offer|got)\b()", re.IGNORECASE)
_TO_THE_STORE = re.compile(r"^\s*(?:do|can|are|will|would|could)\s+(?:you|u|ya|y'all)\b|^\s*(?:does|is) your\b",
                           re.IGNORECASE)
_SHOWN = re.compile(r"\b(?:those|these|them|of them|the two|both)\b", re.IGNORECASE)
_COMPARATIVE_WORDS = re.compile(r"\b(?:more|less|cheaper|pricier|costlier|dearer|expensive)\b")
_BARE_THING = re.compile(r"^(?:(?:and|ok|okay|so|also)[, ]+)*(?:what about|how about)?\s*(?:an?|the|some|any)?\s*"
                         r"([a-z][a-z' -]{2,30})\??$", re.IGNORECASE)



class FactAnswerer:
    def __init__(self, knowledge: Knowledge, store_name: str = "our store", top_k: int = 5) -> None:
        self._knowledge = knowledge
        self._store_name = store_name
        self._picker = SentencePicker(knowledge.aembed)
        self._passages = PassageAnswerer(knowledge, self._picker, top_k)

    async def answer(self, question: str, history: tuple[Turn, ...]) -> Reply:
        kind = small_talk_kind(question)
        if kind is not None:
            return Reply(small_talk_reply(kind, self._store_name), mode="smalltalk")
        live = self._knowledge.live  # one version for the whole answer
        focus = focus_of(history)
        in_focus = [p for p in (live.catalog.get(i) for i in (focus.products if focus else ())) if p is not None]
        if not in_focus and len(live.catalog) == 1:
            in_focus = list(live.catalog)  # a store of one product: "how much is it?" is about it
        previous = next((t.text for t in reversed(history) if t.role == "shopper"), "")
        listed = self._catalogue(question, live, in_focus, focus.kind if focus else "")
        if listed is not None:
            return listed
        matches = live.matcher.match(question)
        named = matches[0] if matches and matches[0].named else None
        compared = compared_detail(question) if not POLICY.search(question) else None
        both = list(dict.fromkeys(m.product for m in matches if m.named))  # "which is lighter, A or B?"
        if compared is not None and (len(both) > 1 or (len(in_focus) > 1 and (named is None
                                                                               or named.product in in_focus))):
            return await compare(both if len(both) > 1 else in_focus, question, compared, self._picker)
        if named is not None and POLICY.search(question) and not (named.exact_sku or named.coverage >= FULL_NAME):
            named = None  # "what would overnight cost on a $300 order" is not about the Overnight Duffle
        thing = _thing_asked_for(question)
        asked_kind = live.matcher.of_kind(thing) if thing else None
        if thing and asked_kind and named is not None and _names_a_kind(thing, named, asked_kind):
            listed = self._exists(thing, asked_kind, live, question)
            if listed is not None:
                return listed
        if asked_kind and in_focus and in_focus[0] not in asked_kind and not _REFERS.search(question) \
                and not _names_option(question, in_focus[0]):
            in_focus = []  # "any tents?" after the socks: another kind of thing, not a follow-up on the socks
        if named is None and not in_focus and facets(question).any_fact and not POLICY.search(question) \
                and _names_nothing(question):
            return which_product()  # "what colours are there?" as the first question: of which product?
        product, switched = self._product(question, live, named, in_focus, matches or [])
        if product is not None and named is None and not switched and len(in_focus) > 1 and focus \
                and (focus.alike or _PLURAL.search(question)):
            # "and how much is it?" after an answer about both jackets alike, "how much are they?" after a list:
            # for each, not the first alone
            each = await self._for_each(in_focus, question)
            if each is not None:
                return each
        if product is not None:
            same = bool(in_focus) and product == in_focus[0]
            asked_which = bool(history) and history[-1].mode == "clarify"  # "the circe fleece" after "which one?"
            context = Context(previous if (switched or _LEADS.search(question) or asked_which) else "",
                              focus.options if focus and same and _REFERS.search(question) else ())
            answer = await answer_product(product, question, self._picker, context, live.vocabulary)
            if not answer.confident and not same and named is not None and named.product == product \
                    and not named.exact_sku and named.coverage < FULL_NAME:
                # "is there a luma store in chicago?" half-names the Luma Analog Watch: a question for the store,
                # never "I can't find that in the details I have for the Luma Analog Watch"
                return await self._passages.answer(question, None, live, texts_only=True)
            return product_reply(answer.text, product, answer.confident, answer.options)
        policy = bool(POLICY.search(question))
        leans = bool(_REFERS.search(question) or _LEADS.search(question))
        topic = focus if focus and focus.topic and leans else None
        if named is None and not policy and topic is None and facets(question).any_fact:
            which = await self._which_one(live, question)
            if which is not None:
                return which
        if named is None and not policy and topic is None:
            if thing is not None:  # "do you sell yoga mats": a list, an FAQ entry ("… gift cards?"), or no
                return (self._exists(thing, asked_kind, live, question)
                        or await self._passages.answer(question, None, live, texts_only=True))
            if len(in_focus) == 1 and not facets(question).any_fact:
                # "does the hood come off?": the product in focus, if its description answers it
                answer = await answer_product(in_focus[0], question, self._picker, vocabulary=live.vocabulary)
                if answer.confident:
                    return product_reply(answer.text, in_focus[0], True, answer.options)
        return await self._passages.answer(question, topic, live)

    def _catalogue(self, question: str, live: LiveIndex, in_focus: list[ProductRecord], listed_kind: str
                   ) -> Reply | None:
        words = catalogue_words(question)
        names_a_kind = bool(_kind_label(_COMPARATIVE_WORDS.sub("", words)))  # "which jacket is cheapest?"
        refers_to_list = len(in_focus) > 1 and bool(_LIST_REFERENCE.search(question))
        ask = catalogue_ask(question) or (price_comparison(question) if refers_to_list and not names_a_kind
                                          and not POLICY.search(question) else None)
        if ask is None:
            if not refers_to_list:
                return None
            # "which of those is in your eco friendly range": the listed products, filtered
            chosen = live.matcher.of_kind(catalogue_words(question), among=in_focus)
            if not chosen or len(chosen) == len(in_focus):
                return None
            return list_reply(f"Of those, {_titles_with_prices(chosen)}.", chosen)
        if names_a_kind or POLICY.search(question):
            refers_to_list = False  # "which jacket is cheapest?" after the tents: the jackets, not the tents
        elif listed_kind and SUPERLATIVE.search(question) and not _SHOWN.search(question):
            # "which is the cheapest?" after "do you have yoga pants?" (3 shown of 9): of all the yoga pants;
            # "which of those is cheaper?" stays with those shown
            words, refers_to_list = listed_kind, False
        candidates = in_focus if refers_to_list else live.matcher.of_kind(words)
        if not candidates:
            # "which delivery option is cheaper?", "what is the sales tax?" are for the store's pages; "the cheapest
            # kayak?" has no answer
            return None if POLICY.search(question) or ask.order == "on sale" else decline()
        kind = "" if refers_to_list else _kind_label(words)
        answer = answer_catalogue(ask, kind, candidates, of_those=refers_to_list)
        # Of those shown, the list's kind stays in focus: "which is the cheapest?" next ranks all of it
        return list_reply(answer.text, answer.products, kind=listed_kind if refers_to_list else kind,
                          confident=answer.confident)

    def _product(self, question: str, live: LiveIndex, named: ProductMatch | None, in_focus: list[ProductRecord],
                 matches: list[ProductMatch]) -> tuple[ProductRecord | None, bool]:
        """The product the question is about, and whether it switched away from the one in focus."""
        if not in_focus:
            return (named.product if named else None), False
        refers = bool(_REFERS.search(question))
        picked = {m.product.id: m.product for m in matches if m.product in in_focus}
        if len(in_focus) > 1 and len(picked) == 1 and (not POLICY.search(question) or named is not None):
            return next(iter(picked.values())), True  # one of a list just shown: "the summit pro one"
        if named is not None and (not refers or named.coverage >= OVERRIDE_FOCUS or named.exact_sku):
            return named.product, named.product != in_focus[0]
        others = any(m.product not in in_focus for m in matches)  # "…the ridgeline jacket…" after the tents
        if not (_follows(question, others) or _names_option(question, in_focus[0])) or POLICY.search(question):
            return None, False
        if _TO_THE_STORE.search(question) and not refers and not _names_option(question, in_focus[0]) \
                and unmentioned(question, live.vocabulary):
            return None, False  # "do you do a student discount?" where nothing says students: not about the product
        sibling = live.matcher.sibling(question, in_focus[0])  # "and the 55 cm one"
        if sibling is not None:
            return sibling, True
        return in_focus[0], False

    async def _which_one(self, live: LiveIndex, question: str) -> Reply | None:
        """"how much is the tent?" with two tents: the answer for each, never a decline or a guess between them
        (the men's and the women's jacket differ in colours); the same answer once when they share it."""
        kind = live.matcher.of_kind_named(question)
        if not 1 < len(kind) <= LISTED or len(kind) == len(live.catalog):
            return None
        return await self._for_each(kind, question)

    async def _for_each(self, products: list[ProductRecord], question: str) -> Reply | None:
        """The answer for each of a few products, once when they share it; None unless each is answered."""
        answers = [await answer_product(p, question, self._picker) for p in products[:LISTED]]
        if not all(a.confident for a in answers):
            return None
        shared = len({a.text.replace(p.title, "") for a, p in zip(answers, products, strict=False)}) == 1
        if shared and products[0].title not in answers[0].text:  # one sentence true of each, naming none
            return product_reply(answers[0].text, products[0], True, answers[0].options)
        return list_reply(" ".join(a.text for a in answers), products[:LISTED], alike=True)

    def _exists(self, thing: str, found: list[ProductRecord] | None, live: LiveIndex, question: str
                ) -> Reply | None:
        """The products `found` of the kind asked for, or None (an FAQ or page may still answer "do you sell gift
        cards?"). "do you have…?" gets a yes first; "what tents do you have?" does not."""
        if not found or len(found) == len(live.catalog):
            return None
        we_have = "We have" if _WHICH_DO_YOU_HAVE.match(question.strip()) else "Yes, we have"
        if len(found) == 1:
            product = found[0]
            price = price_text(product)
            costs = agree(product.title, "it costs", "they cost")
            text = f"{we_have} the {product.title}" + (f": {costs} {price}." if price else ".")
            return product_reply(text, product, True, ())
        more = f", and {len(found) - LISTED} more" if len(found) > LISTED else ""
        label = _as_asked(question) or _kind_label(thing) or "those"  # "yoga pants for women", not "yoga pants women"
        return list_reply(f"{we_have} {label}: {_titles_with_prices(found[:LISTED])}{more}.",
                          found[:LISTED], kind=thing)


def _names_a_kind(thing: str, named: ProductMatch, kind: list[ProductRecord]) -> bool:
    """"do you have socks?" with two kinds of socks, "hoodies?" in a store with one called "Hoodie": the question
    names a kind of several products, not the one product that matched."""
    if named.exact_sku or len(kind) < 2 or named.product not in kind:
        return False
    title = named.product.title.lower()
    return named.coverage < OVERRIDE_FOCUS or (len(title.split()) <= len(thing.split()) and thing != title)


def _names_nothing(question: str) -> bool:
    """"what colours are there?", "how much is it?": no word names a product or a kind."""
    return all(w in FILLER for w in re.findall(r"[a-z']+", question.lower()))


def _follows(question: str, names_others: bool = False) -> bool:
    """Whether a question goes on about the product in focus — not one for the store ("do you gift wrap?"), nor a
    fact asked of products it names ("what colours does the ridgeline jacket come in?" after the tents)."""
    # "do you have other colours?", "what sizes are there?"
    asks_a_fact = facets(question).any_fact and not names_others
    if _TO_THE_STORE.search(question) and not _REFERS.search(question) and not asks_a_fact \
            and not asks_detail(question):
        return False
    return bool(_REFERS.search(question) or _LEADS.search(question) or _ONE.search(question)) or asks_a_fact \
        or asks_detail(question) or len(question.split()) <= SHORT_FOLLOW_UP_WORDS


def _names_option(question: str, product: ProductRecord) -> bool:
    asked = variant_ask(question, product)
    return bool(asked.chosen or asked.missing)


def _thing_asked_for(question: str) -> str | None:
    """"do you sell yoga mats" → "yoga mats"; "running shoes?" → "running shoes"; else None."""
    text = question.strip()
    exists = _EXISTS.match(text) or _WHICH_DO_YOU_HAVE.match(text)
    if exists is not None:
        return catalogue_words(exists.group(1) or exists.group(2) or "")
    bare = _BARE_THING.match(text)
    if bare is not None and len(bare.group(1).split()) <= 3:
        return catalogue_words(bare.group(1))
    return None


def _titles_with_prices(products: list[ProductRecord]) -> str:
    return join_words([p.title + (f" ({price})" if (price := price_text(p)) else "") for p in products])


def _as_asked(question: str) -> str:
    """The kind as the shopper wrote it ("do you have yoga pants for women?" → "yoga pants for women"), if short."""
    asked = _EXISTS.match(question.strip()) or _WHICH_DO_YOU_HAVE.match(question.strip())
    words = re.sub(r"[?!.]+$", "", (asked.group(1) or asked.group(2) or "") if asked else "").strip().split()
    while words and words[0].lower() in ("a", "an", "any", "some", "the"):
        words = words[1:]
    if words and words[0].lower() in ("anything", "something", "stuff", "things"):
        words = ["things", *words[1:]]  # "do you have anything for yoga?" → "things for yoga"
    return " ".join(words).lower() if 0 < len(words) <= MAX_LABEL_WORDS else ""


def _kind_label(words: str) -> str:
    return " ".join(w for w in re.findall(r"[\w'’-]+", words) if len(w) > 1)
