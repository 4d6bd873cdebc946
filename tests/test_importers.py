"""Product catalog importers: Shopify and WooCommerce exports, generic CSV/JSON/JSONL, product documents.

Small files of our own reproduce each case; one test reads the real dev store exports."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from knowledge.sources.prices import Price, parse_price
from knowledge.sources.product_loader import CatalogFields, ProductsRead, load_product_file
from knowledge.sources.records import ProductOption, ProductRecord, SourceError

STORE = Path(__file__).resolve().parent / "store_exports"
DEMO = Path(__file__).resolve().parents[1] / "knowledge/demo_store/products"


def read(tmp_path: Path, name: str, text: str, currency: str = "") -> ProductsRead:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_product_file(path, f"products/{name}", 10_000_000, CatalogFields(), currency)


def table(header: str, *rows: dict[str, str]) -> str:
    """A CSV with `header`'s columns; each row names only the cells it fills."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header.split(","), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def by_id(read_: ProductsRead) -> dict[str, ProductRecord]:
    return {p.id: p for p in read_.products}


def options(record: ProductRecord) -> list[tuple[str, tuple[str, ...]]]:
    return [(o.name, o.values) for o in record.options]


# --- Shopify -------------------------------------------------------------------------------------

SHOPIFY = ("Handle,Title,Body (HTML),Vendor,Type,Tags,Published,Option1 Name,Option1 Value,Option2 Name,"
           "Option2 Value,Variant SKU,Variant Inventory Tracker,Variant Inventory Qty,Variant Inventory Policy,"
           "Variant Price,Variant Compare At Price,Variant Barcode,Variant Grams,Image Src,Status")
TRACKED = {"Variant Inventory Tracker": "shopify", "Variant Inventory Policy": "deny"}


def test_shopify_groups_variants_by_handle_and_skips_image_rows(tmp_path: Path) -> None:
    text = table(
        SHOPIFY,
        {"Handle": "tee", "Title": "Tee", "Body (HTML)": "<p>Soft cotton.</p>", "Vendor": "Acme", "Type": "Shirts",
         "Tags": "Cotton, Summer", "Published": "true", "Option1 Name": "Size", "Option1 Value": "S",
         "Option2 Name": "Color", "Option2 Value": "Red", "Variant SKU": "TEE-S-RED", **TRACKED,
         "Variant Inventory Qty": "3", "Variant Price": "20.00", "Variant Compare At Price": "25.00",
         "Variant Barcode": "0123", "Variant Grams": "180", "Status": "active"},
        {"Handle": "mug", "Title": "Mug", "Body (HTML)": "Stoneware.", "Option1 Name": "Title",
         "Option1 Value": "Default Title", "Variant SKU": "MUG-1", "Variant Inventory Policy": "deny",
         "Variant Price": "12.50", "Status": "active"},
        {"Handle": "tee", "Option1 Value": "S", "Option2 Value": "Blue", "Variant SKU": "TEE-S-BLUE", **TRACKED,
         "Variant Inventory Qty": "0", "Variant Price": "20.00"},
        {"Handle": "tee", "Image Src": "https://cdn.example/tee-2.jpg"},
        {"Handle": "tee", "Option1 Value": "M", "Option2 Value": "Red", "Variant SKU": "TEE-M-RED",
         "Variant Inventory Tracker": "shopify", "Variant Inventory Qty": "0", "Variant Inventory Policy": "continue",
         "Variant Price": "22.00"},
        {"Handle": "mug", "Image Src": "https://cdn.example/mug-2.jpg"},
    )
    got = read(tmp_path, "export.csv", text, currency="EUR")

    assert [p.id for p in got.products] == ["tee", "mug"]  # first-seen order, rows apart joined
    tee, mug = got.products
    assert (tee.title, tee.vendor, tee.category, tee.tags) == ("Tee", "Acme", "Shirts", ("Cotton", "Summer"))
    assert (tee.description, tee.currency, tee.url) == ("Soft cotton.", "EUR", "")
    assert options(tee) == [("Size", ("S", "M")), ("Color", ("Red", "Blue"))]
    assert [(v.sku, v.options, v.line) for v in tee.variants] == [
        ("TEE-S-RED", (("Size", "S"), ("Color", "Red")), 2),
        ("TEE-S-BLUE", (("Size", "S"), ("Color", "Blue")), 4),
        ("TEE-M-RED", (("Size", "M"), ("Color", "Red")), 6),
    ]
    first, blue, medium = tee.variants
    assert (first.price, first.compare_at_price, first.barcode, first.grams) == (
        Decimal("20.00"), Decimal("25.00"), "0123", 180)
    assert (first.stock, first.available) == (3, True)
    assert (blue.stock, blue.available, blue.compare_at_price) == (0, False, None)
    assert (medium.stock, medium.available) == (0, True)  # "continue": sold when out of stock
    assert tee.price_range() == (Decimal("20.00"), Decimal("22.00"))
    # Default Title: no options, one variant; an untracked variant is sold regardless, stock unknown.
    assert mug.options == ()
    (only,) = mug.variants
    assert (only.options, only.sku, only.price, only.stock, only.available) == ((), "MUG-1", Decimal("12.50"),
                                                                                 None, True)
    assert [(w.kind, w.line) for w in got.warnings] == [("image_only_row", 5), ("image_only_row", 7)]
    assert all("image" in w.message for w in got.warnings)
    tee_doc, mug_doc = got.documents
    assert (tee_doc.id, tee_doc.kind, tee_doc.product_id, tee_doc.text) == ("tee", "product", "tee", "Soft cotton.")
    assert tee_doc.metadata == {"category": "Shirts", "vendor": "Acme", "tags": "Cotton, Summer", "currency": "EUR"}
    assert mug_doc.metadata == {"currency": "EUR", "price": "12.50", "sku": "MUG-1"}


