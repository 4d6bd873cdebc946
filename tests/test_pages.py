"""Store pages → FAQ entries (question headings at any level) and policy documents (other sections)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from knowledge.sources.faq_loader import load_faq_file, markdown_faq_entries, reads_as_question
from knowledge.sources.pages import PagesRead, load_page_file

STORE_PAGES = Path(__file__).resolve().parent / "store_exports/pages"
DEMO_FAQ = Path(__file__).resolve().parents[1] / "knowledge/demo_store/faq/care-and-sizing.md"
LIMIT = 1_000_000


def read_page(tmp_path: Path, name: str, text: str) -> PagesRead:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_page_file(path, f"pages/{name}", LIMIT)


def line_of(text: str, fragment: str) -> int:
    return text[:text.index(fragment)].count("\n") + 1


def assert_no_html(text: str) -> None:
    assert not re.search(r"<[a-zA-Z/][^>]*>|&[#\w]+;", text), text


def assert_no_markdown(text: str) -> None:
    assert not re.search(r"\*\*|\]\(|^#|^[-*] ", text, re.MULTILINE), text


HTML_FAQ = """<!DOCTYPE html>
<html><head><title>Help centre</title><style>h2 { color: red }</style></head>
<body>
<h1>Help centre</h1>
<h2>Shipping</h2>
<h3>How long does delivery take?</h3>
<p>Orders arrive in <b>3&ndash;5</b> business days.</p>
<h4>Do you ship abroad</h4>
<p>Yes, to the EU and the UK.</p>
<h2>Payment</h2>
<p><strong>Can I pay by invoice?</strong></p>
<p>Yes, for orders up to &euro;500.00.</p>
<p><strong>Which cards do you take?</strong></p>
<ul><li>Visa</li><li>Mastercard</li></ul>
<dl><dt>Where is my order?</dt><dd>Use the tracking link in your email.</dd></dl>
<details><summary>Is the gift card refundable?</summary><p>No, gift cards are final sale.</p></details>
<h2>Is there a student discount?</h2>
</body></html>
"""


def test_html_faq_question_headings_at_any_level(tmp_path: Path) -> None:
    read = read_page(tmp_path, "help.html", HTML_FAQ)

    got = {e.question: (e.answer, e.origin.line) for e in read.faqs}
    assert got == {
        "How long does delivery take?": ("Orders arrive in 3–5 business days.", line_of(HTML_FAQ, "How long")),
        "Do you ship abroad": ("Yes, to the EU and the UK.", line_of(HTML_FAQ, "Do you ship")),
        "Can I pay by invoice?": ("Yes, for orders up to €500.00.", line_of(HTML_FAQ, "Can I pay")),
        "Which cards do you take?": ("Visa\nMastercard", line_of(HTML_FAQ, "Which cards")),
        "Where is my order?": ("Use the tracking link in your email.", line_of(HTML_FAQ, "Where is")),
        "Is the gift card refundable?": ("No, gift cards are final sale.", line_of(HTML_FAQ, "Is the gift")),
    }
    assert read.faqs[0].id == "help-how-long-does-delivery-take"
    assert all(e.url == "" for e in read.faqs)
    # A nested question is its own entry, never part of its parent's answer.
    assert "EU" not in got["How long does delivery take?"][0]
    # Category headings without text of their own ("Shipping", "Payment") give no document.
    assert read.documents == ()
    assert [(w.kind, w.line) for w in read.warnings] == [("empty_answer", line_of(HTML_FAQ, "Is there"))]


HTML_POLICY = """<html><head><title>Shipping &amp; Returns</title></head>
<body>
<nav><a href="/">Home</a></nav>
<h1>Shipping &amp; Returns</h1>
<p>Our promise to you.</p>
<script>var shipping = "Returns";</script>
<h2>Shipping</h2>
<p>We ship <em>worldwide</em>.</p>
<div style="display: none">Hidden promo text</div>
<h3>Express</h3>
<p>Next day for $9.95.</p>
<h2>Returns</h2>
<p hidden>Secret</p>
<p aria-hidden="true">Icon label</p>
<p>Within 30 days.</p>
<table><tr><th>Zone</th><th>Price</th></tr><tr><td>EU</td><td>$5.00</td></tr></table>
<ul class="breadcrumbs"><li><a href="/">Home</a></li><li><a href="/help">Help</a></li></ul>
<h2>Returns</h2>
<p>Second section with the same heading.</p>
</body></html>
"""


def test_policy_sections_become_documents(tmp_path: Path) -> None:
    read = read_page(tmp_path, "policies.html", HTML_POLICY)

    assert read.faqs == () and read.warnings == ()
    got = [(d.id, d.title, d.text, d.origin.line, d.kind) for d in read.documents]
    title = "Shipping & Returns"
    assert got == [
        ("pages/policies.html#shipping-returns", title, "Our promise to you.", line_of(HTML_POLICY, "<h1>"), "page"),
        ("pages/policies.html#shipping", f"{title} — Shipping", "We ship worldwide.",
         line_of(HTML_POLICY, "<h2>Shipping"), "page"),
        ("pages/policies.html#express", f"{title} — Express", "Next day for $9.95.",
         line_of(HTML_POLICY, "<h3>"), "page"),
        ("pages/policies.html#returns", f"{title} — Returns", "Within 30 days.\n\nZone | Price\nEU | $5.00",
         line_of(HTML_POLICY, "<h2>Returns"), "page"),
        ("pages/policies.html#returns-2", f"{title} — Returns", "Second section with the same heading.",
         HTML_POLICY.count("\n", 0, HTML_POLICY.rindex("<h2>Returns")) + 1, "page"),
    ]
    everything = " ".join(d.text for d in read.documents)
    for dropped in ("Hidden promo", "Secret", "Icon label", "var shipping", "Home", "Help"):
        assert dropped not in everything


def test_title_falls_back_to_first_heading_then_stem(tmp_path: Path) -> None:
    first_h1 = read_page(tmp_path, "a.html", "<h1>About us</h1><p>Family run.</p><h2>Team</h2><p>Five.</p>")
    assert [d.title for d in first_h1.documents] == ["About us", "About us — Team"]
    no_heading = read_page(tmp_path, "store-hours.html", "<p>Open 9–5.</p>")
    assert [(d.title, d.text, d.origin.line) for d in no_heading.documents] == [("store-hours", "Open 9–5.", 1)]


MARKDOWN_FAQ = """# Help

