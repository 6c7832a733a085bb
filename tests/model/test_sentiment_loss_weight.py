"""``--sentiment_loss_weight``: the trainer's loss weighs the sentiment part by it, the stance part by 1."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import make_records, write_jsonl


@pytest.mark.parametrize("weight", [1.0, 3.0, 0.5])
def test_the_training_loss_is_stance_plus_weighted_sentiment(tmp_path, tiny_backbone, weight):
    from training.config import TrainConfig
    from training.data import load_records
    from training.trainer import build_trainer
    from models.network import StanceModel

    torch.manual_seed(0)
    records = load_records(write_jsonl(tmp_path / "d.jsonl", make_records(16)))
    config = TrainConfig(data=str(tmp_path / "d.jsonl"), backbone=tiny_backbone, sentiment_loss_weight=weight,
                         work_dir=str(tmp_path / "run"), register=False, bf16="false")
    dyads = ["russia-israel", "russia-iran"]
    model = StanceModel.from_backbone(tiny_backbone, dyads, dyads).eval()  # eval: no dropout, same numbers twice
    trainer = build_trainer(config, model, records, dyads)
    batch = trainer.data_collator([{"idx": i} for i in range(8)])
    with torch.no_grad():
        loss, outputs = trainer.compute_loss(model, dict(batch), return_outputs=True)
    assert outputs["sentiment_loss"] > 0 and outputs["stance_loss"] > 0
    assert float(loss) == pytest.approx(float(outputs["stance_loss"] + weight * outputs["sentiment_loss"]), rel=1e-5)
