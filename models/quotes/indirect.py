"""Reported speech without marks ("Lavrov said Moscow would keep supplying fuel"), opt-in.

A speech verb whose clausal complement holds no quotation: the complement is
the statement, the verb's subject the speaker.  Weak verbs ("called",
"described") and complements under four words are left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from models.quotes.attribution import is_speech_verb, speaker_actor
from models.quotes.context import quote_context
from models.quotes.language import PLACEHOLDER
from models.quotes.lexicon import WEAK_SPEECH

if TYPE_CHECKING:
    from models.quotes.extractor import ExtractedQuote, Extraction

MIN_CLAUSE_WORDS = 4
QUESTION_VERBS = frozenset("ask asks asked asking wonder wonders wondered".split())  # a reporter's question
INDIRECT_QUESTION = frozenset("why how what whether who whom which where when if".split())


def reported_speech(extraction: "Extraction") -> list["ExtractedQuote"]:
    from models.quotes.extractor import ExtractedQuote

    doc, article = extraction.doc, extraction.article
    out = []
    for sent in doc.sents:
        for verb in sent:
            if not is_speech_verb(verb) or verb.text.lower() in WEAK_SPEECH or verb.text.lower() in QUESTION_VERBS:
                continue
            clauses = [c for c in verb.children if c.dep_ == "ccomp"]
            if not clauses:
                continue
            clause = clauses[0]
            tokens = [t for t in clause.subtree]
            if any(t.text == PLACEHOLDER for t in tokens) or clause.i < verb.i:
                continue
            tokens = [t for t in tokens if not (t.dep_ == "mark" and t.i == tokens[0].i)]
            while tokens and (tokens[-1].is_punct or tokens[-1].is_space):
                tokens.pop()
            if not tokens or tokens[0].text.lower() in INDIRECT_QUESTION or any("\n" in t.text for t in tokens):
                continue  # "explained why he had gone" says nothing; a headline is not a statement
            if any(t.dep_ == "relcl" for t in verb.ancestors) or verb.dep_ == "relcl":
                continue  # "which officials said reflected the urgency": the writer's clause, not a statement
            if len([t for t in tokens if not t.is_punct]) < MIN_CLAUSE_WORDS:
                continue
            phrase = extraction.attributor.subject_of(verb)
            if phrase is None:
                continue
            speaker, person = extraction.attributor.resolve(phrase)
            if not speaker:
                continue
            start = extraction.to_original(tokens[0].idx)
            end = extraction.to_original(tokens[-1].idx + len(tokens[-1].text) - 1) + 1
            lo = extraction.sentences.index_at(start)
            window = extraction.sentences.bounds[max(0, lo - 1): lo + 2]
            out.append(
                ExtractedQuote(
                    text=article[start:end],
                    speaker=speaker,
                    context=quote_context(article, window, [(start, end)]),
                    start=start,
                    end=end,
                    spans=((start, end),),
                    kind="indirect",
                    partial=False,
                    speaker_role=person.role if person is not None and not person.is_body else "",
                    speaker_affiliation=person.affiliation if person is not None else "",
                    speaker_actor=speaker_actor(person, speaker),
                )
            )
    return out
