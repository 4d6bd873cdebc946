"""What the fuzz properties (tests/test_fuzz_*.py) share: their hypothesis settings, the namespace a run writes
under, and the generators of text and JSON every payload is made of.

The generators live in `tests/fuzz_*.py` modules (not collected as tests) so that `bench/fuzz.py` runs the same
ones at 10,000 examples per target.

Inputs that broke a property when it was written are pinned with `@example` (the minimal ones hypothesis found),
so a property fails at once, on its smallest case, until the code is fixed; the generation phase then runs as
usual. Examples are not stored (`database=None`): nothing is written into the repository.
"""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from bot.types import IncomingMessage

# --- shared settings -----------------------------------------------------------------------------------------

# Derandomized: the test command gives the same examples on every run (a new find must not fail CI at random);
# `python -m bench.fuzz` explores freshly with 10,000 examples per target.
FUZZ = settings(max_examples=300, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                       HealthCheck.function_scoped_fixture, HealthCheck.large_base_example])
TELEGRAM_FUZZ = settings(FUZZ, max_examples=200)  # big nested updates: fewer of them
FORMAT_FUZZ = settings(FUZZ, max_examples=150)  # big replies: fewer of them
ENGINE_FUZZ = settings(FUZZ, max_examples=150)  # runs of 1–6 events: 500 or so through the engine

# Every key, stream entry and handoff of a fuzz run is namespaced by these platforms, so the run can remove what
# it wrote from a shared Redis without touching anything else (see `tests.fuzz_engine.clean_up`).
TAG = uuid.uuid4().hex[:8]
TELEGRAM = f"fuzz-telegram-{TAG}"
SLACK = f"fuzz-slack-{TAG}"  # also the handoff desk's staff platform, as "slack" is in production
OPS_USER = "UOPS"  # the only user the fuzz engine's ops policy allows (never sent a reload or rollback)

# --- text ----------------------------------------------------------------------------------------------------

FRAGMENTS = [
    "", " ", "  ", "\n", "\n\n", "\r\n", "\t", "\n \n", "<", ">", "&", "&amp;", "&lt;", "&gt;", "&amp;lt;", "&#x27;",
    "&quot;", '"', "'", "*bold*", "_it_", "~s~", "`c`", "```", "<b>", "</b>", "</a>", '<a href="x">', "<script>",
    "|", "<@U1>", "<@UBOT0001>", "<@UBOT0001|bot>", "<@U2|jane>", "<#C1|general>", "<#C2>", "<!here>",
    "<!channel>", "<!everyone>", "<!subteam^S1|@team>", "<!date^1700000000^{date}|fallback>",
    "<https://x.example/a|label>", "<https://x.example/a>", "<http://x.example|x.example>", "<mailto:a@b.c|a@b.c>",
    "<mailto:a@b.c>", "<tel:+123|call>", "<javascript:alert(1)|x>", "<>", "<|>", "<<>>", "<a|>", "<|b>",
    "/help", "/help@NorthwindBot", "/help@x y", "/start", "/sources", "/reset", "/forget", "/human", "/frobnicate",
    "/", "//", "/@", "@NorthwindBot", "@northwindbot", "@", "resolve", "RESOLVE", "report", "ask", "kb", "status",
    "reload", "rollback", "talk to a human", "real person please", "shipping cost?", "how much does delivery cost",
    "can I return an item?", "Summit Pro tent", "how heavy is it?", "paypal", "€60", "$24", "1,299.00",
    "\x00", "\x01", "\x1b[31m", "\x1b", "\x7f", "\x85", "\u200b", "\u200d", "\u202e", "\u2066", "\u2028", "\ufeff",
    "\ufffd", "\u0301", "😀", "👍", "👨‍👩‍👧", "🏳️‍🌈", "\U0001f1e9\U0001f1ea", "𝕏", "שלום", "مرحبا", "日本語",
    "한국어", "ß", "ﬁ", "İ", "²", "¹d", "٣", "１２", "…", ".", "!?", "?!.", ".\n", "x" * 50, "word " * 20,
]
HUGE_UNITS = ["x", "& ", "<>", "😀", "a b. ", "\n", " ", "ab\n\n", "*_~", "<@U1> ", "é"]


def texts(max_size: int = 60, huge: int = 20_000) -> st.SearchStrategy[str]:
    """Any text a person (or a broken client) could send: arbitrary Unicode, markup and command fragments, and
    now and then a huge one (`huge` characters at most; 0: never)."""
    parts: list[st.SearchStrategy[str]] = [
        st.text(max_size=max_size),
        st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=6), max_size=max(max_size // 3, 1)).map("".join),
    ]
    if huge:
        parts.append(st.builds(lambda unit, size: (unit * size)[:size], st.sampled_from(HUGE_UNITS),
                               st.integers(max_size, huge)))
    return st.one_of(*parts)


# What the engine is sent: the texts above, bytes read as Latin-1 ("binary garbage"), and the exact commands.
ENGINE_TEXTS = st.one_of(texts(), st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
                         st.sampled_from([f for f in FRAGMENTS if f.startswith(("/", "resolve", "talk", "real"))]))
# Text that is not valid Unicode: a lone surrogate, as `bytes.decode("utf-8", "surrogateescape")` or a JSON
# "\udc80" escape gives.
SURROGATE_TEXTS = st.tuples(texts(20, 0), st.characters(categories=["Cs"]), texts(20, 0)).map("".join)

JSON_SCALARS = (st.none() | st.booleans() | st.integers(-(2**64), 2**64)
                | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
JSON = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=8)


# --- small helpers -------------------------------------------------------------------------------------------

ONE_IN = {n: st.integers(0, n - 1) for n in (2, 3, 4, 5, 6, 7, 8, 10, 15)}  # draw(ONE_IN[n]) == 0: one time in n


def check_incoming(msg: IncomingMessage | None) -> None:
    if msg is not None:
        assert isinstance(msg, IncomingMessage)
        for name in ("platform", "conversation_id", "user_id", "text", "display_name"):
            assert isinstance(getattr(msg, name), str), (name, getattr(msg, name))
        assert msg.event_id is None or isinstance(msg.event_id, str)
        assert isinstance(msg.is_direct, bool) and isinstance(msg.is_staff, bool)
