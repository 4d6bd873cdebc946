"""Loading a knowledge source directory: every format's happy path, and every bad input's error.

Errors must name the file (relative to the source root) and the 1-based line, so ops can fix it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.loader import LoadOptions, load_sources
from knowledge.records import LoadedSources, Origin, SourceError

# A minimal valid FAQ so tests about other folders have something to load.
BASE_FAQ = "id,question,answer\nship,How long is shipping?,3-5 business days.\n"


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def load(root: Path, files: dict[str, str | bytes], **options: int) -> LoadedSources:
    return load_sources(write(root, files), LoadOptions(**options))


def load_error(root: Path, files: dict[str, str | bytes], **options: int) -> SourceError:
    with pytest.raises(SourceError) as caught:
        load(root, files, **options)
    return caught.value


def assert_error(err: SourceError, path: str, line: int | None, fragment: str) -> None:
    assert err.path == path
    assert err.line == line
    assert fragment in err.message
    where = f"{path}:{line}" if line else path
    assert str(err) == f"{where}: {err.message}"


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
    assert reset.answer == "Click *Forgot password*.\n\n### Still stuck?\nEmail us."
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

    (product,) = sources.products
    assert product.id == "0042"
    assert product.title == "Blue Kettle"
    assert product.url == "https://shop.example/kettle"
    assert product.metadata["price"] == "19.90"
    assert "title" not in product.metadata and "url" not in product.metadata
    assert product.text == "# Kettle heading\nBoils 1.7 litres."
    assert product.origin == Origin("products/kettle.md", 1)
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

    (product,) = sources.products
    assert product.title == "Trail Shoe"
    assert "Grippy sole & light." in product.text
    assert "Trail Shoe 2" in product.text
    for hidden in ("tracking", "secret", "color", "enable js"):
        assert hidden not in product.text
    assert product.id == "products/shoe.html"
    assert product.origin.path == "products/shoe.html"


def test_product_html_title_from_h1_keeps_spaces_around_inline_markup(tmp_path: Path) -> None:
    html = "<body><h1>Blue <em>Kettle</em> 2L</h1><p>Boils fast.</p></body>"
    (product,) = load(tmp_path, {"products/kettle.htm": html}).products
    assert product.title == "Blue Kettle 2L"


def test_product_text_file(tmp_path: Path) -> None:
    sources = load(tmp_path, {"products/warranty_terms.txt": "Two years, parts and labour.\n"})

    (product,) = sources.products
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

    kettle, mug = sources.products
    assert (kettle.id, kettle.title, kettle.url) == ("K-1", "Kettle", "https://shop.example/k1")
    assert kettle.text == "Steel kettle.\nAuto shut-off"
    assert kettle.metadata == {"sku": "K-1", "price": "19.90"}
    assert kettle.origin == Origin("products/catalog.csv", 2)
    assert (mug.id, mug.text, mug.url, mug.metadata) == (
        "M-2", "Stoneware mug.", "", {"sku": "M-2", "price": "7.50"}
    )
    assert mug.origin.line == 3


def test_product_jsonl_catalog(tmp_path: Path) -> None:
    rows = [
        {"id": "lamp", "title": "Desk Lamp", "text": "LED lamp.", "body": "Dimmable.",
         "url": "https://shop.example/lamp", "price": 30, "colour": "black"},
        {"title": "Rug", "content": "Wool rug.", "sizes": ["S", "M"]},
    ]
    text = "\n".join(json.dumps(row) for row in rows) + "\n"
    sources = load(tmp_path, {"products/catalog.jsonl": text})

    lamp, rug = sources.products
    assert (lamp.id, lamp.title, lamp.url) == ("lamp", "Desk Lamp", "https://shop.example/lamp")
    assert lamp.text == "LED lamp.\nDimmable."
    assert lamp.metadata == {"id": "lamp", "price": "30", "colour": "black"}
    assert rug.id == "products/catalog.jsonl:2"
    assert (rug.text, rug.metadata) == ("Wool rug.", {"sizes": "S\nM"})
    assert rug.origin.line == 2


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


# --- Bad input ---------------------------------------------------------------------------------


def test_csv_header_missing_required_column(tmp_path: Path) -> None:
    err = load_error(tmp_path, {"faq/faq.csv": "question,reply\nQ one?,A one.\nQ two?,A two.\n"})
    assert_error(err, "faq/faq.csv", 2, "missing required column answer")


def test_csv_unterminated_quote(tmp_path: Path) -> None:
    text = 'question,answer\nQ one?,A one.\n"Q two?,A two.\nQ three?,A three.\n'
    err = load_error(tmp_path, {"faq/faq.csv": text})
    assert_error(err, "faq/faq.csv", 3, "unparseable CSV row")


def test_csv_wrong_number_of_fields(tmp_path: Path) -> None:
    text = "question,answer\nQ one?,A one.\nQ two?,A two.,extra\n"
    err = load_error(tmp_path, {"faq/faq.csv": text})
    assert_error(err, "faq/faq.csv", 3, "expected 2 fields (question, answer), found 3")


def test_csv_wrong_number_of_fields_after_multiline_row(tmp_path: Path) -> None:
    text = 'question,answer\nQ one?,"line a\nline b"\nQ two?\n'
    err = load_error(tmp_path, {"faq/faq.csv": text})
    assert_error(err, "faq/faq.csv", 4, "found 1")


def test_jsonl_unparseable_line(tmp_path: Path) -> None:
    text = (
        '{"question": "Q one?", "answer": "A one."}\n'
        '{"question": "Q two?", "answer": "A two."}\n'
        '{"question": "Q three?", "answer": \n'
    )
    err = load_error(tmp_path, {"faq/faq.jsonl": text})
    assert_error(err, "faq/faq.jsonl", 3, "unparseable JSON")


def test_json_array_broken_element(tmp_path: Path) -> None:
    text = (
        "[\n"
        '  {"question": "Q one?", "answer": "A one."},\n'
        '  {"question": "Q two?", "answer": "A two.",},\n'
        "]\n"
    )
    err = load_error(tmp_path, {"faq/faq.json": text})
    assert_error(err, "faq/faq.json", 3, "unparseable JSON")


def test_json_array_element_not_an_object(tmp_path: Path) -> None:
    text = '[\n  {"question": "Q one?", "answer": "A one."},\n  "just a string"\n]\n'
    err = load_error(tmp_path, {"faq/faq.json": text})
    assert_error(err, "faq/faq.json", 3, "expected an object")


def test_unparseable_yaml(tmp_path: Path) -> None:
    text = (
        "- question: Q one?\n"
        "  answer: A one.\n"
        "- question: When do you open?\n"
        "  answer: Weekdays: 9am\n"
        "- question: Q three?\n"
        "  answer: A three.\n"
    )
    err = load_error(tmp_path, {"faq/faq.yaml": text})
    assert_error(err, "faq/faq.yaml", 4, "unparseable YAML: mapping values are not allowed")


def test_unparseable_yaml_bad_indentation(tmp_path: Path) -> None:
    text = "- question: Q one?\n  answer: A one.\n   tags: x\n"
    err = load_error(tmp_path, {"faq/faq.yaml": text})
    assert_error(err, "faq/faq.yaml", 3, "unparseable YAML")


def test_empty_question(tmp_path: Path) -> None:
    err = load_error(tmp_path, {"faq/faq.csv": "question,answer\nQ one?,A one.\n  ,A two.\n"})
    assert_error(err, "faq/faq.csv", 3, "empty question")


def test_empty_answer_csv(tmp_path: Path) -> None:
    err = load_error(tmp_path, {"faq/faq.csv": "question,answer\nQ one?,A one.\nQ two?,   \n"})
    assert_error(err, "faq/faq.csv", 3, "empty answer")


def test_empty_answer_yaml_null(tmp_path: Path) -> None:
    text = "- question: Q one?\n  answer: A one.\n- question: Q two?\n  answer:\n"
    err = load_error(tmp_path, {"faq/faq.yaml": text})
    assert_error(err, "faq/faq.yaml", 3, "empty answer")


def test_empty_answer_markdown_section(tmp_path: Path) -> None:
    text = "# FAQ\n\n## Q one?\nA one.\n\n## Q two?\n\n\n## Q three?\nA three.\n"
    err = load_error(tmp_path, {"faq/faq.md": text})
    assert_error(err, "faq/faq.md", 6, "empty answer")


def test_empty_answer_markdown_last_section(tmp_path: Path) -> None:
    err = load_error(tmp_path, {"faq/faq.md": "## Q one?\nA one.\n## Q two?\n"})
    assert_error(err, "faq/faq.md", 3, "empty answer")


def test_duplicate_faq_id_across_files(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        {
            "faq/a.csv": "id,question,answer\nx,Q x?,A x.\nship,Q ship?,A ship.\n",
            "faq/b.jsonl": '{"id": "other", "question": "Q?", "answer": "A."}\n'
            '{"id": "ship", "question": "Shipping?", "answer": "Fast."}\n',
        },
    )
    assert_error(err, "faq/b.jsonl", 2, "duplicate FAQ id 'ship'")
    assert "first at faq/a.csv:3" in err.message


def test_duplicate_derived_id_within_markdown(tmp_path: Path) -> None:
    err = load_error(tmp_path, {"faq/faq.md": "## Returns?\nA.\n## returns\nB.\n"})
    assert_error(err, "faq/faq.md", 3, "duplicate FAQ id 'returns'")
    assert "first at faq/faq.md:1" in err.message


def test_past_question_unknown_faq_id(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        {
            "faq/faq.csv": BASE_FAQ,
            "past_questions/log.csv": "question,faq_id\nwhere is it,ship\nrefund?,refunds\n",
        },
    )
    assert_error(err, "past_questions/log.csv", 3, "unknown FAQ id 'refunds'")


def test_past_question_missing_faq_id_column(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        {"faq/faq.csv": BASE_FAQ, "past_questions/log.jsonl": '{"question": "where is it"}\n'},
    )
    assert_error(err, "past_questions/log.jsonl", 1, "missing required column faq_id")


def test_non_utf8_file(tmp_path: Path) -> None:
    data = "question,answer\nQ one?,A one.\nCafé hours?,Open at 8.\n".encode("latin-1")
    err = load_error(tmp_path, {"faq/faq.csv": data})
    assert_error(err, "faq/faq.csv", 3, "not UTF-8 (byte 0xe9)")


def test_non_utf8_product_doc(tmp_path: Path) -> None:
    data = "---\ntitle: Crème\n---\nRich.\n".encode("latin-1")
    err = load_error(tmp_path, {"faq/faq.csv": BASE_FAQ, "products/creme.md": data})
    assert_error(err, "products/creme.md", 2, "not UTF-8")


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    data = "\ufeffquestion,answer\nQ one?,A one.\n".encode()
    (entry,) = load(tmp_path, {"faq/faq.csv": data}).faqs
    assert (entry.question, entry.answer) == ("Q one?", "A one.")


def test_empty_source_directory(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        load_sources(tmp_path)
    assert_error(caught.value, str(tmp_path), None, "no FAQ entries or product documents")


def test_directory_with_only_skipped_files(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"faq/notes.pdf": b"%PDF-1.4", "readme.txt": "hello", "products/pic.png": b"PNG"},
    )
    with pytest.raises(SourceError) as caught:
        load_sources(tmp_path)
    assert_error(caught.value, str(tmp_path), None, "no FAQ entries or product documents")


def test_non_existent_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(SourceError) as caught:
        load_sources(missing)
    assert_error(caught.value, str(missing), None, "does not exist")


def test_file_over_size_limit(tmp_path: Path) -> None:
    big = "question,answer\n" + "Q?,A much longer answer than the limit allows.\n" * 5
    err = load_error(tmp_path, {"faq/faq.csv": big}, max_file_bytes=100)
    assert_error(err, "faq/faq.csv", None, "over the 100-byte limit")
    assert f"{len(big.encode()):,} bytes" in err.message


def test_file_at_size_limit_loads(tmp_path: Path) -> None:
    text = "question,answer\nQ?,A.\n"
    sources = load(tmp_path, {"faq/faq.csv": text}, max_file_bytes=len(text.encode()))
    assert len(sources.faqs) == 1


def test_unknown_file_types_are_skipped_with_warning(tmp_path: Path) -> None:
    sources = load(
        tmp_path,
        {
            "faq/faq.csv": BASE_FAQ,
            "faq/notes.pdf": b"%PDF-1.4 not really",
            "products/image.png": b"\x89PNG\r\n\x1a\n\x00\x00",
            "past_questions/old.yaml": "- question: q\n  faq_id: ship\n",
        },
    )
    assert [f.path for f in sources.files] == ["faq/faq.csv"]
    assert len(sources.warnings) == 3
    warning_for = {w.split(":", 1)[0]: w for w in sources.warnings}
    assert "unknown file type '.pdf'" in warning_for["faq/notes.pdf"]
    assert "unknown file type '.png'" in warning_for["products/image.png"]
    assert "unknown file type '.yaml'" in warning_for["past_questions/old.yaml"]


def test_file_outside_known_folders_is_skipped_with_warning(tmp_path: Path) -> None:
    sources = load(
        tmp_path,
        {"faq/faq.csv": BASE_FAQ, "README.md": "# Notes\n", "misc/faq.csv": "not,even\nparsed\n"},
    )
    assert [f.path for f in sources.files] == ["faq/faq.csv"]
    assert sorted(sources.warnings) == [
        "README.md: skipped, not under faq/, past_questions/, products/",
        "misc/faq.csv: skipped, not under faq/, past_questions/, products/",
    ]


def test_hidden_files_are_ignored_silently(tmp_path: Path) -> None:
    sources = load(
        tmp_path, {"faq/faq.csv": BASE_FAQ, "faq/.~lock.faq.csv#": "junk", ".git/x": "y"}
    )
    assert [f.path for f in sources.files] == ["faq/faq.csv"]
    assert sources.warnings == ()


def test_catalog_row_without_text(tmp_path: Path) -> None:
    text = "sku,name,description\nK-1,Kettle,Steel kettle.\nM-2,Mug,\n"
    err = load_error(tmp_path, {"products/catalog.csv": text})
    assert_error(err, "products/catalog.csv", 3, "no text")


def test_product_doc_unparseable_front_matter(tmp_path: Path) -> None:
    doc = "---\nsku: K-1\ntitle: [unclosed\nprice: 3\n---\nBody.\n"
    err = load_error(tmp_path, {"products/kettle.md": doc})
    assert err.path == "products/kettle.md"
    assert err.line is not None and 3 <= err.line <= 5
    assert "unparseable front matter" in err.message


def test_product_doc_without_text(tmp_path: Path) -> None:
    err = load_error(tmp_path, {"products/empty.md": "---\nsku: K-1\n---\n\n"})
    assert_error(err, "products/empty.md", 1, "no text")
