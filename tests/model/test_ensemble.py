"""``stance eval --model A,B``: several models scored as the mean of their calibrated probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from models.input_encoding import QuoteInput
from models.predictor import Predictor
from tests.conftest import make_records, write_jsonl
from training.ensemble import EnsemblePredictor

QUOTES = [QuoteInput("Russia and Israel agreed to keep talking.", "Official", "Moscow, Tuesday."),
          QuoteInput("Iran condemned the strike.", "", "")]
DYADS = ["russia-israel", "russia-iran"]


def _softmax(x, t=1.0):
    z = x / t
    z = np.exp(z - z.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


@pytest.fixture(scope="module")
def two_models(tiny_model_dir, tiny_backbone, tmp_path_factory):
    from training.config import TrainConfig
    from training.trainer import train_model

    work = tmp_path_factory.mktemp("second")
    data = write_jsonl(work / "d.jsonl", make_records(48))
    result = train_model(TrainConfig(data=str(data), backbone=tiny_backbone, max_steps=3, batch_size=8, seed=5,
                                     register=False, work_dir=str(work / "w"), seed_quotes=""))
    result.model.save_pretrained(work / "m")
    return Predictor.from_directory(tiny_model_dir, "a"), Predictor.from_directory(work / "m", "b")


def test_ensemble_logits_give_the_mean_of_the_calibrated_probabilities(two_models):
    a, b = two_models
    a.config.stance_temperature, b.config.stance_temperature = 2.0, 0.5  # make calibration matter
    ens = EnsemblePredictor([a, b])
    raw_a, raw_b, raw = a.logits(QUOTES, DYADS), b.logits(QUOTES, DYADS), ens.logits(QUOTES, DYADS)
    want = (_softmax(raw_a.stance, 2.0) + _softmax(raw_b.stance, 0.5)) / 2
    assert np.allclose(_softmax(raw.stance, ens.config.temperature_for("russia-israel")), want, atol=1e-5)
    want_s = (_softmax(raw_a.sentiment, a.config.sentiment_temperature)
              + _softmax(raw_b.sentiment, b.config.sentiment_temperature)) / 2
    assert np.allclose(_softmax(raw.sentiment, ens.config.sentiment_temperature), want_s, atol=1e-5)
    assert ens.model_tag == "a+b"
    assert a.config.stance_temperature == 2.0  # members' own configs are left as they were


def test_an_ensemble_of_one_model_scores_as_that_model(two_models, tmp_path):
    from training.data import load_records
    from training.evaluation import evaluate

    a, _ = two_models
    records = load_records(write_jsonl(tmp_path / "r.jsonl", make_records(24)))
    alone, ens = evaluate(a, records), evaluate(EnsemblePredictor([a]), records)
    for dyad in DYADS:
        assert ens["dyads"][dyad]["macro_f1"] == pytest.approx(alone["dyads"][dyad]["macro_f1"])
    assert ens["sentiment"]["macro_f1"] == pytest.approx(alone["sentiment"]["macro_f1"])


def test_an_empty_ensemble_is_refused():
    with pytest.raises(ValueError, match="at least one"):
        EnsemblePredictor([])
