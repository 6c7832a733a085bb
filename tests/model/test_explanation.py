"""Word weights for a quote's stance: offsets, both methods, the predictor's own numbers, errors."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("captum", reason="explanations need captum (pip install captum)")

from models.explanation import METHODS, ExplanationError, explain, top_words  # noqa: E402
from models.input_encoding import QuoteInput  # noqa: E402
from models.label_schema import SchemaError  # noqa: E402
from models.network import StanceModel  # noqa: E402
from models.predictor import Predictor  # noqa: E402

QUOTE = QuoteInput(
    text="  We will never accept Israeli strikes on Syria, and Moscow’s partnership with Tehran is strong. ",
    speaker="Maria Zakharova",
    speaker_actor="russia",
    context=" The Russian Foreign Ministry spokeswoman spoke after the talks in Moscow.",
)


@pytest.fixture(scope="module")
def predictor(tiny_model_dir) -> Predictor:
    """As the service loads it: oneDNN linears and the packed encoder."""
    return Predictor.from_directory(tiny_model_dir, "tiny:test", device="cpu")


@pytest.fixture(scope="module")
def plain_predictor(tiny_model_dir) -> Predictor:
    """Plain nn.Linear layers, stock forward."""
    return Predictor(StanceModel.from_pretrained(tiny_model_dir), "tiny:plain")


def _words(result: dict, segment: str) -> list[dict]:
    return [t for t in result["tokens"] if t["segment"] == segment]


@pytest.mark.parametrize("method", METHODS)
def test_every_word_of_quote_and_context_gets_a_weight_at_its_offsets(predictor, method):
    result = explain(predictor, QUOTE, "russia-israel", method=method)
    assert result["method"] == method and result["dyad"] == "russia-israel"
    quote_words, context_words = _words(result, "quote"), _words(result, "context")
    # One entry per whitespace word, sub-word tokens merged, in order; the speaker's words are not returned.
    assert [t["text"] for t in quote_words] == QUOTE.text.split()
    assert [t["text"] for t in context_words] == QUOTE.context.split()
    assert len(result["tokens"]) == len(quote_words) + len(context_words)
    for t in quote_words:
        assert QUOTE.text[t["start"]:t["end"]] == t["text"]
    for t in context_words:
        assert QUOTE.context[t["start"]:t["end"]] == t["text"]
    assert all(isinstance(t["weight"], float) and math.isfinite(t["weight"]) for t in result["tokens"])
    assert any(abs(t["weight"]) > 0 for t in result["tokens"])
    assert 0.0 <= result["probability"] <= 1.0


def test_probability_and_default_label_are_the_predictors(predictor):
    pred = predictor.predict([QUOTE], dyads=["russia-iran"])[0].stance["russia-iran"]
    result = explain(predictor, QUOTE, "russia-iran")
    assert result["label"] == pred.label
    assert result["probability"] == pytest.approx(pred.scores[pred.label], abs=1e-4)
    other = next(lab for lab in predictor.config.stance_labels if lab != pred.label)
    forced = explain(predictor, QUOTE, "russia-iran", label=other)
    assert forced["label"] == other
    assert forced["probability"] == pytest.approx(pred.scores[other], abs=1e-4)


def test_occlusion_weight_is_the_drop_when_the_word_is_hidden(predictor):
    result = explain(predictor, QUOTE, "russia-israel", method="occlusion")
    word = max(_words(result, "quote"), key=lambda t: abs(t["weight"]))
    # Hiding by deleting is not hiding by masking, but masking the word by hand must give the same number.
    from models.explanation import _probability_fn, _stance_logits_fn, encode_for_explanation, replacement_token

    row = encode_for_explanation(predictor.model.tokenizer, QUOTE, predictor.max_tokens)
    hit = next(w for w in row.words if w.segment == "quote" and w.start == word["start"])
    ids = row.input_ids.clone()
    ids[0, list(hit.positions)] = replacement_token(predictor.model.tokenizer)
    labels = list(predictor.config.stance_labels)
    prob = _probability_fn(_stance_logits_fn(predictor, "russia-israel", False), labels.index(result["label"]),
                           predictor.config.stance_temperature)
    import torch

    with torch.inference_mode():
        hidden = float(prob(ids, row.attention_mask, row.token_type_ids, row.quote_mask)[0])
    assert word["weight"] == pytest.approx(result["probability"] - hidden, abs=1e-4)


def test_integrated_gradients_through_onednn_layers_match_plain_linear(predictor, plain_predictor):
    """The served model's oneDNN layers compute through F.linear under autograd: same attributions."""
    a = explain(predictor, QUOTE, "russia-iran", label="hedging", method="integrated_gradients")
    b = explain(plain_predictor, QUOTE, "russia-iran", label="hedging", method="integrated_gradients")
    assert [t["text"] for t in a["tokens"]] == [t["text"] for t in b["tokens"]]
    for x, y in zip(a["tokens"], b["tokens"]):
        assert x["weight"] == pytest.approx(y["weight"], abs=1e-4)
    assert any(abs(t["weight"]) > 1e-7 for t in a["tokens"])


