"""Prices as shops and spreadsheets write them ("52.00", "1,299.00", "1.299,00", "$24", "24 €") → Decimal.

A price that is not a number is a SourceError: a wrong price is worse than a failed build.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from knowledge.sources.records import SourceError

# A symbol names several currencies; the store's own currency wins when it is one of them.
_SYMBOLS: dict[str, tuple[str, ...]] = {
    "$": ("USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN"), "us$": ("USD",), "c$": ("CAD",), "a$": ("AUD",),
    "€": ("EUR",), "£": ("GBP",), "¥": ("JPY", "CNY"), "₹": ("INR",), "₩": ("KRW",), "₺": ("TRY",),
    "₪": ("ILS",), "zł": ("PLN",), "kr": ("SEK", "NOK", "DKK"), "r$": ("BRL",), "fr": ("CHF",),
}
_CODES = frozenset({"USD", "EUR", "GBP", "CAD", "AUD", "NZD", "CHF", "JPY", "CNY", "INR", "SEK", "NOK", "DKK",
                    "PLN", "CZK", "HUF", "BRL", "MXN", "ZAR", "SGD", "HKD", "KRW", "TRY", "ILS", "AED"})
_SHAPE = re.compile(r"\s*(?P<pre>[^\d\s.,+-]*)\s*(?P<num>[+-]?\d[\d.,'’\s]*?)\s*(?P<post>[^\d\s.,]*)\s*")
_PLAIN = re.compile(r"[+-]?\d+(?:\.\d+)?")


@dataclass(frozen=True, slots=True)
class Price:
    amount: Decimal | None  # None: no price given
    currency: str = ""  # the currency written with the amount ("$24" → USD); "" when none


def parse_price(raw: str, shown: str, line: int, store_currency: str = "", what: str = "price") -> Price:
    """`raw` as a Price; an empty cell is no price. Raises SourceError naming file and line otherwise."""
    text = raw.strip()
    if not text:
        return Price(None)
    match = _SHAPE.fullmatch(text)
    markers = [m for m in (match.group("pre"), match.group("post")) if m] if match else []
    currencies = [_currency(m, store_currency) for m in markers]
    number = _normalise(match.group("num")) if match else None
    if match is None or number is None or "" in currencies or len(set(currencies)) > 1:
        raise SourceError(shown, line, f"{what} {raw!r} is not a number")
    try:
        amount = Decimal(number)
    except InvalidOperation:  # _PLAIN already checked the shape; kept for safety
        raise SourceError(shown, line, f"{what} {raw!r} is not a number") from None
    if amount < 0:
        raise SourceError(shown, line, f"{what} {raw!r} is negative")
    return Price(amount, currencies[0] if currencies else "")


def _currency(marker: str, store_currency: str) -> str:
    """The ISO code a symbol or code stands for; "" when it is neither."""
    if marker.upper() in _CODES or (len(marker) == 3 and marker.isalpha() and marker.isupper()):
        return marker.upper()
    candidates = _SYMBOLS.get(marker.lower(), ())
    if store_currency in candidates:
        return store_currency
    return candidates[0] if candidates else ""


def _normalise(number: str) -> str | None:
    """Digits with one "." as the decimal point, or None when the separators make no sense."""
    number = re.sub(r"[\s'’]", "", number)
    sign = number[0] if number[0] in "+-" else ""
    number = number.lstrip("+-")
    if "," in number and "." in number:
        decimal = "," if number.rfind(",") > number.rfind(".") else "."
        thousands = "." if decimal == "," else ","
    elif number.count(",") == 1 and len(number.rsplit(",", 1)[1]) != 3:
        decimal, thousands = ",", "."  # "24,90": a decimal comma
    elif "," in number:
        decimal, thousands = ".", ","  # "1,299" or "1,299,000": thousands
    elif number.count(".") > 1:
        decimal, thousands = ",", "."  # "1.299.000": thousands
    else:
        decimal, thousands = ".", ","
    whole, _, fraction = number.partition(decimal)
    if thousands in whole and not re.fullmatch(rf"\d{{1,3}}(?:{re.escape(thousands)}\d{{3}})+", whole):
        return None
    if decimal in fraction or thousands in fraction:
        return None
    plain = sign + whole.replace(thousands, "") + (f".{fraction}" if fraction else "")
    return plain if _PLAIN.fullmatch(plain) else None
