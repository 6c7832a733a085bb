"""The context handed to the classifier with a quote: the article's own sentences around it.

One function, used by the extractor at serving time and by the corpus
builder for every training record cut from an article, so the model trains
on the same shape of context it is served.

The context is the quote's own sentence with the quote's words taken out
(its "frame": who said it, to whom, of what).  A thin frame (under
:data:`FRAME_ALONE` words, "he said"), or a short one (under
:data:`RICH_FRAME`) while the sentence before names an actor the frame does not ("Tehran and Moscow signed the treaty on
Friday."), gets the sentence before it: labels are read in the context, and
the context must carry who the quote is about.  When
the two still hold fewer than :data:`MIN_WORDS` words, the sentence after.
Sentences that are not next to each other (on either side of a quote that
fills its sentence, or across a paragraph break after the frame) are joined
with " … ".
Other quotations in those sentences stay: a context often holds another
quote.  At most :data:`MAX_WORDS` words, cut from the far ends.  These
numbers make the corpus's contexts read like real ones (one sentence in most,
two or more in about a third; see ``training/corpus_report.py``).
"""

from __future__ import annotations

import re
from typing import Sequence

MIN_WORDS = 12
FRAME_ALONE = 9
RICH_FRAME = 15
MAX_WORDS = 60
CLOSING = "”\"»’'›“"


def _words(text: str) -> int:
    return len(re.findall(r"[\w’'-]+", text))


def _actors(text: str) -> set[str]:
    """The actors a sentence names by country, capital, demonym or institution."""
    from models.quotes.lexicon import actors_named

    return actors_named(text)


def _clean(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    return text.strip(" ,;")


def frame_of(article: str, sentence: tuple[int, int], parts: Sequence[tuple[int, int]]) -> str:
    """The sentence with the quote's words and their marks removed ('Netanyahu tweeted after the meeting.')."""
    a, b = sentence
    pieces = []
    pos = a
    for start, end in sorted(parts):
        if end <= a or start >= b:
            continue
        lo = start
        while lo > a and article[lo - 1] in "“„«‹\"‘' \t":
            lo -= 1
        hi = end
        while hi < b and article[hi] in CLOSING + " \t":
            hi += 1
        pieces.append(article[pos:lo])
        pieces.append(" ")
        pos = max(pos, hi)
    pieces.append(article[pos:b])
    frame = _clean("".join(pieces))
    return frame if re.search(r"[A-Za-z]", frame) else ""


def _cap_left(text: str, limit: int) -> str:
    words = text.split()
    return text if len(words) <= limit else "… " + " ".join(words[-limit:])


def _cap_right(text: str, limit: int) -> str:
    words = text.split()
    return text if len(words) <= limit else " ".join(words[:limit]) + " …"


def quote_context(
    article: str, sentences: Sequence[tuple[int, int]], parts: Sequence[tuple[int, int]]
) -> str:
    """The context for the quote whose content pieces are ``parts``, from sorted sentence bounds."""
    if not parts or not sentences:
        return ""
    start, end = parts[0][0], parts[-1][1]
    own = [k for k, (a, b) in enumerate(sentences) if a < end and b > start]
    if not own:
        own = [max((k for k, (a, _) in enumerate(sentences) if a <= start), default=0)]
    first, last = own[0], own[-1]
    frame = " ".join(f for f in (frame_of(article, sentences[k], parts) for k in own) if f)
    before = ""
    if first > 0:
        previous = _clean(article[slice(*sentences[first - 1])])
        # A thin frame ("he said") gets the sentence before; so does a frame that names no actor and no
        # one when the sentence before does ("Tehran and Moscow signed the treaty on Friday."): the
        # labels are read in the context, and the context must carry who the quote is about.
        if _words(frame) < FRAME_ALONE or (_words(frame) < RICH_FRAME and _actors(previous) - _actors(frame)):
            before = previous
    after = ""
    if _words(before) + _words(frame) < MIN_WORDS and last + 1 < len(sentences):
        after = _clean(article[slice(*sentences[last + 1])])
    budget = max(8, MAX_WORDS - _words(frame))
    if before and after:
        before, after = _cap_left(before, budget // 2), _cap_right(after, budget - budget // 2)
    else:
        before, after = _cap_left(before, budget), _cap_right(after, budget)
    if not frame:  # the quote fills its sentence: what is on either side is not next to each other
        return _clean(" … ".join(p for p in (before, after) if p))
    out = before + " " + frame if before else frame
    if after:
        gap = article[sentences[last][1] : sentences[last + 1][0]]
        out += " … " if "\n" in gap else " "
        out += after
    return _clean(out)
