"""Product facts for the LLM, and the check that an LLM answer states no price, SKU or stock figure the
cited product's record does not hold."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from bot.answerers.phrasing import option_phrase, price_text, variant_label
from knowledge.sources.records import ProductRecord

MAX_VARIANTS_IN_BLOCK = 12
_MONEY = re.compile(r"(?:[$€£¥₹]\s?\d[\d,]*(?:\.\d{1,2})?|\d[\d,]*\.\d{2}\b|\d[\d,]*(?:\.\d{1,2})?\s?(?:EUR|USD|GBP|"
                    r"euros?|dollars?|pounds?)\b)", re.IGNORECASE)
_STOCK = re.compile(r"\b(\d+)\s+(?:in stock|available|left|units?|pieces?)\b", re.IGNORECASE)
_SKU_LIKE = re.compile(r"\b(?=[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+\b")


def fact_block(product: ProductRecord) -> str:
    """One compact line of facts per product, for the model to state instead of guessing."""
    facts = [f"price {price_text(product) or 'unknown'}"]
    facts.extend(option_phrase(o.name, o.values) for o in product.options)
    shown = product.variants[:MAX_VARIANTS_IN_BLOCK]
    for v in shown:
        stock = "in stock" if (v.available or (v.stock or 0) > 0) else (
            "out of stock" if v.available is False or v.stock == 0 else "stock unknown")
        label = variant_label(v.options) or "default"
        count = f" ({v.stock})" if v.stock else ""
        facts.append(f"{label}: SKU {v.sku or '-'}, {price_text(product, (v,)) or 'no price'}, {stock}{count}")
    if len(product.variants) > len(shown):
        facts.append(f"and {len(product.variants) - len(shown)} more variants")
    return "Facts: " + "; ".join(facts)


def unsupported_figures(text: str, products: list[ProductRecord], passages_text: str) -> list[str]:
    """Prices, SKUs and stock counts in `text` that neither the products' records nor the passages hold."""
    amounts = {v for p in products for var in p.variants for v in (var.price, var.compare_at_price) if v is not None}
    amounts |= {a for m in _MONEY.finditer(passages_text) if (a := _amount(m.group(0))) is not None}
    skus = {v.sku.upper() for p in products for v in p.variants if v.sku} | {p.id.upper() for p in products}
    stocks = {v.stock for p in products for v in p.variants if v.stock is not None}
    wrong = [m.group(0) for m in _MONEY.finditer(text) if (a := _amount(m.group(0))) is not None and a not in amounts]
    wrong += [m.group(0) for m in _SKU_LIKE.finditer(text)
              if m.group(0).upper() not in skus and m.group(0).lower() not in passages_text.lower()]
    wrong += [m.group(0) for m in _STOCK.finditer(text)
              if int(m.group(1)) not in stocks and m.group(0) not in passages_text]
    return wrong


def _amount(text: str) -> Decimal | None:
    digits = re.sub(r"[^\d.,]", "", text).replace(",", "")
    try:
        return Decimal(digits).quantize(Decimal("0.01")) if digits else None
    except InvalidOperation:
        return None