def test_integrated_gradients_add_up_to_input_minus_baseline(predictor):
    """Completeness: the weights sum to p(input) - p(every quote/context word masked)."""
    import torch

    from models.explanation import _probability_fn, _stance_logits_fn, encode_for_explanation, replacement_token

    result = explain(predictor, QUOTE, "russia-iran", method="integrated_gradients")
    row = encode_for_explanation(predictor.model.tokenizer, QUOTE, predictor.max_tokens)
    ids = row.input_ids.clone()
    for w in row.words:
        ids[0, list(w.positions)] = replacement_token(predictor.model.tokenizer)
    prob = _probability_fn(_stance_logits_fn(predictor, "russia-iran", False),
                           list(predictor.config.stance_labels).index(result["label"]),
                           predictor.config.stance_temperature)
    with torch.inference_mode():
        base = float(prob(ids, row.attention_mask, row.token_type_ids, row.quote_mask)[0])
    total = sum(t["weight"] for t in result["tokens"])
    assert total == pytest.approx(result["probability"] - base, abs=5e-3)


def test_bf16_predictor_is_explained_on_an_fp32_copy(tiny_model_dir):
    pred = Predictor.from_directory(tiny_model_dir, "tiny:bf16", device="cpu", precision="bf16")
    result = explain(pred, QUOTE, "russia-israel", method="integrated_gradients")
    assert len(result["tokens"]) == len(QUOTE.text.split()) + len(QUOTE.context.split())
    assert all(math.isfinite(t["weight"]) for t in result["tokens"])
    import torch

    assert next(pred.model.parameters()).dtype == torch.bfloat16  # the served model is untouched


def test_quote_without_context_or_speaker_and_an_untrained_dyad(predictor):
    q = QuoteInput("Sanctions will not stop our cooperation.")
    for method in METHODS:
        result = explain(predictor, q, "india-pakistan", method=method)
        assert [t["text"] for t in result["tokens"]] == q.text.split()
        assert {t["segment"] for t in result["tokens"]} == {"quote"}


def test_a_truncated_context_returns_only_the_words_the_model_saw(predictor):
    long_context = " ".join(f"word{i}" for i in range(400))
    q = QuoteInput("We value the partnership.", speaker="An official", context=long_context)
    result = explain(predictor, q, "russia-iran")
    ctx = [t["text"] for t in _words(result, "context")]
    words = long_context.split()
    assert 0 < len(ctx) < 400 and ctx[:-1] == words[: len(ctx) - 1]
    assert words[len(ctx) - 1].startswith(ctx[-1])  # the last word may be cut inside (its seen tokens only)
    assert [t["text"] for t in _words(result, "quote")] == q.text.split()


def test_top_words_are_the_largest_weights(predictor):
    result = explain(predictor, QUOTE, "russia-israel")
    top = top_words(result, 3)
    rest = [t for t in _words(result, "quote") if t not in top]
    assert len(top) == 3 and min(t["weight"] for t in top) >= max(t["weight"] for t in rest)


def test_bad_dyad_label_or_method_raise_the_projects_errors_naming_the_value(predictor):
    with pytest.raises(SchemaError, match="russia_iran"):
        explain(predictor, QUOTE, "russia_iran")
    with pytest.raises(SchemaError, match="iran-iran"):
        explain(predictor, QUOTE, "iran-iran")
    with pytest.raises(SchemaError, match="friendly"):
        explain(predictor, QUOTE, "russia-iran", label="friendly")
    with pytest.raises(ExplanationError, match="shap"):
        explain(predictor, QUOTE, "russia-iran", method="shap")


def test_offsets_count_code_points_through_accents_emoji_and_dropped_characters(predictor):
    """Offsets are Python string indices (code points): what the page slices with Array.from."""
    q = QuoteInput("Le café naïve 🇷🇺 Zakharova’s “no” — döner\u200b ok", "X", "ctx 😀 é, \u00a0 fin")
    result = explain(predictor, q, "russia-iran")
    for t in result["tokens"]:
        source = q.text if t["segment"] == "quote" else q.context
        assert source[t["start"]:t["end"]] == t["text"]
    quote_words = [t["text"] for t in _words(result, "quote")]
    assert "café" in quote_words and "naïve" in quote_words and "Zakharova’s" in quote_words
    starts = [t["start"] for t in _words(result, "quote")]
    assert starts == sorted(starts)
