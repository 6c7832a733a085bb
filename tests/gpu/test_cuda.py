"""The GPU path: predictor, packed encoder and a training step on CUDA.

Skipped, with the reason, on a machine without a CUDA device (CI has none);
run them where one is lent: ``python -m pytest tests/gpu``.
"""

from __future__ import annotations

import pytest
import torch

from models.input_encoding import QuoteInput

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine (the GPU path needs one)"),
]

QUOTES = [
    QuoteInput("We will respond to any strike on our positions,", "Hossein Salami", "Tehran warned Moscow.", "iran"),
    QuoteInput("a reliable partner"),
    QuoteInput("The sides stressed the importance of coordination in Syria.", "the Kremlin", ""),
]


def test_predictor_on_cuda_matches_cpu(tiny_model_dir):
    from models.predictor import Predictor

    cpu = Predictor.from_directory(tiny_model_dir, "t", device="cpu", onednn=False, packed_encoder=False)
    gpu = Predictor.from_directory(tiny_model_dir, "t", device="cuda")
    assert gpu.model.device.type == "cuda"
    a = cpu.logits(QUOTES, ["russia-iran", "russia-israel"])
    b = gpu.logits(QUOTES, ["russia-iran", "russia-israel"])
    assert abs(a.stance - b.stance).max() < 1e-3
    assert abs(a.sentiment - b.sentiment).max() < 1e-3


def test_packed_encoder_on_cuda_matches_stock_forward(tiny_model_dir):
    from models.network import StanceModel
    from models.packed_encoder import PackedBertEncoder, packable

    model = StanceModel.from_pretrained(tiny_model_dir, device="cuda")
    if not packable(model.encoder):
        pytest.skip("the tiny encoder is not a plain BERT")
    packed = PackedBertEncoder(model.encoder).eval()
    ids = torch.randint(5, 1000, (4, 20), device="cuda")
    mask = torch.ones_like(ids)
    mask[1, 12:] = 0
    mask[3, 5:] = 0
    with torch.inference_mode():
        stock = model.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        fast = packed(ids, mask)
    real = mask.bool()
    assert torch.allclose(stock[real], fast[real], atol=1e-4)


def test_one_training_step_on_cuda(tiny_backbone, tmp_path):
    from models.network import StanceModel
    from training.batching import BatchingConfig, StanceCollator
    from models.label_schema import QuoteRecord

    model = StanceModel.from_backbone(tiny_backbone, ["russia-iran", "russia-israel"], ["russia-iran"]).cuda().train()
    records = [QuoteRecord(id=f"r{i}", text=f"statement {i} about gas", labels={"russia-iran": "cooperative",
               "russia-israel": "none"}, sentiment="neutral") for i in range(4)]
    collate = StanceCollator(model.tokenizer, records, ["russia-iran", "russia-israel"], BatchingConfig(64))
    batch = collate([{"idx": i} for i in range(4)])
    batch = {k: v.cuda() if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
    out = model(**batch)
    out["loss"].backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(g.is_cuda for g in grads)
    assert torch.isfinite(out["loss"])
