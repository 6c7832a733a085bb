"""Where the quotation marks are: every quoted span of an article, in one left-to-right pass.

Handles straight and curly double and single marks, guillemets (« », ‹ ›
and the reversed »…«), the low-high „“ of German-style and Russian renderings, marks nested in
a quote of another kind (‘…’ inside “…”, or the reverse in British style),
quotes split by their attribution ("…," he said, "…"), quotes running over
paragraphs (no closing mark, the next paragraph reopening), and interview
turns ("LAVROV: …", "A: …") that carry no marks at all.  Apostrophes
("Iran's", "countries' leaders") are not marks.

Deciding whether a marked span is speech (not a scare quote or a title) is
the attribution step's job; this module only finds spans.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

# opening mark -> the marks that may close it
PAIRS: dict[str, str] = {"“": "”", "„": "“”", "«": "»", "‹": "›", '"': '"', "‘": "’", "'": "'", "”": "”",
                         "»": "«"}  # »…«: the reversed guillemets of German and Nordic print
OPENERS = frozenset(PAIRS)
ALL_MARKS = frozenset("“”„«»‹›\"‘’'")
DOUBLE = frozenset("“”„«»\"")

_TURN = re.compile(
    r"^[ \t]*(?P<label>(?:Q|A|Question|Answer)|[A-Z][A-Za-z.'’ -]{0,40}?[A-Z][A-Za-z.'’-]*|[A-Z]{2,}(?: [A-Z]{2,}){0,3})"
    r"[ \t]*:[ \t]+(?=\S)"
)


@dataclass
class Span:
    """A quotation: its content pieces (marks excluded), and where its marks start and end."""

    parts: list[tuple[int, int]]
    open_at: int  # first opening mark (or the turn label's start)
    close_at: int  # just past the last closing mark (or the paragraph end)
    turn_label: str = ""  # "LAVROV", "A", "Q" for interview turns
    nested: list[tuple[int, int]] = field(default_factory=list)

    @property
    def start(self) -> int:
        return self.parts[0][0]

    @property
    def end(self) -> int:
        return self.parts[-1][1]

    def text(self, article: str) -> str:
        return " ".join(re.sub(r"\s+", " ", article[a:b]) for a, b in self.parts)


def _word(ch: str) -> bool:
    return ch.isalnum()


def _opens(text: str, i: int) -> bool:
    ch = text[i]
    prev = text[i - 1] if i > 0 else " "
    nxt = text[i + 1] if i + 1 < len(text) else " "
    if nxt.isspace() or nxt in ",;":
        return False
    if ch in "\"'‘":
        # Straight marks and the left single curly one open only after a non-word character:
        # "Iran's", "the countries' ties" and 'rock ’n’ roll' are not quotations.
        return not _word(prev) and prev not in "'’"
    if ch in "”»":  # some outlets open with a right mark ("”Quote”" in Nordic style, »Quote« in German)
        return not _word(prev) and _word(nxt)
    return True


def _closes(text: str, j: int, opener: str) -> bool:
    ch = text[j]
    if ch not in PAIRS[opener]:
        return False
    nxt = text[j + 1] if j + 1 < len(text) else " "
    prev = text[j - 1] if j > 0 else " "
    if ch in "'’" and (_word(nxt) or prev.isspace()):
        return False  # an apostrophe inside the quote ("Iran's", "don't")
    if ch == '"' and prev.isspace() and _word(nxt):
        return False  # looks like an opening straight mark of a nested quote
    if ch in "'’" and prev == "s" and nxt == " " and text[j + 2 : j + 3].islower():
        # "‘It is the ministers’ job to decide,’ he said": a plural possessive, when a later mark can close
        rest = text[j + 1 : _paragraph_end(text, j)]
        if re.search(rf"[{ch}](?=[\s,.;:!?—–]|$)", rest):
            return False
    return True


def _paragraph_end(text: str, i: int) -> int:
    j = text.find("\n", i)
    return len(text) if j < 0 else j


def _reopens(text: str, pos: int, opener: str) -> int:
    """After a paragraph ending inside a quote: the offset past the next paragraph's opening mark, or -1."""
    k = pos
    while k < len(text) and text[k] in "\n \t\r":
        k += 1
    if k < len(text) and text[k] in (opener, "“", "„", "«", '"') and k > pos:
        return k + 1
    return -1


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def scan(text: str) -> list[Span]:
    """Top-level quoted spans in order; nested marks stay inside their quote."""
    spans: list[Span] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch not in OPENERS or not _opens(text, i):
            i += 1
            continue
        span = _read_quote(text, i)
        if span is None:
            i += 1
            continue
        spans.append(span)
        i = span.close_at
    return spans


