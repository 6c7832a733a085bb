"""Who said a quotation: the speech verb next to it, that verb's subject, and what the subject refers to.

Works on the masked parse (each quote is one placeholder word), so for
`“Quote,” Peskov told reporters.` the parser sees a short sentence and gives
``told`` with subject ``Peskov``.  Then the subject is resolved: a full name
stays, a bare surname becomes the full name used earlier, a pronoun the
nearest compatible person, "the spokeswoman" the last person with that
role, an institution stays as written.  A quote with no speech verb in its
sentence takes the speaker announced by a colon just before it, an interview
turn its label, and a quote-only paragraph the speaker of the paragraph
before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from models.quotes.language import PLACEHOLDER, entities, ents_in
from models.quotes.lexicon import (
    FEMALE_WORDS, MALE_WORDS, ROLE_NOUNS, SPEECH_VERBS, WEAK_SPEECH, actor_in, gender_of_first_name,
)
from models.quotes.people import Person, Registry, bare_surname_is_person, clean_name, looks_like_person, proper_name_at

PRONOUNS = frozenset("he she they it we i him her them".split())
QUOTE_MARKS = frozenset("“”„«»‹›\"‘’'")
JUNK_SUBJECTS = frozenset(
    "and but or who which that what this these those there here one some all both gmt utc the military "
    "both sides the two sides the sides everyone nobody others".split() + ["both sides", "the two sides", "the sides", "the military"])
_SUBJECT_DEPS = ("nsubj", "nsubjpass", "csubj")
NAME_PARTICLES = frozenset("al el bin ibn ben abu de van von".split())
# Role nouns that name outlets and institutions, not people
MEDIA_NOUNS = frozenset("agency broadcast broadcaster channel daily kremlin magazine ministry ministers network newspaper "
                        "outlet paper station tabloid website weekly".split())
# Subjects that are institutions, for "it said" after them ("Netanyahu's office responded. “…,” it said.")
BODY_NOUNS = frozenset("office embassy government cabinet army military presidency administration mission "
                       "delegation command ministry agency committee council".split())


@dataclass(frozen=True)
class Attribution:
    speaker: str
    person: Person | None
    how: str  # "verb", "according", "colon", "turn", "continued", "none": how it was found
    verb: str = ""


# verbs that speak only with their next word: "hit out at" speaks, "its jets had hit targets" does not;
# "as Lavrov put it, “…”"
_SPEAKS_WITH_NEXT = {"hit": "out", "hits": "out", "hitting": "out", "put": "it", "puts": "it"}


def is_speech_verb(token: Any) -> bool:
    particle = _SPEAKS_WITH_NEXT.get(token.text.lower())
    if particle is not None:
        nxt = token.doc[token.i + 1] if token.i + 1 < len(token.doc) else None
        return nxt is not None and nxt.text.lower() == particle and (particle == "out" or token.pos_ == "VERB")
    return token.text.lower() in SPEECH_VERBS and token.pos_ in ("VERB", "AUX")


def _noun_phrase(token: Any) -> Any:
    """The subject's phrase without appositions, relative clauses or trailing adverbials."""
    doc = token.doc

    def aside(a: Any) -> bool:  # "Viktorov, in an interview with Israel Hayom, said": a prepositional aside
        return a.dep_ == "prep" and a.head.i == token.i and a.i > token.i and doc[a.left_edge.i - 1].text == ","

    keep = [t for t in token.subtree if not any((a.dep_ in ("appos", "relcl", "acl", "advcl", "punct") or aside(a))
                                                 and a.i != token.i for a in _ancestors_until(t, token))]
    if not keep:
        return doc[token.i : token.i + 1]
    lo = min(t.i for t in keep)
    hi = max(t.i for t in keep)
    for c in token.children:  # "Iran's President Masoud Pezeshkian": a name right after its title, no comma
        if c.dep_ == "appos" and c.pos_ == "PROPN" and c.left_edge.i == hi + 1:
            hi = c.i
    if token.pos_ == "NOUN":  # "Russia's ambassador in Tehran, Levan Dzhagaryan, said": the name in apposition
        named = [c for c in token.children if c.dep_ == "appos" and c.pos_ == "PROPN" and c.i > token.i]
        # the parser often hangs the name on the place instead: "trade representative in Tel Aviv, Oleg X"
        named += [c for t in token.children if t.dep_ == "prep" for o in t.children if o.dep_ == "pobj"
                  for c in o.children if c.dep_ == "appos" and c.i > o.i and o.ent_type_ != "PERSON" and (
                      c.ent_type_ == "PERSON" or c.pos_ == "PROPN" and len(proper_name_at(c).split()) >= 2
                      and looks_like_person(proper_name_at(c)))]
        if named:
            hi = max(hi, min(c.i for c in named))
    while hi > lo and doc[hi].dep_ in ("punct", "cc") or doc[hi].text in (",", "—", "–"):
        hi -= 1
    # a name the parser split ("Ben", "-", "Dror" as three subjects) is kept whole: the entity's bounds win
    while lo > 0 and doc[lo].ent_iob_ == "I" and doc[lo].ent_type_ == "PERSON":
        lo -= 1
    while hi + 1 < len(doc) and doc[hi + 1].ent_iob_ == "I" and doc[hi + 1].ent_type_ == "PERSON":
        hi += 1
    return doc[lo : hi + 1]


