"""Property-based fuzz (hypothesis) of the outbox's (de)serialisation: every outbound event survives a round
trip, and an entry of any shape decodes or raises only ValueError (generators: tests/fuzz_outbound.py).
"""

from __future__ import annotations

from hypothesis import example, given

from bot.outbound import Outbound, decode, encode
from tests.fuzz_common import FUZZ
from tests.fuzz_outbound import OUTBOUND, OUTBOX_ENTRIES, decode_entry


@FUZZ
@given(OUTBOX_ENTRIES)
@example({"type": "ReplyTo", "data": "[" * 5000 + "]" * 5000})
def test_outbox_entries_of_any_shape_decode_or_raise_only_value_error(entry: dict[str, str]) -> None:
    """Entries as Redis hands them back (strings): unknown types, cut, spliced or retyped JSON, deep nesting."""
    decode_entry(entry)


@FUZZ
@given(OUTBOUND)
def test_every_outbound_event_survives_encode_and_decode(event: Outbound) -> None:
    """Every kind of outbound event, with any text, citations and focus, decodes to what was encoded."""
    entry = encode(event)
    assert set(entry) == {"type", "data"} and all(isinstance(v, str) for v in entry.values())
    assert decode(entry) == event