def _read_quote(text: str, i: int) -> Span | None:
    opener = text[i]
    parts: list[tuple[int, int]] = []
    nested: list[tuple[int, int]] = []
    seg_start = i + 1
    j = seg_start
    n = len(text)
    inner: str | None = None  # the opening mark of a nested quote we are inside
    while j < n:
        cj = text[j]
        if cj == "\n":
            if inner is not None:
                inner = None
            nxt = _reopens(text, j, opener)
            if nxt < 0:
                # A double mark left open at a paragraph's end after a finished sentence: the closing mark
                # was forgotten.  Anything else unclosed is a stray mark, not a quotation.
                body = text[seg_start:j].rstrip()
                if inner is None and opener in DOUBLE and body.endswith((".", "!", "?")) and len(body.split()) >= 4:
                    parts.append(_trim(text, seg_start, j))
                    return Span(parts=[p for p in parts if p[1] > p[0]], open_at=i, close_at=j, nested=nested)
                return None
            parts.append(_trim(text, seg_start, j))
            seg_start = nxt
            j = nxt
            continue
        if inner is not None:
            if _closes(text, j, inner):
                nested.append((inner_start, j))
                inner = None
            j += 1
            continue
        if j > seg_start and _closes(text, j, opener):
            parts.append(_trim(text, seg_start, j))
            return Span(parts=[p for p in parts if p[1] > p[0]], open_at=i, close_at=j + 1, nested=nested) \
                if any(p[1] > p[0] for p in parts) else None
        if cj in OPENERS and cj != opener and _opens(text, j) and not (opener == "„" and cj == "“"):
            inner = cj
            inner_start = j + 1
        j += 1
    return None


_ONE_WORD_TURN = re.compile(r"^[ \t]*(?P<label>[A-Z][a-z][A-Za-z’'-]+)[ \t]*:[ \t]+(?=\S)")  # "Halperin: …"
_DASH_TURN = re.compile(r"^[ \t]*[—–][ \t]+(?=\S)")  # "— How are relations? ¶ — Complicated." (Russian style)


def _dash_turns(text: str, taken: list[Span]) -> list[Span]:
    """A dialogue set as dash-led paragraphs, questions and answers in turn, as translated Russian
    interviews are: the paragraph after a question is an answer ("A"), the question itself is "Q".
    Only where at least three paragraphs open with a dash and one of them asks a question (a dashed
    list is not a dialogue)."""
    lines, pos = [], 0
    for line in text.split("\n"):
        start, end = pos, pos + len(line)
        pos = end + 1
        m = _DASH_TURN.match(line)
        if m:
            lines.append((start, start + m.end(), end, line.rstrip().endswith("?")))
    if len(lines) < 3 or not any(q for *_, q in lines):
        return []
    out = []
    for k, (start, a, end, asks) in enumerate(lines):
        previous_asks = k > 0 and lines[k - 1][3]
        label = "Q" if asks and not previous_asks else "A"
        a, b = _trim(text, a, end)
        if b - a < 3 or any(s.open_at < b and s.close_at > a for s in taken):
            continue
        out.append(Span(parts=[(a, b)], open_at=start, close_at=end, turn_label=label))
    return out


def turns(text: str, taken: list[Span]) -> list[Span]:
    """Interview turns: a paragraph that starts with ``LABEL:`` and holds no marked quote of its own.

    A one-word label in ordinary capitals ("Halperin: …") counts only when it opens two or more
    paragraphs, as a dialogue's do ("Note: …" once is not a turn)."""
    out: list[Span] = _dash_turns(text, taken)
    one_word = Counter(m.group("label") for m in (_ONE_WORD_TURN.match(line) for line in text.split("\n")) if m)
    repeated = {w for w, n in one_word.items() if n >= 2}
    pos = 0
    for line in text.split("\n"):
        start, end = pos, pos + len(line)
        pos = end + 1
        m = _TURN.match(line)
        if not m:
            m = _ONE_WORD_TURN.match(line)
            if not m or m.group("label") not in repeated:
                continue
        label = m.group("label").strip()
        words = label.split()
        if not (label in ("Q", "A", "Question", "Answer") or label.isupper() or len(words) <= 4):
            continue
        if re.search(r"\b(?:said|says|told|added|wrote)\b", label, re.I):
            continue
        a, b = _trim(text, start + m.end(), end)
        if b - a < 3 or any(s.open_at < b and s.close_at > a for s in taken):
            continue
        out.append(Span(parts=[(a, b)], open_at=start + m.start("label"), close_at=end, turn_label=label))
    return out


SPEECH_GAP = re.compile(
    r"^\s*[,;:—–-]?\s*(?:[^.!?“”\"«»\n]{0,80}?)\b(?:said|says|say|told|tells|added|adds|asked|asks|continued|went on|"
    r"wrote|writes|noted|notes|explained|insisted|stressed|argued|warned|replied|declared|tweeted|posted|"
    r"stated|remarked|according to)\b[^.!?“”\"«»\n]{0,60}?[,:—–]\s*$",
    re.IGNORECASE,
)


def merge_split(text: str, spans: list[Span]) -> list[Span]:
    """'"We will not allow this," he said, "and we will respond."' is one quotation."""
    merged: list[Span] = []
    for span in spans:
        if merged and not span.turn_label and not merged[-1].turn_label:
            prev = merged[-1]
            gap = text[prev.close_at : span.open_at]
            last = text[prev.parts[-1][0] : prev.parts[-1][1]].rstrip()
            first = text[span.parts[0][0] : span.parts[0][1]]
            if (
                "\n" not in gap
                and last.endswith((",", "—", "–", "…", "...", ":"))
                and (first[:1].islower() or gap.rstrip().endswith((",", ":")))
                and SPEECH_GAP.match(gap)
            ):
                prev.parts.extend(span.parts)
                prev.nested.extend(span.nested)
                prev.close_at = span.close_at
                continue
        merged.append(Span(list(span.parts), span.open_at, span.close_at, span.turn_label, list(span.nested)))
    return merged


def find_spans(text: str) -> list[Span]:
    """Every quotation-like span (marked or interview turn), split quotes merged, in article order."""
    marked = scan(text)
    spans = sorted(marked + turns(text, marked), key=lambda s: s.open_at)
    return merge_split(text, spans)
