"""Answers about one product, stated from its record: price (of a variant too), options, whether a variant
exists, stock, SKU — and for anything else the best sentences of its description."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from bot.answerers.details import CONTENTS, describe, near
from bot.answerers.intents import COLOURS, FILLER, Facets, VariantAsk, facets, variant_ask
from bot.answerers.phrasing import (
    agree,
    join_words,
    option_phrase,
    price_text,
    sale_text,
    variant_label,
)
from bot.answerers.sentences import SentencePicker, split_sentences
from knowledge.index.vocabulary import Vocabulary
from knowledge.sources.records import ProductRecord, Variant

MAX_SKUS_LISTED = 3
MAX_OVERVIEW_SENTENCE = 240


@dataclass(frozen=True, slots=True)
class ProductAnswer:
    text: str
    confident: bool = True
    options: tuple[tuple[str, str], ...] = ()  # the variant the answer was about


@dataclass(frozen=True, slots=True)
class Context:
    """What a follow-up leans on: the previous question's facets ("price?" → "and the 55 cm one") and the
    variant of the last answer ("whats the SKU for that exact one?")."""

    previous_question: str = ""
    options: tuple[tuple[str, str], ...] = ()


async def answer_product(product: ProductRecord, question: str, picker: SentencePicker,
                         context: Context = Context(), vocabulary: Vocabulary | None = None) -> ProductAnswer:
    asked = facets(question)
    wanted = variant_ask(question, product)
    bare = not asked.any_fact and not _asks_more(question, product, wanted) and not CONTENTS.search(question) \
        and not _ABOUT_IT.search(question)
    if bare and context.previous_question:
        # "and the 55 cm one?" asks what the last question asked, and its price
        asked = dataclasses.replace(facets(context.previous_question), price=True)
    elif bare and not wanted.chosen and not wanted.missing:
        # "tell me about the tent", "ok what about a foam roller"; "do you have the liner socks?" gets its yes
        return ProductAnswer(_overview(product, yes=bool(_HAVE.search(question))))
    if not wanted.chosen and not wanted.missing and context.options and (asked.any_fact or asked.sale):
        wanted = VariantAsk(context.options, ())  # "is it in stock?" after "the XL black one": that variant
    variants = _matching(product, wanted)
    parts: list[str] = []
    if wanted.missing:
        parts.append(_missing(product, wanted))
    elif wanted.chosen and not variants:
        parts.append(f"Sorry, the {product.title} {_isnt(product)} made in "
                     f"{variant_label(wanted.chosen)}. {_it_comes(product)} {_all_options(product)}.")
    elif wanted.chosen and not asked.any_fact:
        parts.append(_exists(product, wanted, variants))
    if not wanted.missing and variants:
        parts.extend(_facts(product, asked, wanted, variants))
    answered_options = (asked.colours or asked.sizes) and _has_asked_option(product, asked)
    if not (asked.price or asked.sale or asked.stock or asked.sku or answered_options) and not wanted.chosen \
            and not wanted.missing:
        # also "what size is the brick?" (no size option)
        details = await _details(product, question, picker, vocabulary)
        if not details.confident and (asked.colours or asked.sizes):
            return ProductAnswer(f"The {product.title} {_comes(product)} in one version only.")
        return dataclasses.replace(details, options=context.options)  # the variant talked of stays in focus
    if _asks_more(question, product, wanted):  # "price and warranty?": the rest from the description
        details = await _details(product, question, picker, vocabulary)
        if details.confident:
            parts.append(details.text)
    return ProductAnswer(" ".join(parts) or _summary(product), options=wanted.chosen if variants else ())


def _matching(product: ProductRecord, wanted: VariantAsk) -> tuple[Variant, ...]:
    if not any(v.options for v in product.variants):
        return product.variants  # options listed, but one price for all (a plain catalog row)
    chosen = {(name.lower(), value.lower()) for name, value in wanted.chosen}
    return tuple(v for v in product.variants
                 if chosen <= {(n.lower(), val.lower()) for n, val in v.options})


def _facts(product: ProductRecord, asked: Facets, wanted: VariantAsk, variants: tuple[Variant, ...]) -> list[str]:
    label = f" in {variant_label(wanted.chosen)}" if wanted.chosen else ""
    parts: list[str] = []
    if asked.price or asked.sale:
        price = price_text(product, variants)
        if price is None:
            parts.append(f"I don't have a price for the {product.title}{label}.")
        else:
            sale = sale_text(product, variants)
            parts.append(f"The {product.title}{label} {agree(product.title, 'costs', 'cost')} {price}{sale or ''}.")
            if asked.sale and sale is None:
                parts.append("That's its regular price; it isn't on sale right now.")
    if (asked.colours or asked.sizes) and _has_asked_option(product, asked):
        parts.append(_options(product, asked))
    if asked.stock:
        parts.append(_stock(product, label, variants))
    if asked.sku:
        parts.append(_skus(product, label, variants))
    return parts


def _has_asked_option(product: ProductRecord, asked: Facets) -> bool:
    kinds = {_option_kind(o.name) for o in product.options}
    return (asked.colours and "colour" in kinds) or (asked.sizes and "size" in kinds)


def _options(product: ProductRecord, asked: Facets) -> str:
    chosen = [o for o in product.options if (asked.colours and _option_kind(o.name) == "colour")
              or (asked.sizes and "size" in o.name.lower())]
    if not chosen:
        if not product.options:
            return f"The {product.title} {_comes(product)} in one version only."
        chosen = list(product.options)
    return f"The {product.title} {_comes(product)} {' and '.join(option_phrase(o.name, o.values) for o in chosen)}."


def _all_options(product: ProductRecord) -> str:
    return " and ".join(option_phrase(o.name, o.values) for o in product.options) or "in one version only"


def _missing(product: ProductRecord, wanted: VariantAsk) -> str:
    relevant = [o for o in product.options
                if any(_kind_of(m) == _option_kind(o.name) for m in wanted.missing)] or list(product.options)
    comes = " and ".join(option_phrase(o.name, o.values) for o in relevant) or "in one version only"
    return (f"Sorry, the {product.title} {_doesnt(product)} come in "
            f"{join_words(list(wanted.missing), 'or')}. {_it_comes(product)} {comes}.")


def _exists(product: ProductRecord, wanted: VariantAsk, variants: tuple[Variant, ...]) -> str:
    stock = _availability(variants)
    tail = {True: " and it's in stock", False: ", but it's out of stock right now", None: ""}[stock]
    return f"Yes, the {product.title} {_comes(product)} in {variant_label(wanted.chosen)}{tail}."


def _availability(variants: tuple[Variant, ...]) -> bool | None:
    known = [_in_stock(v) for v in variants if _in_stock(v) is not None]
    return any(known) if known else None


def _in_stock(variant: Variant) -> bool | None:
    if variant.available is not None:
        return variant.available
    return None if variant.stock is None else variant.stock > 0


def _stock(product: ProductRecord, label: str, variants: tuple[Variant, ...]) -> str:
    if len(variants) == 1:
        state = _in_stock(variants[0])
        if state is None:
            return f"I can't see stock levels for the {product.title}{label}."
        if not state:
            return f"The {product.title}{label} is out of stock right now."
        count = f" ({variants[0].stock} available)" if variants[0].stock else ""
        return f"Yes, the {product.title}{label} is in stock{count}."
    states = [_in_stock(v) for v in variants]
    if all(s is None for s in states):
        return f"I can't see stock levels for the {product.title}{label}."
    available = sum(1 for s in states if s)
    if available == len(variants):
        return f"Yes, the {product.title}{label} is in stock in every option."
    if available == 0:
        return f"The {product.title}{label} is out of stock right now."
    return f"The {product.title}{label} is in stock in {available} of its {len(variants)} options."


def _skus(product: ProductRecord, label: str, variants: tuple[Variant, ...]) -> str:
    with_sku = [v for v in variants if v.sku]
    if not with_sku:
        return f"I don't have a SKU for the {product.title}{label}."
    if len(with_sku) == 1:
        return f"The SKU of the {product.title}{label} is {with_sku[0].sku}."
    listed = ", ".join(f"{v.sku} ({variant_label(v.options)})" for v in with_sku[:MAX_SKUS_LISTED])
    return (f"Each option of the {product.title} has its own SKU, e.g. {listed}. "
            "Tell me the size and colour and I'll give you the exact one.")


def _option_kind(name: str) -> str:
    return "colour" if re.search(r"colou?r", name.lower()) else "size"


def _kind_of(value: str) -> str:
    return "colour" if value.lower() in COLOURS else "size"


def _asks_more(question: str, product: ProductRecord, wanted: VariantAsk) -> bool:
    """Whether the question has words beyond the product's name, its options and facts words."""
    known = {w.lower() for w in re.findall(r"\w+", product.title)}
    known |= {w.lower() for o in product.options for w in re.findall(r"\w+", f"{o.name} {' '.join(o.values)}")}
    known |= {m.lower() for m in wanted.missing} | COLOURS
    words = [w for w in re.findall(r"[a-z]+", question.lower())
             if w not in FILLER and len(w) > 2 and not near(w, known)]
    return bool(words)


