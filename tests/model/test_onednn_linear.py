"""oneDNN fp32 kernels: same predictions as torch's default kernels, on every Linear of the model."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from models.network import StanceModel
from models.onednn_linear import OneDNNLinear, onednn_available, use_onednn_linears
from models.predictor import Predictor
from tests.model.test_network import QUOTES

pytestmark = pytest.mark.skipif(not onednn_available(), reason="torch built without oneDNN")


def test_swapped_model_predicts_what_the_plain_model_predicts(tiny_model_dir):
    plain = StanceModel.from_pretrained(tiny_model_dir)
    n_linear = sum(type(m) is nn.Linear for m in plain.modules())
    fast = StanceModel.from_pretrained(tiny_model_dir)
    assert use_onednn_linears(fast) == n_linear
    assert not any(type(m) is nn.Linear for m in fast.modules())
    fused = [m for m in fast.modules() if isinstance(m, OneDNNLinear) and m.post_op == "gelu"]
    assert len(fused) == plain.encoder.config.num_hidden_layers

    dyads = ["russia-iran", "russia-israel", "china-iran"]
    with torch.inference_mode():
        a = Predictor(plain, "t").logits(QUOTES, dyads)
        b = Predictor(fast, "t").logits(QUOTES, dyads)
    assert a.stance.shape == b.stance.shape
    assert abs(a.stance - b.stance).max() < 1e-4
    assert abs(a.sentiment - b.sentiment).max() < 1e-4


def test_from_directory_uses_onednn_only_when_asked(tiny_model_dir):
    fast = Predictor.from_directory(tiny_model_dir, "t", device="cpu")
    plain = Predictor.from_directory(tiny_model_dir, "t", device="cpu", onednn=False)
    assert any(isinstance(m, OneDNNLinear) for m in fast.model.modules())
    assert not any(isinstance(m, OneDNNLinear) for m in plain.model.modules())
    assert [p.stance["russia-iran"].label for p in fast.predict(QUOTES)] == [
        p.stance["russia-iran"].label for p in plain.predict(QUOTES)
    ]


def test_fused_gelu_matches_linear_then_gelu_and_keeps_gradients():
    torch.manual_seed(0)
    lin = nn.Linear(16, 40)
    x = torch.randn(2, 5, 16)
    fused = OneDNNLinear(lin, post_op="gelu")
    with torch.inference_mode():
        assert torch.allclose(fused(x), nn.functional.gelu(lin(x)), atol=1e-5)
    # with autograd on it takes the differentiable path, so it can never silently break training
    y = x.clone().requires_grad_(True)
    fused(y).sum().backward()
    assert y.grad is not None and y.grad.abs().sum() > 0


def test_unknown_post_op_is_refused():
    with pytest.raises(ValueError, match="post_op must be one of"):
        OneDNNLinear(nn.Linear(4, 4), post_op="relu6")


def test_bf16_model_is_swapped_too_and_stays_close_to_fp32(tiny_model_dir):
    fp32 = Predictor.from_directory(tiny_model_dir, "t", device="cpu", onednn=False).predict(QUOTES)
    bf16 = Predictor.from_directory(tiny_model_dir, "t", device="cpu", precision="bf16")
    assert any(isinstance(m, OneDNNLinear) and m.weight.dtype == torch.bfloat16 for m in bf16.model.modules())
    for a, b in zip(fp32, bf16.predict(QUOTES)):
        for k, v in a.sentiment.scores.items():
            assert abs(b.sentiment.scores[k] - v) < 0.05
