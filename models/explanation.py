"""Why a quote got its stance: a weight per word of the quote and of its context.

``explain(predictor, quote, dyad)`` answers, for one dyad, how much each word
pushed the calibrated (temperature-scaled) probability of a label (default:
the predicted one).  The input is built exactly as the predictor builds it
(:func:`models.input_encoding.encode_quotes`: the quote as the first segment,
``speaker (Actor): context`` as the second, same truncation), so an
explanation describes the input the label came from.  Words are whitespace-
delimited runs of sub-word tokens; each comes back with its character offsets
into ``quote.text`` (segment ``"quote"``) or ``quote.context`` (segment
``"context"``).  The speaker's words are part of the input but are never
perturbed and not returned; words cut off by truncation were not seen by the
model and are not returned either (a word cut inside comes back as the part
the model saw).

Two methods, both through Captum:

``occlusion``
    Word-level feature ablation: each word's tokens are replaced by the
    tokenizer's mask token (pad where there is none), all words in batched
    forward passes on the predictor's own inference path; a word's weight is
    the drop in probability when it is hidden (negative: hiding it raises the
    probability).
``integrated_gradients``
    Layer integrated gradients over the encoder's input (word) embeddings,
    from a baseline where every quote and context word is the mask token
    (speaker, separators unchanged), summed over each word's tokens and the
    embedding dimension.  The weights add up (up to the integral's error) to
    the probability of the input minus that of the baseline.

Gradients: :meth:`Predictor.from_directory` swaps ``nn.Linear`` for
:class:`models.onednn_linear.OneDNNLinear`, whose oneDNN kernel has no
backward; but that module computes through plain ``F.linear`` on the same
weights whenever autograd is recording, so an fp32 model is explained in
place (no second copy of the weights).  A model in another precision (bf16)
is explained on an fp32 copy made lazily, once per predictor, and kept beside
it (see :func:`gradient_model`).

An explanation is dozens of forward passes, and integrated gradients hook the
embedding layer the predictor's packed encoder shares: run it where no batch
runs beside it (the service uses ``MicroBatcher.run_exclusive``).
"""

from __future__ import annotations

import copy
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch

from models.errors import StanceError
from models.input_encoding import QuoteInput, encode_quotes, second_segment, speaker_phrase, with_dyad
from models.label_schema import SchemaError, split_dyad

METHODS: tuple[str, ...] = ("occlusion", "integrated_gradients")
# Chosen by benchmarks/explain_faithfulness.py (top-k deletion against random deletion); see its docstring.
DEFAULT_METHOD = "occlusion"

OCCLUSION_BATCH = 32  # perturbed copies per forward pass
IG_STEPS = 32  # Gauss-Legendre points along the path; the convergence delta is small well before 50
IG_BATCH = 16  # path points per forward/backward pass


class ExplanationError(StanceError, ValueError):
    """An explanation that cannot be made as asked (unknown method, tokenizer without offsets); names the value."""


@dataclass(frozen=True)
class Word:
    text: str
    start: int  # offsets into quote.text or quote.context
    end: int
    segment: str  # "quote" | "context"
    positions: tuple[int, ...]  # token positions in the encoded row


@dataclass(frozen=True)
class EncodedQuote:
    """One row exactly as the predictor encodes it, plus where each returned word sits in it."""

    input_ids: torch.Tensor  # (1, T)
    attention_mask: torch.Tensor
    token_type_ids: torch.Tensor | None
    quote_mask: torch.Tensor
    words: list[Word]


# --------------------------------------------------------------------------- input
def _segment_origins(quote: QuoteInput, dyad: str | None = None) -> tuple[int, int | None, int]:
    """(shift of the first segment into quote.text, start of the context in the second segment or None,
    shift of that into quote.context), mirroring encode_quotes / second_segment."""
    text_shift = len(quote.text) - len(quote.text.lstrip())
    context = quote.context or ""
    stripped = context.strip()
    if not stripped:
        return text_shift, None, 0
    who = speaker_phrase(quote.speaker, quote.speaker_actor)
    second = with_dyad(second_segment(quote.speaker, context, quote.speaker_actor), dyad)
    context_at = len(with_dyad("", dyad)) + (len(who) + 2 if who else 0)
    if second[context_at:] != stripped:  # second_segment changed its layout: refuse rather than misplace words
        raise ExplanationError(f"cannot locate the context in the encoded second segment {second!r}")
    return text_shift, context_at, len(context) - len(context.lstrip())


