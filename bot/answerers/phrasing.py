"""Facts as plain sentences: money, lists, option values. No markup: every platform shows plain text."""

from __future__ import annotations

import re
from decimal import Decimal

from knowledge.sources.records import ProductRecord, Variant

_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹"}


def money(amount: Decimal, currency: str) -> str:
    text = f"{amount:,.2f}"
    symbol = _SYMBOLS.get(currency.upper())
    if symbol:
        return f"{symbol}{text}"
    return f"{text} {currency}" if currency else text


def join_words(items: list[str], last: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def price_text(product: ProductRecord, variants: tuple[Variant, ...] | None = None) -> str | None:
    """"€52.00", "€45.00–€52.00", or None when no price is known."""
    chosen = product.variants if variants is None else variants
    prices = [v.price for v in chosen if v.price is not None]
    if not prices:
        return None
    low, high = min(prices), max(prices)
    if low == high:
        return money(low, product.currency)
    return f"{money(low, product.currency)}–{money(high, product.currency)}"


def sale_text(product: ProductRecord, variants: tuple[Variant, ...]) -> str | None:
    """" (on sale: was €32.00)" when the chosen variants are reduced."""
    was = [v.compare_at_price for v in variants
           if v.compare_at_price is not None and v.price is not None and v.compare_at_price > v.price]
    return f" (on sale; it was {money(max(was), product.currency)})" if was else None


def option_phrase(name: str, values: tuple[str, ...] | list[str]) -> str:
    shown = [display_value(name, v) for v in values]
    lowered = name.lower()
    if re.search(r"colou?r", lowered):
        return f"in {join_words(shown, 'and')}"
    if "size" in lowered:
        if len(values) == 1 and re.fullmatch(r"one[ -]?size(?: fits (?:all|most))?|os|o/s", values[0].strip(), re.I):
            return "in one size"  # not "in sizes one size"
        return f"in sizes {size_span(list(values))}"
    return f"with {lowered} {join_words(shown, 'or')}"


def display_value(option: str, value: str) -> str:
    # Colours read as words ("black"); sizes, codes and names keep the store's spelling.
    return value.lower() if re.search(r"colou?r", option.lower()) and value.istitle() else value


def size_span(values: list[str]) -> str:
    """"XS–XL" for a run of letter sizes of five or more; otherwise the list."""
    order = ["XXS", "XS", "S", "M", "L", "XL", "XXL", "XXXL"]
    upper = [v.upper() for v in values]
    if len(values) >= 5 and all(v in order for v in upper):
        positions = sorted(order.index(v) for v in upper)
        if positions == list(range(positions[0], positions[-1] + 1)):
            return f"{order[positions[0]]}–{order[positions[-1]]}"
    return join_words(values, "and")


def variant_label(options: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(_labelled(name, value) for name, value in options)


def _labelled(name: str, value: str) -> str:
    if value.lower() in ("yes", "no"):  # Logo: Yes → "with logo"
        return f"{'with' if value.lower() == 'yes' else 'without'} {name.lower()}"
    return display_value(name, value)


def shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def agree(title: str, singular: str, plural: str) -> str:
    """The verb for a product's title: "the Liner Socks cost", "the Summit Pro 2 Tent costs". A title whose last
    word (before a "Men's"/"Women's") is a plural noun is plural; "Glass", "Dress" and "2-Pack" are not."""
    words = [w for w in re.findall(r"[A-Za-z][\w'’-]*", title) if not re.search(r"['’]s$", w)]
    last = words[-1].lower() if words else ""
    plural_noun = len(last) > 3 and last.endswith("s") and not last.endswith(("ss", "us", "is", "ys"))
    return plural if plural_noun else singular
