"""Resolves a follow-up ("and in blue?", "how long does that take?") with the conversation so far.

Without an LLM: a short message that leans on what came before (a pronoun, "and …", "what about …")
is searched together with the shopper's previous question.
"""

from __future__ import annotations

import re

from bot.types import Turn

_LEANS_ON_CONTEXT = re.compile(
    r"^(and|also|or|what about|how about|same|but)\b|\b(it|its|it's|that|this|those|these|they|them|one|ones)\b",
    re.IGNORECASE,
)
MAX_FOLLOW_UP_WORDS = 8


def condense(question: str, history: tuple[Turn, ...]) -> str:
    previous = next((t.text for t in reversed(history) if t.role == "shopper"), None)
    if previous is None:
        return question
    if len(question.split()) > MAX_FOLLOW_UP_WORDS or not _LEANS_ON_CONTEXT.search(question):
        return question
    return f"{previous} {question}"
