"""Dyad in the text: one encoder pass per (quote, dyad), the dyad named at the head of the second segment."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from models.input_encoding import QuoteInput, dyad_phrase, encode_quotes
from models.label_schema import STANCE2ID, UNKNOWN_LABEL_ID
from tests.conftest import ROOT, make_records, write_jsonl

QUOTE = QuoteInput("We will never accept strikes on Syria.", "Maria Zakharova", "spoke after talks in Moscow.", "russia")


@pytest.fixture(scope="module")
def tokenizer(tiny_backbone):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_backbone)


@pytest.fixture(scope="module")
def dyad_model_dir(tmp_path_factory, tiny_backbone):
    """A tiny dyad-in-text model, trained for two steps through the real trainer, saved and reloaded by path."""
    from training.config import TrainConfig
    from training.trainer import train_model

    work = tmp_path_factory.mktemp("dyad-in-text")
    data = write_jsonl(work / "data.jsonl", make_records(48, extra_dyad="russia-turkey"))
    result = train_model(TrainConfig(data=str(data), backbone=tiny_backbone, max_steps=2, batch_size=8,
                                     register=False, dyad_in_text=True, work_dir=str(work / "run"), seed_quotes=""))
    out = work / "model"
    result.model.save_pretrained(out)
    return out


def test_the_dyad_heads_the_second_segment_and_survives_truncation(tokenizer):
    assert dyad_phrase("russia-iran") == "Russia and Iran"
    long = QuoteInput(QUOTE.text, QUOTE.speaker, "context word " * 200, "russia")
    plain = encode_quotes(tokenizer, [long], 48)
    named = encode_quotes(tokenizer, [long], 48, dyads=["russia-iran"])
    text = tokenizer.decode(named["input_ids"][0])
    assert len(named["input_ids"][0]) == 48
    assert "[SEP] russia and iran | maria zakharova ( russia ) : context" in text, text
    # The quote's own tokens (what sentiment reads) are the same with or without the dyad.
    assert sum(named["quote_mask"][0]) == sum(plain["quote_mask"][0]) > 0
    with pytest.raises(ValueError, match="dyads has 2 entries for 1 quotes"):
        encode_quotes(tokenizer, [QUOTE], 48, dyads=["russia-iran", "russia-israel"])


def test_training_rows_are_one_per_record_and_dyad_each_labelled_in_its_own_cell(tmp_path, tokenizer):
    from training.batching import BatchingConfig, StanceCollator
    from training.data import load_records

    recs = load_records(write_jsonl(tmp_path / "d.jsonl", make_records(4, extra_dyad="russia-turkey")))
    collate = StanceCollator(tokenizer, recs, ["russia-israel", "russia-iran", "russia-turkey"],
                             BatchingConfig(96, negatives_per_record=1, dyad_in_text=True), seed=3)
    batch = collate([{"idx": 0}, {"idx": 1}])
    # r0 labels three dyads, r1 two; each gets one absent-actor negative.
    assert batch["input_ids"].shape[0] == 3 + 1 + 2 + 1
    labels, weights = batch["stance_labels"], batch["stance_weights"]
    assert ((labels != UNKNOWN_LABEL_ID).sum(1) == 1).all()
    texts = [tokenizer.decode(ids) for ids in batch["input_ids"]]
    for i, text in enumerate(texts):
        j = int((labels[i] != UNKNOWN_LABEL_ID).nonzero())
        assert f"[SEP] {dyad_phrase(batch['dyads'][j]).lower()} |" in text, (batch["dyads"][j], text)
        expected = recs[0 if "statement 0" in text else 1].labels.get(batch["dyads"][j])
        if expected is None:  # a negative
            assert labels[i, j] == STANCE2ID["none"] and float(weights[i, j]) == 0.5
        else:
            assert labels[i, j] == STANCE2ID[expected] and float(weights[i, j]) == 1.0
    assert batch["sentiment_labels"].shape[0] == len(texts)


def test_predictor_runs_one_pass_per_dyad_and_sentiment_does_not_depend_on_the_dyads_asked(dyad_model_dir):
    from models.network import StanceModel
    from models.predictor import Predictor

    predictor = Predictor.from_directory(dyad_model_dir, "tiny:dit", device="cpu")
    assert predictor.config.dyad_in_text
    first_default = predictor.config.default_dyads[0]
    quotes = [QUOTE, QuoteInput("Gas talks went well.", "", "", "")]
    both = predictor.logits(quotes, ["russia-israel", "russia-iran"])
    one = {d: predictor.logits(quotes, [d]) for d in ("russia-israel", "russia-iran", "india-pakistan")}
    np.testing.assert_allclose(both.stance[:, 0], one["russia-israel"].stance[:, 0], atol=1e-5)
    np.testing.assert_allclose(both.stance[:, 1], one["russia-iran"].stance[:, 0], atol=1e-5)
    # Sentiment is the pass under the first default dyad, whichever dyads were asked (an extra pass if needed).
    for raw in (both, *one.values(), predictor.logits(quotes, [])):
        np.testing.assert_allclose(raw.sentiment, one[first_default].sentiment, atol=1e-5)
    # The dyad really is read from the text: the same quote differs between the two passes.
    assert not np.allclose(one["russia-israel"].stance[:, 0], one["russia-iran"].stance[:, 0])
    # The packed/oneDNN fast path and the stock forward agree.
    plain = Predictor(StanceModel.from_pretrained(dyad_model_dir), "tiny:plain").logits(quotes, ["russia-iran"])
    np.testing.assert_allclose(plain.stance, one["russia-iran"].stance, atol=1e-4)


def test_only_the_cells_asked_for_are_run_and_they_match_a_full_run(dyad_model_dir):
    from models.predictor import Predictor

    predictor = Predictor.from_directory(dyad_model_dir, "tiny:dit", device="cpu")
    quotes = [QUOTE, QuoteInput("Gas talks went well.", "", "", ""), QuoteInput("Talks in Ankara.", "", "", "")]
    dyads = ["russia-israel", "russia-turkey"]
    needed = np.array([[True, False], [True, True], [False, False]])
    full, part = predictor.logits(quotes, dyads), predictor.logits(quotes, dyads, needed)
    np.testing.assert_allclose(part.stance[needed], full.stance[needed], atol=1e-5)
    # russia-turkey runs on the one quote that asks for it; the sentiment dyad's pass runs on all (and keeps them).
    assert predictor.config.default_dyads[0] == "russia-israel"
    assert not part.stance[~needed[:, 1], 1].any() and full.stance[~needed[:, 1], 1].any()
    np.testing.assert_allclose(part.stance[:, 0], full.stance[:, 0], atol=1e-5)
    np.testing.assert_allclose(part.sentiment, full.sentiment, atol=1e-5)
    with pytest.raises(ValueError, match=r"needed has shape \(2, 2\), expected \(3, 2\)"):
        predictor.logits(quotes, dyads, needed[:2])
    # predict() asks for each quote's own dyads only, and answers them as a full run does.
    preds = predictor.predict(quotes, per_quote_dyads=[["russia-israel"], dyads, ["india-pakistan"]])
    assert [set(p.stance) for p in preds] == [{"russia-israel"}, set(dyads), {"india-pakistan"}]
    again = predictor.predict(quotes[1:2], dyads=dyads)[0]
    assert preds[1].stance["russia-turkey"].scores == pytest.approx(again.stance["russia-turkey"].scores, abs=1e-4)


def test_explanations_of_a_dyad_in_text_model_place_every_word(dyad_model_dir):
    pytest.importorskip("captum")
    from models.explanation import explain
    from models.predictor import Predictor

    predictor = Predictor.from_directory(dyad_model_dir, "tiny:dit", device="cpu")
    result = explain(predictor, QUOTE, "russia-iran", method="occlusion")
    assert [t["text"] for t in result["tokens"] if t["segment"] == "quote"] == QUOTE.text.split()
    assert [t["text"] for t in result["tokens"] if t["segment"] == "context"] == QUOTE.context.split()
    expected = predictor.predict([QUOTE], dyads=["russia-iran"])[0].stance["russia-iran"]
    assert result["probability"] == pytest.approx(expected.scores[result["label"]], abs=1e-3)


def test_stance_train_refuses_dyad_in_text_with_a_teacher(tmp_path):
    data = write_jsonl(tmp_path / "d.jsonl", make_records(8))
    out = subprocess.run([sys.executable, "-m", "service.cli", "train", "--data", str(data), "--dyad_in_text", "true",
                          "--teacher", "some-tag", "--register", "false"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr[-2000:]
    assert "--dyad_in_text cannot be combined with --teacher" in out.stderr and "some-tag" in out.stderr
    assert "Traceback" not in out.stderr
