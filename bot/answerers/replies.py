"""The shapes of the fact answerer's replies: declines, product replies with one citation per product, lists."""

from __future__ import annotations

from bot.types import Citation, Focus, Reply
from knowledge.sources.records import ProductRecord

OFFER_PERSON = "Would you like me to connect you with a person from our team?"
DECLINE = f"I'm not sure about that one, and I'd rather not guess. {OFFER_PERSON}"


WHICH_PRODUCT = "Which product do you mean? Tell me its name and I'll look it up."


def decline() -> Reply:
    return Reply(DECLINE, confident=False)


def which_product() -> Reply:
    """"how much is it?" with nothing talked of yet: a question back, not a guess (nor a decline)."""
    return Reply(WHICH_PRODUCT, mode="clarify")


def product_citation(product: ProductRecord) -> Citation:
    return Citation(f"product:{product.id}", product.title, product.url,
                    f"{product.origin.path}:{product.origin.line}")


def product_reply(text: str, product: ProductRecord, confident: bool = True,
                  options: tuple[tuple[str, str], ...] = ()) -> Reply:
    return Reply(text if confident else f"{text} {OFFER_PERSON}", (product_citation(product),), confident=confident,
                 mode="extractive", focus=Focus((product.id,), options=options))


def list_reply(text: str, products: list[ProductRecord] | tuple[ProductRecord, ...], alike: bool = False,
               kind: str = "", confident: bool = True) -> Reply:
    return Reply(text, tuple(product_citation(p) for p in products), confident=confident, mode="extractive",
                 focus=Focus(tuple(p.id for p in products), alike=alike, kind=kind))
