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

from typing import Sequence

import numpy as np

from models.input_encoding import QuoteInput
from models.quotes.lexicon import actor_pattern


def actor_named(actor: str, quote: QuoteInput) -> bool:
    """True when the quote, its speaker, its context or the speaker's stated actor names ``actor``."""
    if quote.speaker_actor and quote.speaker_actor.strip().lower() == actor:
        return True
    pattern = actor_pattern(actor)
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
