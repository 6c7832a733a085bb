"""The one predictor that the HTTP service and the batch CLI share.

Same quote in, same numbers out, whichever way a user calls it.  Rows are
sorted by token length and padded per batch, so a batch of short quotes does
not pay for one long one; results come back in input order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from models import dyad_presence
from models.calibration import softmax
from models.input_encoding import QuoteInput, encode_quotes, pad_batch
from models.label_schema import canonical_dyad, dyad_key, split_dyad
from models.length_buckets import length_buckets
from models.network import StanceModel
from models.onednn_linear import use_onednn_linears
from models.packed_encoder import PackedBertEncoder, packable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelScores:
    label: str
    scores: dict[str, float]  # every label with its probability, highest first


@dataclass(frozen=True)
class DyadStance(LabelScores):
    trained: bool  # False: the model never saw a labelled example of this dyad


@dataclass(frozen=True)
class QuotePrediction:
    stance: dict[str, DyadStance]
    sentiment: LabelScores
    model: str


@dataclass(frozen=True)
class RawLogits:
    stance: np.ndarray  # (N, D, S), before temperature
    sentiment: np.ndarray  # (N, 3), before temperature
    dyads: list[str]


def pick_device(requested: str = "auto") -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


PRECISIONS = ("fp32", "bf16")
DEFAULT_BATCH_SIZE = 32  # measured fastest on CPU (larger batches fall out of cache)


def with_precision(model: StanceModel, precision: str) -> StanceModel:
    """fp32 as trained, or bf16 weights (about 1.8x faster on CPUs with AVX-512 BF16, same labels).

    int8 dynamic quantisation was dropped: it went through ``torch.ao.quantization``,
    which is deprecated, and its scores depended on what a quote was batched with.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "bf16":
        return model.to(torch.bfloat16)
    return model


def _ranked(labels: Sequence[str], probs: np.ndarray) -> LabelScores:
    order = np.argsort(-probs, kind="stable")
    scores = {labels[i]: round(float(probs[i]), 6) for i in order}
    return LabelScores(label=labels[int(order[0])], scores=scores)


