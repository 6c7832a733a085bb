"""How a quote with its speaker and context becomes encoder input.

The guidelines label a quote *as read in its context*, so the context goes in
too: the quote is the first segment and ``speaker: context`` the second.  When
the pair is too long the second segment is cut first, so the quote's own words
survive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

DEFAULT_MAX_LENGTH = 160


@dataclass(frozen=True)
class QuoteInput:
    """A quote to classify: the words, and optionally who said them and where."""

    text: str
    speaker: str = ""
    context: str = ""


def second_segment(speaker: str, context: str) -> str:
    speaker = (speaker or "").strip()
    context = (context or "").strip()
    if speaker and context:
        return f"{speaker}: {context}"
    return speaker or context


def encode_quotes(
    tokenizer: Any, quotes: Sequence[QuoteInput], max_length: int = DEFAULT_MAX_LENGTH
) -> dict[str, list[list[int]]]:
    """Tokenize without padding; the collator pads each batch to its own longest row."""
    firsts = [q.text.strip() for q in quotes]
    seconds = [second_segment(q.speaker, q.context) for q in quotes]
    if not any(seconds):
        return tokenizer(firsts, truncation=True, max_length=max_length)
    # Rows with no second segment would be given an empty pair; tokenizers treat
    # "" as a segment, which only costs one [SEP], so encode all rows together.
    return tokenizer(
        firsts,
        seconds,
        truncation="longest_first",
        max_length=max_length,
    )