def test_shopify_body_html_is_clean_text(tmp_path: Path) -> None:
    body = ('<p>Warm <b>hoodie</b>.</p><ul><li>Fleece lined</li><li style="display: none;">SECRET NOTE</li></ul>'
            '<img src="https://cdn.example/h.jpg" alt="hoodie photo"><table><tr><td>Chest</td><td>100 cm</td></tr>'
            "<tr><td>Length</td><td>70 cm</td></tr></table>")
    text = table(SHOPIFY, {"Handle": "hoodie", "Title": "Hoodie", "Body (HTML)": body, "Variant Price": "40"})
    (hoodie,) = read(tmp_path, "hoodie.csv", text).products
    assert hoodie.description == "Warm hoodie.\n\nFleece lined\n\nChest | 100 cm\nLength | 70 cm"
    for hidden in ("SECRET", "<", "h.jpg", "photo"):
        assert hidden not in hoodie.description


def test_shopify_draft_and_unpublished_products_are_skipped(tmp_path: Path) -> None:
    text = table(
        SHOPIFY,
        {"Handle": "old", "Title": "Old Tee", "Variant Price": "5", "Status": "draft"},
        {"Handle": "off", "Title": "Offline Tee", "Variant Price": "5", "Published": "false", "Status": "active"},
        {"Handle": "on", "Title": "Live Tee", "Variant Price": "5", "Published": "true", "Status": "active"},
    )
    got = read(tmp_path, "export.csv", text)
    assert [p.id for p in got.products] == ["on"]
    assert [(w.kind, w.line) for w in got.warnings] == [("unpublished", 2), ("unpublished", 3)]


def test_shopify_duplicate_variant_is_an_error(tmp_path: Path) -> None:
    text = table(
        SHOPIFY,
        {"Handle": "tee", "Title": "Tee", "Option1 Name": "Size", "Option1 Value": "S", "Variant Price": "5"},
        {"Handle": "tee", "Option1 Value": "S", "Variant Price": "6"},
    )
    with pytest.raises(SourceError) as caught:
        read(tmp_path, "export.csv", text)
    assert (caught.value.path, caught.value.line) == ("products/export.csv", 3)
    assert "duplicate variant Size=S" in caught.value.message