def encode_for_explanation(tokenizer: Any, quote: QuoteInput, max_tokens: int, dyad: str | None = None) -> EncodedQuote:
    """The predictor's encoding of ``quote`` with each quote/context word's token positions and offsets.

    ``dyad``: the dyad a dyad-in-text model is asked about (it heads the second segment).
    """
    if not getattr(tokenizer, "is_fast", False):
        raise ExplanationError(f"explanations need a fast tokenizer (character offsets); got {type(tokenizer).__name__}")
    enc = encode_quotes(tokenizer, [quote], max_tokens, dyads=None if dyad is None else [dyad])
    first = quote.text.strip()
    second = with_dyad(second_segment(quote.speaker, quote.context, quote.speaker_actor), dyad)
    with_offsets = tokenizer([first], [second], truncation="longest_first", max_length=max_tokens,
                             return_offsets_mapping=True)
    if with_offsets["input_ids"][0] != enc["input_ids"][0]:  # same call, same ids; a guard against drift
        raise ExplanationError("the tokenizer's offsets do not describe the predictor's input")
    offsets = with_offsets["offset_mapping"][0]
    sequence = with_offsets.sequence_ids(0)
    text_shift, context_at, context_shift = _segment_origins(quote, dyad)

    words: list[Word] = []
    current: dict[str, Any] | None = None

    def close() -> None:
        nonlocal current
        if current is not None:
            source = quote.text if current["segment"] == "quote" else quote.context
            words.append(Word(source[current["start"]:current["end"]], current["start"], current["end"],
                              current["segment"], tuple(current["positions"])))
        current = None

    for pos, (seq, (a, b)) in enumerate(zip(sequence, offsets)):
        if seq is None or b <= a:
            close()
            continue
        if seq == 0:
            segment, start, end = "quote", a + text_shift, b + text_shift
        elif context_at is not None and a >= context_at:
            segment, start, end = "context", a - context_at + context_shift, b - context_at + context_shift
        else:  # the speaker phrase: part of the input, never a returned word
            close()
            continue
        if current is not None and current["segment"] == segment and current["end"] == start:
            current["end"] = end
            current["positions"].append(pos)
        else:
            close()
            current = {"segment": segment, "start": start, "end": end, "positions": [pos]}
    close()

    def tensor(key: str) -> torch.Tensor | None:
        return torch.tensor(enc[key], dtype=torch.long) if key in enc else None

    return EncodedQuote(tensor("input_ids"), tensor("attention_mask"), tensor("token_type_ids"),
                        tensor("quote_mask"), words)


def replacement_token(tokenizer: Any) -> int:
    """The id a hidden word's tokens become: the mask token, else pad, else 0."""
    for name in ("mask_token_id", "pad_token_id"):
        value = getattr(tokenizer, name, None)
        if value is not None:
            return int(value)
    return 0


# ------------------------------------------------------------------------- models
_GRAD_COPIES: "weakref.WeakKeyDictionary[Any, torch.nn.Module]" = weakref.WeakKeyDictionary()
_GRAD_LOCK = threading.Lock()


def gradient_model(predictor: Any) -> torch.nn.Module:
    """A model autograd can run: the predictor's own when fp32, else an fp32 copy made once and kept.

    The oneDNN layers compute through ``F.linear`` while autograd records, so
    they need no replacing; only the precision may.
    """
    model = predictor.model
    if next(model.parameters()).dtype == torch.float32:
        return model
    with _GRAD_LOCK:
        cached = _GRAD_COPIES.get(predictor)
        if cached is None:
            # The tokenizer is shared, not copied; the actor cache holds the other precision's vectors.
            cached = copy.deepcopy(model, memo={id(model.tokenizer): model.tokenizer}).float().eval()
            cached._actor_cache.clear()
            _GRAD_COPIES[predictor] = cached
        return cached


def _stance_logits_fn(predictor: Any, dyad: str, for_gradients: bool) -> Callable[..., torch.Tensor]:
    """(ids, mask, types, quote_mask) -> (B, S) stance logits for one dyad.

    Without gradients this is the predictor's own path (packed encoder when it has one), so the
    numbers are the ones a /classify answer carries.  With gradients it is the same network run
    by hand: the actors' vectors are computed first, once, because they come from the same
    encoder, and a second pass through the embedding layer inside the attributed forward would
    be taken for the input's.
    """
    if not for_gradients:
        model = predictor.model
        packed = getattr(predictor, "packed_encoder", None)

        def run(ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor | None, qmask: torch.Tensor):
            if packed is not None:
                out = model.heads(packed(ids, mask, types), mask, [dyad], qmask)
            else:
                out = model(input_ids=ids, attention_mask=mask, token_type_ids=types, quote_mask=qmask, dyads=[dyad])
            return out["stance_logits"][:, 0, :].float()

        return run

    from models.network import _encoder_inputs

    model = gradient_model(predictor)
    first, second = split_dyad(dyad)
    actors = sorted({first, second})
    pair = [(actors.index(first), actors.index(second))]
    with torch.no_grad():
        # clone(): cached vectors may be inference tensors, which autograd refuses to save.
        vectors = model.actor_vectors(actors).clone()
    takes_types = "token_type_ids" in _encoder_inputs(model.encoder)

    def run_with_grad(ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor | None, qmask: torch.Tensor):
        kwargs = {"input_ids": ids, "attention_mask": mask}
        if types is not None and takes_types:
            kwargs["token_type_ids"] = types
        hidden = model.encoder(**kwargs).last_hidden_state
        return model.stance_head(hidden, mask, vectors.to(hidden.dtype), pair)[:, 0, :].float()

    return run_with_grad


