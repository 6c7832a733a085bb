"""The moving average of the weights: its arithmetic, its start, the swap, and the dev choice in training."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import make_records, write_jsonl
from training.weight_averaging import WeightAverage


def _set(layer: torch.nn.Linear, value: float) -> None:
    with torch.no_grad():
        layer.weight.fill_(value)
        layer.bias.fill_(value)


def test_average_follows_the_decay_and_ignores_steps_before_its_start():
    layer = torch.nn.Linear(2, 2)
    avg = WeightAverage(decay=0.5, start_step=2)
    _set(layer, 100.0)
    avg.update(layer, step=1)  # before the start: not counted
    assert avg.updates == 0
    _set(layer, 1.0)
    avg.update(layer, step=2)  # first counted step copies the weights
    _set(layer, 3.0)
    avg.update(layer, step=3)  # 0.5 * 1 + 0.5 * 3
    assert avg.updates == 2
    avg.swap(layer)
    assert torch.allclose(layer.weight, torch.full_like(layer.weight, 2.0))
    assert torch.allclose(layer.bias, torch.full_like(layer.bias, 2.0))
    avg.swap(layer)  # swapping back restores the final weights
    assert torch.allclose(layer.weight, torch.full_like(layer.weight, 3.0))


def test_swap_without_any_update_is_refused():
    with pytest.raises(RuntimeError, match="start step"):
        WeightAverage(decay=0.9, start_step=5).swap(torch.nn.Linear(2, 2))


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.1])
def test_decay_outside_the_open_interval_is_refused(decay):
    with pytest.raises(ValueError, match="ema_decay"):
        WeightAverage(decay=decay, start_step=0)


def test_config_refuses_a_start_share_of_one():
    from training.config import TrainConfig

    with pytest.raises(ValueError, match="ema_start"):
        TrainConfig(data="x", ema_start=1.0)


def test_training_with_an_average_reports_both_on_dev_and_keeps_the_better(tmp_path, tiny_backbone):
    from training.config import TrainConfig
    from training.trainer import dev_score, train_model

    data = write_jsonl(tmp_path / "d.jsonl", make_records(64))
    result = train_model(TrainConfig(data=str(data), backbone=tiny_backbone, max_steps=6, batch_size=8,
                                     register=False, work_dir=str(tmp_path / "w"), seed_quotes="",
                                     ema_decay=0.5, ema_start=0.5))
    choice = result.reports["weight_average"]
    assert choice["start_step"] == 3 and choice["updates"] == 4  # steps 3..6
    final = sum(choice["dev_final"].values())
    averaged = sum(choice["dev_averaged"].values())
    assert choice["kept"] == ("averaged" if averaged > final else "final")
    kept = choice["dev_averaged"] if choice["kept"] == "averaged" else choice["dev_final"]
    # The dev report is of the weights kept, calibrated for them.
    assert result.reports["dev"]["sentiment"]["macro_f1"] == pytest.approx(kept["sentiment"], abs=1e-4)
    assert dev_score(result.reports["dev"]) == pytest.approx(max(final, averaged) / 3, abs=1e-4)


def test_keeping_the_final_weights_restores_their_calibration(tmp_path, tiny_backbone, monkeypatch):
    """When dev keeps the final weights, their weights, temperatures and dev report come back, not the average's."""
    from models.predictor import Predictor
    from training import trainer
    from training.config import TrainConfig
    from training.data import load_records
    from training.evaluation import evaluate

    data = write_jsonl(tmp_path / "d.jsonl", make_records(64))
    model = trainer.train_model(TrainConfig(data=str(data), backbone=tiny_backbone, max_steps=3, batch_size=8,
                                            register=False, work_dir=str(tmp_path / "w"), seed_quotes="")).model
    dev = load_records(data)[:32]
    predictor = Predictor(model, "t")
    final_logits = evaluate(predictor, dev)
    average = WeightAverage(decay=0.5, start_step=0)
    average.update(model, 0)
    with torch.no_grad():  # an average far from the final weights
        for s in average._shadow:
            s.mul_(3.0)
    # Each weight set gets its own temperatures (the tiny model's real fit sits at the clamp for both).
    fitted = iter([(1.5, 2.5), (4.0, 5.0)])

    def fake_calibrate(pred, records):
        pred.config.stance_temperature, pred.config.sentiment_temperature = next(fitted)
        pred.config.dyad_temperatures = {}

    monkeypatch.setattr(trainer, "calibrate", fake_calibrate)
    # The trainer compares dev_score(averaged) > dev_score(final), in that order: make the final win.
    scores = iter([0.0, 1.0, 0.0, 1.0])
    monkeypatch.setattr(trainer, "dev_score", lambda report: next(scores))
    choice, report = trainer.choose_weights(predictor, dev, average)
    assert choice["kept"] == "final"
    assert (predictor.config.stance_temperature, predictor.config.sentiment_temperature) == (1.5, 2.5)
    again = evaluate(predictor, dev)  # the model holds the final weights again
    assert report["calibration"]["stance_temperature"] == 1.5
    for dyad in ("russia-israel", "russia-iran"):
        assert again["dyads"][dyad]["macro_f1"] == pytest.approx(final_logits["dyads"][dyad]["macro_f1"])
        assert report["dyads"][dyad]["macro_f1"] == pytest.approx(final_logits["dyads"][dyad]["macro_f1"])
