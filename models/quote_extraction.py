"""Finding quotations in article text, attributing them, and keeping their context.

Rule-based on purpose: news quotation is a small, regular grammar (marks,
a speech verb, a speaker phrase), and rules give exact character offsets and
predictable failures.  Handles straight, curly, low-high („“), guillemet
(«») and single curly (‘’) marks; quotes split by an attribution ("…,"
he said, "…"); quotes running over paragraphs (no closing mark, the next
paragraph reopening); [bracketed] insertions and ellipses (kept as written).

Speakers come from the quote's own sentence ("X said", "said X", "X told
CNN", "X tweeted", "according to X", "a Foreign Ministry spokesperson"),
a pronoun resolves to the last person named before the quote, a bare surname
expands to the full name used earlier, and a quote-only paragraph continues
the previous paragraph's speaker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MIN_WORDS = 2  # one-word "quotes" are scare quotes ("alliance"), never quotations
SHORT_WORDS = 3  # two/three-word ones count only with a speech verb nearby
MAX_SPEAKER_WORDS = 12
MAX_CONTEXT_SENTENCE_WORDS = 60

SPEECH_VERBS = (
    "said says say told tells tweeted wrote writes added adds stated states stressed stresses "
    "noted notes warned warns declared declares insisted insists explained explains argued argues "
    "claimed claims replied replies responded responds asked asks announced announces reported reports "
    "commented comments continued continues concluded emphasized emphasised emphasizes underlined "
    "underscored remarked acknowledged admitted cautioned posted quipped recalled urged vowed charged "
    "complained countered observed suggested reiterated reiterates confirmed confirms insisted "
    "alleged accused demanded threatened promised assured told declared wrote"
).split()
_VERB_RE = "|".join(sorted(set(SPEECH_VERBS), key=len, reverse=True))
PRONOUNS = {"he", "she", "they", "it", "we", "i"}
ADVERBS = {"later", "also", "then", "further", "again", "previously", "earlier", "recently", "once", "had", "has", "have", "was", "is"}
TITLE_WORDS = set(
    """President Prime Minister Ministers Deputy Foreign Defense Defence Secretary Spokesman Spokeswoman
    Spokesperson Ambassador Envoy Special General Director Chief Head Senior Supreme Leader Ayatollah
    Sheikh Rabbi Mr. Mrs. Ms. Dr. Gen. Lt. Col. Maj. Adm. Sen. Rep. Brig. Russian Israeli Iranian Syrian
    Turkish American U.S. US UN Kremlin Chairman Speaker Commander Colonel Major Lieutenant Admiral
    Brigadier Vice Economy Energy Finance Interior State Duma Knesset Member MP Lawmaker Professor Prof.
    Analyst Former Acting Opposition Lavrov's Russia's Israel's Iran's Palestinian Saudi Chinese Ukrainian
    Security Council Presidential Press Secretary-General Affairs Culture Agriculture Trade Transport
    Mayor Governor Justice Health Education Tourism Intelligence Military Army Navy Air Force Chief-of-Staff
    """.split()
)
NAME_STOP = set(
    """The A An In On At As While Yet But Hence And Or If When After Before During Since Meanwhile However
    Moreover Similarly Perhaps This That These Those There Three Two One Four Five Asked Validating Just
    January February March April May June July August September October November December Jan. Feb.
    Mar. Apr. Jun. Jul. Aug. Sep. Sept. Oct. Nov. Dec. Monday Tuesday Wednesday Thursday Friday Saturday
    Sunday Original West East North South Middle Central Russian-language It He She They We Our His Her
    Hyping Defusing""".split()
)
ABBREVIATIONS = set(
    """mr mrs ms dr gen lt col maj adm sen rep brig st jan feb mar apr jun jul aug sep sept oct nov dec
    no vs etc inc ltd co corp prof u.s u.n e.g i.e""".split()
)

_OPEN_CLOSE = {"“": "”", "„": "“”", "«": "»", '"': '"', "‘": "’"}


@dataclass(frozen=True)
class ExtractedQuote:
    """One quotation: its words, who said it, the sentences around it, where it is."""

    text: str
    speaker: str
    context: str
    start: int  # offset of the first quoted character in the article
    end: int  # offset just past the last quoted character
    spans: tuple[tuple[int, int], ...] = field(default=())


@dataclass
class _Span:
    parts: list[tuple[int, int]]  # content offsets, marks excluded
    open_at: int  # offset of the first opening mark
    close_at: int  # offset just past the last closing mark (or paragraph end)


# ------------------------------------------------------------- mark scanning
def _is_word_char(ch: str) -> bool:
    return ch.isalnum()


def _scan_spans(text: str) -> list[_Span]:
    """Top-level quotation spans; a quote left open at a paragraph end continues
    only if the next paragraph reopens with the same kind of mark."""
    spans: list[_Span] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _OPEN_CLOSE and _opens_here(text, i):
            closers = _OPEN_CLOSE[ch]
            parts: list[tuple[int, int]] = []
            seg_start = i + 1
            j = seg_start
            closed = False
            while j < n:
                cj = text[j]
                if cj in closers and (cj != "’" or not _is_word_char(text[j + 1] if j + 1 < n else " ")) and j > seg_start:
                    parts.append((seg_start, j))
                    closed = True
                    break
                if cj == "\n":
                    k = j
                    while k < n and text[k] in "\n \t\r":
                        k += 1
                    if k < n and text[k] == ch:  # reopened: a quote running over paragraphs
                        parts.append((seg_start, j))
                        seg_start = k + 1
                        j = seg_start
                        continue
                    break  # unbalanced: drop
                j += 1
            if closed:
                spans.append(_Span(parts=[_trim(text, a, b) for a, b in parts], open_at=i, close_at=j + 1))
                i = j + 1
                continue
        i += 1
    return spans


def _opens_here(text: str, i: int) -> bool:
    prev = text[i - 1] if i > 0 else " "
    nxt = text[i + 1] if i + 1 < len(text) else " "
    if nxt.isspace():
        return False
    if text[i] in "\"‘":
        return not _is_word_char(prev)
    return True


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


# ---------------------------------------------------------------- sentences
def _sentence_bounds(text: str, spans: list[_Span]) -> list[tuple[int, int]]:
    """Sentence (start, end) offsets; no boundary falls inside a quotation."""
    inside = bytearray(len(text))
    for s in spans:
        for k in range(s.open_at, s.close_at - 1):
            inside[k] = 1
    bounds: list[tuple[int, int]] = []
    start = 0
    n = len(text)
    i = 0
    while i < n:
        ch = text[i]
        if ch == "\n" and not inside[i]:
            if text[start:i].strip():
                bounds.append(_trim(text, start, i))
            start = i + 1
        elif ch in ".!?" and not inside[i]:
            j = i + 1
            while j < n and text[j] in "”\"’»)":
                j += 1
            if j >= n or text[j].isspace():
                k = j
                while k < n and text[k] in " \t":
                    k += 1
                word = re.findall(r"[\w.]+$", text[start : i + 1])
                token = word[0].rstrip(".").lower() if word else ""
                is_abbrev = ch == "." and (token in ABBREVIATIONS or (len(token) == 1 and token.isalpha()))
                nxt = text[k] if k < n else "\n"
                if not is_abbrev and (nxt == "\n" or nxt.isupper() or nxt in "“\"«„‘[(" or nxt.isdigit()):
                    bounds.append(_trim(text, start, j))
                    start = j
                    i = j
                    continue
        i += 1
    if text[start:].strip():
        bounds.append(_trim(text, start, n))
    return [b for b in bounds if b[1] > b[0]]


# ------------------------------------------------------------------ names
_NAME_TOKEN = r"(?:[A-Z][\w'’.-]*)"
_NAME_RE = re.compile(rf"{_NAME_TOKEN}(?:\s+{_NAME_TOKEN}){{1,5}}")


def _strip_titles(tokens: list[str]) -> list[str]:
    out = list(tokens)
    while len(out) > 1 and (out[0] in TITLE_WORDS or out[0].lower() in {"the", "a", "an"}):
        out = out[1:]
    return out


def _person_names(text: str) -> list[tuple[int, str]]:
    """(offset, 'First Last') for every person-like name in ``text``."""
    found = []
    for m in _NAME_RE.finditer(text):
        tokens = m.group(0).split()
        while tokens and tokens[0] in NAME_STOP:
            tokens = tokens[1:]
        tokens = _strip_titles(tokens)
        tokens = [t.rstrip("’'s").rstrip(".,") if t.endswith(("’s", "'s")) else t.rstrip(".,") for t in tokens]
        if len(tokens) < 2 or any(t in TITLE_WORDS or t in NAME_STOP for t in tokens):
            continue
        if any(not re.match(r"^[A-Z][a-z]", t) for t in tokens):
            continue
        found.append((m.start(), " ".join(tokens)))
    return found


def _is_person(phrase: str) -> bool:
    tokens = phrase.split()
    return 1 <= len(tokens) <= 4 and all(re.match(r"^[A-Z][a-z'’-]+$", t) for t in tokens) and not any(
        t in TITLE_WORDS or t in NAME_STOP for t in tokens
    )


_NOT_SUBJECT = r"^(?:(?i:on|in|at|after|before|during|asked|according|speaking|writing|citing|when|while|who|which)\b|[a-z]\w*ing\b|[a-z]\w*ed\b)"
_PREPOSITIONS = {"to", "of", "in", "at", "for", "from", "with", "on", "by"}


def _clean_speaker(np: str) -> str:
    np = re.split(r"\s[—–]\s|\s-\s", np)[-1]  # drop a dateline ("TEL AVIV — ...")
    np = np.strip(" ,;:—–-\u00a0")
    np = re.sub(r"^(?:and|but|then|so|while|as)\s+", "", np, flags=re.I)
    words = np.split()
    while words and words[-1].lower() in ADVERBS:
        words = words[:-1]
    if not words or len(words) > MAX_SPEAKER_WORDS:
        return ""
    np = " ".join(words)
    chunks = [c.strip() for c in np.split(",") if c.strip()]
    if len(chunks) > 1:
        # "Dmitry Peskov, the Kremlin spokesman" -> the name; "On Monday, the ministry" -> the last clause;
        # "A senior official, speaking on condition of anonymity" -> the official.
        names = [c for c in chunks if _is_person(" ".join(_strip_titles(c.split())))]
        subjects = [c for c in chunks if not re.match(_NOT_SUBJECT, c)]
        np = names[-1] if names else (subjects[-1] if subjects else chunks[-1])
    tokens = np.split()
    # A description ending in a proper name ("media outlet ILand TV") -> the name.
    tail: list[str] = []
    for t in reversed(tokens):
        if re.match(r"^[A-Z0-9]", t):
            tail.insert(0, t)
        else:
            break
    before_tail = tokens[len(tokens) - len(tail) - 1].lower() if len(tail) < len(tokens) else ""
    if tail and len(tail) < len(tokens) and tokens[-1][0].isupper() and before_tail not in _PREPOSITIONS:
        stripped = _strip_titles(tail)
        return " ".join(stripped)
    if tokens and all(re.match(r"^[A-Z]", t) for t in tokens):
        stripped = _strip_titles(tokens)
        return " ".join(stripped) if _is_person(" ".join(stripped)) else np
    return np


# ------------------------------------------------------------ attribution
_AFTER_NP_VERB = re.compile(rf"^[\s,;:—–-]*(?P<np>[^.!?“”\"«»]{{1,160}}?)\s+(?:{_VERB_RE})\b", re.I)
_AFTER_VERB_NP = re.compile(
    rf"^[\s,;:—–-]*(?:{_VERB_RE})\s+(?P<np>[^.!?;:“”\"«»]{{1,160}}?)(?=[,.;:!?]|\s+(?:on|in|at|during|after|before|to|when|while|from|as|late|earlier|last|this)\b|$)",
    re.I,
)
_ACCORDING = re.compile(r"according to\s+(?P<np>[^,.;:“”\"«»]{1,120})", re.I)
_BEFORE_NP_VERB = re.compile(
    rf"(?P<np>[^.!?;“”\"«»]{{1,200}}?)\s+(?:{_VERB_RE})\b(?P<tail>[^.!?“”\"«»]{{0,80}})$", re.I
)


def _from_after(after: str) -> str:
    after_s = after.strip()
    if not after_s:
        return ""
    m = _AFTER_VERB_NP.match(after_s)
    if m and not re.match(r"^(?:he|she|they|that|it|we|i)\b", m.group("np").strip(), re.I):
        return _clean_speaker(m.group("np"))
    m = _AFTER_NP_VERB.match(after_s)
    if m:
        return _clean_speaker(m.group("np"))
    m = _ACCORDING.match(after_s.lstrip(" ,;:—–-"))
    if m:
        return _clean_speaker(m.group("np"))
    return ""


_AS_SAYING = re.compile(r"\b(?:quoted|cited)\s+(?P<np>[^.;“”\"«»]{1,100}?)\s+as\s+(?:saying|stating)\s*:?\s*$", re.I)


def _from_before(before: str) -> str:
    m = _AS_SAYING.search(before)
    if m:
        return _clean_speaker(m.group("np"))
    m = _ACCORDING.search(before)
    if m and len(before) - m.end() < 30:
        return _clean_speaker(m.group("np"))
    m = _BEFORE_NP_VERB.search(before)
    if m and len(m.group("tail").split()) <= 8:
        np = m.group("np")
        # Only the clause that owns the verb: after the last "that"/a clause opener.
        np = re.split(r"\b(?:that|who|which|when|after|as)\b", np)[-1]
        return _clean_speaker(np)
    return ""


def _attribute(before: str, after: str, trailing_comma: bool) -> str:
    """Speaker phrase from the non-quoted words of the quote's sentence ('' if none).

    '"…," X said' reads its speaker after the quote; 'X said "…"' before it.
    """
    if trailing_comma or not before.strip():
        return _from_after(after) or _from_before(before)
    return _from_before(before) or _from_after(after)


# ------------------------------------------------------------------- main
def _merge_split_quotes(text: str, spans: list[_Span]) -> list[_Span]:
    """'"We will not allow this," he said, "and we will respond."' is one quotation."""
    merged: list[_Span] = []
    for span in spans:
        if merged:
            prev = merged[-1]
            gap = text[prev.close_at : span.open_at]
            last = text[prev.parts[-1][0] : prev.parts[-1][1]].rstrip()
            first = text[span.parts[0][0] : span.parts[0][1]]
            if (
                "\n" not in gap
                and last.endswith(",")
                and first[:1].islower()
                and len(gap.split()) <= 8
                and gap.strip().endswith((",", ":", "—", "–"))
                and re.search(rf"\b(?:{_VERB_RE})\b", gap, re.I)
            ):
                prev.parts.extend(span.parts)
                prev.close_at = span.close_at
                continue
        merged.append(_Span(list(span.parts), span.open_at, span.close_at))
    return merged


def _words(s: str) -> list[str]:
    return re.findall(r"[\w’'-]+", s)


def _cap(sentence: str) -> str:
    words = sentence.split()
    if len(words) > MAX_CONTEXT_SENTENCE_WORDS:
        return " ".join(words[:MAX_CONTEXT_SENTENCE_WORDS]) + " …"
    return sentence


def extract_quotes(article: str) -> list[ExtractedQuote]:
    """Every quotation in ``article``, in order of appearance."""
    spans = _merge_split_quotes(article, _scan_spans(article))
    sentences = _sentence_bounds(article, spans)
    quoted_mask = [False] * len(article)
    for s in spans:
        for a, b in s.parts:  # the quoted words and their marks; an inner attribution stays readable
            lo = a - 1 if a > 0 and article[a - 1] in _OPEN_CLOSE else a
            while lo > s.open_at and article[lo - 1] in " \n\t" + "".join(_OPEN_CLOSE):
                lo -= 1
            hi = b
            while hi < s.close_at and (article[hi] in "".join(set("".join(_OPEN_CLOSE.values()))) or article[hi] in " \n\t"):
                hi += 1
            for k in range(max(lo, s.open_at), min(hi, s.close_at)):
                quoted_mask[k] = True

    def unquoted(a: int, b: int) -> str:
        return "".join(ch if not quoted_mask[a + k] else " " for k, ch in enumerate(article[a:b]))

    out: list[ExtractedQuote] = []
    last_speaker = ""
    last_para_end = -1
    for span in spans:
        words = _words(" ".join(article[a:b] for a, b in span.parts))
        own = [k for k, (a, b) in enumerate(sentences) if a < span.close_at and b > span.open_at]
        if not own:
            continue
        s_start, s_end = sentences[own[0]][0], sentences[own[-1]][1]
        before = unquoted(s_start, span.open_at)
        after = unquoted(span.close_at, s_end)
        # Other quotes in the same sentence are masked; cut at the nearest one so each
        # quote reads its own attribution.
        whole_before = before
        before = re.split(r"\s{3,}", before)[-1] if re.search(r"\S\s{3,}\S", before) else before
        last_part = article[span.parts[-1][0] : span.parts[-1][1]].rstrip()
        inner = [unquoted(a_end, b_start) for (_, a_end), (b_start, _) in zip(span.parts, span.parts[1:])]
        inner = [g for g in inner if "\n" not in article[span.open_at:span.close_at] and g.strip()]
        speaker = (_from_after(inner[0]) if inner else "") or _attribute(
            before, after, last_part.endswith((",", "—"))
        ) or (_from_before(whole_before) if whole_before != before else "")
        if len(words) < MIN_WORDS:
            continue
        if len(words) <= SHORT_WORDS and not (speaker or re.search(rf"\b(?:{_VERB_RE}|called|calling|described)\b", before + after, re.I)):
            continue
        if not speaker and len(words) <= 6 and all(w[:1].isupper() for w in words):
            continue  # a title or a name in quotes, not speech
        prior_text = unquoted(0, span.open_at)
        people = _person_names(prior_text)
        if speaker.lower() in PRONOUNS:
            speaker = people[-1][1] if people else last_speaker
        elif speaker and len(speaker.split()) == 1 and speaker[:1].isupper():
            full = [name for _, name in people if name.split()[-1] == speaker]
            if full:
                speaker = full[-1]
        para_start = article.rfind("\n", 0, span.open_at) + 1
        if not speaker and before.strip() == "" and after.strip() == "" and last_para_end >= 0:
            gap = article[last_para_end:para_start]
            if gap.strip() == "":  # a quote-only paragraph right after a quoted one
                speaker = last_speaker
        # Context: previous sentence, the quote's own sentence without the quote, next sentence.
        pieces = []
        if own[0] > 0:
            pieces.append(_cap(article[slice(*sentences[own[0] - 1])]))
        frame = re.sub(r"\s+", " ", unquoted(s_start, s_end)).strip(" ,")
        frame = re.sub(r"\s+([,.;:])", r"\1", frame).strip(" ,")
        if _words(frame):
            pieces.append(frame)
        if own[-1] + 1 < len(sentences):
            pieces.append(_cap(article[slice(*sentences[own[-1] + 1])]))
        text = " ".join(re.sub(r"\s+", " ", article[a:b]) for a, b in span.parts)
        out.append(
            ExtractedQuote(
                text=text,
                speaker=speaker,
                context=" ".join(pieces),
                start=span.parts[0][0],
                end=span.parts[-1][1],
                spans=tuple(span.parts),
            )
        )
        if speaker:
            last_speaker = speaker
        last_para_end = article.find("\n", span.close_at)
        last_para_end = len(article) if last_para_end < 0 else last_para_end
    return out