def test_format_is_chosen_by_columns_case_insensitively(tmp_path: Path) -> None:
    # A Shopify layout in lower case under a neutral name, and a generic table with NAME/Description.
    shopify = "handle,TITLE,variant price\nkettle,Kettle,19.90\n"
    (kettle,) = read(tmp_path, "catalog.csv", shopify).products
    assert (kettle.id, kettle.title, kettle.variants[0].price) == ("kettle", "Kettle", Decimal("19.90"))
    generic = "NAME,Description,PRICE,Colours,Material\nMug,Stoneware mug.,7.50,white|blue,clay\n"
    got = read(tmp_path, "shopify_export.csv", generic)
    (mug,) = got.products
    assert (mug.title, mug.description, mug.variants[0].price) == ("Mug", "Stoneware mug.", Decimal("7.50"))
    assert options(mug) == [("Colour", ("white", "blue"))]
    assert mug.attributes == (("Material", "clay"),)
    assert got.documents[0].metadata == {"PRICE": "7.50", "Colours": "white|blue", "Material": "clay"}


# --- WooCommerce ---------------------------------------------------------------------------------

WOO = ("ID,Type,SKU,Name,Published,Visibility in catalog,Short description,Description,In stock?,Stock,"
       "Sale price,Regular price,Categories,Tags,Parent,Weight (kg),Attribute 1 name,Attribute 1 value(s),"
       "Attribute 2 name,Attribute 2 value(s),Meta: _internal")


def test_woocommerce_variable_product_with_variations(tmp_path: Path) -> None:
    text = table(
        WOO,
        {"ID": "10", "Type": "variable", "SKU": "TEE", "Name": "Tee", "Published": "1", "Visibility in catalog":
         "visible", "Short description": "Short.", "Description": "<p>Long\\nstory.</p>", "In stock?": "1",
         "Categories": "Clothing > Tshirts, Sale", "Tags": "cotton", "Weight (kg)": "0.2", "Attribute 1 name":
         "Color", "Attribute 1 value(s)": "Blue, Red", "Attribute 2 name": "Size", "Attribute 2 value(s)": "S, M",
         "Meta: _internal": "x"},
        {"ID": "11", "Type": "variation", "SKU": "TEE-BLUE", "Name": "Tee - Blue", "Published": "1",
         "In stock?": "1", "Stock": "5", "Sale price": "18", "Regular price": "20", "Parent": "id:10",
         "Attribute 1 name": "Color", "Attribute 1 value(s)": "Blue", "Attribute 2 name": "Size"},
        {"ID": "12", "Type": "variation", "SKU": "TEE-RED-S", "Name": "Tee - Red, S", "Published": "1",
         "In stock?": "0", "Stock": "0", "Regular price": "20", "Parent": "TEE", "Attribute 1 name": "Color",
         "Attribute 1 value(s)": "Red", "Attribute 2 name": "Size", "Attribute 2 value(s)": "S"},
        {"ID": "15", "Type": "simple, virtual", "Name": "Scarf", "Published": "1", "Visibility in catalog":
         "visible", "In stock?": "1", "Sale price": "12", "Regular price": "15", "Categories": "Accessories"},
    )
    got = read(tmp_path, "woo.csv", text, currency="GBP")

    tee, scarf = got.products
    assert (tee.id, tee.title, tee.category, tee.tags) == ("TEE", "Tee", "Tshirts, Sale", ("cotton",))
    assert tee.description == "Short.\n\nLong\n\nstory."  # a literal \\n is a line break, even in HTML
    assert options(tee) == [("Color", ("Blue", "Red")), ("Size", ("S", "M"))]
    assert tee.attributes == (("Weight (kg)", "0.2"),)
    blue, red = tee.variants
    # An empty Size on a variation means "any size": left out of its options.
    assert (blue.sku, blue.options, blue.price, blue.compare_at_price) == (
        "TEE-BLUE", (("Color", "Blue"),), Decimal("18"), Decimal("20"))
    assert (blue.stock, blue.available, blue.line) == (5, True, 3)
    assert (red.options, red.price, red.compare_at_price, red.stock, red.available) == (
        (("Color", "Red"), ("Size", "S")), Decimal("20"), None, 0, False)
    assert (tee.currency, tee.price_range()) == ("GBP", (Decimal("18"), Decimal("20")))
    # No SKU: the id is woo-<ID>; a simple product is one variant at its sale price.
    assert scarf.id == "woo-15"
    assert [(v.price, v.compare_at_price) for v in scarf.variants] == [(Decimal("12"), Decimal("15"))]
    # An empty description is kept: the text is a fact line, so the product can still be found.
    assert got.documents[1].text == "Scarf. Category: Accessories."
    assert got.warnings == ()


