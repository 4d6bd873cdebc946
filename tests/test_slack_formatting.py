"""Replies as Block Kit: literal answer text, escaped sources, Slack's size limits; events as messages."""

from __future__ import annotations

import html
import re

import pytest

from adapters.slack.convert import from_event, plain_text
from adapters.slack.formatting import (
    BLOCKS_PER_MESSAGE,
    SECTION_LIMIT,
    escape,
    handoff_blocks,
    shorten,
    split_text,
    to_slack_messages,
)
from bot.types import Citation, Reply

BOT = "UBOT0001"
_BROKEN_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


def _unescaped(mrkdwn: str) -> str:
    return html.unescape(mrkdwn.replace("\u200b", ""))


def test_escape_neutralises_control_characters_and_formatting_marks() -> None:
    escaped = escape("a <b> & *c* _d_ ~e~ `f`")
    assert "<" not in escaped and ">" not in escaped
    assert "&lt;b&gt; &amp;" in escaped
    assert "*c*" not in escaped and "_d_" not in escaped and "~e~" not in escaped
    assert escaped.replace("\u200b", "") == "a &lt;b&gt; &amp; *c* _d_ ~e~ `f`"


def test_answer_text_is_plain_and_sources_are_escaped_links() -> None:
    reply = Reply("Use *code* <SAVE10> & _enjoy_", (
        Citation("n1", "Returns & *refunds*", "https://shop.example/returns"),
        Citation("n2", "Size <guide>", "", "faq/faq.csv:4"),
        Citation("n3", "Bad | link", "javascript:alert(1)"),
    ))
    [message] = to_slack_messages(reply, "C1:1.0")
    section, context, actions = message.blocks
    assert section["text"] == {"type": "plain_text", "text": "Use *code* <SAVE10> & _enjoy_", "emoji": False}
    sources = context["elements"][0]["text"]
    assert sources.startswith("Sources: <https://shop.example/returns|Returns &amp; ")
    assert "*refunds*" not in sources and "Size &lt;guide&gt; (faq/faq.csv:4)" in sources.replace("\u200b", "")
    assert "javascript:" not in sources and "<javascript" not in sources  # only http(s) becomes a link
    assert [e["action_id"] for e in actions["elements"]] == ["storebot_up", "storebot_down"]
    assert {e["value"] for e in actions["elements"]} == {"C1:1.0"}
    assert "<SAVE10>" not in message.text and "&lt;SAVE10&gt;" in message.text


def test_notices_get_no_feedback_buttons() -> None:
    [message] = to_slack_messages(Reply("Your conversation was reset.", mode="command"), "C1")
    assert [b["type"] for b in message.blocks] == ["section"]


def test_long_answers_are_split_at_word_boundaries_within_slacks_limits() -> None:
    words = " ".join(f"word{i}" for i in range(60_000))  # ~470k characters
    messages = to_slack_messages(Reply(words), "C1")
    sections = [b for m in messages for b in m.blocks if b["type"] == "section"]
    assert all(len(b["text"]["text"]) <= SECTION_LIMIT for b in sections)
    assert all(len(m.blocks) <= 50 for m in messages) and len(messages) > 1
    assert all(len(m.blocks) <= BLOCKS_PER_MESSAGE for m in messages[:-1])
    assert " ".join(b["text"]["text"] for b in sections) == words  # nothing lost, no word cut
    assert messages[-1].blocks[-1]["type"] == "actions" and all(
        m.blocks[-1]["type"] == "section" for m in messages[:-1])
    assert all(len(m.text) <= 300 for m in messages)


def test_split_text_cuts_an_unbroken_run_at_the_limit() -> None:
    assert [len(c) for c in split_text("x" * 7000)] == [3000, 3000, 1000]


def test_incoming_text_is_what_the_person_typed() -> None:
    text = f"<@{BOT}> is <https://shop.example/x|this> in stock &amp; ready? ask <@UJANE> in <#C1|sales> <!here>"
    assert plain_text(text, BOT) == "is this in stock & ready? ask @UJANE in #sales"


def test_mentions_start_threads_dms_do_not_and_the_rest_is_ignored() -> None:
    msg, target = from_event({"type": "app_mention", "channel": "C1", "user": "U1", "text": f"<@{BOT}> hi",
                              "ts": "1.5"}, BOT) or (None, None)
    assert msg is not None and target is not None
    assert (msg.conversation_id, msg.event_id, target.thread_ts, msg.text) == ("C1:1.5", "C1:1.5", "1.5", "hi")
    in_thread = from_event({"type": "app_mention", "channel": "C1", "user": "U1", "text": "more", "ts": "2.0",
                            "thread_ts": "1.5"}, BOT)
    assert in_thread is not None and in_thread[0].conversation_id == "C1:1.5" and in_thread[1].thread_ts == "1.5"
    dm = from_event({"type": "message", "channel_type": "im", "channel": "D1", "user": "U1", "text": "hi",
                     "ts": "3.0"}, BOT)
    assert dm is not None and dm[0].conversation_id == "D1" and dm[1].thread_ts is None and dm[0].is_direct
    ignored = [
        {"type": "message", "channel_type": "channel", "channel": "C1", "user": "U1", "text": "chatter", "ts": "4"},
        {"type": "message", "channel_type": "im", "channel": "D1", "user": "U1", "subtype": "message_changed",
         "ts": "5"},
        {"type": "message", "channel_type": "im", "channel": "D1", "bot_id": "B1", "user": "U2", "text": "x",
         "ts": "6"},
        {"type": "message", "channel_type": "im", "channel": "D1", "user": BOT, "text": "my own", "ts": "7"},
    ]
    assert all(from_event(event, BOT) is None for event in ignored)