Questions we hear most.

## Orders

### How do I cancel an order?

Email us within **one hour**, see [contact](https://shop.example/contact).

- Give your order number
* Say which items

### Can I change the delivery address?
Only before it ships.

## Returns

#### What is your returns policy?
30 days, unworn, with tags.
"""


def test_markdown_faq_with_deeper_headings(tmp_path: Path) -> None:
    read = read_page(tmp_path, "help.md", MARKDOWN_FAQ)

    assert [(e.question, e.answer, e.origin.line) for e in read.faqs] == [
        ("How do I cancel an order?", "Email us within one hour, see contact.\n\nGive your order number\n"
         "Say which items", 7),
        ("Can I change the delivery address?", "Only before it ships.", 14),
        ("What is your returns policy?", "30 days, unworn, with tags.", 19),
    ]
    assert [(d.title, d.text, d.origin.line) for d in read.documents] == [("Help", "Questions we hear most.", 1)]
    for entry in read.faqs:
        assert_no_markdown(entry.answer)

    path = tmp_path / "help.md"
    via_faq_loader = load_faq_file(path, "faq/help.md", LIMIT)
    assert [(e.id, e.question, e.origin.line) for e in via_faq_loader] == [
        ("how-do-i-cancel-an-order", "How do I cancel an order?", 7),
        ("can-i-change-the-delivery-address", "Can I change the delivery address?", 14),
        ("what-is-your-returns-policy", "What is your returns policy?", 19),
    ]
    # The FAQ loader keeps an answer's Markdown as written (the chat adapters format it).
    assert via_faq_loader[0].answer.startswith("Email us within **one hour**")


def test_sub_headings_inside_an_answer_stay_in_it(tmp_path: Path) -> None:
    markdown = ("## How do I return an item?\nPick a way:\n### By mail\nUse the label.\n"
                "### In store\nBring the receipt.\n"
                "## Store hours\nMon–Fri 9–17.\n### Is the store open on holidays?\nNo.\n")
    read = read_page(tmp_path, "returns.md", markdown)
    assert [(e.question, e.answer) for e in read.faqs] == [
        ("How do I return an item?", "Pick a way:\n\nBy mail\n\nUse the label.\n\nIn store\n\nBring the receipt."),
        ("Is the store open on holidays?", "No."),
    ]
    assert [(d.title, d.text) for d in read.documents] == [("returns — Store hours", "Mon–Fri 9–17.")]

    # The FAQ loader: a `##` statement heading with text of its own ends where its first question starts.
    entries = markdown_faq_entries(markdown, "faq/returns.md")
    assert [(e.question, e.answer) for e in entries] == [
        ("How do I return an item?", "Pick a way:\n### By mail\nUse the label.\n### In store\nBring the receipt."),
        ("Store hours", "Mon–Fri 9–17."),
        ("Is the store open on holidays?", "No."),
    ]


def test_markdown_bold_questions_and_text_pages(tmp_path: Path) -> None:
    markdown = "# Delivery\n\n**How much is shipping?**\nFree over $49.00.\n\n**Note:** prices in USD.\n"
    read = read_page(tmp_path, "delivery.md", markdown)
    assert [(e.question, e.answer, e.origin.line) for e in read.faqs] == [
        ("How much is shipping?", "Free over $49.00.\n\nNote: prices in USD.", 3)]
    assert markdown_faq_entries(markdown, "faq/delivery.md")[0].question == "How much is shipping?"

    text = "Store info\n\nDo you have a shop in Berlin?\nYes, on Main Street 5.\n"
    plain = read_page(tmp_path, "info.txt", text)
    assert [(e.question, e.answer, e.origin.line) for e in plain.faqs] == [
        ("Do you have a shop in Berlin?", "Yes, on Main Street 5.", 3)]
    assert [d.text for d in plain.documents] == ["Store info"]


def test_pages_without_entries_warn(tmp_path: Path) -> None:
    for name, text in [("scripts.html", "<script>x()</script><style>p{}</style>"), ("title.md", "# Just a title\n")]:
        read = read_page(tmp_path, name, text)
        assert (read.faqs, read.documents) == ((), ())
        assert [(w.kind, w.path, w.line, w.message) for w in read.warnings] == [
            ("no_entries", f"pages/{name}", None, "no questions or sections found")]
    empty = read_page(tmp_path, "empty.html", "  \n")
    assert [w.kind for w in empty.warnings] == ["empty_file"]
    assert markdown_faq_entries("# Title\n\nNo questions here.\n", "faq/none.md") == []


@pytest.mark.parametrize(("heading", "expected"), [
    ("How long does shipping take?", True),
    ("How long does shipping take", True),
    ("Do you ship to Canada", True),
    ("Is the tent waterproof", True),
    ("Why choose merino", True),
    ("How to return an item", True),
    ("Questions for Luma?", True),
    ("Q: What sizes do you stock", True),
    ("How We Use The Information We Collect", False),
    ("Who we are", False),
    ("What the warranty covers", False),
    ("When your order ships", False),
    ("What size should I order", True),
    ("Where's my order", True),
    ("Do's and don'ts", False),
    ("Shipping and Delivery", False),
    ("May sale", False),
    ("Will call pickup", False),
    ("Returns", False),
])
def test_question_rule(heading: str, expected: bool) -> None:
    assert reads_as_question(heading) is expected


def test_real_customer_service_page() -> None:
    path = STORE_PAGES / "customer-service.html"
    read = load_page_file(path, "pages/customer-service.html", LIMIT)
    source = path.read_text(encoding="utf-8")

    assert read.faqs == () and read.warnings == ()
    by_title = {d.title: d for d in read.documents}
    assert list(by_title) == [f"Customer Service — {h}" for h in (
        "Luma Delivery and Returns", "Shipping and Delivery", "Returns and Replacements", "Returning Gifts",
        "Returning Merchandise by Mail")]
    shipping = by_title["Customer Service — Shipping and Delivery"]
    assert "Shipping and Delivery charges are subject to change" in shipping.text
    assert "$500.01—1000.00 | $29 | $39 | $46" in shipping.text.split("\n")  # one table row per line
    assert "additional $5.00 charge" in shipping.text
    returns = by_title["Customer Service — Returns and Replacements"]
    assert "returned within 30 days" in returns.text and "Gift Card" not in returns.text  # sub-section apart
    assert "$2,000.00" in by_title["Customer Service — Returning Gifts"].text
    for doc in read.documents:
        assert_no_html(doc.text)
        heading = doc.title.split(" — ", 1)[1]
        assert doc.origin.line == line_of(source, f">{heading}<")


def test_real_privacy_policy_page() -> None:
    path = STORE_PAGES / "privacy-policy-cookie-restriction-mode.html"
    read = load_page_file(path, "pages/privacy.html", LIMIT)

    assert [(e.question, e.answer) for e in read.faqs] == [("Questions for Luma?", "Contact Us")]
    titles = [d.title for d in read.documents]
    assert titles[0] == "Privacy Policy"  # the intro under the page title
    assert "Privacy Policy — How We Use The Information We Collect" in titles  # a statement, not a question
    assert len(titles) == 14  # the intro and 13 sections; the 14th heading is a question
    cookies = next(d for d in read.documents if d.title.endswith("List of cookies we collect"))
    assert "CART | The association with your shopping cart." in cookies.text.split("\n")
    collected = next(d for d in read.documents if d.title.endswith("The Information We Collect"))
    assert "\nname\ncontact information including email address\n" in collected.text  # list items on lines
    source = path.read_text(encoding="utf-8")
    assert read.documents[0].origin.line == line_of(source, "<h1>")
    assert read.faqs[0].origin.line == line_of(source, ">Questions for Luma?<")
    for doc in read.documents[1:]:  # "Security" is found as its heading, not in "…information security."
        assert doc.origin.line == line_of(source, f">{html.escape(doc.title.split(' — ', 1)[1])}</h2>")
    for doc in read.documents:
        assert_no_html(doc.text)
        assert "Privacy Menu" not in doc.text  # the page's side menu is navigation
    assert "Privacy Menu" not in read.faqs[0].answer


def test_demo_markdown_faq_unchanged() -> None:
    text = DEMO_FAQ.read_text(encoding="utf-8")
    sections = re.split(r"^## (.*)\n", text, flags=re.MULTILINE)[1:]
    expected = [(q, a.strip(), line_of(text, f"## {q}")) for q, a in zip(sections[::2], sections[1::2], strict=True)]
    assert len(expected) == 5

    entries = load_faq_file(DEMO_FAQ, "faq/care-and-sizing.md", LIMIT)
    assert [(e.question, e.answer, e.origin.line) for e in entries] == expected
    assert [e.id for e in entries] == [
        "how-do-i-wash-my-waterproof-jacket", "how-do-i-make-my-jacket-waterproof-again",
        "how-do-i-care-for-merino-wool-base-layers-and-socks",
        "how-should-hiking-boots-fit-and-what-size-should-i-order",
        "i-m-between-two-sizes-should-i-size-up-or-down",
    ]
    # As a page it reads the same questions and answers (ids carry the page name).
    page = load_page_file(DEMO_FAQ, "faq/care-and-sizing.md", LIMIT)
    assert [(e.question, e.answer, e.origin.line) for e in page.faqs] == expected
    assert page.faqs[0].id == "care-and-sizing-how-do-i-wash-my-waterproof-jacket"
    assert page.documents == () and page.warnings == ()
