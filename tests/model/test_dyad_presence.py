"""The mention rules: `none` when neither actor is in the text; a stance for an unseen pair the text names."""

import numpy as np

from models.dyad_presence import actor_named, adjust
from models.input_encoding import QuoteInput
from models.label_schema import STANCE_LABELS

NONE = STANCE_LABELS.index("none")
LEANS_NONE = np.array([0.2, 0.1, 0.1, 0.6])  # cooperative, hedging, adversarial, none


def test_neither_actor_named_is_none_for_trained_and_unseen_dyads():
    quote = QuoteInput("We defended well and then switched off at a corner,", "Tomas Brenner", "The coach spoke on Saturday.")
    for trained in (True, False):
        out = adjust(np.array([0.7, 0.1, 0.1, 0.1]), STANCE_LABELS, ("russia", "turkey"), trained, quote)
        assert out[NONE] == 1.0 and out.sum() == 1.0


def test_unseen_dyad_named_on_both_sides_gets_the_networks_best_stance():
    quote = QuoteInput("The corridor stays open for pilgrims from both sides,", "a spokesman",
                       "Islamabad and New Delhi renewed the agreement.")
    out = adjust(LEANS_NONE, STANCE_LABELS, ("india", "pakistan"), False, quote)
    assert out[NONE] == 0.0 and np.isclose(out.sum(), 1.0)
    assert STANCE_LABELS[int(out.argmax())] == "cooperative"  # 0.2 / 0.4 renormalised


def test_trained_dyad_and_one_sided_mentions_keep_the_network_answer():
    both = QuoteInput("Moscow and Tehran signed the treaty,", "", "")
    assert np.array_equal(adjust(LEANS_NONE, STANCE_LABELS, ("russia", "iran"), True, both), LEANS_NONE)
    one = QuoteInput("India will answer at a time of its choosing,", "", "")
    assert np.array_equal(adjust(LEANS_NONE, STANCE_LABELS, ("india", "pakistan"), False, one), LEANS_NONE)


def test_names_leaders_speaker_actor_and_word_boundaries():
    assert actor_named("russia", QuoteInput("We spoke at length,", "Sergei Lavrov", ""))
    assert actor_named("israel", QuoteInput("Our position is known,", "the spokesman", "", speaker_actor="israel"))
    assert actor_named("iran", QuoteInput("The Islamic Republic will respond,", "", ""))
    assert not actor_named("us", QuoteInput("Let us be clear about this,", "", ""))  # the pronoun is not the country
    assert not actor_named("iran", QuoteInput("Tirana hosts the meeting,", "", ""))
    assert actor_named("saudi_arabia", QuoteInput("Saudi Arabia will host the talks,", "", ""))