DOCUMENT_NOUN = re.compile(
    r"^(?:the|a|an|its|this|that|[\w-]+['’]s)\s+(?:[\w-]+\s+){0,3}(?:readout|statement|editorial|communiqu[eé]|"
    r"commentary|column|note|bulletin|report|explanation|release|transcript|post|declaration)$")
_MONTHS = "january february march april may june july august september october november december jan feb mar apr jun jul aug sep sept oct nov dec"


def _junk_phrase(text: str) -> bool:
    """Not a speaker: a clause opener, a date, a time stamp, a number, a place in capitals."""
    low = text.lower()
    words = low.split()
    if not words or words[0] in ("that", "in", "on", "at", "without", "with", "for", "from", "to", "by", "of", "as",
                                 "whose", "who", "whom", "which", "where", "when"):
        return True
    if words[0] in _MONTHS.split() and len(words) <= 3 or re.match(r"^\d", low):
        return True
    if re.match(r"^(?:the\s+)?(?:two|three|four|five|both|all|some|many|several)(?:\s+\w+)?$", low):
        return True
    return text.isupper() and len(words) <= 3  # a dateline's city ("TEHRAN")


def _proper_tail(span: Any) -> Any | None:
    """The run of capitalised proper-noun tokens ending the phrase ('... the daily Kommersant' -> 'Kommersant'),
    hyphenated names kept whole ('Saffari-Rad', 'Ben-Dror')."""
    doc = span.doc
    i = span.end
    while i > span.start:
        t = doc[i - 1]
        joined = t.text in ("-", "‐") and i - 2 >= span.start and not doc[i - 2].whitespace_ and not t.whitespace_
        particle = t.text.lower() in NAME_PARTICLES and i < span.end  # "Sultan al-Khatib", "Ali bin Salman"
        if (t.pos_ == "PROPN" and t.text[:1].isupper()) or joined or particle:
            i -= 1
            continue
        break
    while i < span.end and doc[i].text in ("-", "‐"):
        i += 1
    return doc[i : span.end] if i < span.end else None


def _personal_evidence(phrase: Any, tail: Any) -> bool:
    """A title stripped from the name, a personal role noun before it, or a known first name: a person."""
    cleaned = clean_name(tail.text)
    if len(cleaned.split()) < 2:
        return False
    if cleaned != tail.text.strip() or gender_of_first_name(cleaned):
        return True
    before = {t.text.lower() for t in phrase if t.i < tail.start}
    return bool(before & {"spokesman", "spokeswoman", "spokesperson", "minister", "ambassador", "envoy", "general",
                          "commander", "adviser", "advisor", "aide", "lawmaker", "analyst", "official", "deputy",
                          "president", "premier", "chairman", "chairwoman", "director", "chief", "head", "mp", "mk"})


def _possessor(entity: Any, phrase: Any) -> bool:
    """'Putin's aide Yuri Ushakov': Putin owns the phrase; the speaker is the one it names after him."""
    doc = entity.doc
    return entity.end + 1 < phrase.end and doc[entity.end].text in ("'s", "’s", "'", "’")


