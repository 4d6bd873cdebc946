"""chunk_text: passages within the word limit, cut only at paragraph, line, sentence or word boundaries."""

from __future__ import annotations

import random
import re
import time

from knowledge.sources.chunking import chunk_text, sentences

NUMBER = re.compile(r"\$?\d[\d,]*(?:\.\d+)?")


def _words(chunks: list[str]) -> list[str]:
    return " ".join(chunks).split()


def _priced_text(seed: int, sentences_wanted: int) -> str:
    """Sentences full of prices, decimals and abbreviations, so many fall on or next to a boundary."""
    rng = random.Random(seed)
    parts = []
    for n in range(sentences_wanted):
        price = f"${rng.randint(1, 2999):,}.{rng.randint(0, 99):02d}"
        weight = f"{rng.randint(1, 9)}.{rng.randint(0, 9)} kg"
        filler = " ".join(rng.choice(["warm", "light", "tent", "pack", "boot", "trail"])
                          for _ in range(rng.randint(0, 14)))
        parts.append(rng.choice([
            f"Model No. {n} costs {price}.",
            f"It weighs approx. {weight} and costs {price} {filler}.",
            f"Use it e.g. on day {n}, {filler} for {price}!",
            f"Price {price}.",
        ]))
    return " ".join(parts)


def test_short_text_is_one_chunk() -> None:
    text = "Free shipping over $49.00.\n\nReturns within 30 days."
    assert chunk_text(text) == [text]
    assert chunk_text("  \n ") == []


def test_numbers_are_never_cut() -> None:
    for seed in range(20):
        text = _priced_text(seed, 120)
        for max_words in (7, 12, 25, 40, 160):
            chunks = chunk_text(text, max_words=max_words)
            assert _words(chunks) == text.split()  # nothing lost, nothing repeated, no word cut
            assert [m for c in chunks for m in NUMBER.findall(c)] == NUMBER.findall(text)
            for chunk in chunks:
                assert len(chunk.split()) <= max_words
                assert not chunk.endswith(("No.", "approx.", "e.g.", "$"))
                assert not chunk.startswith("kg")  # "3.5 kg" stays together


def test_sentence_cut_never_after_a_price_fragment() -> None:
    # The old splitter ended a passage with "…$49." and started the next with "00".
    text = " ".join(f"Item {n} is now $49.00 instead of $1,299.00 for members." for n in range(60))
    for chunk in chunk_text(text, max_words=40):
        assert chunk.startswith("Item ")
        assert chunk.endswith("for members.")


def test_sentences_respect_abbreviations_and_decimals() -> None:
    line = "It costs $49.00. Weighs approx. 3.5 kg, e.g. with No. 5 poles. J. Smith agrees. Ask us!"
    assert sentences(line) == ["It costs $49.00.", "Weighs approx. 3.5 kg, e.g. with No. 5 poles.",
                               "J. Smith agrees.", "Ask us!"]


def test_list_items_and_lines_are_never_split() -> None:
    items = [f"- Size {n}: chest {90 + n}.5 cm, ships in {n % 5 + 1} days, $1{n}.99" for n in range(80)]
    text = "Sizes and prices:\n" + "\n".join(items)
    chunks = chunk_text(text, max_words=30)
    assert len(chunks) > 5
    lines = [line for chunk in chunks for line in chunk.split("\n")]
    assert lines == text.split("\n")  # every cut fell between two lines
    assert all(len(c.split()) <= 30 for c in chunks)


def test_paragraphs_stay_whole_when_they_fit() -> None:
    paragraphs = [" ".join([f"p{n}w{i}." for i in range(25)]) for n in range(10)]
    text = "\n\n".join(paragraphs)
    chunks = chunk_text(text, max_words=60)
    assert chunks == ["\n\n".join(paragraphs[i:i + 2]) for i in range(0, 10, 2)]


def test_long_paragraph_is_cut_between_sentences_and_keeps_line_breaks() -> None:
    table = "Up to $200 | $16\n$200.01—500.00 | $21\nOver $1000.00 | $34"
    long_paragraph = " ".join(f"Sentence {n} says a little more about returns." for n in range(40))
    chunks = chunk_text(f"{table}\n\n{long_paragraph}", max_words=50)
    assert chunks[0].startswith(table + "\n\n")
    assert all(c.endswith("returns.") for c in chunks)
    assert all(len(c.split()) <= 50 for c in chunks)


def test_over_long_sentence_is_cut_at_words_without_splitting_number_and_unit() -> None:
    words = []
    for n in range(100):
        words += ["weight", f"{n}.5", "kg"]
    chunks = chunk_text(" ".join(words), max_words=10)
    assert _words(chunks) == words
    assert all(len(c.split()) <= 10 for c in chunks)
    assert not any(c.split()[0] == "kg" for c in chunks)


def test_fast_for_many_short_texts() -> None:
    texts = [f"Variant {n}: size M, colour red, price ${n}.99." for n in range(100_000)]
    started = time.perf_counter()
    for text in texts:
        chunk_text(text)
    assert time.perf_counter() - started < 5
