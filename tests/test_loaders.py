"""Loading a knowledge source directory: every format's happy path."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from knowledge.sources.records import Origin
from tests.loader_helpers import BASE_FAQ, load

# --- FAQ happy paths -------------------------------------------------------------------------


def test_faq_csv_with_alternates_tags_and_url(tmp_path: Path) -> None:
    csv_text = (
        "id,question,answer,alternates,tags,url\n"
        "returns,How do I return an item?,Use the returns page.,"
        "Can I send it back? | Refund policy,returns|policy,https://shop.example/returns\n"
        '"",What payment methods do you take?,"Visa, Mastercard\nand PayPal.",,,\n'
    )
    sources = load(tmp_path, {"faq/faq.csv": csv_text})

    first, second = sources.faqs
    assert first.id == "returns"
    assert first.question == "How do I return an item?"
    assert first.answer == "Use the returns page."
    assert first.alternates == ("Can I send it back?", "Refund policy")
    assert first.tags == ("returns", "policy")
    assert first.url == "https://shop.example/returns"
    assert (first.origin.path, first.origin.line) == ("faq/faq.csv", 2)
    # No id: derived from the question. A quoted multi-line answer keeps its newline.
    assert second.id == "what-payment-methods-do-you-take"
    assert second.answer == "Visa, Mastercard\nand PayPal."
    assert (second.alternates, second.tags, second.url) == ((), (), "")
    assert second.origin.line == 3
    assert [(f.path, f.kind, f.records) for f in sources.files] == [("faq/faq.csv", "faq", 2)]
    assert len(sources.files[0].sha256) == 64
    assert sources.warnings == ()


def test_faq_json_array(tmp_path: Path) -> None:
    text = (
        "[\n"
        '  {"id": "hours", "question": "When are you open?", "answer": "9-5.",\n'
        '   "tags": ["store"]},\n'
        "\n"
        '  {"question": "Gift wrap?", "answer": "Yes, for $3.",\n'
        '   "alternates": ["Wrapping", "Gift box"]}\n'
        "]\n"
    )
    sources = load(tmp_path, {"faq/faq.json": text})

    hours, wrap = sources.faqs
    assert (hours.id, hours.question, hours.answer, hours.tags) == (
        "hours", "When are you open?", "9-5.", ("store",)
    )
    assert hours.origin == Origin("faq/faq.json", 2)
    assert wrap.id == "gift-wrap"
    assert wrap.alternates == ("Wrapping", "Gift box")
    assert wrap.origin == Origin("faq/faq.json", 5)


def test_faq_jsonl(tmp_path: Path) -> None:
    text = (
        '{"id": "a", "question": "Q one?", "answer": "A one.", "url": "https://x.example/1"}\n'
        "\n"
        '{"id": "b", "question": "Q two?", "answer": "A two.", "tags": "x, y"}\n'
    )
    sources = load(tmp_path, {"faq/more.jsonl": text})

    a, b = sources.faqs
    assert (a.id, a.question, a.answer, a.url, a.origin.line) == (
        "a", "Q one?", "A one.", "https://x.example/1", 1
    )
    assert (b.id, b.tags, b.origin.line) == ("b", ("x", "y"), 3)


def test_faq_yaml_list(tmp_path: Path) -> None:
    text = (
        "- id: size\n"
        "  question: How do sizes run?\n"
        "  answer: True to size.\n"
        "  alternates: [Sizing, Fit]\n"
        "- question: Do you ship to Canada?\n"
        "  answer: Yes\n"
    )
    sources = load(tmp_path, {"faq/faq.yaml": text})

    size, canada = sources.faqs
    assert (size.id, size.question, size.answer) == ("size", "How do sizes run?", "True to size.")
    assert size.alternates == ("Sizing", "Fit")
    assert size.origin.line == 1
    # YAML scalars stay as written: a bare `Yes` is the answer "Yes", not the boolean True.
    assert (canada.id, canada.answer, canada.origin.line) == ("do-you-ship-to-canada", "Yes", 5)


def test_faq_yaml_mapping_with_faqs_key(tmp_path: Path) -> None:
    text = (
        "faqs:\n"
        "  - id: '0042'\n"
        "    question: Where is my order?\n"
        "    answer: Check the tracking link.\n"
        "    tags: [orders, tracking]\n"
        "  - id: 0043\n"
        "    question: Can I change my order?\n"
        "    answer: Within one hour.\n"
    )
    sources = load(tmp_path, {"faq/faq.yml": text})

    first, second = sources.faqs
    assert (first.id, first.tags, first.origin.line) == ("0042", ("orders", "tracking"), 2)
    # An unquoted 0043 keeps its leading zero (YAML 1.1 would read it as octal 35).
    assert (second.id, second.answer, second.origin.line) == ("0043", "Within one hour.", 6)


def test_faq_markdown_sections(tmp_path: Path) -> None:
    text = (
        "# Store FAQ\n"
        "Intro text that belongs to no question.\n"
        "\n"
        "## How do I reset my password?\n"
        "Click *Forgot password*.\n"
        "\n"
        "### Still stuck?\n"
        "Email us.\n"
        "## Do you accept C#\n"
        "Only as sheet music.\n"
    )
    sources = load(tmp_path, {"faq/help.md": text})

    reset, sharp = sources.faqs
    assert reset.question == "How do I reset my password?"
    assert reset.id == "how-do-i-reset-my-password"
    assert reset.answer == "Click Forgot password.\n\nStill stuck?\n\nEmail us."  # plain text, no markup
    assert reset.origin.line == 4
    assert sharp.question == "Do you accept C#"
    assert (sharp.answer, sharp.origin.line) == ("Only as sheet music.", 9)


# --- Products and past questions happy paths ---------------------------------------------------


def test_product_markdown_with_front_matter(tmp_path: Path) -> None:
    doc = (
        "---\n"
        "sku: 0042\n"
        "title: Blue Kettle\n"
        "url: https://shop.example/kettle\n"
        "price: 19.90\n"
        "---\n"
        "# Kettle heading\n"
        "Boils 1.7 litres.\n"
    )
    sources = load(tmp_path, {"products/kettle.md": doc})

    (product,) = sources.documents
    assert product.id == "0042"
    assert product.title == "Blue Kettle"
    assert product.url == "https://shop.example/kettle"
    assert product.metadata["price"] == "19.90"
    assert "title" not in product.metadata and "url" not in product.metadata
    assert product.text == "Boils 1.7 litres."  # clean text: the title heading is the title
    assert product.origin == Origin("products/kettle.md", 1)
    assert (product.kind, product.product_id) == ("product", "0042")
    (record,) = sources.products
    assert (record.id, record.title, record.url) == ("0042", "Blue Kettle", "https://shop.example/kettle")
    assert [(v.sku, v.price) for v in record.variants] == [("0042", Decimal("19.90"))]
    assert sources.faqs == ()
    assert [(f.path, f.kind, f.records) for f in sources.files] == [
        ("products/kettle.md", "products", 1)
    ]


def test_product_html_strips_script_and_style_and_uses_title(tmp_path: Path) -> None:
    html = (
        "<html><head><title>Trail Shoe</title><style>p { color: red }</style></head>\n"
        "<body><h1>Trail Shoe 2</h1>\n"
        "<script>var tracking = 'secret';</script>\n"
        "<p>Grippy sole &amp; light.</p><noscript>enable js</noscript></body></html>\n"
    )
    sources = load(tmp_path, {"products/shoe.html": html})

    (product,) = sources.documents
    assert product.title == "Trail Shoe"
    assert "Grippy sole & light." in product.text
    assert "Trail Shoe 2" in product.text
    for hidden in ("tracking", "secret", "color", "enable js"):
        assert hidden not in product.text
    assert product.id == "products/shoe.html"
    assert product.origin.path == "products/shoe.html"


def test_product_html_title_from_h1_keeps_spaces_around_inline_markup(tmp_path: Path) -> None:
    html = "<body><h1>Blue <em>Kettle</em> 2L</h1><p>Boils fast.</p></body>"
    (product,) = load(tmp_path, {"products/kettle.htm": html}).documents
    assert product.title == "Blue Kettle 2L"


def test_product_text_file(tmp_path: Path) -> None:
    sources = load(tmp_path, {"products/warranty_terms.txt": "Two years, parts and labour.\n"})

    (product,) = sources.documents
    assert product.title == "warranty terms"
    assert product.text == "Two years, parts and labour."
    assert product.id == "products/warranty_terms.txt"
    assert product.metadata == {}


def test_product_csv_catalog(tmp_path: Path) -> None:
    text = (
        "sku,name,description,features,price,link\n"
        "K-1,Kettle,Steel kettle.,Auto shut-off,19.90,https://shop.example/k1\n"
        "M-2,Mug,Stoneware mug.,,7.50,\n"
    )
    sources = load(tmp_path, {"products/catalog.csv": text})

    kettle, mug = sources.documents
    assert (kettle.id, kettle.title, kettle.url) == ("K-1", "Kettle", "https://shop.example/k1")
    assert kettle.text == "Steel kettle.\nAuto shut-off"
    assert kettle.metadata == {"sku": "K-1", "price": "19.90"}
    assert kettle.origin == Origin("products/catalog.csv", 2)
    assert (mug.id, mug.text, mug.url, mug.metadata) == (
        "M-2", "Stoneware mug.", "", {"sku": "M-2", "price": "7.50"}
    )
    assert mug.origin.line == 3
    kettle_record, _ = sources.products
    assert (kettle_record.id, kettle_record.variants[0].price) == ("K-1", Decimal("19.90"))


def test_product_jsonl_catalog(tmp_path: Path) -> None:
    rows = [
        {"id": "lamp", "title": "Desk Lamp", "text": "LED lamp.", "body": "Dimmable.",
         "url": "https://shop.example/lamp", "price": 30, "colour": "black"},
        {"title": "Rug", "content": "Wool rug.", "sizes": ["S", "M"]},
    ]
    text = "\n".join(json.dumps(row) for row in rows) + "\n"
    sources = load(tmp_path, {"products/catalog.jsonl": text})

    lamp, rug = sources.documents
    assert (lamp.id, lamp.title, lamp.url) == ("lamp", "Desk Lamp", "https://shop.example/lamp")
    assert lamp.text == "LED lamp.\nDimmable."
    assert lamp.metadata == {"id": "lamp", "price": "30", "colour": "black"}
    assert rug.id == "products/catalog.jsonl:2"
    assert (rug.text, rug.metadata) == ("Wool rug.", {"sizes": "S\nM"})
    assert rug.origin.line == 2
    lamp_record, rug_record = sources.products
    assert [(o.name, o.values) for o in lamp_record.options] == [("Colour", ("black",))]
    assert [(o.name, o.values) for o in rug_record.options] == [("Size", ("S", "M"))]


def test_past_questions_csv(tmp_path: Path) -> None:
    sources = load(
        tmp_path,
        {
            "faq/faq.csv": BASE_FAQ,
            "past_questions/history.csv": (
                "question,faq_id\n"
                "when will my parcel arrive,ship\n"
                "\n"
                "how long does delivery take,ship\n"
            ),
        },
    )

    first, second = sources.past_questions
    assert (first.question, first.faq_id) == ("when will my parcel arrive", "ship")
    assert first.origin == Origin("past_questions/history.csv", 2)
    assert (second.question, second.origin.line) == ("how long does delivery take", 4)
    assert {f.path: f.kind for f in sources.files} == {
        "faq/faq.csv": "faq",
        "past_questions/history.csv": "past_questions",
    }
