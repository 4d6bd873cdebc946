"""Questions about the catalogue rather than one product: the cheapest or most expensive of a kind, what there
is under a price, and what is on sale — a short list with prices."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.answerers.intents import CatalogueAsk
from bot.answerers.phrasing import agree, join_words, money, price_text
from knowledge.sources.records import ProductRecord

LISTED = 3
_COMPARATIVE = {"cheapest": "cheaper", "most expensive": "more expensive"}
LISTED_UNDER = 5


@dataclass(frozen=True, slots=True)
class CatalogueAnswer:
    text: str
    products: tuple[ProductRecord, ...]  # as listed, best first
    confident: bool = True


def answer_catalogue(ask: CatalogueAsk, kind: str, candidates: list[ProductRecord], of_those: bool = False
                     ) -> CatalogueAnswer:
    """The cheapest or dearest of a kind (or, `of_those`, of the products just shown), or those under a price."""
    label = kind.strip() or "item"
    if ask.order == "on sale":
        return _on_sale(kind.strip(), candidates)
    priced = [(p, low) for p in candidates if (low := _lowest(p)) is not None]
    if not priced:
        return CatalogueAnswer(f"I couldn't find any {label} with a price in our catalogue.", (), confident=False)
    if ask.order == "under" and ask.limit is not None:
        return _under(ask.limit, label, priced)
    priced.sort(key=lambda pair: pair[1], reverse=ask.order == "priciest")
    best, rest = priced[0][0], [p for p, _ in priced[1:LISTED]]
    word = "most expensive" if ask.order == "priciest" else "cheapest"
    plural = label.endswith("s") and not label.endswith("ss")
    if of_those:  # not "our cheapest item": the store may sell cheaper things than those shown
        lead = f"Of the two, the {_COMPARATIVE[word]}" if len(priced) == 2 else f"Of those, the {word}"
    else:
        lead = f"The {word} of our {label}" if plural else f"Our {word} {label}"  # not "our cheapest socks is"
    text = f"{lead} is the {best.title} at {price_text(best)}."
    if of_those and len(priced) == 2:
        other = rest[0]
        return CatalogueAnswer(f"{text[:-1]}; the {other.title} {agree(other.title, 'costs', 'cost')} "
                               f"{price_text(other)}.", (best, *rest))
    if rest:
        text += f" Next: {join_words([f'{p.title} ({price_text(p)})' for p in rest])}."
    return CatalogueAnswer(text, (best, *rest))


def _under(limit: Decimal, label: str, priced: list[tuple[ProductRecord, Decimal]]) -> CatalogueAnswer:
    currency = priced[0][0].currency
    below = sorted((pair for pair in priced if pair[1] <= limit), key=lambda pair: pair[1])
    if not below:
        cheapest = min(priced, key=lambda pair: pair[1])[0]
        return CatalogueAnswer(
            f"I couldn't find any {label} under {money(limit, currency)}; the cheapest is the {cheapest.title} at "
            f"{price_text(cheapest)}.", (cheapest,))
    shown = [p for p, _ in below[:LISTED_UNDER]]
    items = join_words([f"{p.title} ({price_text(p)})" for p in shown])
    more = f" and {len(below) - len(shown)} more" if len(below) > len(shown) else ""
    count = "One option" if len(below) == 1 else f"{len(below)} options"
    return CatalogueAnswer(f"{count} under {money(limit, currency)}: {items}{more}.", tuple(shown))


def _on_sale(kind: str, candidates: list[ProductRecord]) -> CatalogueAnswer:
    """What is reduced now (a "was" price above the price), cheapest first — or that none of it is."""
    reduced = [(p, was) for p in candidates if (was := _was_price(p)) is not None]
    reduced.sort(key=lambda pair: _lowest(pair[0]) or Decimal(0))
    if not reduced:
        return CatalogueAnswer(f"I can't see {f'any {kind}' if kind else 'anything'} on sale right now.", ())
    shown = reduced[:LISTED_UNDER]
    items = [f"{p.title} ({price_text(p)}, was {money(was, p.currency)})" for p, was in shown]
    left = len(reduced) - len(shown)
    listed = f"{', '.join(items)}, and {left} more" if left else join_words(items)
    lead = f"{kind[:1].upper()}{kind[1:]} on sale now" if kind else "On sale now"
    return CatalogueAnswer(f"{lead}: {listed}.", tuple(p for p, _ in shown))


def _was_price(product: ProductRecord) -> Decimal | None:
    was = [v.compare_at_price for v in product.variants
           if v.compare_at_price is not None and v.price is not None and v.compare_at_price > v.price]
    return max(was) if was else None


def _lowest(product: ProductRecord) -> Decimal | None:
    prices = [v.price for v in product.variants if v.price is not None]
    return min(prices) if prices else None
