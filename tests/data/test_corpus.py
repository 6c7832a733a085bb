"""The shipped corpus: valid, unique, no leakage across splits, label spread as issue #3 asks, not too easy."""

from __future__ import annotations

import pytest

from training.corpus_report import (
    BASELINE_CEILING,
    DEFAULT_DIR,
    baseline_macro_f1,
    duplicate_problems,
    figures,
    load_splits,
    near_duplicates,
)


@pytest.fixture(scope="module")
def splits():
    return load_splits(DEFAULT_DIR)  # schema-validates every record (raises DataError otherwise)


@pytest.fixture(scope="module")
def figs(splits):
    return figures(splits)


def test_no_duplicate_ids_or_texts(splits):
    assert duplicate_problems(splits) == []


@pytest.mark.parametrize("held_out", ["dev", "test"])
def test_no_near_duplicates_across_splits(splits, held_out):
    assert near_duplicates(splits["train"], splits[held_out]) == []


def test_size_speakers_and_split_shares(figs):
    assert figs["n_quotes"] >= 3000
    assert figs["distinct_speakers"] >= 200
    n = figs["n_quotes"]
    assert 0.65 <= figs["split_sizes"]["train"] / n <= 0.75
    assert 0.12 <= figs["split_sizes"]["test"] / n <= 0.18


def test_label_spread(figs):
    for dyad, shares in figs["label_share"].items():
        for label in ("cooperative", "hedging", "adversarial"):
            assert shares[label] >= 0.10, (dyad, label, shares)
    assert figs["none_for_both_share"] >= 0.25
    assert all(share >= 0.20 for share in figs["sentiment_share"].values()), figs["sentiment_share"]
    big_other = [d for d, c in figs["other_dyads"].items() if c >= 60]
    assert len(big_other) >= 5, figs["other_dyads"]
    assert figs["names_no_project_actor_share"] >= 0.10  # the context is needed to find the dyad


def test_shallow_baseline_stays_below_ceiling(splits):
    scores = baseline_macro_f1(splits["train"], splits["test"])
    assert max(scores["russia-israel"], scores["russia-iran"]) <= BASELINE_CEILING, scores
    assert min(scores.values()) > 0.3  # and the labels are learnable at all