def _probability_fn(logits_fn: Callable[..., torch.Tensor], label_index: int, temperature: float):
    def probability(ids: torch.Tensor, mask: torch.Tensor, types: torch.Tensor | None, qmask: torch.Tensor):
        return torch.softmax(logits_fn(ids, mask, types, qmask) / temperature, dim=-1)[:, label_index]

    return probability


# ------------------------------------------------------------------------ methods
def _occlusion(predictor: Any, row: EncodedQuote, probability: Callable, device: torch.device) -> list[float]:
    from captum.attr import FeatureAblation

    if not row.words:
        return []
    # Feature ids: word i -> i; every other token (special, speaker) shares one extra group whose
    # attribution is ignored (it costs one more row in the batch).
    feature = torch.full_like(row.input_ids, len(row.words))
    for i, word in enumerate(row.words):
        feature[0, list(word.positions)] = i
    ids = row.input_ids.to(device)
    extra = tuple(t.to(device) if t is not None else None
                  for t in (row.attention_mask, row.token_type_ids, row.quote_mask))
    with torch.inference_mode():
        attr = FeatureAblation(probability).attribute(
            ids, baselines=replacement_token(predictor.model.tokenizer), additional_forward_args=extra,
            feature_mask=feature.to(device), perturbations_per_eval=OCCLUSION_BATCH,
        )
    attr = attr[0].float().cpu()
    return [float(attr[w.positions[0]]) for w in row.words]


def _integrated_gradients(predictor: Any, row: EncodedQuote, probability: Callable, device: torch.device,
                          model: torch.nn.Module) -> list[float]:
    from captum.attr import LayerIntegratedGradients

    if not row.words:
        return []
    ids = row.input_ids.to(device)
    baseline = ids.clone()
    for word in row.words:
        baseline[0, list(word.positions)] = replacement_token(predictor.model.tokenizer)
    extra = tuple(t.to(device) if t is not None else None
                  for t in (row.attention_mask, row.token_type_ids, row.quote_mask))
    lig = LayerIntegratedGradients(probability, model.encoder.get_input_embeddings())
    with torch.enable_grad():
        attr = lig.attribute(ids, baselines=baseline, additional_forward_args=extra, n_steps=IG_STEPS,
                             internal_batch_size=IG_BATCH)
    per_token = attr[0].sum(-1).detach().float().cpu()
    return [float(per_token[list(w.positions)].sum()) for w in row.words]


# --------------------------------------------------------------------------- entry
def explain(
    predictor: Any, quote: QuoteInput, dyad: str, label: str | None = None, method: str = DEFAULT_METHOD
) -> dict:
    """{"dyad", "label", "probability", "method", "tokens": [{"text", "start", "end", "weight", "segment"}]}.

    ``dyad`` is resolved as the predictor resolves it (validated; reported in the model's spelling);
    ``label`` defaults to the predicted label; ``probability`` is that label's calibrated probability.
    Raises :class:`SchemaError` for a bad dyad or label, :class:`ExplanationError` for an unknown method.
    """
    if method not in METHODS:
        raise ExplanationError(f"explanation method {method!r} is not one of {list(METHODS)}")
    (dyad,) = predictor.resolve_dyads([dyad])  # SchemaError naming the value
    labels = list(predictor.config.stance_labels)
    if label is not None and label not in labels:
        raise SchemaError(f"label {label!r} is not one of {labels}")
    tokenizer = predictor.model.tokenizer
    row = encode_for_explanation(tokenizer, quote, predictor.max_tokens,
                                 dyad if predictor.config.dyad_in_text else None)
    device = predictor.model.device
    temperature = float(predictor.config.temperature_for(dyad))

    logits_fn = _stance_logits_fn(predictor, dyad, for_gradients=False)
    extra = [t.to(device) if t is not None else None
             for t in (row.attention_mask, row.token_type_ids, row.quote_mask)]
    with torch.inference_mode():
        probs = torch.softmax(logits_fn(row.input_ids.to(device), *extra) / temperature, dim=-1)[0].cpu()
    label_index = int(probs.argmax()) if label is None else labels.index(label)

    if method == "occlusion":
        weights = _occlusion(predictor, row, _probability_fn(logits_fn, label_index, temperature), device)
    else:
        model = gradient_model(predictor)
        grad_fn = _probability_fn(_stance_logits_fn(predictor, dyad, for_gradients=True), label_index, temperature)
        weights = _integrated_gradients(predictor, row, grad_fn, model.device, model)

    return {
        "dyad": dyad,
        "label": labels[label_index],
        "probability": round(float(probs[label_index]), 6),
        "method": method,
        "tokens": [
            {"text": w.text, "start": w.start, "end": w.end, "weight": round(weight, 6), "segment": w.segment}
            for w, weight in zip(row.words, weights)
        ],
    }


def top_words(result: dict, k: int, segment: str = "quote") -> list[dict]:
    """The ``k`` words of ``segment`` that pushed hardest toward the label (largest weight first)."""
    words = [t for t in result["tokens"] if t["segment"] == segment]
    return sorted(words, key=lambda t: (-t["weight"], t["start"]))[:k]


__all__: Sequence[str] = (
    "DEFAULT_METHOD", "METHODS", "ExplanationError", "explain", "encode_for_explanation", "gradient_model", "top_words",
)
