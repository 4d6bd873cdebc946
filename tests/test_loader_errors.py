"""Every bad source input: an error naming the file (relative to the source root) and the
1-based line, so ops can fix it; unknown file types are warnings, not errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.sources.loader import load_sources
from knowledge.sources.records import SourceError
from tests.loader_helpers import BASE_FAQ, assert_error, load, load_error, write

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
    assert_error(caught.value, str(tmp_path), None, "no FAQ entries, products or pages")


def test_directory_with_only_skipped_files(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"faq/notes.pdf": b"%PDF-1.4", "readme.txt": "hello", "products/pic.png": b"PNG"},
    )
    with pytest.raises(SourceError) as caught:
        load_sources(tmp_path)
    assert_error(caught.value, str(tmp_path), None, "no FAQ entries, products or pages")


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
    warning_for = {w.path: str(w) for w in sources.warnings}
    assert {w.kind for w in sources.warnings} == {"skipped_file"}
    assert "unknown file type '.pdf'" in warning_for["faq/notes.pdf"]
    assert "unknown file type '.png'" in warning_for["products/image.png"]
    assert "unknown file type '.yaml'" in warning_for["past_questions/old.yaml"]


def test_file_outside_known_folders_is_skipped_with_warning(tmp_path: Path) -> None:
    sources = load(
        tmp_path,
        {"faq/faq.csv": BASE_FAQ, "README.md": "# Notes\n", "misc/faq.csv": "not,even\nparsed\n"},
    )
    assert [f.path for f in sources.files] == ["faq/faq.csv"]
    assert sorted(str(w) for w in sources.warnings) == [
        "README.md: skipped, not under faq/, past_questions/, products/, pages/",
        "misc/faq.csv: skipped, not under faq/, past_questions/, products/, pages/",
    ]


def test_hidden_files_are_ignored_silently(tmp_path: Path) -> None:
    sources = load(
        tmp_path, {"faq/faq.csv": BASE_FAQ, "faq/.~lock.faq.csv#": "junk", ".git/x": "y"}
    )
    assert [f.path for f in sources.files] == ["faq/faq.csv"]
    assert sources.warnings == ()


def test_catalog_row_without_text(tmp_path: Path) -> None:
    # Lenient: a titled row without a description is kept (its text is a fact line); a row with
    # neither title nor text is skipped with a warning naming file and line.
    text = "sku,name,description\nK-1,Kettle,Steel kettle.\nM-2,Mug,\nX-3,,\n"
    sources = load(tmp_path, {"products/catalog.csv": text})
    assert [d.id for d in sources.documents] == ["K-1", "M-2"]
    assert sources.documents[1].text == "Mug."
    (warning,) = [w for w in sources.warnings if w.path == "products/catalog.csv"]
    assert (warning.kind, warning.line) == ("no_text", 4)


def test_product_doc_unparseable_front_matter(tmp_path: Path) -> None:
    doc = "---\nsku: K-1\ntitle: [unclosed\nprice: 3\n---\nBody.\n"
    err = load_error(tmp_path, {"products/kettle.md": doc})
    assert err.path == "products/kettle.md"
    assert err.line is not None and 3 <= err.line <= 5
    assert "unparseable front matter" in err.message


def test_product_doc_without_text(tmp_path: Path) -> None:
    sources = load(tmp_path, {"faq/faq.csv": BASE_FAQ, "products/empty.md": "---\nsku: K-1\n---\n\n"})
    assert sources.products == ()
    (warning,) = [w for w in sources.warnings if w.path == "products/empty.md"]
    assert warning.kind == "no_text"
    assert "no text" in warning.message


def test_catalog_price_not_a_number(tmp_path: Path) -> None:
    text = "sku,name,price\nK-1,Kettle,19.90\nM-2,Mug,abc\n"
    err = load_error(tmp_path, {"products/catalog.csv": text})
    assert_error(err, "products/catalog.csv", 3, "price 'abc' is not a number")