def test_the_example_app_manifest_matches_what_the_adapter_handles() -> None:
    from pathlib import Path

    import yaml

    import adapters.slack

    manifest = yaml.safe_load((Path(adapters.slack.__file__).parent / "app_manifest.yml").read_text())
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert events == ["app_mention", "message.im", "message.channels", "message.groups"]
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/storebot"]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "commands", "im:history", "channels:history", "users:read"} <= scopes
    assert manifest["settings"]["interactivity"]["is_enabled"] is True  # the 👍/👎 buttons


def test_long_answers_are_cut_at_paragraph_breaks_not_at_the_last_space() -> None:
    paragraphs = [f"Paragraph {i}. " + "Waterproof and breathable shell, taped seams. " * 20 for i in range(8)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    chunks = split_text(text)
    assert len(chunks) > 1 and all(len(c) <= SECTION_LIMIT for c in chunks)
    assert all(c.startswith("Paragraph") and c.endswith("taped seams.") for c in chunks)  # whole paragraphs only
    assert "\n\n".join(chunks) == text


def test_the_splitter_prefers_a_line_break_then_a_sentence_end_then_a_space() -> None:
    lines = "\n".join(f"- tent {i} green. two person size" for i in range(10))  # a list: no blank lines
    assert all(c.startswith("- tent") and c.endswith("size") for c in split_text(lines, 100))
    sentences = "One sentence here. Another sentence follows here. Third one."
    assert split_text(sentences, 40)[0] == "One sentence here."
    assert split_text("tiny " + "x" * 96, 100) == ["tiny", "x" * 96]  # never inside a word that fits whole


@pytest.mark.parametrize("answer", [
    "x" + "&" * 2000,
    "Returns & refunds <within 30 days> for *unworn* items. " * 60,
    "Tents & tarps " * 200,
])
def test_handoff_opening_cuts_the_plain_answer_at_a_word_then_escapes_it(answer: str) -> None:
    sources = [Citation(f"n{i}", f"Guide {i} & more <tips> " * 6, f"https://shop.example/g{i}?a=1") for i in range(40)]
    blocks = handoff_blocks("h1", "Ana", "telegram", "declined", [], answer, sources)
    [context] = [b for b in blocks if b["type"] == "context"]
    text = context["elements"][0]["text"]
    assert len(text) <= SECTION_LIMIT and not _BROKEN_ENTITY.search(text)
    preview, _, sources_line = text.partition("\nSources: ")
    preview = preview.removeprefix("Bot's last answer: ")
    assert preview.count("\u200b*\u200b") * 2 == preview.count("\u200b")  # no mark cut from its wrapping
    shown = _unescaped(preview)
    assert shown.endswith("…") and answer.startswith(shown[:-1])
    if " " in answer.strip():
        assert answer[len(shown) - 1].isspace()  # cut at a word boundary
    assert sources_line.count("<") == sources_line.count(">") and sources_line.endswith("…")  # whole links only


def test_the_sources_line_keeps_whole_links_within_the_section_limit() -> None:
    citations = tuple(Citation(f"n{i}", "Care & repair guide " * 8, f"https://shop.example/c{i}") for i in range(60))
    [message] = to_slack_messages(Reply("Here you go.", citations), "C1")
    sources = message.blocks[1]["elements"][0]["text"]
    assert len(sources) <= SECTION_LIMIT and sources.endswith(" · …")
    assert sources.count("<https://") == sources.count(">") and not _BROKEN_ENTITY.search(sources)


def test_the_notification_text_is_cut_before_escaping_and_fits() -> None:
    [message] = to_slack_messages(Reply("*Big* sale & more <today> " * 40), "C1")
    assert len(message.text) <= 300 and not _BROKEN_ENTITY.search(message.text)
    assert _unescaped(message.text).endswith("…") and not _unescaped(message.text).endswith(" …")


def test_shorten_counts_escaped_length_and_cuts_at_a_word() -> None:
    assert shorten("short", 10) == "short"
    assert shorten("one two three four", 12) == "one two…"
    assert shorten("x" * 50, 10) == "x" * 9 + "…"
    cut = shorten("a & b & c & d & e", 12, escaped=True)
    assert len(escape(cut)) <= 12 and cut == "a & b…"
