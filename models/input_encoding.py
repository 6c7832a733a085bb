"""How a quote with its speaker and context becomes encoder input.

The guidelines label a quote *as read in its context*, so the context goes in
too: the quote is the first segment and ``speaker (Actor): context`` the
second.  The actor a speaker speaks for ("Dmitry Peskov (Russia)") is given
when it is known (the extractor infers it, a caller may send it): a bare
surname is the hardest thing for the model to place.  When the pair is too
long the second segment is cut first, so the quote's own words survive.

Every row also gets a ``quote_mask`` (1 on the quote's own tokens): the
sentiment head reads the quote's words only, as the guidelines define
sentiment, so it cannot just copy the stance the context implies.

A model trained with the dyad in the text (``dyad_in_text``) reads one row per
(quote, dyad): the second segment opens with the dyad ("Russia and Israel | "),
so every encoder layer, not only the pooling head, knows which pair is asked
about.  It costs one encoder pass per dyad.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch

from models.label_schema import actor_display, split_dyad

DEFAULT_MAX_LENGTH = 192


@dataclass(frozen=True)
class QuoteInput:
    """A quote to classify: the words, and optionally who said them, for whom, and where."""

    text: str
    speaker: str = ""
    context: str = ""
    speaker_actor: str = ""


def speaker_phrase(speaker: str, speaker_actor: str = "") -> str:
    speaker = (speaker or "").strip()
    actor = actor_display(speaker_actor) if speaker_actor else ""
    if speaker and actor:
        return f"{speaker} ({actor})"
    return speaker or (f"({actor})" if actor else "")


def second_segment(speaker: str, context: str, speaker_actor: str = "") -> str:
    who = speaker_phrase(speaker, speaker_actor)
    context = (context or "").strip()
    if who and context:
        return f"{who}: {context}"
    return who or context


DYAD_SEPARATOR = " | "


def dyad_phrase(dyad: str) -> str:
    """'russia-israel' -> 'Russia and Israel': the pair as a reader names it."""
    first, second = split_dyad(dyad)
    return f"{actor_display(first)} and {actor_display(second)}"


def with_dyad(second: str, dyad: str | None) -> str:
    """The second segment of a dyad-in-text row: the dyad first, so truncation never cuts it."""
    return second if dyad is None else dyad_phrase(dyad) + DYAD_SEPARATOR + second


def encode_quotes(
    tokenizer: Any,
    quotes: Sequence[QuoteInput],
    max_length: int = DEFAULT_MAX_LENGTH,
    dyads: Sequence[str | None] | None = None,
) -> dict[str, list[list[int]]]:
    """Token ids without padding (each batch pads to its own longest row), plus ``quote_mask``.

    ``dyads`` (one per quote) opens each row's second segment with that dyad (dyad-in-text models).
    """
    if dyads is not None and len(dyads) != len(quotes):
        raise ValueError(f"dyads has {len(dyads)} entries for {len(quotes)} quotes")
    firsts = [q.text.strip() for q in quotes]
    seconds = [second_segment(q.speaker, q.context, q.speaker_actor) for q in quotes]
    if dyads is not None:
        seconds = [with_dyad(s, d) for s, d in zip(seconds, dyads)]
    # Rows with no second segment get an empty pair: tokenizers treat "" as a
    # segment, which costs one separator, so all rows are encoded together.
    enc = tokenizer(firsts, seconds, truncation="longest_first", max_length=max_length)
    out: dict[str, list[list[int]]] = {k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc}
    out["quote_mask"] = [[1 if s == 0 else 0 for s in enc.sequence_ids(i)] for i in range(len(firsts))]
    return out


def pad_batch(enc: dict[str, list[list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad each row to the batch's longest."""
    width = max(len(ids) for ids in enc["input_ids"])
    fills = {"input_ids": pad_id, "attention_mask": 0, "token_type_ids": 0, "quote_mask": 0}
    return {
        key: torch.tensor([list(row) + [fill] * (width - len(row)) for row in enc[key]], dtype=torch.long)
        for key, fill in fills.items()
        if key in enc
    }