def test_woocommerce_hidden_and_draft_products_are_skipped(tmp_path: Path) -> None:
    text = table(
        WOO,
        {"ID": "1", "Type": "simple", "SKU": "HOOD", "Name": "Hoodie with Pocket", "Published": "1",
         "Visibility in catalog": "hidden", "Regular price": "45"},
        {"ID": "2", "Type": "variable", "SKU": "CAP", "Name": "Cap", "Published": "-1", "Visibility in catalog":
         "visible"},
        {"ID": "3", "Type": "variation", "SKU": "CAP-RED", "Name": "Cap - Red", "Published": "1", "Parent": "id:2",
         "Regular price": "9"},
        {"ID": "4", "Type": "simple", "SKU": "BELT", "Name": "Belt", "Published": "1", "Visibility in catalog":
         "visible", "Regular price": "30"},
    )
    got = read(tmp_path, "woo.csv", text)
    assert [p.id for p in got.products] == ["BELT"]
    assert [(w.kind, w.line) for w in got.warnings] == [("unpublished", 2), ("unpublished", 3)]
    assert "Hoodie with Pocket" in got.warnings[0].message


def test_woocommerce_variation_with_unknown_parent_is_an_error(tmp_path: Path) -> None:
    text = table(
        WOO,
        {"ID": "1", "Type": "variable", "SKU": "TEE", "Name": "Tee", "Published": "1"},
        {"ID": "2", "Type": "variation", "SKU": "X-1", "Name": "X", "Published": "1", "Parent": "id:99"},
    )
    with pytest.raises(SourceError) as caught:
        read(tmp_path, "woo.csv", text)
    assert (caught.value.line, caught.value.message) == (3, "variation's parent 'id:99' is not in the file")


# --- Generic catalogs and the lenient rules ---------------------------------------------------------


def test_generic_row_without_title_or_text_is_skipped_and_empty_description_kept(tmp_path: Path) -> None:
    text = "sku,name,description,category,sizes\nK-1,Kettle,Steel kettle.,kitchen,\nM-2,Mug,,kitchen,S|L\nX-3,,,,\n"
    got = read(tmp_path, "catalog.csv", text)
    assert [p.id for p in got.products] == ["K-1", "M-2"]
    assert got.documents[1].text == "Mug. Category: kitchen. Size: S, L."
    (warning,) = got.warnings
    assert (warning.kind, warning.path, warning.line) == ("no_text", "products/catalog.csv", 4)
    assert str(warning).startswith("products/catalog.csv:4: ")


def test_generic_price_that_is_not_a_number_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        read(tmp_path, "catalog.csv", "sku,name,price\nK-1,Kettle,19.90\nM-2,Mug,abc\n")
    assert str(caught.value) == "products/catalog.csv:3: price 'abc' is not a number"


