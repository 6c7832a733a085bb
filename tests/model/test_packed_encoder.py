"""The packed encoder: the stock BERT output on every real token, whatever the mix of lengths."""

from __future__ import annotations

import pytest
import torch
from transformers import BertConfig, BertModel

from models.packed_encoder import PackedBertEncoder, packable, plan_layout
from models.predictor import Predictor
from tests.model.test_network import QUOTES


@pytest.fixture(scope="module")
def bert() -> BertModel:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=200, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64)
    return BertModel(config).eval()


def batch(lengths: list[int], width: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(len(lengths) * 31 + width)
    ids = torch.randint(1, 200, (len(lengths), width), generator=gen)
    mask = (torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]).long()
    types = (torch.arange(width)[None, :] >= torch.tensor(lengths)[:, None] // 2).long() * mask
    return {"input_ids": ids * mask, "attention_mask": mask, "token_type_ids": types}


@pytest.mark.parametrize(
    "lengths",
    [
        [5, 40, 12, 33, 7, 40, 21, 2, 38, 16],  # loose: packed, several attention buckets
        [30, 29, 30, 28, 30],  # tight: runs unpacked with a key mask
        [17, 17, 17],  # no padding at all
        [9],
    ],
)
def test_matches_stock_bert_on_real_tokens(bert, lengths):
    inputs = batch(lengths, max(lengths))
    with torch.inference_mode():
        want = bert(**inputs).last_hidden_state
        got = PackedBertEncoder(bert)(**inputs)
    mask = inputs["attention_mask"].bool()
    assert got.shape == want.shape
    assert torch.allclose(got[mask], want[mask], atol=1e-5)


def test_layout_places_every_real_token_once_and_bounds_padding():
    lengths = [5, 40, 12, 33, 7, 40, 21, 2, 38, 16, 39, 6]
    width = 40
    layout = plan_layout(lengths, width, max_padding=0.1, min_rows=2)
    real = sorted(layout.flat.tolist())
    assert real == [i * width + t for i, n in enumerate(lengths) for t in range(n)]
    assert sum(b.rows for b in layout.buckets) == len(lengths)
    for b in layout.buckets:
        real_slots = len(b.real) if b.real is not None else b.rows * b.width
        if b.rows > 2:  # past min_rows a bucket closes before padding passes 10%
            assert b.rows * b.width - real_slots <= 0.1 * b.rows * b.width + b.width
    assert plan_layout([30, 29, 30], 30).flat is None  # tight batches are not moved at all


def test_right_padding_is_required(bert):
    inputs = batch([4, 6], 6)
    inputs["attention_mask"][0] = torch.tensor([0, 0, 1, 1, 1, 1])
    with pytest.raises(ValueError, match="right-padded"):
        PackedBertEncoder(bert)(**inputs)


def test_predictor_with_packed_encoder_predicts_what_the_stock_forward_does(tiny_model_dir):
    fast = Predictor.from_directory(tiny_model_dir, "t", device="cpu")
    stock = Predictor.from_directory(tiny_model_dir, "t", device="cpu", onednn=False, packed_encoder=False)
    assert fast.packed_encoder is not None and stock.packed_encoder is None
    assert packable(fast.model.encoder)
    dyads = ["russia-iran", "russia-israel", "china-iran"]
    quotes = QUOTES * 5  # uneven lengths in one batch: the packed path
    a, b = stock.logits(quotes, dyads), fast.logits(quotes, dyads)
    assert abs(a.stance - b.stance).max() < 1e-4
    assert abs(a.sentiment - b.sentiment).max() < 1e-4


def test_bf16_attention_path_stays_close_to_fp32(bert):
    import copy

    inputs = batch([5, 40, 12, 33, 7, 40, 21, 2], 40)
    half = copy.deepcopy(bert).to(torch.bfloat16)
    with torch.inference_mode():
        want = bert(**inputs).last_hidden_state
        got = PackedBertEncoder(half)(**inputs)
    mask = inputs["attention_mask"].bool()
    assert got.dtype == torch.bfloat16
    assert (got[mask].float() - want[mask]).abs().max() < 0.1
    assert torch.nn.functional.cosine_similarity(got[mask].float(), want[mask], dim=-1).min() > 0.999


def test_token_rows_round_to_a_small_fixed_set_of_sizes():
    """Every new matrix shape costs oneDNN a kernel and the heap a new size: keep them few."""
    from models.packed_encoder import padded_rows

    sizes = {padded_rows(n) for n in range(1, 10241)}
    assert len(sizes) <= 120
    for n in range(1, 10241):
        assert n <= padded_rows(n) <= n + max(7, n // 8)
