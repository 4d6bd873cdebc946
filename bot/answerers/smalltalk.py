"""Greetings, thanks, goodbyes and "who are you": a short friendly reply, never a decline or a handoff.

A message counts as small talk only when nothing is left once its small-talk words are removed, so
"hi, how much is the tent?" is a question, not a greeting.
"""

from __future__ import annotations

import re

_KINDS: dict[str, tuple[str, ...]] = {
    "thanks": (r"thanks?(?: you)?(?: (?:so|very) much)?", r"thx", r"ty", r"cheers", r"much appreciated",
               r"appreciate it", r"(?:that'?s|that is|very|super|really) (?:helpful|great|perfect|useful)",
               r"great", r"perfect", r"awesome", r"helpful", r"nice", r"cool", r"ok(?:ay)?", r"got it", r"good"),
    "bye": (r"(?:good)?bye", r"bye bye", r"see (?:you|ya)(?: later)?", r"have a (?:good|nice|great) (?:day|one)",
            r"that'?s all", r"cya", r"later", r"good night"),
    "hello": (r"hi+", r"hey+", r"hello+", r"hallo", r"howdy", r"yo", r"hiya", r"good (?:morning|afternoon|evening)",
              r"greetings", r"sup", r"what'?s up"),
    "who": (r"who are you", r"what are you", r"are you (?:a )?(?:bot|robot|human|real|person|ai)",
            r"what can you do", r"what do you do", r"how can you help(?: me)?"),
    "how": (r"how are you(?: doing)?", r"how'?s it going", r"how do you do"),
}
_FILLER = r"(?:there|all|again|so|then|and|alright|all right|ok|okay|well|oh|ah|bot|storebot|mate|folks|guys)"
_PATTERNS = {kind: re.compile(r"\b(?:" + "|".join(words) + r")\b") for kind, words in _KINDS.items()}
_FILLER_RE = re.compile(rf"\b{_FILLER}\b")
_PRIORITY = ("who", "how", "bye", "thanks", "hello")  # "thanks, bye" is a goodbye


def small_talk_kind(text: str) -> str | None:
    """"hello" | "thanks" | "bye" | "who" | "how", or None when the message asks something else."""
    lowered = re.sub(r"[^\w' ]+", " ", text.lower()).strip()
    if not lowered or len(lowered.split()) > 9:
        return None
    found = [kind for kind in _PRIORITY if _PATTERNS[kind].search(lowered)]
    if not found:
        return None
    rest = lowered
    for kind in found:
        rest = _PATTERNS[kind].sub(" ", rest)
    rest = _FILLER_RE.sub(" ", rest)
    if rest.split():
        return None
    return found[0]


def small_talk_reply(kind: str, store_name: str) -> str:
    replies = {
        "hello": f"Hi! Welcome to {store_name}. Ask me about a product, a price, sizes and colours, shipping or "
                 "returns.",
        "thanks": "You're welcome! Anything else I can help you with?",
        "bye": f"Thanks for stopping by {store_name}. Bye for now!",
        "who": f"I'm the {store_name} shop assistant, a bot. I answer questions about our products, prices, "
               "sizes, shipping and returns, and I can put you in touch with a person from our team.",
        "how": "I'm doing well, thanks for asking! What can I help you find today?",
    }
    return replies[kind]
