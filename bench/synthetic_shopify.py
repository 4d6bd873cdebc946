"""A deterministic synthetic Shopify product export, in the exact column layout of the dev store's
`luma_shopify.csv`, and the first-row-only reduction the pre-importer loader can read.

Each product has 10 variants (5 sizes × 2 colours; on every 3rd product XL costs 4.00 more). Its first
row carries Title, Body (HTML) with a few `<p>`, a `<ul>` and a `<table>` (about the length of the dev
store's bodies), Vendor, Type, Tags and the option names; later rows only the Handle, option values, SKU,
price and stock. Every 4th product also has an image-only row.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

HEADER = ("Handle,Title,Body (HTML),Vendor,Type,Tags,Published,Option1 Name,Option1 Value,Option2 Name,"
           "Option2 Value,Option3 Name,Option3 Value,Variant SKU,Variant Grams,Variant Inventory Tracker,"
           "Variant Inventory Qty,Variant Inventory Policy,Variant Fulfillment Service,Variant Price,"
           "Variant Compare At Price,Variant Requires Shipping,Variant Taxable,Variant Barcode,Image Src,"
           "Image Position,Image Alt Text,Gift Card,SEO Title,SEO Description,Variant Image,Variant Weight Unit,"
           "Variant Tax Code,Cost per item,Status")
COLUMNS = next(csv.reader([HEADER]))
SIZES = ("XS", "S", "M", "L", "XL")
COLORS = ("Black", "Blue", "Gray", "Green", "Orange", "Purple", "Red", "White", "Yellow")
VARIANTS_PER_PRODUCT = len(SIZES) * 2
_ADJ = ("Aero", "Arcadio", "Breathe", "Cassius", "Chaz", "Desiree", "Echo", "Frankie", "Hero", "Juno",
        "Kratos", "Lando", "Mach", "Nora", "Orion", "Proteus", "Selene", "Stark", "Teton", "Zoltan")
_NOUN = ("Hoodie", "Jacket", "Tee", "Tank", "Pant", "Short", "Bra", "Sweatshirt", "Pullover", "Legging")
_TEXT = ("breathable fabric wicks moisture during training runs cold weather layers warmth soft brushed "
          "interior ribbed cuffs hem seal heat lightweight mesh panels ventilation stretch recycled polyester "
          "cotton blend relaxed fit tapered cut zippered pocket keys phone reflective trim visibility night "
          "gym yoga hiking commute machine wash dry durable stitching seams flatlock comfort")
_WORDS = _TEXT.split()


def _sentence(rng: random.Random) -> str:
    words = rng.sample(_WORDS, rng.randint(8, 14))
    return " ".join(words).capitalize() + "."


def _body(rng: random.Random, title: str) -> str:
    paragraphs = "".join(f"<p>{_sentence(rng)}</p>\n" for _ in range(rng.randint(1, 2)))
    items = "".join(f"<li>{' '.join(rng.sample(_WORDS, 2)).capitalize()}.</li>" for _ in range(3))
    table = (f"<table><tr><th>Material</th><td>{rng.randint(40, 95)}% cotton</td></tr>"
             f"<tr><th>Care</th><td>Machine wash cold</td></tr><tr><th>Fit</th><td>{rng.choice(('Relaxed', 'Slim'))}"
             "</td></tr></table>")
    return f"<p>The {title} is made for {rng.choice(('training', 'the trail', 'the studio'))}.</p>\n" \
           f"{paragraphs}<ul>{items}</ul>\n{table}"


def write_export(path: Path, variants: int, seed: int = 7) -> int:
    """Writes `variants // 10` products; returns the number of rows written."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.DictWriter(f, fieldnames=COLUMNS)
        out.writeheader()
        for number in range(max(1, variants // VARIANTS_PER_PRODUCT)):
            title = f"{rng.choice(_ADJ)} {rng.choice(_ADJ)} {rng.choice(_NOUN)} {number}"
            handle = title.lower().replace(" ", "-")
            colors = rng.sample(COLORS, 2)
            price = rng.randint(19, 99)
            xl_extra = 4 if number % 3 == 0 else 0
            for position, (size, color) in enumerate((s, c) for s in SIZES for c in colors):
                row = {"Handle": handle, "Option1 Value": size, "Option2 Value": color,
                       "Variant SKU": f"SY{number:06d}-{size}-{color}", "Variant Inventory Tracker": "shopify",
                       "Variant Inventory Qty": str(rng.randint(0, 120)), "Variant Inventory Policy": "deny",
                       "Variant Fulfillment Service": "manual",
                       "Variant Price": f"{price + (xl_extra if size == 'XL' else 0)}.00",
                       "Variant Requires Shipping": "true", "Variant Taxable": "true"}
                if position == 0:
                    row |= {"Title": title, "Body (HTML)": _body(rng, title), "Vendor": "Synthetic",
                            "Type": rng.choice(_NOUN) + "s", "Tags": f"{rng.choice(_NOUN)}, Men, Tops",
                            "Published": "true", "Option1 Name": "Size", "Option2 Name": "Color",
                            "Status": "active"}
                out.writerow(row)
                rows += 1
            if number % 4 == 0:
                out.writerow({"Handle": handle, "Image Src": f"https://example.com/{handle}-alt.jpg",
                              "Image Position": "2"})
                rows += 1
    return rows


def first_rows(source: Path, target: Path, body_column: str = "Body (HTML)", only_first: bool = True) -> int:
    """Each handle's first row only (or every row), the body column renamed to `body_column`; returns the
    number of products."""
    target.parent.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    with source.open(newline="", encoding="utf-8") as f, target.open("w", newline="", encoding="utf-8") as g:
        reader = csv.DictReader(f)
        names = [body_column if n == "Body (HTML)" else n for n in reader.fieldnames or ()]
        out = csv.DictWriter(g, fieldnames=names)
        out.writeheader()
        for row in reader:
            if row["Handle"] not in seen or not only_first:
                seen.add(row["Handle"])
                out.writerow({body_column if k == "Body (HTML)" else k: v for k, v in row.items()})
    return len(seen)


def variant_counts(path: Path) -> tuple[int, int, int]:
    """(variant rows, distinct SKUs, products whose variants differ in price) of a Shopify export."""
    prices: dict[str, set[str]] = {}
    rows, skus = 0, set()
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["Variant SKU"] or row["Option1 Value"] or row["Variant Price"]:
                rows += 1
                skus.add(row["Variant SKU"])
                prices.setdefault(row["Handle"], set()).add(row["Variant Price"])
    return rows, len(skus - {""}), sum(len(p) > 1 for p in prices.values())
