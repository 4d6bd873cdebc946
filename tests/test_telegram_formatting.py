"""Telegram HTML: hostile text escaped, sources as links, long answers split at boundaries."""

from __future__ import annotations

import html
import re

from adapters.telegram.formatting import MAX_MESSAGE, split_text, to_html_messages
from bot.types import Citation, Reply

_TAG = re.compile(r"</?(a|b)( href=\"[^\"]*\")?>")


def _plain(message: str) -> str:
    return html.unescape(_TAG.sub("", message))


def test_hostile_text_is_escaped_and_only_our_tags_remain() -> None:
    reply = Reply("<script>alert(1)</script> Fish & Chips *bold _under [link", (
        Citation("n1", "Tent <Pro> & \"more\"", "https://shop.example/p?a=1&b=\"2\"", "products/t.md:1"),
        Citation("n2", "Returns", "javascript:alert(1)", "faq/faq.csv:3"),
    ))
    [message] = to_html_messages(reply)
    assert "<script>" not in message and "&lt;script&gt;" in message and "Fish &amp; Chips" in message
    assert '<a href="https://shop.example/p?a=1&amp;b=&quot;2&quot;">Tent &lt;Pro&gt; &amp; "more"</a>' in message
    assert "javascript:" not in message and "2. Returns" in message
    assert set(_TAG.findall(message)) <= {("a", ' href="https://shop.example/p?a=1&amp;b=&quot;2&quot;"'), ("a", ""),
                                          ("b", "")}


def test_long_answer_is_split_at_paragraphs_and_every_part_fits() -> None:
    paragraphs = [f"Paragraph {i}. " + "Waterproof & breathable <shell>. " * 40 for i in range(12)]
    reply = Reply("\n\n".join(paragraphs), (Citation("n", "Jacket", "https://shop.example/j"),))
    messages = to_html_messages(reply)
    assert len(messages) > 1 and all(len(m) <= MAX_MESSAGE for m in messages)
    assert all(_plain(m).lstrip().startswith("Paragraph") for m in messages[:-1])
    text = " ".join(_plain(m) for m in messages)
    assert all(p.strip() in text for p in paragraphs)
    assert messages[-1].endswith('<a href="https://shop.example/j">Jacket</a>')


def test_unbroken_text_is_cut_without_breaking_an_entity() -> None:
    pieces = split_text("&" * 5000, 100)
    assert all(len(html.escape(p, quote=False)) <= 100 for p in pieces)
    assert "".join(pieces) == "&" * 5000


def test_sentence_boundaries_are_preferred_over_spaces() -> None:
    pieces = split_text("One sentence here. Another sentence follows here. Third one.", 40)
    assert pieces[0] == "One sentence here."


def test_a_long_sources_list_is_split_between_whole_lines_never_inside_a_tag() -> None:
    citations = tuple(Citation(f"n{i}", f"Guide {i} & tips <pro>", f"https://shop.example/g{i}?a=1&b=2")
                      for i in range(60))
    messages = to_html_messages(Reply("Here is everything we have.", citations), limit=500)
    assert len(messages) > 2 and all(len(m) <= 500 for m in messages)
    for message in messages:
        assert message.count("<a href=") == message.count("</a>") and message.count("<b>") == message.count("</b>")
        assert not re.search(r"&(?!amp;|lt;|gt;|quot;|#x27;)", message)  # no entity cut short
        assert _TAG.sub("", message).count("<") == 0  # every "<" left opens one of our whole tags
    links = [line for m in messages for line in m.splitlines() if "<a href=" in line]
    assert len(links) == 60 and links[-1].startswith("60. ")


def test_an_overlong_source_title_is_shortened_at_a_word_and_the_link_kept() -> None:
    reply = Reply("Answer.", (Citation("n", "Very long title & more " * 50, "https://shop.example/t"),))
    [message] = to_html_messages(reply, limit=400)
    assert len(message) <= 400 and '<a href="https://shop.example/t">' in message and message.endswith("…</a>")


def test_lines_are_preferred_over_spaces_and_no_word_is_cut() -> None:
    lines = "\n".join(f"- Tent {i} & tarp, green, two person size" for i in range(12))  # a list: no blank lines
    pieces = split_text(lines, 120)
    assert len(pieces) > 1 and all(len(html.escape(p, quote=False)) <= 120 for p in pieces)
    assert all(p.startswith("- Tent") and p.endswith("size") for p in pieces)
    assert split_text("tiny " + "x" * 96, 100) == ["tiny", "x" * 96]  # the word fits whole in the next piece