class Predictor:
    """Wraps a loaded :class:`StanceModel` with batching, dyad resolution and calibration."""

    def __init__(
        self,
        model: StanceModel,
        model_tag: str,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_batch_tokens: int = 8192,
        min_batch: int = 8,
        max_padding: float = 0.1,
        packed_encoder: PackedBertEncoder | None = None,
        max_tokens: int = 0,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model.eval()
        self.packed_encoder = packed_encoder  # inference-only stand-in for model.encoder (same weights)
        self.model_tag = model_tag
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.min_batch = min_batch
        self.max_padding = max_padding
        self.config = model.config
        self.max_tokens = min(max_tokens, model.config.max_length) if max_tokens else model.config.max_length
        self._trained = {dyad_key(d): d for d in self.config.dyads}
        # The mention rules of models/dyad_presence.py; off only to measure the network alone.
        self.mention_rules = True

    @classmethod
    def from_directory(
        cls,
        directory: str | Path,
        model_tag: str,
        device: str = "auto",
        precision: str = "fp32",
        onednn: bool = True,
        packed_encoder: bool = True,
        **kwargs: float,
    ) -> "Predictor":
        """Load for inference, with the fast paths this model and machine allow.

        ``packed_encoder``: a plain BERT encoder runs on packed tokens (no padding in its
        matrix products; see :mod:`models.packed_encoder`).  ``onednn``: fp32/bf16
        Linear layers on CPU go through oneDNN.  Both off gives the stock
        transformers forward, which the bench measures as a baseline.
        """
        model = with_precision(StanceModel.from_pretrained(directory, device=pick_device(device)), precision)
        packed = None
        if packed_encoder and packable(model.encoder):
            packed = PackedBertEncoder(model.encoder).eval()
        if onednn:  # swaps only CPU fp32/bf16 nn.Linear layers; GPU models are left as they are
            # One pass over both: the packed encoder shares the model's layers, and stays sharing them.
            both = torch.nn.ModuleList([m for m in (model, packed) if m is not None])
            log.info("oneDNN kernels for %d linear layers", use_onednn_linears(both))
        return cls(model, model_tag, packed_encoder=packed, **kwargs)

    # ---------------------------------------------------------------- dyads
    def resolve_dyads(self, dyads: Iterable[str] | None) -> list[str]:
        """Requested dyad names (validated, de-duplicated) in the spelling the model knows."""
        if dyads is None:
            return list(self.config.default_dyads)
        out: list[str] = []
        for name in dyads:
            split_dyad(name)  # raises SchemaError naming the value
            spelled = canonical_dyad(name, self.config.dyads)
            if spelled not in out:
                out.append(spelled)
        return out

    def is_trained(self, dyad: str) -> bool:
        return dyad_key(dyad) in self._trained

    # -------------------------------------------------------------- running
    def _batches(self, lengths: Sequence[int]) -> list[list[int]]:
        """Length-sorted batches that waste little on padding.

        A batch closes when it is full, would pass ``max_batch_tokens``, or (once
        it holds ``min_batch`` rows) when the next, longer row would make more
        than ``max_padding`` of its tokens padding.  A long sorted file is cut by
        size alone; a server batch of 32 random quotes is cut into a few tight
        buckets instead of being padded to its longest quote.
        """
        # A packed encoder pays for padding only in attention, which it buckets itself.
        max_padding = 1.0 if self.packed_encoder is not None else self.max_padding
        return length_buckets(lengths, max_padding, self.min_batch, self.batch_size, self.max_batch_tokens)

    @torch.inference_mode()
    def logits(
        self, quotes: Sequence[QuoteInput], dyads: Sequence[str], needed: np.ndarray | None = None
    ) -> RawLogits:
        """Uncalibrated logits, in input order; evaluation and calibration read these.

        ``needed`` (N, D bool): the cells the caller will read.  A one-pass model computes every cell
        anyway; a dyad-in-text model runs each dyad's pass on the quotes that need it only (an eval set
        labels a few of its forty dyads per quote), leaving the other cells zero.  Its sentiment comes from
        the pass under its first default dyad, so a quote's sentiment does not depend on the dyads asked.
        """
        dyads = list(dyads)
        n = len(quotes)
        n_stance = len(self.config.stance_labels)
        stance = np.zeros((n, len(dyads), n_stance), dtype=np.float32)
        sentiment = np.zeros((n, len(self.config.sentiment_labels)), dtype=np.float32)
        if n == 0:
            return RawLogits(stance, sentiment, dyads)
        if needed is not None and np.shape(needed) != (n, len(dyads)):
            raise ValueError(f"needed has shape {np.shape(needed)}, expected {(n, len(dyads))}")
        if not self.config.dyad_in_text:
            wanted = dyads if dyads else self.config.dyads[:1]
            stance_out, sentiment = self._run(encode_quotes(self.model.tokenizer, quotes, self.max_tokens), wanted)
            if dyads:
                stance = stance_out
            return RawLogits(stance, sentiment, dyads)
        sentiment_dyad = (self.config.default_dyads or self.config.dyads)[0]
        passes = dyads if sentiment_dyad in dyads else [*dyads, sentiment_dyad]
        for j, dyad in enumerate(passes):
            if dyad == sentiment_dyad or needed is None:
                rows = list(range(n))
            else:
                rows = [int(i) for i in np.flatnonzero(needed[:, j])]
            if not rows:
                continue
            enc = encode_quotes(self.model.tokenizer, [quotes[i] for i in rows], self.max_tokens, dyads=[dyad] * len(rows))
            stance_out, sentiment_out = self._run(enc, [dyad])
            if j < len(dyads):
                stance[rows, j] = stance_out[:, 0]
            if dyad == sentiment_dyad:
                sentiment = sentiment_out
        return RawLogits(stance, sentiment, dyads)

    def _run(self, enc: dict[str, list[list[int]]], wanted: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(N, D, S) stance and (N, C) sentiment logits for encoded rows, batched by length, in input order."""
        n = len(enc["input_ids"])
        stance = np.zeros((n, len(wanted), len(self.config.stance_labels)), dtype=np.float32)
        sentiment = np.zeros((n, len(self.config.sentiment_labels)), dtype=np.float32)
        lengths = [len(ids) for ids in enc["input_ids"]]
        device = self.model.device
        pad_id = self.model.tokenizer.pad_token_id if self.model.tokenizer.pad_token_id is not None else 0
        for batch in self._batches(lengths):
            rows = {key: [enc[key][i] for i in batch] for key in enc}
            tensors = {k: v.to(device) for k, v in pad_batch(rows, pad_id).items()}
            ids, mask, quote_mask = tensors["input_ids"], tensors["attention_mask"], tensors["quote_mask"]
            types = tensors.get("token_type_ids")
            if self.packed_encoder is not None:
                out = self.model.heads(self.packed_encoder(ids, mask, types), mask, list(wanted), quote_mask)
            else:
                out = self.model(input_ids=ids, attention_mask=mask, token_type_ids=types, quote_mask=quote_mask,
                                 dyads=list(wanted))
            stance[batch] = out["stance_logits"].float().cpu().numpy()
            sentiment[batch] = out["sentiment_logits"].float().cpu().numpy()
        return stance, sentiment

    def predict(
        self,
        quotes: Sequence[QuoteInput],
        dyads: Iterable[str] | None = None,
        per_quote_dyads: Sequence[Sequence[str] | None] | None = None,
    ) -> list[QuotePrediction]:
        """Calibrated labels and scores for each quote, for the requested dyads.

        ``per_quote_dyads`` lets one batch carry quotes that asked for different
        dyads (the HTTP batcher merges requests): the union is scored once.
        """
        if per_quote_dyads is None:
            wanted = [self.resolve_dyads(dyads)] * len(quotes)
        else:
            if len(per_quote_dyads) != len(quotes):
                raise ValueError(
                    f"per_quote_dyads has {len(per_quote_dyads)} entries for {len(quotes)} quotes"
                )
            wanted = [self.resolve_dyads(d) for d in per_quote_dyads]
        union: list[str] = []
        for names in wanted:
            for name in names:
                if name not in union:
                    union.append(name)
        column = {name: j for j, name in enumerate(union)}
        needed = None  # a one-pass model computes every cell anyway
        if self.config.dyad_in_text:
            needed = np.zeros((len(quotes), len(union)), dtype=bool)
            for i, names in enumerate(wanted):
                needed[i, [column[name] for name in names]] = True
        raw = self.logits(quotes, union, needed)
        stance_probs = raw.stance
        if union:
            temperatures = np.array([self.config.temperature_for(d) for d in union])[None, :, None]
            stance_probs = softmax(raw.stance / temperatures)
        sentiment_probs = softmax(raw.sentiment, self.config.sentiment_temperature)
        stance_labels = self.config.stance_labels
        results: list[QuotePrediction] = []
        for i, names in enumerate(wanted):
            stance = {}
            for name in names:
                probs = stance_probs[i, column[name]]
                if self.mention_rules:
                    probs = dyad_presence.adjust(probs, stance_labels, split_dyad(name), self.is_trained(name), quotes[i])
                ranked = _ranked(stance_labels, probs)
                stance[name] = DyadStance(ranked.label, ranked.scores, self.is_trained(name))
            results.append(
                QuotePrediction(
                    stance=stance,
                    sentiment=_ranked(self.config.sentiment_labels, sentiment_probs[i]),
                    model=self.model_tag,
                )
            )
        return results
