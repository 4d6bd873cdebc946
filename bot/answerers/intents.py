"""What a shopper's question asks: which facts of a product, or which products of the catalogue.

Rules over words, not a model: they are few, readable, and cover how shoppers ask about prices,
options, stock and SKUs in any store; everything else is a question about the description.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from knowledge.sources.records import ProductRecord

_PRICE = re.compile(r"\b(?:how much|price[sd]?|pricing|costs?|costing|expensive|cheap|sale|discount(?:ed)?|"
                    r"reduced|deal|offer)\b|[$€£]\s*\?")
_NOT_PRICE = re.compile(r"\bhow much (?:(?:does|do|did|will|would|can) (?:[\w'-]+ ){1,4})?"
                        r"(?:weigh|room|space|stretch|hold|fit)|"
                        r"\bhow much (?:weight|room|space|water|battery)\b|\bprice[- ]?match")
_COLOUR_WORD = re.compile(r"\b(?:colou?rs?|shades?)\b")
_SIZE_WORD = re.compile(r"\b(?:sizes?|sizing)\b")
_SIZE_DETAIL = re.compile(r"\bsize (?:chart|guide|table)|measurements?\b|\bfit\b")
_STOCK = re.compile(r"\b(?:in stock|stock|available|availability|sold out|out of stock|left|inventory|"
                    r"back ?order)\b")
_SKU = re.compile(r"\b(?:sku|skus|item number|article number|product code|part number|model number|item code)\b")
_CHEAPEST_WORDS = r"cheapest|least expensive|lowest[- ]priced?|most affordable"
_PRICIEST_WORDS = r"most expensive|priciest|dearest|highest[- ]priced?|top of the range"
_CHEAPEST = re.compile(rf"\b(?:{_CHEAPEST_WORDS}|cheaper)\b")
_PRICIEST = re.compile(rf"\b(?:{_PRICIEST_WORDS})\b")
SUPERLATIVE = re.compile(rf"\b(?:{_CHEAPEST_WORDS}|{_PRICIEST_WORDS})\b", re.IGNORECASE)  # not "cheaper"
# Only of products just named ("which is more expensive?" after two tents): "is shipping more expensive to Hawaii?"
# ranks nothing.
_DEARER = re.compile(r"\b(?:more expensive|pricier|costlier|dearer|costs? more)\b(?! than)")
_LESS_DEAR = re.compile(r"\b(?:less expensive|costs? less)\b(?! than)")
# "what's on sale?", "anything reduced?", "which jackets are on sale?" — not "is the belt on sale?"
_ON_SALE = re.compile(r"^\s*(?:what(?:'?s| is| are)?|which|any(?:thing)?|show me|do you have (?:any(?:thing)?|some)|"
                      r"got any(?:thing)?)\b[^?]*\b(?:on sale|reduced|discounted|on offer|deals|sales)\b")
_UNDER = re.compile(r"\b(?:under|below|less than|cheaper than|max(?:imum)?|up to|within|no more than)\s*"
                    r"(?:[$€£]\s*)?(\d+(?:[.,]\d{1,2})?)\s*(?:[$€£]|dollars?|euros?|pounds?|bucks)?")

# Questions about the store rather than a product. POLICY is narrow (it keeps a question off the product in
# focus); STORE_SERVICE is wider (it lets page text win over a product the question does not name).
_POLICY_TERMS = (r"ship|shipping|shipped|deliver\w*|return\w*|refund\w*|exchange\w*|gift cards?|payments?|pay|"
                 r"paypal|privacy|personal data|my data|cookies?|e-?mails?|newsletter|unsubscribe|orders?|ordered|"
                 r"tracking|restock\w*|processed|cut-?off")
POLICY = re.compile(rf"\b(?:{_POLICY_TERMS})\b", re.IGNORECASE)
STORE_SERVICE = re.compile(rf"\b(?:{_POLICY_TERMS}|gift|data|address|contact|call\w*|phone|card|secure|safe|"
                           r"stores?|shops?|offers?|polic(?:y|ies))\b", re.IGNORECASE)

COLOURS = frozenset(
    [
        "black", "white", "grey", "gray", "red", "blue", "navy", "green", "yellow", "orange", "purple", "pink", "brown",
        "beige", "tan", "khaki", "olive", "teal", "turquoise", "gold", "silver", "maroon", "burgundy", "lavender",
        "violet", "cream", "ivory", "charcoal", "mint", "coral", "rust", "plum", "lime", "aqua", "magenta", "cyan",
        "indigo", "bronze", "copper", "natural"
    ]
)
_SIZE_WORDS = {"extra small": "XS", "x-small": "XS", "small": "S", "medium": "M", "large": "L", "extra large": "XL",
               "x-large": "XL", "xx-large": "XXL", "2xl": "XXL", "3xl": "XXXL"}
_SIZE_CODES = re.compile(r"(?<![\w$€£])(XXXL|XXL|XL|XS|XXS|S|M|L)(?![\w])")
# A size asked for as a version of the product ("does it come in large?", "do you have it in XL?") — not "is it
# small enough?" nor "L x W"
_IN_A_SIZE = re.compile(r"\b(?:comes?|available|have (?:it|this|them|one)|got (?:it|one)|sold|make (?:it|them)|get it)"
                        r"\s+in\s+(?:an?\s+|size\s+)?(xxs|xs|xl|xxl|xxxl|2xl|3xl|s|m|l|extra small|x-small|small|"
                        r"medium|extra large|x-large|xx-large|large)\b")
_SIZES_IN_TEXT = re.compile(r"\bsizes?\b|\bsizing\b|\bfits?\b|\bone size\b", re.I)


@dataclass(frozen=True, slots=True)
class Facets:
    price: bool = False
    colours: bool = False
    sizes: bool = False
    stock: bool = False
    sku: bool = False
    sale: bool = False

    @property
    def any_fact(self) -> bool:
        return self.price or self.colours or self.sizes or self.stock or self.sku


@dataclass(frozen=True, slots=True)
class CatalogueAsk:
    order: str  # "cheapest" | "priciest" | "under" | "on sale"
    limit: Decimal | None = None  # for "under"


@dataclass(frozen=True, slots=True)
class VariantAsk:
    chosen: tuple[tuple[str, str], ...]  # (option name, value) the shopper named, as the store spells them
    missing: tuple[str, ...]  # colours or sizes named that the product does not come in


def facets(question: str) -> Facets:
    q = question.lower()
    price = bool(_PRICE.search(q)) and not _NOT_PRICE.search(q)
    sizes = bool(_SIZE_WORD.search(q)) and not _SIZE_DETAIL.search(q)
    return Facets(price=price, colours=bool(_COLOUR_WORD.search(q)), sizes=sizes, stock=bool(_STOCK.search(q)),
                  sku=bool(_SKU.search(q)), sale=bool(re.search(r"\b(?:sale|discount|reduced|deal)\b", q)))


def price_comparison(question: str) -> CatalogueAsk | None:
    """"which one is more expensive?" (of products just named) as the ranking it asks for."""
    q = question.lower()
    if _DEARER.search(q):
        return CatalogueAsk("priciest")
    return CatalogueAsk("cheapest") if _LESS_DEAR.search(q) else None


def catalogue_ask(question: str) -> CatalogueAsk | None:
    q = question.lower()
    if _PRICIEST.search(q):
        return CatalogueAsk("priciest")
    if _CHEAPEST.search(q) and not re.search(r"\bcheaper than\b", q):
        return CatalogueAsk("cheapest")
    if _ON_SALE.search(q):
        return CatalogueAsk("on sale")
    under = _UNDER.search(q)
    if under is not None:
        try:
            return CatalogueAsk("under", Decimal(under.group(1).replace(",", ".")))
        except InvalidOperation:
            return None
    return None


_NOT_A_KIND = frozenset(
    [
        "what", "whats", "which", "is", "are", "your", "you", "youve", "do", "does", "have", "has", "got", "sell",
        "sells", "carry", "stock", "any", "my", "options", "option", "items", "item", "products", "product", "things",
        "thing", "stuff", "one", "ones", "the", "a", "an", "of", "in", "for", "me", "show", "list", "there", "s", "too",
        "also", "well", "looking", "look", "want", "need", "find", "buy", "get", "some", "anything", "something",
        "please", "pls", "ok", "okay", "so", "and", "or", "i", "we", "can", "could", "would", "will", "to", "with",
        "on", "at", "it", "this", "that", "those", "these", "ve", "d", "ll", "m", "re"
    ]
)


def catalogue_words(question: str) -> str:
    """The question without its ordering, price and filler words: the kind of product it is about
    ("what's the cheapest men's jacket you've got" → "men jacket")."""
    q = question.lower().replace("’", "'")
    for pattern in (_PRICIEST, _CHEAPEST, _UNDER, _PRICE):
        q = pattern.sub(" ", q)
    words = [w.split("'")[0] for w in re.findall(r"[a-z0-9]+(?:'[a-z]+)?", q)]
    return " ".join(w for w in words if w not in _NOT_A_KIND)


def variant_ask(question: str, product: ProductRecord) -> VariantAsk:
    """Option values the question names for this product, and colours/sizes it names that the product lacks."""
    q = " " + re.sub(r"[^\w'\- ]+", " ", question.lower()) + " "
    chosen: list[tuple[str, str]] = []
    named: set[str] = set()
    for option in product.options:
        for value in option.values:
            if _names_value(q, question, value, option.name):
                chosen.append((option.name, value))
                named.add(value.lower())
                break
    has = {v.lower() for o in product.options for v in o.values}
    has_colours = {_colour(v) for v in has}
    missing = [w for w in COLOURS if re.search(rf"\b{w}\b", q) and _colour(w) not in has_colours
               and not any(w in v for v in has) and w not in product.title.lower()]
    if not any(_is_size(o.name) for o in product.options) and not _SIZES_IN_TEXT.search(product.description):
        # "does it come in large?" of a product sold in one version, whose text names no sizes either
        missing += [_SIZE_WORDS.get(m.group(1).lower(), m.group(1).upper()) for m in _IN_A_SIZE.finditer(q)]
    if any(_is_size(o.name) for o in product.options):
        sizes = {v.upper() for o in product.options if _is_size(o.name) for v in o.values}
        for code in _asked_sizes(question):
            if code not in sizes and code.lower() not in named:
                missing.append(code)
        numbers = {v for v in sizes if v.isdigit()}
        if numbers:
            for number in re.findall(r"(?:\bin (?:an? )?|\bno |\bsize |^)(\d{2})\b(?! ?(?:cm|mm|inch|in\b|\"|%))", q):
                if number not in numbers:
                    missing.append(number)
    return VariantAsk(tuple(chosen), tuple(dict.fromkeys(missing)))


def _names_value(q: str, original: str, value: str, option: str) -> bool:
    v = value.lower()
    if v in ("yes", "no"):  # an option such as Logo: Yes/No is asked for as "with the logo" / "no logo"
        name = re.escape(option.lower())
        said_no = re.search(rf"\b(?:no|without|w/o|not the one with)\s+(?:the\s+|a\s+)?{name}", q) is not None
        said_yes = re.search(rf"\bwith\s+(?:the\s+|a\s+)?{name}", q) is not None and not said_no
        return said_no if v == "no" else said_yes
    if len(v) <= 3 and v.isalpha():  # size codes: "XL", "S", "M" — only as written in capitals or "size s"
        return v.upper() in _asked_sizes(original)
    if v.isdigit():
        return bool(re.search(rf"(?<![$€£\d.,]){v}(?![\d.,]|\s?(?:cm|mm|%))", q))
    if re.search(rf"\b{re.escape(v)}\b", q):
        return True
    return (_is_colour(option) and _colour(v) != v and bool(re.search(rf"\b{_colour(v)}\b", q))) or (
        _colour(v) in COLOURS and any(re.search(rf"\b{w}\b", q) for w in _colour_spellings(v)))


def _asked_sizes(original: str) -> set[str]:
    found = {m.group(1) for m in _SIZE_CODES.finditer(original)}
    lowered = original.lower()
    found |= {code for word, code in _SIZE_WORDS.items() if re.search(rf"\b{re.escape(word)}\b", lowered)}
    found |= {m.group(1).upper() for m in re.finditer(r"\bsize (xxs|xs|s|m|l|xl|xxl|xxxl)\b", lowered)}
    found |= {m.group(1).upper() for m in re.finditer(r"\b(xxs|xs|xl|xxl|xxxl)\b", lowered)}
    if "extra large" in lowered or "x-large" in lowered:
        found.discard("L")
    if "extra small" in lowered:
        found.discard("S")
    return found


def _is_size(option: str) -> bool:
    return bool(re.search(r"size|waist|length|inseam", option.lower()))


def _is_colour(option: str) -> bool:
    return bool(re.search(r"colou?r|shade", option.lower()))


def _colour(value: str) -> str:
    return "gray" if value.lower() == "grey" else value.lower()


def _colour_spellings(value: str) -> tuple[str, ...]:
    v = value.lower()
    return ("gray", "grey") if v in ("gray", "grey") else (v,)

# Words that ask nothing about a product's description ("how much is it", "do you have the … in")
FILLER = frozenset(
    [
        "a", "an", "the", "it", "its", "it's", "this", "that", "these", "those", "one", "ones", "is", "are", "was",
        "they", "them", "their", "both", "each", "all", "costs", "were",
        "do", "does", "did", "have", "has", "got", "get", "you", "your", "i", "me", "my", "we", "can", "could", "would",
        "will", "should", "please", "pls", "plz", "ok", "okay", "so", "then", "and", "or", "but", "what", "whats",
        "what's", "which", "how", "about", "in", "on", "of", "for", "with", "to", "any", "there", "come", "comes",
        "available", "stock", "price", "cost", "much", "sku", "colour", "colours", "color", "colors", "size", "sizes",
        "exact", "also", "too", "yes", "no", "not", "sale", "actually", "really", "still", "now", "right", "then",
        "just", "exactly", "instead", "version", "options", "option", "variant", "kind", "tell", "more", "info",
        "information", "details", "describe", "know", "like", "want", "looking", "interested", "thinking", "buying",
        "sell", "carry", "offer", "guys"
    ]
)
