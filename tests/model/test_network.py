"""The network: persistence round trip, dyads as data, masked loss, calibration."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from models.calibration import expected_calibration_error, fit_temperature, softmax
from models.input_encoding import QuoteInput
from models.network import ModelLoadError, StanceModel
from models.predictor import Predictor
from tests.conftest import SEED_QUOTES, make_records, write_jsonl

QUOTES = [
    QuoteInput("We will respond to any strike on our positions,", "Iranian commander", "Tehran warned Moscow."),
    QuoteInput("a reliable partner"),
    QuoteInput("The sides stressed the importance of coordination in Syria.", "Kremlin readout", ""),
]


def test_save_load_round_trip_gives_identical_predictions(tiny_model_dir, tmp_path):
    model = StanceModel.from_pretrained(tiny_model_dir)
    before = Predictor(model, "t").predict(QUOTES, ["russia-iran", "russia-israel", "china-iran"])
    model.save_pretrained(tmp_path / "again")
    reloaded = StanceModel.from_pretrained(tmp_path / "again")
    after = Predictor(reloaded, "t").predict(QUOTES, ["russia-iran", "russia-israel", "china-iran"])
    assert before == after
    assert json.loads((tmp_path / "again" / "stance_config.json").read_text()) == json.loads(
        (tiny_model_dir / "stance_config.json").read_text()
    )
    files = {p.name for p in (tmp_path / "again").iterdir()}
    assert "model.safetensors" in files and not any(f.endswith((".bin", ".pt", ".pkl")) for f in files)


def test_untrained_dyad_answers_and_is_marked(tiny_model_dir):
    predictor = Predictor(StanceModel.from_pretrained(tiny_model_dir), "t")
    (pred,) = predictor.predict(QUOTES[:1], ["iran-russia", "china-iran"])
    assert set(pred.stance) == {"russia-iran", "china-iran"}  # known spelling reused
    assert pred.stance["russia-iran"].trained is True
    assert pred.stance["china-iran"].trained is False
    assert abs(sum(pred.stance["china-iran"].scores.values()) - 1) < 1e-4
    assert list(pred.stance["china-iran"].scores.values()) == sorted(pred.stance["china-iran"].scores.values(), reverse=True)


def test_dyad_order_does_not_matter(tiny_model_dir):
    predictor = Predictor(StanceModel.from_pretrained(tiny_model_dir), "t")
    a = predictor.predict(QUOTES, ["turkey-russia"])
    b = predictor.predict(QUOTES, ["russia-turkey"])
    for x, y in zip(a, b):
        assert next(iter(x.stance.values())).scores == next(iter(y.stance.values())).scores


def test_batching_does_not_change_answers(tiny_model_dir):
    model = StanceModel.from_pretrained(tiny_model_dir)
    one = Predictor(model, "t", batch_size=1).predict(QUOTES)
    many = Predictor(model, "t", batch_size=64).predict(QUOTES)
    for x, y in zip(one, many):
        for d in x.stance:
            assert x.stance[d].label == y.stance[d].label
            for k in x.stance[d].scores:
                assert abs(x.stance[d].scores[k] - y.stance[d].scores[k]) < 1e-4


def test_unknown_labels_are_masked_out_of_the_loss():
    logits = torch.randn(4, 2, 4, requires_grad=True)
    labels = torch.tensor([[0, -100], [1, -100], [2, -100], [3, -100]])
    loss = StanceModel.losses(logits, torch.randn(4, 3), labels, None)["stance_loss"]
    loss.backward()
    assert torch.all(logits.grad[:, 1] == 0)
    assert torch.any(logits.grad[:, 0] != 0)


def test_party_loss_targets_come_from_the_stance_labels(tiny_backbone):
    from torch.nn import functional as F

    model = StanceModel.from_backbone(tiny_backbone, ["russia-israel", "russia-iran"], ["russia-israel"],
                                      party_loss_weight=0.5)
    model.eval()
    hidden = torch.randn(3, 6, model.hidden_size)
    mask = torch.ones(3, 6, dtype=torch.long)
    coop, none, unknown = 0, model.config.stance_labels.index("none"), -100
    # record 0: russia-israel cooperative, russia-iran none -> russia and israel parties, iran not
    # record 1: both none -> nobody is a party; record 2: nothing labelled -> left out
    labels = torch.tensor([[coop, none], [none, none], [unknown, unknown]])
    dyads = ["russia-israel", "russia-iran"]
    logits = model.heads(hidden, mask, dyads, with_party=True)["party_logits"]  # actors: iran, israel, russia
    assert logits.shape == (3, 3)
    loss = model.party_loss(logits, dyads, labels)
    targets = torch.tensor([[0.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    assert torch.allclose(loss, F.binary_cross_entropy_with_logits(logits[:2], targets))
    assert "party_logits" not in model.heads(hidden, mask, dyads)
    without = StanceModel.from_backbone(tiny_backbone, ["russia-israel"], ["russia-israel"])
    assert without.stance_head.party is None and model.stance_head.party is not None


def test_a_model_trained_with_the_party_loss_saves_loads_and_predicts(tmp_path, tiny_backbone):
    from training.config import TrainConfig
    from training.trainer import train_model

    data = write_jsonl(tmp_path / "d.jsonl", make_records(48))
    result = train_model(TrainConfig(data=str(data), backbone=tiny_backbone, max_steps=2, batch_size=8,
                                     register=False, work_dir=str(tmp_path / "w"), seed_quotes="",
                                     party_loss_weight=0.5))
    result.model.save_pretrained(tmp_path / "m")
    loaded = StanceModel.from_pretrained(tmp_path / "m")
    assert loaded.config.party_loss_weight == 0.5 and loaded.stance_head.party is not None
    (pred,) = Predictor(loaded, "t").predict(QUOTES[:1])
    assert set(pred.stance) == set(loaded.config.default_dyads)


def test_corrupt_model_directory_fails_with_a_clear_message(tiny_model_dir, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelLoadError, match="model.safetensors is not a readable safetensors file"):
        StanceModel.from_pretrained(broken)
    (broken / "stance_config.json").unlink()
    with pytest.raises(ModelLoadError, match="lacks stance_config.json"):
        StanceModel.from_pretrained(broken)


def test_dataset_that_adds_a_dyad_trains_a_model_that_predicts_it(tmp_path, tiny_backbone):
    from training.config import TrainConfig
    from training.trainer import train_model

    data = write_jsonl(tmp_path / "d.jsonl", make_records(80, extra_dyad="russia-turkey"))
    result = train_model(TrainConfig(data=str(data), backbone=tiny_backbone, max_steps=1, batch_size=8,
                                     register=False, work_dir=str(tmp_path / "w"), seed_quotes=""))
    assert "russia-turkey" in result.model.config.dyads
    assert result.model.config.default_dyads == ["russia-israel", "russia-iran", "russia-turkey"]
    (pred,) = Predictor(result.model, "t").predict(QUOTES[:1])
    assert pred.stance["russia-turkey"].trained is True
    assert "russia-turkey" in result.reports["test"]["dyads"]


def test_held_out_dyad_is_reported_as_unseen(tmp_path, tiny_backbone):
    from training.config import TrainConfig
    from training.trainer import train_model

    data = write_jsonl(tmp_path / "d.jsonl", make_records(80, extra_dyad="russia-turkey"))
    result = train_model(TrainConfig(data=str(data), backbone=tiny_backbone, max_steps=1, batch_size=8,
                                     register=False, work_dir=str(tmp_path / "w"), seed_quotes="",
                                     holdout_dyad="turkey-russia"))
    assert "russia-turkey" not in result.model.config.dyads
    assert result.reports["test"]["dyads"]["russia-turkey"]["trained"] is False
    assert "NO (unseen dyad)" in result.report_text


def test_temperature_scaling_lowers_ece_on_overconfident_logits():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 2000)
    logits = rng.normal(0, 1, (2000, 4))
    logits[np.arange(2000), labels] += 1.0  # right ~55% of the time...
    logits *= 6.0  # ...but far too sure
    before = expected_calibration_error(softmax(logits), labels)
    t = fit_temperature(logits, labels)
    after = expected_calibration_error(softmax(logits, t), labels)
    assert t > 2.0
    assert after < before / 3
    assert (softmax(logits, t).argmax(1) == logits.argmax(1)).all()  # labels unchanged


def test_training_report_includes_seed_article_line(tiny_model_dir):
    # tiny_model_dir was trained with seed_quotes; its report must carry the real-text line
    from training.data import load_records
    from training.evaluation import evaluate

    predictor = Predictor(StanceModel.from_pretrained(tiny_model_dir), "t")
    rep = evaluate(predictor, load_records(SEED_QUOTES))
    assert rep["n_quotes"] == 12
    assert set(rep["dyads"]) >= {"russia-israel", "russia-iran"}


@pytest.mark.parametrize("precision", ["bf16"])
def test_reduced_precision_modes_give_valid_close_scores(tiny_model_dir, precision):
    fp32 = Predictor.from_directory(tiny_model_dir, "t", device="cpu").predict(QUOTES)
    low = Predictor.from_directory(tiny_model_dir, "t", device="cpu", precision=precision).predict(QUOTES)
    for a, b in zip(fp32, low):
        for dyad in a.stance:
            assert abs(sum(b.stance[dyad].scores.values()) - 1) < 1e-3
            for k, v in a.stance[dyad].scores.items():
                assert abs(b.stance[dyad].scores[k] - v) < 0.05


def test_unknown_precision_is_refused(tiny_model_dir):
    with pytest.raises(ValueError, match="precision must be one of"):
        Predictor.from_directory(tiny_model_dir, "t", precision="fp8")