# "does it have a hood?" asks something, even when the word is in its name (the Circe Hooded Ice Fleece)
_ABOUT_IT = re.compile(r"^\s*(?:does|do|is|are|has|have|can|will)\s+(?:it|they|this|that|these|those)\b", re.I)
_HAVE = re.compile(r"^\s*(?:do|does|d'you)\s+(?:you|u|ya)\s+(?:guys\s+)?(?:sell|have|carry|stock|offer|got)\b|"
                   r"^\s*(?:have|got) you got\b|^\s*is there\b", re.I)


def _overview(product: ProductRecord, yes: bool = False) -> str:
    """What it is, what it costs, what it comes in: the first sentence, the price and the options; asked whether
    we have it, yes first."""
    price = price_text(product)
    parts = [_have(product, price) if yes else _summary(product)]
    if product.options:
        parts.append(f"{_it_comes(product)} {_all_options(product)}.")
    first = next(iter(split_sentences(product.description)), "")
    if first and len(first) <= MAX_OVERVIEW_SENTENCE:
        parts.append(first)
    return " ".join(parts)


def _have(product: ProductRecord, price: str | None) -> str:
    """"do you have the X?": yes, with its price — and, when every variant is known to be out, that it is sold out."""
    at = f", at {price}" if price else ""
    if _availability(product.variants) is False:
        return f"We carry the {product.title}{at}, but it's sold out right now."
    return f"Yes, we have the {product.title}{at}."


def _summary(product: ProductRecord) -> str:
    price = price_text(product)
    return f"The {product.title}" + (f" {agree(product.title, 'costs', 'cost')} {price}." if price else ".")


async def _details(product: ProductRecord, question: str, picker: SentencePicker,
                   vocabulary: Vocabulary | None) -> ProductAnswer:
    text = await describe(product, question, picker, vocabulary)
    if text is None:
        return ProductAnswer(f"I can't find that in the details I have for the {product.title}.", confident=False)
    return ProductAnswer(text)


def _comes(product: ProductRecord) -> str:
    return agree(product.title, "comes", "come")


def _it_comes(product: ProductRecord) -> str:
    return agree(product.title, "It comes", "They come")


def _isnt(product: ProductRecord) -> str:
    return agree(product.title, "isn't", "aren't")


def _doesnt(product: ProductRecord) -> str:
    return agree(product.title, "doesn't", "don't")
