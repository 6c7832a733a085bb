"""Every quotation of an article, with its speaker, the speaker's role and actor, and its context.

One pass over the article: find the marked spans, mask them, parse the
masked text once, then walk its sentences in order, registering the people
and bodies each names before attributing the quotes it holds, so a pronoun
or a bare surname resolves only to someone already named.  Cost grows
linearly with the article's length.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field, replace
from typing import Any

from models.quotes import marks
from models.quotes.attribution import Attribution, Attributor, is_speech_verb, speaker_actor
from models.quotes.context import quote_context
from models.quotes.language import PLACEHOLDER, blank_stamps, ents_in, mask_quotes, parse
from models.quotes.lexicon import ROLE_NOUNS, SPEECH_VERBS, last_actor_in
from models.quotes.people import Person, Registry, clean_name, looks_like_person, proper_name_at, role_of

# heads of an anonymous source's description: these stay unnamed even when someone is named next
_ANONYMOUS = re.compile(r"\b(?:officials?|sources?|spokes\w*|aides?|insiders?|diplomats?|persons?|people|"
                        r"anonymity|not (?:to be|be) (?:named|identified)|unnamed)\b", re.I)
MIN_WORDS_UNATTRIBUTED = 4  # shorter marked spans with no speech verb are scare quotes, not speech
_SCARE_CUES = re.compile(
    r"(?:so-called|so called|dubbed|term(?:ed)?|the words?|the phrase|known as|titled|entitled|"
    r"operation|book|film|movie|novel|report|slogan|hashtag|banner|headline|programme|program|series|exercise|"
    r"campaign|nicknamed|brand(?:ed)?|label(?:led|ed)?)\s*[,:]?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ExtractedQuote:
    """One quotation: its words, who said it, the sentences around it, where it is."""

    text: str
    speaker: str
    context: str
    start: int  # offset of the first quoted character in the article
    end: int  # offset just past the last quoted character
    spans: tuple[tuple[int, int], ...] = field(default=())
    kind: str = "direct"  # "direct" (in marks or an interview turn) or "indirect" (reported speech)
    partial: bool = False  # a fragment inside a sentence ('called the strike “a gross violation”')
    speaker_role: str = ""
    speaker_affiliation: str = ""
    speaker_actor: str = ""


def _words(text: str) -> list[str]:
    return re.findall(r"[\w’'-]+", text)


class _Sentences:
    """Sentence bounds in original offsets, with a bisect lookup."""

    def __init__(self, bounds: list[tuple[int, int]]) -> None:
        self.bounds = bounds
        self.starts = [a for a, _ in bounds]

    def index_at(self, pos: int) -> int:
        return max(0, bisect.bisect_right(self.starts, pos) - 1)


def article_sentences(article: str) -> list[tuple[int, int]]:
    """The sentence bounds the extractor cuts contexts from (the corpus builder uses the same)."""
    return Extraction(article).sentences.bounds


def extract_quotes(article: str, include_indirect: bool = False) -> list[ExtractedQuote]:
    """Every quotation in ``article`` in order of appearance; with ``include_indirect``, reported speech too."""
    return Extraction(article).run(include_indirect)


_LINE_BREAK = re.compile(r"(?<=[^\s])[ \t]*\n(?=[ \t]*[^\s])")  # one line break between two lines of text


def _inside_quote(segment: str) -> bool:
    """An opening mark in ``segment`` still waits for its closing one."""
    opens = segment.count("“") + segment.count("«") + segment.count("„")
    closes = segment.count("”") + segment.count("»")
    return opens > closes or segment.count('"') % 2 == 1


def join_wrapped_lines(text: str) -> str:
    """A line break inside a sentence (hard-wrapped or pasted text) becomes a space, offsets kept.

    A break after a sentence's end stays and ends a paragraph, as a blank line does, unless a quotation
    is still open there (wrapped text breaking after a full stop inside a quote); a short line ending in a
    word (a headline) and a line before a dateline in capitals keep theirs too."""
    if "``" in text:  # typewriter marks of older wire copy: ``…'' (same length, so offsets hold)
        text = re.sub(r"``(?=\S)", " “", text)
        text = re.sub(r"(?<=\S)''", "” ", text)
    if "\n" not in text:
        return text
    # an indented line: the indent goes before the break, so the parser sees the line start at its first word
    text = re.sub(r"\n([ \t]+)(?=\S)", lambda m: m.group(1) + "\n", text)
    out = list(text)
    paragraph_start = 0
    for m in _LINE_BREAK.finditer(text):
        blank = text.rfind("\n\n", paragraph_start, m.start())
        if blank >= 0:
            paragraph_start = blank + 2
        line = text[text.rfind("\n", 0, m.start()) + 1 : m.start()]
        before, rest = text[m.start() - 1], text[m.end() : m.end() + 12]
        if before in ".!?:;…" or (before in "\"”»’'" and text[m.start() - 2] in ".!?…"):
            join = _inside_quote(text[paragraph_start : m.start()]) and rest[:1] not in "“«„\"‘'"
        elif before in ",;(" or rest[:1].islower():
            join = True
        else:  # a short line ending in a word is a headline; a line opening with capitals is a dateline
            join = len(line) >= 50 and not re.match(r"[A-Z]{3,}\b", rest)
        if join:
            out[m.start() : m.end()] = " " * (m.end() - m.start())
        else:
            paragraph_start = m.end()
    return "".join(out)


class Extraction:
    def __init__(self, article: str) -> None:
        article = join_wrapped_lines(article)
        self.article = article
        self.spans = marks.find_spans(article)
        self.masked = mask_quotes(article, [s.parts for s in self.spans])
        self.doc = parse(self.masked.text)
        self.to_original = self.masked.to_original
        self.placeholder_token: dict[int, list[int]] = {}
        for token in self.doc:
            qi = self.masked.placeholders.get(token.idx)
            if qi is not None and token.text == PLACEHOLDER:
                self.placeholder_token.setdefault(qi, []).append(token.i)
        self.sentences = _Sentences(self._sentence_bounds())
        # after join_wrapped_lines every line break left ends a paragraph
        self.paragraph_starts = [0] + [m.end() for m in re.finditer(r"\n\s*", article)]
        self.registry = Registry()
        self.attributor = Attributor(self.doc, self.registry, self.to_original, self.placeholder_token)
        self.attributor.run_on = {qi for qi, span in enumerate(self.spans) if self._runs_on(span)}

    def _sentence_bounds(self) -> list[tuple[int, int]]:
        # trimmed as the parser saw the text: a live blog's time stamp or a dateline belongs to no sentence
        view = blank_stamps(self.article)
        bounds = []
        for sent in self.doc.sents:
            a = self.to_original(sent.start_char)
            b = self.to_original(sent.end_char) if sent.end_char < len(self.masked.text) else len(self.article)
            # a sentence that ends in a placeholder ends where its quote's closing mark ends
            last = self.doc[sent.end - 1]
            if last.text == PLACEHOLDER or (sent.end >= 2 and self.doc[sent.end - 2].text == PLACEHOLDER):
                qi = self.masked.placeholders.get(
                    last.idx if last.text == PLACEHOLDER else self.doc[sent.end - 2].idx)
                if qi is not None:
                    b = max(b, self.spans[qi].close_at)
            bounds.append((a, b))
        # split at paragraph breaks the parser ran over
        out = []
        for a, b in bounds:
            cut = a
            for m in re.finditer(r"\n\s*\n|\n", self.article[a:b]):
                piece = (cut, a + m.start())
                out.append(piece)
                cut = a + m.end()
            out.append((cut, b))
        trimmed = []
        for a, b in out:
            while a < b and view[a].isspace():
                a += 1
            while b > a and view[b - 1].isspace():
                b -= 1
            if b > a:
                trimmed.append((a, b))
        return sorted(trimmed)

    # -------------------------------------------------------------- main
    def run(self, include_indirect: bool) -> list[ExtractedQuote]:
        by_sentence: dict[int, list[int]] = {}
        for qi, toks in self.placeholder_token.items():
            by_sentence.setdefault(self.doc[toks[0]].sent.start, []).append(qi)
        interviewee = None
        results: dict[int, ExtractedQuote] = {}
        previous: Attribution | None = None
        prev_quote_para = -2
        subject_para, paragraph_subject = -1, None
        for sent in self.doc.sents:
            self._register(sent)
            sent_para = bisect.bisect_right(self.paragraph_starts, self.to_original(sent.start_char))
            for qi in sorted(by_sentence.get(sent.start, [])):
                span = self.spans[qi]
                para = bisect.bisect_right(self.paragraph_starts, span.open_at)
                if span.turn_label:
                    attribution, interviewee = self._turn(span, interviewee)
                    if attribution is None:
                        continue
                else:
                    colon = self._colon_verb(qi, sent)
                    continued = prev_quote_para >= 0 and (
                        para == prev_quote_para or (self._quote_only_paragraph(span) and para - prev_quote_para == 1))
                    attribution = self.attributor.attribute(
                        qi, previous, continued, colon,
                        # the paragraph's subject; for a quote-only paragraph, the one the paragraph before was about
                        paragraph_subject if subject_para == para
                        or (subject_para == para - 1 and self._quote_only_paragraph(span)) else None)
                if not self._is_speech(span, attribution):
                    continue
                results[qi] = self._build(span, attribution)
                previous = attribution
                prev_quote_para = para
            subject = self.attributor.note_subjects(sent)
            if subject is not None:
                subject_para, paragraph_subject = sent_para, subject
        out = self._named_later([results[k] for k in sorted(results)])
        if include_indirect:
            from models.quotes.indirect import reported_speech

            out += reported_speech(self)
            out.sort(key=lambda q: q.start)
        return out

    def _runs_on(self, span: marks.Span) -> bool:
        """The sentence carries on after the quote in lower case ('Russia “does not accept” the strikes'),
        with no punctuation inside or after the marks and no speech verb next ('“…” said Lavrov')."""
        if span.turn_label or span.text(self.article).rstrip()[-1:] in ",.;:!?…—–-":
            return False
        m = re.match(r"[”\"’'»›]*\s+([a-z][a-z-]*)", self.article[span.close_at: span.close_at + 40])
        return m is not None and m.group(1) not in SPEECH_VERBS

    def _named_later(self, quotes: list[ExtractedQuote]) -> list[ExtractedQuote]:
        """A wire lede's described speaker named in the next paragraph is that person.

        "… unless Moscow pays, a senior member of parliament's security committee said on Monday. ¶
        Morteza Saffari-Rad, who sits on the committee, told state television …": the lede quote is
        Saffari-Rad's.  Only an indefinite description ("a former head of …") whose head is not an
        anonymous source's ("a senior official", "a source") and only a person first named at the start
        of the very next paragraph."""
        named_as: dict[str, tuple[Person, int]] = {}  # description -> the person, and where that paragraph starts
        for quote in quotes:
            described = quote.speaker
            words = described.lower().split()
            if described in named_as or len(words) < 3 or words[0] not in ("a", "an") or _ANONYMOUS.search(described):
                continue
            para = bisect.bisect_right(self.paragraph_starts, quote.end) - 1
            if para + 1 >= len(self.paragraph_starts):
                continue
            start = self.paragraph_starts[para + 1]
            first_sentence_end = self.sentences.bounds[self.sentences.index_at(start)][1]
            named = {p.name: p for p in self.registry.people
                     if not p.is_body and start <= p.first_seen < first_sentence_end and len(p.name.split()) > 1}
            if len(named) != 1:
                continue
            named_as[described] = (next(iter(named.values())), start)
        out = []
        for quote in quotes:
            person, start = named_as.get(quote.speaker, (None, 0))
            if person is not None and quote.start < start:
                quote = replace(quote, speaker=person.name,
                                speaker_role=quote.speaker_role or " ".join(quote.speaker.split()[1:]),
                                speaker_actor=quote.speaker_actor or person.actor)
            out.append(quote)
        return out

    def _register(self, sent: Any) -> None:
        for ent in ents_in(sent):
            at = self.to_original(ent.start_char)
            if ent.label_ == "PERSON":
                name = clean_name(ent.text)
                if looks_like_person(name) and PLACEHOLDER not in name.split():
                    role, affiliation = role_of(ent)
                    lead = self.doc[sent.start : ent.start].text
                    self.registry.mention(name, at, role=role, affiliation=affiliation,
                                          context_actor=last_actor_in(lead))
            elif ent.label_ == "ORG" and PLACEHOLDER not in ent.text:
                self.registry.body(ent.text, at)
        # A person the NER missed or took for a place: a proper-name subject with a "who" clause
        # or a role in apposition ("Heshmatollah Falahatpisheh, who chairs ...", "X, a spokesman for Y").
        for t in sent:
            if t.pos_ != "PROPN" or t.dep_ not in ("nsubj", "nsubjpass", "appos", "pobj") or t.ent_type_ == "PERSON":
                continue
            name = proper_name_at(t)
            if not name or len(name.split()) < 2 or not looks_like_person(name):
                continue
            personal = any(c.dep_ == "relcl" and any(g.text.lower() == "who" for g in c.children) for c in t.children) \
                or any(c.dep_ == "appos" and c.text.lower() in ROLE_NOUNS for c in t.children) \
                or not t.ent_type_
            known = self.registry.find_name(name, self.to_original(t.idx))
            if known is not None:
                known.last_seen = max(known.last_seen, self.to_original(t.idx))
            elif personal:
                role = ""
                for c in t.children:
                    if c.dep_ == "appos":
                        role = self.doc[c.left_edge.i : c.right_edge.i + 1].text
                self.registry.mention(name, self.to_original(t.idx), role=role)

    def _colon_verb(self, qi: int, sent: Any) -> Any | None:
        """'Lavrov said:' just before the quote (same or previous sentence): that verb."""
        span = self.spans[qi]
        before = self.article[max(0, span.open_at - 300): span.open_at].rstrip(" \n\t“\"«„‘")
        if not before.endswith(":"):
            return None
        candidates = [t for t in sent if is_speech_verb(t) and self.to_original(t.idx) < span.open_at]
        own_words = [t for t in sent if self.to_original(t.idx) < span.open_at and t.is_alpha]
        if not candidates and sent.start > 0 and len(own_words) < 2:
            # the colon ends the sentence before ("Lavrov said: ¶ “…”"); a clause of the quote's own
            # sentence ("Zarif, speaking to state television: “…”") names its speaker itself
            prev = self.doc[sent.start - 1].sent
            candidates = [t for t in prev if is_speech_verb(t)]
        return candidates[-1] if candidates else None

    def _quote_only_paragraph(self, span: marks.Span) -> bool:
        start = self.article.rfind("\n", 0, span.open_at) + 1
        return not self.article[start:span.open_at].strip()

    def _turn(self, span: marks.Span, interviewee: Attribution | None) -> tuple[Attribution | None, Attribution | None]:
        label = span.turn_label
        if label.lower() in ("q", "question"):
            return None, interviewee
        at = span.open_at
        if label.lower() in ("a", "answer"):
            if interviewee is None:
                people = [p for p in self.registry.people if not p.is_body and p.first_seen < at]
                if not people:
                    return None, None
                main = max(people, key=lambda p: (len(p.name.split()) > 1, -p.first_seen))
                interviewee = Attribution(main.name, main, "turn")
            return interviewee, interviewee
        name = clean_name(label.title() if label.isupper() else label)
        person = self.registry.find_name(name, at)
        if person is None:
            return None, interviewee  # the interviewer or the outlet asking
        return Attribution(person.name, person, "turn"), interviewee

    def _is_speech(self, span: marks.Span, attribution: Attribution) -> bool:
        """Scare quotes, titles and nicknames are marked but nobody says them."""
        if span.turn_label:
            return True
        text = span.text(self.article)
        words = _words(text)
        before = self.article[max(0, span.open_at - 40): span.open_at]
        if _SCARE_CUES.search(before.rstrip(" “\"«„‘'")):
            return False
        trailing_attribution = text.rstrip().endswith((",", "?", "!")) and attribution.how in ("verb", "according")
        if len(words) == 1:
            # "“Unacceptable,” he said."; "X said the pressure was “counterproductive”." (the word ends the
            # reported clause); a lone word in marks is otherwise a scare quote
            after = self.article[span.close_at: span.close_at + 2].lstrip("”\"’'»")
            before_word = self.article[max(0, span.open_at - 16): span.open_at].rstrip(" “\"‘'«")
            predicative = re.search(r"\b(?:was|is|were|are|be|been|being|as|call(?:s|ed|ing)? (?:it|them|this|that))$",
                                    before_word)
            return trailing_attribution or (attribution.how == "verb" and after[:1] in (".", "")
                                            and predicative is not None)
        if len(words) == 2:  # "called it “a provocation”", not "called it “Operation Dawn”"
            named = all(w[:1].isupper() for w in words)
            return trailing_attribution or (attribution.how in ("verb", "according") and not named)
        if attribution.how in ("verb", "according", "colon", "continued"):
            if len(words) <= 6 and all(w[:1].isupper() for w in words) and not trailing_attribution:
                return False  # a title or a name in quotes ("Operation Northern Shield")
            return len(words) >= MIN_WORDS_UNATTRIBUTED or trailing_attribution or attribution.how in ("verb", "according")
        if len(words) < MIN_WORDS_UNATTRIBUTED:
            return False
        if len(words) <= 8 and all(w[:1].isupper() for w in words):
            return False
        return True

    def _build(self, span: marks.Span, attribution: Attribution) -> ExtractedQuote:
        person = attribution.person
        role = person.role if person is not None and not person.is_body else ""
        affiliation = person.affiliation if person is not None else ""
        sentence_start = self.sentences.bounds[self.sentences.index_at(span.open_at)][0]
        lead = self.article[sentence_start: span.open_at].strip()
        text = span.text(self.article)
        first_alpha = next((c for c in text if c.isalpha()), "")
        partial = bool(first_alpha.islower()) or (
            bool(lead) and not lead.endswith((":", ",", "—", "–")) and not span.turn_label
            and not text.rstrip().endswith((".", "!", "?", ",", "…"))
        )
        lo = self.sentences.index_at(span.open_at)
        hi = self.sentences.index_at(span.close_at - 1)
        window = self.sentences.bounds[max(0, lo - 1): hi + 2]
        context = quote_context(self.article, window, span.parts)
        return ExtractedQuote(
            text=text,
            speaker=attribution.speaker,
            context=context,
            start=span.start,
            end=span.end,
            spans=tuple(span.parts),
            kind="direct",
            partial=partial,
            speaker_role=role,
            speaker_affiliation=affiliation,
            speaker_actor=speaker_actor(person, attribution.speaker) if attribution.speaker else "",
        )

    def sentence_bounds(self) -> list[tuple[int, int]]:
        return self.sentences.bounds


def person_of(registry: Registry, name: str, at: int) -> Person | None:
    return registry.find_name(name, at)
