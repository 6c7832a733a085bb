"""Length-bucketed batching: every row once, little padding, and answers that do not depend on it."""

from __future__ import annotations

import random

import numpy as np

from models.input_encoding import QuoteInput
from models.network import StanceModel
from models.predictor import Predictor


def _predictor(tiny_model_dir, **kwargs) -> Predictor:
    return Predictor(StanceModel.from_pretrained(tiny_model_dir), "t", **kwargs)


def test_batches_cover_every_row_once_and_bound_padding(tiny_model_dir):
    pred = _predictor(tiny_model_dir, batch_size=32, min_batch=8, max_padding=0.1)
    rng = random.Random(0)
    lengths = [rng.randint(8, 150) for _ in range(500)]
    batches = pred._batches(lengths)
    assert sorted(i for b in batches for i in b) == list(range(500))
    for batch in batches:
        assert len(batch) <= 32
        widths = [lengths[i] for i in batch]
        padded = max(widths) * len(batch)
        if len(batch) > 8:
            assert padded - sum(widths) <= 0.1 * padded + 1e-9, widths


def test_equal_lengths_fill_whole_batches(tiny_model_dir):
    pred = _predictor(tiny_model_dir, batch_size=16)
    assert [len(b) for b in pred._batches([40] * 50)] == [16, 16, 16, 2]


def test_a_random_server_batch_is_split_into_tight_buckets(tiny_model_dir):
    lengths = [12, 120, 30, 31, 33, 90, 15, 14, 60, 61, 62, 13, 88, 35, 118, 16, 64, 32, 89, 117]
    tight = _predictor(tiny_model_dir, batch_size=32, min_batch=2, max_padding=0.1)._batches(lengths)
    loose = _predictor(tiny_model_dir, batch_size=32, max_padding=1.0)._batches(lengths)
    assert len(loose) == 1 and len(tight) > 1

    def padded(batches):
        return sum(max(lengths[i] for i in b) * len(b) for b in batches)

    assert padded(tight) < 0.6 * padded(loose)


def test_answers_do_not_depend_on_batching(tiny_model_dir):
    words = "We will not accept strikes on Syria and we value our partnership with Tehran deeply".split()
    rng = random.Random(1)
    quotes = [QuoteInput(" ".join(rng.choices(words, k=rng.randint(3, 40))), "a spokesperson") for _ in range(40)]
    dyads = ["russia-iran", "russia-israel"]
    together = _predictor(tiny_model_dir).logits(quotes, dyads)
    one_by_one = _predictor(tiny_model_dir, batch_size=1).logits(quotes, dyads)
    np.testing.assert_allclose(together.stance, one_by_one.stance, atol=1e-4)
    np.testing.assert_allclose(together.sentiment, one_by_one.sentiment, atol=1e-4)
