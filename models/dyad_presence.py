"""Whether a dyad's actors are in the text at all, and what that does to its answer.

Why: the network learned ``none`` for actor pairs the text never mentions by
seeing sampled absent pairs, and it over-learned it: a pair it never saw
labelled (``india-pakistan``) gets ``none`` even when the quote is about
both, while a sparsely trained pair (``russia-turkey``) still gets a stance
on a football quote.  Mention is a question of the text, not of judgement,
so it is answered here by the same actor markers the quote extractor uses,
and the network only ranks the stances:

* neither actor named anywhere (quote, speaker, context, the speaker's
  actor) -> ``none`` with probability 1, for any dyad;
* a dyad the model never saw labelled, both actors named -> the network's
  ranking of the three stances, renormalised without ``none``.

Everything else is the network's calibrated answer, untouched.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Sequence

import numpy as np

from models.input_encoding import QuoteInput
from models.label_schema import actor_terms
from models.quotes.lexicon import ACTOR_MARKERS, KNOWN_SPEAKERS


# How the press names an actor beyond the extractor's markers (general usage, not from any article).
EXTRA_NAMES: dict[str, tuple[str, ...]] = {
    "israel": ("zionist", "zionist regime", "netanyahu government", "west jerusalem"),
    "iran": ("ayatollahs", "mullahs"),
    "russia": ("russian federation", "sochi", "st petersburg", "st. petersburg"),
    "us": ("u.s", "usa", "americans", "trump administration", "biden administration"),
}


@lru_cache(maxsize=512)
def _pattern(actor: str) -> re.Pattern[str]:
    terms = {*ACTOR_MARKERS.get(actor, ()), *actor_terms(actor)}  # an undescribed actor: its own name
    terms |= {name for name, who in KNOWN_SPEAKERS.items() if who == actor}
    terms |= set(EXTRA_NAMES.get(actor, ()))
    alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True) if t)
    # plurals and possessives too: "the Russians", "Iran's"
    return re.compile(rf"(?<![\w])(?:{alternatives})(?:s|['’]s)?(?![\w])", re.IGNORECASE)


def actor_named(actor: str, quote: QuoteInput) -> bool:
    """True when the quote, its speaker, its context or the speaker's stated actor names ``actor``."""
    if quote.speaker_actor and quote.speaker_actor.strip().lower() == actor:
        return True
    pattern = _pattern(actor)
    return any(pattern.search(part) for part in (quote.text, quote.speaker, quote.context) if part)


def adjust(probs: np.ndarray, labels: Sequence[str], actors: tuple[str, str], trained: bool,
           quote: QuoteInput) -> np.ndarray:
    """The dyad's stance probabilities after the two mention rules (see the module's docstring)."""
    none = labels.index("none")
    first, second = (actor_named(a, quote) for a in actors)
    if not first and not second:
        out = np.zeros_like(probs)
        out[none] = 1.0
        return out
    if not trained and first and second:
        out = probs.copy()
        out[none] = 0.0
        total = out.sum()
        return out / total if total > 0 else probs
    return probs