def test_duplicate_product_id_in_a_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        read(tmp_path, "catalog.csv", "sku,name,price\nK-1,Kettle,19.90\nM-2,Mug,7\nK-1,Kettle 2,20\n")
    assert (caught.value.line, caught.value.message) == (
        4, "duplicate product id 'K-1' (first at products/catalog.csv:2)")


@pytest.mark.parametrize(("name", "text"), [("a.csv", ""), ("b.csv", "sku,name\n"), ("c.jsonl", "\n"),
                                            ("d.json", "[]"), ("e.md", "  \n")])
def test_empty_file_is_a_warning(tmp_path: Path, name: str, text: str) -> None:
    got = read(tmp_path, name, text)
    assert (got.products, got.documents) == ((), ())
    assert [(w.kind, w.path) for w in got.warnings] == [("empty_file", f"products/{name}")]


def test_generic_stock_currency_and_availability(tmp_path: Path) -> None:
    rows = [{"sku": "A", "title": "Lamp", "price": "€30", "stock": 4, "brand": "Lumo", "type": "Home > Lighting",
             "tags": "desk, led"},
            {"sku": "B", "title": "Rug", "price": "80", "currency": "chf", "quantity": "0"},
            {"sku": "C", "title": "Vase", "price": "12", "stock": "sold out"}]
    lamp, rug, vase = read(tmp_path, "catalog.json", json.dumps(rows, indent=1), currency="SEK").products
    assert (lamp.vendor, lamp.category, lamp.tags, lamp.currency) == ("Lumo", "Lighting", ("desk", "led"), "EUR")
    assert (lamp.variants[0].stock, lamp.variants[0].available) == (4, True)
    assert (rug.currency, rug.variants[0].stock, rug.variants[0].available) == ("CHF", 0, False)
    assert (vase.currency, vase.variants[0].stock, vase.variants[0].available) == ("SEK", None, False)