def _ancestors_until(t: Any, stop: Any) -> list[Any]:
    out = [t]
    while t.i != stop.i and t.head.i != t.i:
        t = t.head
        out.append(t)
    return out


class Attributor:
    """Finds speakers for the quotes of one parsed, masked article."""

    def __init__(self, doc: Any, registry: Registry, to_original, placeholder_token: dict[int, list[int]]) -> None:
        self.doc = doc
        self.registry = registry
        self.to_original = to_original
        self.placeholder_token = placeholder_token  # quote index -> token indices of its placeholders
        self.recent: list[Person] = []  # speakers and sentence subjects, most recent first
        # quotes the sentence runs on from ('said Russia “does not accept” the strikes'): what follows
        # them is the rest of the clause, not their attribution; set by the extractor
        self.run_on: set[int] = set()
        self._positions: dict[str, list[int]] | None = None
        self.last_subject: tuple[Person, int] | None = None  # a narrative sentence's subject, and that sentence

    # ------------------------------------------------------------ resolve
    def resolve(self, phrase_span: Any) -> tuple[str, Person | None]:
        """A subject phrase -> (speaker as an analyst files it, the person or body it is)."""
        text = phrase_span.text.strip(" ,;:—–")
        text = re.split(r"\s[—–]\s|\s-\s", text)[-1]  # a dateline or a live blog's time stamp before it
        text = re.sub(r"^(?:\d{1,2}[:.]\d{2}\s*(?:GMT|UTC|[AP]M|local time)?\b\W*)", "", text)
        text = re.sub(r"^[A-Z][A-Z .'-]{2,}(?:,\s*[A-Z][a-z]+\.?\s*\d{1,2})?(?:\s*\([^)]*\))?\s*[,:—–-]?\s+(?=[A-Z])", "", text)
        text = re.sub(r"^(?:and|but|then|so|while|as|also|that)\s+", "", text, flags=re.I).strip(" ,;:")
        if text != phrase_span.text.strip(" ,;:—–"):
            cut = phrase_span.text.rfind(text)
            phrase_span = phrase_span.doc.char_span(phrase_span.start_char + cut, phrase_span.start_char + cut + len(text),
                                                    alignment_mode="expand") or phrase_span
        at = self.to_original(phrase_span.start_char)
        low = text.lower()
        if not text or PLACEHOLDER in text.split() or low in JUNK_SUBJECTS:
            return "", None
        if _junk_phrase(text):
            return "", None
        if DOCUMENT_NOUN.search(low):
            orgs = [e for e in ents_in(phrase_span) if e.label_ == "ORG"]
            if orgs:  # "a Russian Foreign Ministry readout said": the ministry said it
                name = orgs[-1].text
                body = self.registry.body(name if name.lower().startswith("the ") else f"the {name}", at)
                return body.name, body
        if DOCUMENT_NOUN.search(low) and not ents_in(phrase_span):
            # "the readout", "the editorial", "Moscow's statement": the body that issued it
            at_sent = phrase_span.sent.start_char
            body = self.registry.by_pronoun("it", at, window_start=self.to_original(at_sent) - 600)
            if body is not None:
                return body.name, body
        root = phrase_span.root
        if root.pos_ == "NOUN" and root.text.lower() in BODY_NOUNS and root.i == phrase_span.end - 1 \
                and not re.match(r"^(?:the|a|an)\s+\w+$", low):
            body = self.registry.body(text, at)  # "Prime Minister Benjamin Netanyahu's office": the office
            return body.name, body
        if re.fullmatch(r"the \d{2,3}-year-old(?: [a-z-]+)?", low):
            # "the 54-year-old said": an epithet for the person just written about, of either gender
            sent = phrase_span.sent
            window = sent.start_char if sent.start == 0 else self.doc[sent.start - 1].sent.start_char
            person = self._previous_subject("one", sent) or self.registry.by_pronoun(
                "one", at, prefer=self.recent, window_start=self.to_original(window))
            if person is not None:
                return person.name, person
        if low in PRONOUNS:
            sent = phrase_span.sent
            window = sent.start_char if sent.start == 0 else self.doc[sent.start - 1].sent.start_char
            named_here = any(t.ent_type_ == "PERSON" or t.pos_ == "PROPN" and self.registry.find_name(t.text, at)
                             for t in sent if t.i < phrase_span.start and t.text != PLACEHOLDER)
            person = None if named_here else self._previous_subject(low, sent)
            person = person or self.registry.by_pronoun(low, at, prefer=self.recent, window_start=self.to_original(window))
            return (person.name, person) if person else ("", None)
        doc = phrase_span.doc
        tail = _proper_tail(phrase_span)
        named = [clean_name(e.text) for e in ents_in(phrase_span) if e.label_ == "PERSON" and not _possessor(e, phrase_span)]
        names = named + ([clean_name(tail.text)] if tail is not None else [])
        names = [n for n in names if looks_like_person(n)]
        # A name the article already knows, whatever the NER made of it this time ("Zakharova" as an ORG).
        for name in names:
            person = self.registry.find_name(name, at)
            if person is not None and not person.is_body:
                self._learn_description(person, phrase_span, name)
                return person.name, person
        ner_says_place = tail is not None and any(
            e.label_ in ("ORG", "GPE", "NORP", "LOC", "FAC") and e.start <= tail.start < e.end for e in entities(doc).within(max(0, tail.start - 12), tail.end + 12))
        if ner_says_place and tail is not None and _personal_evidence(phrase_span, tail):
            ner_says_place = False  # "ministry spokesman Major General Igor Konashenkov" tagged as an ORG
        if ner_says_place and tail is not None and len(tail) == 1:
            # "Zakharova told a briefing", tagged as an ORG, after "spokeswoman Maria Zakharova": the person
            earlier = self.full_name_in_text(tail.text, at)
            ner_says_place = not (earlier and gender_of_first_name(earlier)) \
                and not bare_surname_is_person(tail.text)  # "“…,” Lavrov said" (ORG)
        person_names = list(named)
        if not person_names and tail is not None and not ner_says_place:
            person_names = [clean_name(tail.text)]
        person_names = [n for n in person_names if looks_like_person(n)]
        if person_names:
            name = person_names[-1]
            if len(name.split()) == 1:
                name = self.full_name_in_text(name, at) or name
            person = self.registry.find_name(name, at) or self.registry.mention(name, at)
            self._learn_description(person, phrase_span, name)
            return person.name, person
        if re.match(r"^(?:the|this|that|[\w-]+['’]s)(?:\s+[\w'’-]+){1,5}$", low) and text.split()[-1][:1].islower():
            person = self.registry.by_role(text, at)  # "the spokeswoman", "the hardline daily", "the official"
            if person is not None:
                return person.name, person
            noun = "leader" if re.search(r"\bhead of (?:state|government)$", low) else low.split()[-1]
            if low.startswith("the ") and noun in ROLE_NOUNS - MEDIA_NOUNS:
                # "the diplomat said", "the Russian top diplomat", "the Israeli premier", "the head of state"
                # with no one yet called that: the person of that side and kind of office, or the one just named
                sent = phrase_span.sent
                window = sent.start_char if sent.start == 0 else self.doc[sent.start - 1].sent.start_char
                subject = self.last_subject[0] if self.last_subject and sent.start > 0 \
                    and self.doc[sent.start - 1].sent.start == self.last_subject[1] else None
                person = self.registry.by_epithet(low, noun, at, self.to_original(window), subject, self.recent)
                if person is not None:
                    return person.name, person
        before_tail = doc[tail.start - 1] if tail is not None and tail.start > phrase_span.start else None
        if before_tail is not None and before_tail.pos_ == "NOUN" and before_tail.text[:1].islower() \
                and phrase_span.root.i >= tail.start:
            # "the business daily Kommersant": the outlet's name, the rest its description
            body = self.registry.body(tail.text, at)
            self.registry.describe(body, doc[phrase_span.start : tail.start].text)
            return body.name, body
        body = self.registry.body(text, at)
        return body.name, body

    def _previous_subject(self, pronoun: str, sent: Any) -> Person | None:
        """The person the sentence before was about, when the pronoun fits: "Netanyahu, who has raised the
        case with Putin, sounded hopeful. “…,” he told reporters" is Netanyahu, not the later-named Putin."""
        if self.last_subject is None or sent.start == 0 or pronoun not in ("he", "she", "one"):
            return None  # "one": either gender ("the 54-year-old")
        person, subject_sent = self.last_subject
        if self.doc[sent.start - 1].sent.start != subject_sent or person.is_body:
            return None
        wrong = {"he": "f", "she": "m"}.get(pronoun)
        return person if wrong is None or person.gender != wrong else None

    def _learn_description(self, person: Person, phrase_span: Any, name: str) -> None:
        """'Foreign Ministry spokeswoman Maria Zakharova' said: learn the role that came with the name."""
        rest = re.sub(re.escape(name), " ", phrase_span.text).strip(" ,")
        rest = re.sub(r"^(?:the|a|an)\s+", "", rest, flags=re.I)
        if rest and re.search(r"[a-z]{3}", rest) and rest.lower() not in PRONOUNS:
            self.registry.describe(person, rest)

    def _token_positions(self) -> dict[str, list[int]]:
        """Token indices by token text, built once: a scan of the whole doc per name was quadratic."""
        if self._positions is None:
            self._positions = {}
            for t in self.doc:
                self._positions.setdefault(t.text, []).append(t.i)
        return self._positions

    def full_name_in_text(self, surname: str, at: int) -> str:
        """'Zakharova' -> 'Maria Zakharova' when the article named him in full earlier (whatever the NER made of it)."""
        doc = self.doc
        best = ""
        for i in self._token_positions().get(surname.split("-")[-1], ()):  # every token with that text, in order
            t = doc[i]
            if self.to_original(t.idx) >= at:
                break
            if t.i > 0:
                tail = _proper_tail(doc[max(0, t.i - 5) : t.i + 1])
                if tail is None:
                    continue
                candidate = clean_name(tail.text)
                if looks_like_person(candidate) and len(candidate.split()) > 1:
                    best = candidate
        return best

    # --------------------------------------------------------- find verb
    def speech_verb_for(self, tokens: Sequence[Any]) -> Any | None:
        """The speech verb that governs or sits next to the placeholder tokens, in their sentence."""
        sent = tokens[0].sent
        verbs = [t for t in sent if is_speech_verb(t) and t.text != PLACEHOLDER]
        if not verbs:
            return None
        first = tokens[0]
        governing = [v for v in verbs if any(v in tok.ancestors for tok in tokens)]
        if governing:
            return min(governing, key=lambda v: abs(v.i - first.i))
        strong = [v for v in verbs if v.text.lower() not in WEAK_SPEECH] or verbs
        return min(strong, key=lambda v: abs(v.i - first.i))

    def subject_of(self, verb: Any) -> Any | None:
        """The verb's subject phrase; through 'and added', 'adding', 'quoted X as saying', 'according to'."""
        if verb.dep_ == "pcomp" and verb.head.text.lower() == "as" and verb.head.head.text.lower() in ("quoted", "cited"):
            verb = verb.head.head  # "X quoted Y as saying …": Y spoke
        if verb.text.lower() in ("quoted", "cited"):
            for child in verb.children:
                if child.dep_ in ("dobj", "obj"):
                    if child.pos_ == "PRON":  # "Netanyahu's office quoted him as saying": him is Netanyahu
                        owners = [p for c in verb.children if c.dep_ in _SUBJECT_DEPS
                                  for p in c.children if p.dep_ == "poss" and p.ent_type_ == "PERSON"]
                        if owners:
                            return _noun_phrase(owners[0])
                    return _noun_phrase(child)
        subjects = [c for c in verb.children if c.dep_ in _SUBJECT_DEPS and c.text != PLACEHOLDER]
        if not subjects:  # "“…,” Russia's ambassador, Mikhail Ulyanov, told": parsed as the quote's apposition
            subjects = [a for c in verb.children if c.dep_ in _SUBJECT_DEPS and c.text == PLACEHOLDER
                        for a in c.children if a.dep_ == "appos" and a.i > c.i]
        subjects = [c for c in subjects if not _junk_phrase(_noun_phrase(c).text)] or subjects
        if subjects:  # the nearest, when a dateline was parsed as a second subject ("TEL AVIV — X said")
            return _noun_phrase(min(subjects, key=lambda c: abs(c.i - verb.i)))
        for child in verb.children:
            if child.dep_ == "agent":  # "was said by X"
                for g in child.children:
                    if g.dep_ == "pobj":
                        return _noun_phrase(g)
        if verb.dep_ in ("conj", "advcl", "xcomp", "ccomp") and verb.head.i != verb.i:
            head = verb.head
            if verb.dep_ == "advcl" and not is_speech_verb(head) and head.dep_ == "ccomp" and is_speech_verb(head.head):
                # "The minister said Russia's role was limited, adding: …": the one who said, not "Russia's role"
                return self.subject_of(head.head)
            if head.text.lower() in ("quoted", "cited") or is_speech_verb(head) or verb.dep_ in ("conj", "advcl", "xcomp"):
                return self.subject_of(head) if head.i != verb.i else None
        return None

    def according_to(self, sent: Any) -> Any | None:
        for t in sent:
            if t.text.lower() == "according" and t.i + 1 < len(self.doc) and self.doc[t.i + 1].text.lower() == "to":
                objs = [c for c in self.doc[t.i + 1].children if c.dep_ == "pobj"]
                if objs:
                    return _noun_phrase(objs[0])
        return None

    # --------------------------------------------------------------- main
    def after_quote(self, tokens: Sequence[Any]) -> Any | None:
        """'“…,” Peskov told reporters' / '“…,” said Maria Zakharova': the subject right after the quote."""
        doc = self.doc
        j = tokens[-1].i + 1
        while j < len(doc) and (doc[j].is_punct or doc[j].text in QUOTE_MARKS) and (
                doc[j].text not in (".", "!", "?")  # a question or an exclamation closing the quote runs on:
                or doc[j].text in ("!", "?") and j + 1 < len(doc) and doc[j + 1].text in QUOTE_MARKS):  # “…?” asked X
            j += 1
        if j >= len(doc) or doc[j].is_sent_start and j != tokens[-1].i + 1 and doc[j - 1].text in (".", "!", "?"):
            return None
        for k in range(j, min(j + 16, len(doc))):  # "Maj. Gen. Igor Konashenkov, the ministry's spokesman, told"
            t = doc[k]
            if t.text in (".", "!", "?", ";") or t.text == PLACEHOLDER or "\n" in t.text:
                return None
            if is_speech_verb(t) and t.text.lower() in ("quoted", "cited"):
                return self.subject_of(t)  # "“…,” Netanyahu's office quoted him as saying"
            if is_speech_verb(t):
                if k == j:  # "said X"
                    m = k + 1
                    while m < len(doc) and doc[m].text not in (",", ".") and (
                            doc[m].pos_ in ("DET", "PROPN", "NOUN", "ADJ", "PART")
                            or doc[m].text.lower() in ("for", "of") and m > k + 1 and m + 1 < len(doc)
                            and not any(x.pos_ == "PROPN" for x in doc[k + 1 : m])  # a name ends there
                            and doc[m + 1].pos_ in ("DET", "PROPN", "NOUN", "ADJ")):  # "a spokesperson for the embassy"
                        m += 1
                    if m <= k + 1:
                        return None
                    span = doc[k + 1 : m]
                    phrase = _noun_phrase(span.root) if span.root.pos_ == "NOUN" else span
                    if phrase.end > span.end and any(t.dep_ == "appos" and t.pos_ == "PROPN"
                                                     for t in doc[span.end : phrase.end]):
                        return doc[span.start : phrase.end]  # "said Iran's ambassador to Moscow, Kazem Jalali"
                    return span
                words = [x for x in doc[j:k] if x.pos_ != "ADV" and x.dep_ not in ("aux", "neg", "auxpass")]
                if not words:
                    return None
                span = doc[words[0].i : words[-1].i + 1]
                # "Vasily Nebenzia, Russia's UN ambassador": the name, not the apposition after it
                phrase = _noun_phrase(span.root)
                tail = _proper_tail(phrase)
                named = any(e.label_ == "PERSON" for e in ents_in(phrase)) or (
                    tail is not None and looks_like_person(clean_name(tail.text)))
                return phrase if named and span.start <= phrase.start and phrase.end <= span.end else span
        return None

    def signed_off(self, tokens: Sequence[Any]) -> Any | None:
        """'“…” — Deputy Foreign Minister Sergei Ryabkov': a dash after the closing mark, then a name that
        ends the paragraph, signs the quote (pull quotes, statements, posts)."""
        doc = self.doc
        j = tokens[-1].i + 1
        while j < len(doc) and (doc[j].text in (".", "!", "?", ",", "…") or doc[j].text in QUOTE_MARKS):
            j += 1
        if j >= len(doc) or doc[j].text not in ("—", "–", "-", "--"):
            return None
        end = j + 1
        while end < len(doc) and "\n" not in doc[end].text and doc[end].text not in (".", ";") and end - j <= 12:
            end += 1
        if end - j > 12 or end == j + 1 or end < len(doc) and doc[end].text == "." and end + 1 < len(doc) \
                and "\n" not in doc[end + 1].text:
            return None  # a sentence runs on after the name: not a signature
        span = doc[j + 1 : end]
        if any(is_speech_verb(t) or t.pos_ == "VERB" for t in span):
            return None  # "— Ryabkov told reporters": the verb path reads it
        tail = _proper_tail(span)
        return span if tail is not None and looks_like_person(clean_name(tail.text)) else None

    def attribute(self, quote_index: int, previous: Attribution | None, continued: bool,
                  colon_before: Any | None, paragraph_subject: Person | None = None) -> Attribution:
        tokens = [self.doc[i] for i in self.placeholder_token.get(quote_index, [])]
        if not tokens:
            return Attribution("", None, "none")
        attempts = []
        trailing = None if quote_index in self.run_on else self.after_quote(tokens)
        if trailing is not None:
            attempts.append((trailing, "verb"))
        signature = self.signed_off(tokens)
        if signature is not None:
            attempts.append((signature, "signature"))
        verb = self.speech_verb_for(tokens)
        if verb is not None:
            phrase = self.subject_of(verb)
            if phrase is not None and not any(t.text == PLACEHOLDER for t in phrase):
                attempts.append((phrase, "verb"))
        phrase = self.according_to(tokens[0].sent)
        if phrase is not None:
            attempts.append((phrase, "according"))
        if colon_before is not None:
            phrase = self.subject_of(colon_before)
            if phrase is not None:
                attempts.append((phrase, "colon"))
        named = self.name_before_colon(tokens)
        if named is not None:
            attempts.append((named, "colon"))
        for phrase, how in attempts:
            speaker, person = self.resolve(phrase)
            if speaker:
                return self._found(speaker, person, how, verb.text if verb is not None else "")
        if previous is not None and previous.speaker and continued:
            return Attribution(previous.speaker, previous.person, "continued")
        if paragraph_subject is not None:  # "X told Channel 2 where he thinks the key lies. “…”"
            return self._found(paragraph_subject.name, paragraph_subject, "continued")
        return Attribution("", None, "none", verb.text if verb is not None else "")

    def _found(self, speaker: str, person: Person | None, how: str, verb: str = "") -> Attribution:
        if person is not None and not person.is_body:
            self.remember(person)
        return Attribution(speaker, person, how, verb)

    def note_subjects(self, sent: Any) -> Person | None:
        """The person or body a narrative sentence is about (its subject, or the name in apposition to it)
        becomes the likeliest antecedent for the next pronoun; returned for the paragraph's record."""
        person = self._sentence_subject(sent)
        self.last_subject = (person, sent.start) if person is not None else None
        return person

    def _sentence_subject(self, sent: Any) -> Person | None:
        # the main clause's subject first: "a day before Assad fled, Lavrov sat on a panel" is about Lavrov
        tokens = sorted(sent, key=lambda t: (t.head.dep_ != "ROOT", t.i))
        for t in tokens:
            if t.dep_ not in _SUBJECT_DEPS or t.head.pos_ not in ("VERB", "AUX") or t.text == PLACEHOLDER:
                continue
            # a known surname the tagger took for an adjective ("Pezeshkian chose to stress ...") is still a name
            known = t.text[:1].isupper() and t.pos_ in ("ADJ", "NOUN") \
                and self.registry.find_name(t.text, self.to_original(t.idx)) is not None
            if t.text.lower() in ("he", "she") and t.head.dep_ == "ROOT":  # "He said he had raised Syria. “…”"
                at = self.to_original(t.idx)
                window = sent.start_char if sent.start == 0 else self.doc[sent.start - 1].sent.start_char
                person = self.registry.by_pronoun(t.text, at, prefer=self.recent, window_start=self.to_original(window))
                if person is not None:
                    self.remember(person)
                    return person
                continue
            candidates = [t] if t.pos_ == "PROPN" or known else \
                [c for c in t.children if c.dep_ == "appos" and c.pos_ == "PROPN"]
            for c in candidates:
                name = proper_name_at(c)
                if not looks_like_person(name) or name == PLACEHOLDER:
                    continue
                at = self.to_original(c.idx)
                person = self.registry.find_name(name, at)
                surname_shaped = bare_surname_is_person(name)
                if person is None and (len(name.split()) > 1 or surname_shaped or self.full_name_in_text(name, at)):
                    phrase = _noun_phrase(c)
                    tail = _proper_tail(phrase)
                    if c.ent_type_ in ("", "PERSON") or c.dep_ == "appos" or surname_shaped \
                            or tail is not None and _personal_evidence(phrase, tail):
                        person = self.registry.mention(self.full_name_in_text(name, at) or name, at)
                if person is not None and not person.is_body:
                    person.last_seen = max(person.last_seen, at)
                    self.remember(person)
                    return person
            if t.pos_ in ("NOUN", "PROPN") and not candidates or t.ent_type_ in ("ORG", "GPE"):
                phrase = _noun_phrase(t)
                words = phrase.text.strip()
                if words.lower() in PRONOUNS or words.lower() in JUNK_SUBJECTS or len(words.split()) > 8 \
                        or _junk_phrase(words):
                    continue
                at = self.to_original(phrase.start_char)
                if t.text.lower() in ROLE_NOUNS and re.match(r"^(?:the|his|her)\s", words.lower()):
                    person = self.registry.by_role(words, at)  # "the spokesman was cautious": Mousavi, again
                    if person is not None and not person.is_body:
                        person.last_seen = max(person.last_seen, at)
                        self.remember(person)
                        return person
                if any(e.label_ in ("ORG", "GPE") for e in ents_in(phrase)) or t.text.lower() in ROLE_NOUNS | BODY_NOUNS:
                    body = self.registry.body(words, at)  # "The Russian Foreign Ministry issued a statement."
                    body.last_seen = max(body.last_seen, at)
                    return None
        return None

    def remember(self, person: Person) -> None:
        if person in self.recent:
            self.recent.remove(person)
        self.recent.insert(0, person)

    def name_before_colon(self, tokens: Sequence[Any]) -> Any | None:
        """'13:40 GMT — Netanyahu, in a video statement: “…”': the name that opens the clause before the colon."""
        first = tokens[0]
        j = first.i - 1
        while j >= 0 and self.doc[j].text in QUOTE_MARKS:
            j -= 1
        if j < 0 or self.doc[j].text != ":":
            return None
        sent = first.sent
        for t in sent:  # "Netanyahu's office issued a statement: “…”": the subject of the clause
            if t.i < j and t.dep_ in _SUBJECT_DEPS and t.head.i < j and t.head.dep_ == "ROOT" and t.text != PLACEHOLDER \
                    and t.pos_ in ("PROPN", "NOUN"):
                return _noun_phrase(t)
        for t in sent:
            if t.i >= j:
                break
            if t.pos_ == "PROPN" and t.text[:1].isupper() and t.text != PLACEHOLDER:
                end = t.i
                while end + 1 < j and (self.doc[end + 1].pos_ == "PROPN" or self.doc[end + 1].text in ("-",)):
                    end += 1
                span = self.doc[t.i : end + 1]
                if looks_like_person(clean_name(span.text)):
                    return span
        return None


def speaker_actor(person: Person | None, speaker: str) -> str:
    if person is not None and person.actor:
        return person.actor
    return actor_in(speaker)
