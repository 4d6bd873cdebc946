"""A yes/no question about something the store's data never mentions ("is it BPA free?", "do you ship to
Canada?"), or mentions so rarely that an answer not naming it is about something else ("do you gift wrap?"
against a gift-returns rule): the data can neither confirm nor deny it, so a sentence merely on the same
subject ("Made of plastic.") must not answer it."""

from __future__ import annotations

import re

from bot.answerers.intents import FILLER
from knowledge.index.vocabulary import Vocabulary

RARE_TEXTS = 2  # a word the store uses in at most this many sentences is one an answer must itself name —
RARE_MIN_TEXTS = 500  # in a store this large: in a small one most words are that rare ("deliver" for "ship")
# Whether something is so ("is it BPA free?", "does it have a date display?", "do you ship to canada?") — not a
# request ("can you help me with…", "could you tell me about…") nor whether an action can be done ("can i swap…"),
# which a shopper words in many ways the store's pages may not use
_YES_NO = re.compile(
    r"^\s*(?:(?:is|isn't|are|aren't|was|were)\s+(?:it|they|this|that|these|those|there|the|your|my|an?)\b"
    r"(?!\s+possible\b)|"
    r"(?:does|doesn't|do|don't|did|has|have)\s+(?:it|they|this|that|these|those|the|your|this)\b|"
    r"(?:do|does)\s+(?:you|u|ya|y'all)\s+(?!know\b|think\b|mean\b|understand\b|remember\b|help\b)\w+|"
    r"(?:can|could|will|would)\s+(?:it|they|this|that|these|those|the)\b)", re.I)
# The question's first clause; what follows is often the shopper's own situation ("i run with my keys", "if it
# doesnt fit")
_CLAUSE = re.compile(r"[?.!;]|\s[-–]\s|,|\s(?:if|because|cause|since|as|so|when|coz)\s")
# Words a shopper asks with that name no property of the thing asked about
_GENERIC = frozenset(
    [
        "good", "great", "nice", "fine", "okay", "suitable", "ideal", "best", "better", "work", "works", "worth",
        "use", "used", "using", "wear", "wearing", "buy", "order", "ordered", "need", "needs", "want", "make",
        "keep", "put", "take", "give", "well", "very", "really", "enough", "kind", "sort", "thing", "things",
        "stuff", "someone", "anyone", "something", "anything", "there", "here", "back", "real", "actually",
        "true", "possible", "able", "way", "guess", "mean", "sure", "maybe", "probably", "usually", "normally",
        "still", "again", "ever", "even", "much", "many", "lot", "lots", "bit", "little", "too", "quite",
        "pretty", "our", "out", "off", "into", "onto", "from", "at", "by", "up", "down", "over", "under", "if",
        "when", "where", "who", "why", "whether", "than", "as", "be", "been", "being", "am", "hey", "hi",
        "thanks", "thank", "hello", "other", "others", "another", "different", "else", "new", "dont", "doesnt",
        "isnt", "arent", "cant", "wont", "didnt", "wasnt", "im",
        "ive", "youre", "thats", "whats", "theres", "same", "two", "three", "both", "product", "products", "item",
        "items", "model", "store", "shop", "online", "website", "site",
    ]
)


def unmentioned(question: str, store: Vocabulary, ignore: frozenset[str] = frozenset(),
                answer: str | None = None) -> tuple[str, ...]:
    """The words of a yes/no question's first clause that nothing in the store's data uses — or, given the text
    an answer would come from, that the store rarely uses and that text does not; () for any other question.
    `ignore`: words covered another way (synonyms the answerer adds)."""
    if not _YES_NO.match(question):
        return ()
    clause = _CLAUSE.split(question, maxsplit=1)[0].lower()
    words = [w for w in re.findall(r"[a-z]+", clause)
             if len(w) >= 3 and w not in _GENERIC and w not in FILLER and w not in ignore]
    near_answer = Vocabulary([answer]) if answer is not None and store.texts >= RARE_MIN_TEXTS else None
    return tuple(w for w in words
                 if (used := store.texts_using(w)) == 0
                 or (near_answer is not None and used <= RARE_TEXTS and not near_answer.knows(w)))
