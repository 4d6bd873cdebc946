"""Generators of what the bot sends, for the fuzz: replies with odd text and citations (as the adapters format
them) and every kind of outbound event, as queued in the outbox and as Redis hands its entries back.
"""

from __future__ import annotations

import json

from hypothesis import strategies as st

from bot.outbound import (
    HandoffOpened,
    Outbound,
    Reminder,
    ReplyTo,
    Resolved,
    ShopperToStaff,
    StaffToShopper,
    TranscriptLine,
    decode,
    encode,
)
from bot.types import Citation, Focus, Reply
from tests.fuzz_common import JSON, texts

# --- replies -------------------------------------------------------------------------------------------------

URLS = st.one_of(
    st.sampled_from(["", "https://shop.example/p/tent-2p", 'https://shop.example/p?a=1&b="2"', "http://x",
                     "javascript:alert(1)", "https://x.example/a b", "https://x.example/<b>|c", "mailto:a@b.c",
                     "https://", "HTTPS://X.EXAMPLE"]),
    st.text(max_size=30), texts(30, 0).map(lambda s: "https://shop.example/" + s),
)
CITATIONS = st.builds(Citation, source_id=st.text(max_size=8), title=texts(40, 800), url=URLS,
                      source=texts(20, 400))
MODES = st.sampled_from(["extractive", "llm", "smalltalk", "command", "notice", "handoff", ""])
REPLIES = st.builds(Reply, text=texts(200, 20_000), citations=st.lists(CITATIONS, max_size=60).map(tuple),
                    confident=st.booleans(), mode=MODES)

# A handoff's transcript, as the Slack opening shows it.
TRANSCRIPTS = st.lists(st.fixed_dictionaries({"role": st.sampled_from(["shopper", "bot"]), "text": texts(80, 1500)}),
                       max_size=12)


# --- the outbox's serialisation ------------------------------------------------------------------------------

FOCUS = st.none() | st.builds(Focus, products=st.lists(st.text(max_size=8), max_size=3).map(tuple),
                              topic=st.text(max_size=8), question=st.text(max_size=20),
                              options=st.lists(st.tuples(st.text(max_size=5), st.text(max_size=5)),
                                               max_size=2).map(tuple))
PLAIN_CITATIONS = st.builds(Citation, st.text(max_size=8), st.text(max_size=20), st.text(max_size=20),
                            st.text(max_size=20))
PLAIN_REPLIES = st.builds(Reply, text=st.text(max_size=200), citations=st.lists(PLAIN_CITATIONS, max_size=3).map(tuple),
                          confident=st.booleans(), mode=MODES, model=st.text(max_size=8), focus=FOCUS)
OUTBOUND: st.SearchStrategy[Outbound] = st.one_of(
    st.builds(HandoffOpened, st.text(max_size=10), st.text(max_size=10), st.text(max_size=20), st.text(max_size=10),
              st.lists(st.builds(TranscriptLine, st.sampled_from(["shopper", "bot"]), st.text(max_size=50)),
                       max_size=5).map(tuple),
              st.text(max_size=100), st.lists(PLAIN_CITATIONS, max_size=3).map(tuple)),
    st.builds(ShopperToStaff, st.text(max_size=10), st.text(max_size=20), st.text(max_size=100)),
    st.builds(StaffToShopper, st.text(max_size=10), st.text(max_size=100), st.text(max_size=20)),
    st.builds(Resolved, st.text(max_size=10), st.text(max_size=10), st.text(max_size=20), st.text(max_size=20)),
    st.builds(Reminder, st.text(max_size=10), st.text(max_size=10), st.text(max_size=20), st.integers()),
    st.builds(ReplyTo, st.text(max_size=10), PLAIN_REPLIES, st.integers(0, 100)),
)


@st.composite
def _garbled(draw: st.DrawFn, data: str) -> str:
    """A real entry's JSON cut, spliced or with a field's value swapped for any JSON value."""
    how = draw(st.integers(0, 2))
    if how == 0:
        cut = draw(st.integers(0, len(data)))
        return data[:cut] + draw(st.text(max_size=5))
    value = json.loads(data)
    if how == 1 and value:
        value[draw(st.sampled_from(sorted(value)))] = draw(JSON)
    elif value:
        del value[draw(st.sampled_from(sorted(value)))]
    return json.dumps(value)


ENTRY_DATA = st.one_of(
    st.text(max_size=40), JSON.map(json.dumps),
    OUTBOUND.map(lambda e: encode(e)["data"]).flatmap(_garbled),
    st.integers(1, 5000).map(lambda n: "[" * n + "]" * n),  # nesting deeper than a parser's stack
    st.integers(1, 5000).map(lambda n: '{"a":' * n + "1" + "}" * n),
)
OUTBOX_ENTRIES = st.one_of(
    st.dictionaries(st.text(max_size=8), st.text(max_size=40), max_size=4),
    st.fixed_dictionaries({}, optional={"type": st.sampled_from(
        ["HandoffOpened", "ShopperToStaff", "StaffToShopper", "Resolved", "Reminder", "ReplyTo", "Outbound",
         "TranscriptLine", "Citation", "Reply", ""]) | st.text(max_size=10), "data": ENTRY_DATA}),
)


def decode_entry(entry: dict[str, str]) -> Outbound | None:
    """decode's contract: an event, or a ValueError (nothing else) for an entry no sender could handle."""
    try:
        return decode(entry)
    except ValueError:
        return None
