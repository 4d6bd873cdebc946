"""What the bot says on its own (commands, notices), and how raw text is made safe to process."""

from __future__ import annotations

import re
import unicodedata

MAX_QUESTION_CHARS = 2000

EMPTY = "I didn't catch a question there. Ask me about orders, shipping, returns or our products."
TOO_LONG = ("That's a long message! Could you ask your question in a sentence or two "
            f"(under {MAX_QUESTION_CHARS:,} characters)? I'll answer right away.")
NO_WORDS = "I can only read text questions. What would you like to know about our shop or products?"
RATE_LIMITED = "You're sending messages faster than I can answer. Please wait a minute and ask again."
RESET = "Done: I've forgotten this conversation. What can I help you with?"
FORGOTTEN = "Done: I've erased everything I had stored about you."
NO_SOURCES = "There's no earlier answer with sources in this conversation yet."
THANKS = "Thanks for the feedback!"
HUMAN_REQUESTED = "Got it: I've asked a person from our team to take a look. They'll reply here."
HANDOFF_OPENED = ("I've asked a person from our team to take over. They'll reply right here; "
                  "until they close the conversation, your messages go straight to them.")
HANDOFF_ALREADY = "A person from our team already has this conversation. They'll reply here."
HANDOFF_CLOSED = "Handoff {id} resolved: the bot answers the shopper again."
NO_HANDOFF = "Handoff {id} is already closed (or was never open)."
OPS_UNAVAILABLE = "Knowledge-base operations are not available in this process."
OPS_REFUSED = ("Sorry, only the store's ops team may change the knowledge base or read reports. "
               "This attempt has been logged.")
HANDOFF_RESOLVED = "Our team has closed this conversation. I'm back: ask me anything."
HANDOFF_WAITING = ("Sorry, nobody from our team has been able to reply yet. Your request is still open, "
                   "and they'll answer here as soon as they can.")
UNKNOWN_COMMAND = "I don't know that command. Try /help."

# Clearly asking for a person, in the words shoppers use ("can I talk to a human", "real person please").
_WANTS_HUMAN = re.compile(
    r"\b(?:(?:talk|speak|chat|connect me|put me through)\s+(?:to|with)\s+(?:a|an|some|your|the)?\s*"
    r"(?:human|person|agent|someone|somebody|representative|rep|operator|staff|people)"
    r"|real (?:person|human)|human (?:agent|being|please)|customer (?:service|support) (?:agent|representative|person)"
    r"|live (?:agent|chat|person))\b",
    re.IGNORECASE,
)
_ANSI_ESCAPE = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")


def clean(text: str) -> str:
    """Normalised text with control and bidi-override characters removed."""
    return _CONTROL.sub("", _ANSI_ESCAPE.sub("", unicodedata.normalize("NFKC", text))).strip()


def asks_for_human(text: str) -> bool:
    return bool(_WANTS_HUMAN.search(text))


def outside_hours(hours: str) -> str:
    return f"Our team answers {hours}; it's outside those hours now, so their reply may take until then."


def has_words(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def help_text(store_name: str, greeting: str) -> str:
    return (
        f"{greeting}\n\n"
        f"I answer from {store_name}'s help pages and product descriptions, and show where each answer comes from.\n"
        "/help – this message\n"
        "/sources – where my last answer came from\n"
        "/reset – start this conversation afresh\n"
        "/forget – erase everything I have stored about you\n"
        "/human – talk to a person from our team"
    )