def test_generic_jsonl_passages_keep_their_text(tmp_path: Path) -> None:
    rows = [{"id": "p00001", "asin": "B0052SUOYC", "title": "Ice Maker", "source": "attribute",
             "text": 'compatible_devices:  { value:"im1, im3" }'},
            {"id": "p00002", "asin": "B0052SUOYC", "title": "Ice Maker", "source": "cqa", "text": "Fits GE."}]
    got = read(tmp_path, "passages.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    first, second = got.documents
    assert (first.id, first.text, first.title) == ("p00001", rows[0]["text"], "Ice Maker")
    assert first.metadata == {"id": "p00001", "asin": "B0052SUOYC", "source": "attribute"}
    assert (second.origin.line, second.product_id) == (2, "p00002")


@pytest.mark.parametrize(("raw", "amount", "currency"), [
    ("52.00", "52.00", ""), ("1,299.00", "1299.00", ""), ("1.299,00", "1299.00", ""), ("$24", "24", "USD"),
    ("24 €", "24", "EUR"), ("1 299,90 EUR", "1299.90", "EUR"), ("24,90", "24.90", ""), ("", None, ""),
])
def test_prices(raw: str, amount: str | None, currency: str) -> None:
    assert parse_price(raw, "f.csv", 2) == Price(Decimal(amount) if amount else None, currency)


def test_price_symbol_prefers_the_store_currency() -> None:
    assert parse_price("$24", "f.csv", 2, store_currency="CAD").currency == "CAD"


@pytest.mark.parametrize("raw", ["abc", "12 apples", "1,2,3", "1.2.3,4.5", "--5"])
def test_bad_prices_are_errors(raw: str) -> None:
    with pytest.raises(SourceError, match="is not a number"):
        parse_price(raw, "f.csv", 7)


# --- Product documents -----------------------------------------------------------------------------


def test_markdown_product_document_is_a_record_too(tmp_path: Path) -> None:
    doc = ("---\nsku: NW-1\ntitle: Trail Jacket\nprice: 129.00\ncategory: jackets\nsizes: S|M\n"
           "colors: [black, red]\nmaterial: nylon\n---\n# Trail Jacket\nLight and warm.\n")
    got = read(tmp_path, "jacket.md", doc, currency="EUR")
    (record,) = got.products
    assert (record.id, record.title, record.category, record.currency) == ("NW-1", "Trail Jacket", "jackets", "EUR")
    assert record.options == (ProductOption("Size", ("S", "M")), ProductOption("Color", ("black", "red")))
    assert [(v.sku, v.price) for v in record.variants] == [("NW-1", Decimal("129.00"))]
    assert record.attributes == (("material", "nylon"),)
    (document,) = got.documents
    # Markdown becomes clean text; the title heading is the title
    assert (document.text, document.product_id) == ("Light and warm.", "NW-1")


def test_product_document_bad_price_names_its_line(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        read(tmp_path, "kettle.md", "---\nsku: K-1\nprice: cheap\n---\nBody.\n")
    assert (caught.value.line, caught.value.message) == (3, "price 'cheap' is not a number")


def test_demo_store_products_load_without_warnings() -> None:
    reads = [load_product_file(p, f"products/{p.name}", 10_000_000, CatalogFields(), "EUR")
             for p in sorted(DEMO.iterdir())]
    assert all(r.warnings == () for r in reads)
    catalog = next(r for p, r in zip(sorted(DEMO.iterdir()), reads, strict=True) if p.name == "catalog.csv")
    jacket = catalog.products[0]
    assert (jacket.id, jacket.variants[0].price, jacket.currency) == ("NW-JK-101", Decimal("249.00"), "EUR")
    assert options(jacket) == [("Size", ("S", "M", "L", "XL", "XXL")), ("Color", ("black", "navy", "forest green"))]
    assert len(catalog.documents) == len(catalog.products)


# --- The real dev store exports ----------------------------------------------------------------------


def test_dev_store_exports() -> None:
    products = STORE / "products"
    luma = load_product_file(products / "luma_shopify.csv", "products/luma_shopify.csv", 10_000_000,
                             CatalogFields(), "USD")
    assert len(luma.products) == 185
    assert sum(len(p.variants) for p in luma.products) == 1891
    assert len(luma.documents) == 185
    assert {w.kind for w in luma.warnings} == {"image_only_row"}
    hoodie = by_id(luma)["chaz-kangeroo-hoodie"]
    assert hoodie.title == "Chaz Kangeroo Hoodie"
    assert hoodie.price_range() == (Decimal("52.00"), Decimal("52.00"))
    assert options(hoodie) == [("Size", ("XS", "S", "M", "L", "XL")), ("Color", ("Black", "Gray", "Orange"))]
    assert "MH01-XL-Orange" in {v.sku for v in hoodie.variants}
    assert "<" not in hoodie.description and "Drawstring-adjustable hood." in hoodie.description

    woo = load_product_file(products / "woocommerce_sample_products.csv",
                            "products/woocommerce_sample_products.csv", 10_000_000, CatalogFields(), "USD")
    # 24 rows: 15 products (one hidden) and 9 variations of two variable products.
    assert len(woo.products) == 14
    assert sum(len(p.variants) for p in woo.products) == 20
    assert [(w.kind, w.line) for w in woo.warnings] == [("unpublished", 9)]
    assert "Hoodie with Pocket" in woo.warnings[0].message
    found = by_id(woo)
    assert options(found["cc-tee"]) == [("Color", ("Blue", "Green", "Red")), ("Size", ("Large", "Medium", "Small"))]
    assert len(found["cc-tee"].variants) == 3 and len(found["cc-hoodie"].variants) == 6
    red = next(v for v in found["cc-hoodie"].variants if v.sku == "cc-hoodie-red")
    assert (red.price, red.compare_at_price) == (Decimal("42"), Decimal("45"))
    assert found["cc-logo-collection"].variants == ()  # grouped: lists other products
    assert found["cp-donation"].url == "https://www.classicpress.net/donate/"
