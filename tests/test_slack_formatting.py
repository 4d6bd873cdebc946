"""Replies as Block Kit: literal answer text, escaped sources, Slack's size limits; events as messages."""

from __future__ import annotations

from adapters.slack.convert import from_event, plain_text
from adapters.slack.formatting import BLOCKS_PER_MESSAGE, SECTION_LIMIT, escape, split_text, to_slack_messages
from bot.types import Citation, Reply

BOT = "UBOT0001"


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
