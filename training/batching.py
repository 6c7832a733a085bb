"""Training batches: tokenised quotes, per-dyad labels, and dyads the text never mentions.

Two things happen here rather than in a fixed tensor dataset, because they
change from epoch to epoch:

- **Speaker actor dropout.** Half the time the speaker's actor ("Dmitry
  Peskov (Russia)") is left out of the input, so the model works both when
  the extractor or a caller supplies it and when only a bare name comes.
- **Absent-dyad negatives.** Each record also gets a few dyads whose two
  actors its text, speaker and context never mention, labelled ``none``.  A
  corpus labels other dyads only where a quote is about them, so without
  this a dyad outside the project dyads would never be seen answering
  ``none``, and any quote, "hi" included, would get a stance for it.

With ``dyad_in_text`` a record becomes one row per dyad it is trained on
(its labelled dyads and its negatives), each row naming its dyad in the text
and carrying that dyad's label only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Sequence

import torch

from models.input_encoding import QuoteInput, encode_quotes, pad_batch
from models.quotes.lexicon import actor_pattern
from models.label_schema import (
    ACTOR_DESCRIPTIONS,
    HELD_OUT_ACTORS,
    PROJECT_ACTORS,
    PROJECT_DYADS,
    SENTIMENT2ID,
    STANCE2ID,
    UNKNOWN_LABEL_ID,
    QuoteRecord,
    dyad_key,
    split_dyad,
)

# Actors that may stand in absent-dyad negatives: every described actor but the project's own
# (their dyads are labelled on every record) and those held out to measure unseen dyads.
NEGATIVE_ACTORS: tuple[str, ...] = tuple(
    a for a in ACTOR_DESCRIPTIONS if a not in PROJECT_ACTORS and a not in HELD_OUT_ACTORS
)


def mentioned_actors(record: QuoteRecord, actors: Sequence[str] = NEGATIVE_ACTORS) -> set[str]:
    """Actors named (by name, capital or demonym) anywhere in the record, or as its speaker's actor."""
    text = " ".join((record.text, record.speaker, record.context))
    found = {a for a in actors if actor_pattern(a).search(text)}
    for dyad in record.labels:
        found.update(split_dyad(dyad))
    if record.speaker_actor:
        found.add(record.speaker_actor)
    return found


def absent_dyads(record: QuoteRecord, rng: random.Random, k: int) -> list[str]:
    """``k`` dyads of two actors the record never mentions (sorted names, so a dyad has one spelling)."""
    mentioned = mentioned_actors(record)
    pool = [a for a in NEGATIVE_ACTORS if a not in mentioned]
    out: list[str] = []
    for _ in range(k):
        if len(pool) < 2:
            break
        a, b = sorted(rng.sample(pool, 2))
        out.append(f"{a}-{b}")
    return out


def sentiment_ids(records: Sequence[QuoteRecord]) -> torch.Tensor:
    """Each row's sentiment label id (unknown where the record has none)."""
    return torch.tensor([SENTIMENT2ID[r.sentiment] if r.sentiment else UNKNOWN_LABEL_ID for r in records],
                        dtype=torch.long)


@dataclass
class BatchingConfig:
    max_length: int
    speaker_actor_dropout: float = 0.5
    negatives_per_record: int = 1
    negative_weight: float = 0.5
    dyad_in_text: bool = False


class StanceCollator:
    """Turns a list of record indices into model inputs; the dataset holds only ``idx`` and ``length``."""

    def __init__(
        self,
        tokenizer: Any,
        records: Sequence[QuoteRecord],
        dyads: Sequence[str],
        config: BatchingConfig,
        seed: int = 0,
        soft_targets: dict[str, Any] | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.records = list(records)
        self.dyads = list(dyads)
        self.keys = {dyad_key(d): j for j, d in enumerate(self.dyads)}
        self.config = config
        self.rng = random.Random(seed)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.soft_targets = soft_targets  # distillation: record id -> teacher probabilities

    def quote_input(self, record: QuoteRecord) -> QuoteInput:
        keep_actor = self.rng.random() >= self.config.speaker_actor_dropout
        return QuoteInput(record.text, record.speaker, record.context, record.speaker_actor if keep_actor else "")

    def __call__(self, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        recs = [self.records[int(r["idx"])] for r in rows]
        if self.config.dyad_in_text:
            return self._dyad_rows(recs)
        enc = encode_quotes(self.tokenizer, [self.quote_input(r) for r in recs], self.config.max_length)
        batch: dict[str, Any] = pad_batch(enc, self.pad_id)

        negatives = [absent_dyads(r, self.rng, self.config.negatives_per_record) for r in recs]
        # Only dyads some row of the batch labels: every other cell would be masked out anyway.
        labelled = {self.keys[dyad_key(d)] for r in recs for d in r.labels if dyad_key(d) in self.keys}
        if self.soft_targets is not None:  # the teacher answers the project dyads for every row, labelled or not
            labelled |= {self.keys[dyad_key(d)] for d in PROJECT_DYADS if dyad_key(d) in self.keys}
        dyads = [d for j, d in enumerate(self.dyads) if j in labelled]
        dyads += sorted({d for row in negatives for d in row if dyad_key(d) not in {dyad_key(x) for x in dyads}})
        column = {dyad_key(d): j for j, d in enumerate(dyads)}
        labels = torch.full((len(recs), len(dyads)), UNKNOWN_LABEL_ID, dtype=torch.long)
        weights = torch.zeros((len(recs), len(dyads)))
        for i, (record, negs) in enumerate(zip(recs, negatives)):
            for dyad, stance in record.labels.items():
                j = column.get(dyad_key(dyad))
                if j is not None:
                    labels[i, j] = STANCE2ID[stance]
                    weights[i, j] = 1.0
            for dyad in negs:
                j = column[dyad_key(dyad)]
                if labels[i, j] == UNKNOWN_LABEL_ID:
                    labels[i, j] = STANCE2ID["none"]
                    weights[i, j] = self.config.negative_weight
        batch["dyads"] = dyads
        batch["stance_labels"] = labels
        batch["stance_weights"] = weights
        batch["sentiment_labels"] = sentiment_ids(recs)
        if self.soft_targets is not None:
            batch["teacher_stance"], batch["teacher_sentiment"] = self._teacher(recs, dyads)
        return batch

    def _dyad_rows(self, recs: Sequence[QuoteRecord]) -> dict[str, Any]:
        """One row per (record, trained dyad), the dyad named in the row's text and labelled in its cell only."""
        if self.soft_targets is not None:
            raise ValueError("distillation (soft targets) is not supported with dyad_in_text")
        cells: list[tuple[QuoteRecord, str, int, float]] = []
        for record in recs:
            seen: set[frozenset[str]] = set()
            for dyad, stance in record.labels.items():
                j = self.keys.get(dyad_key(dyad))
                if j is not None:
                    cells.append((record, self.dyads[j], STANCE2ID[stance], 1.0))
                    seen.add(dyad_key(dyad))
            for dyad in absent_dyads(record, self.rng, self.config.negatives_per_record):
                if dyad_key(dyad) not in seen:
                    cells.append((record, dyad, STANCE2ID["none"], self.config.negative_weight))
                    seen.add(dyad_key(dyad))
        enc = encode_quotes(self.tokenizer, [self.quote_input(r) for r, *_ in cells], self.config.max_length,
                            dyads=[d for _, d, *_ in cells])
        batch: dict[str, Any] = pad_batch(enc, self.pad_id)
        dyads = sorted({d for _, d, *_ in cells})
        column = {d: j for j, d in enumerate(dyads)}
        labels = torch.full((len(cells), len(dyads)), UNKNOWN_LABEL_ID, dtype=torch.long)
        weights = torch.zeros((len(cells), len(dyads)))
        for i, (_, dyad, label, weight) in enumerate(cells):
            labels[i, column[dyad]] = label
            weights[i, column[dyad]] = weight
        batch["dyads"] = dyads
        batch["stance_labels"] = labels
        batch["stance_weights"] = weights
        batch["sentiment_labels"] = sentiment_ids([r for r, *_ in cells])
        return batch

    def _teacher(self, recs: Sequence[QuoteRecord], dyads: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher probabilities for the batch's dyads (NaN where the teacher was not asked)."""
        assert self.soft_targets is not None
        stance = torch.full((len(recs), len(dyads), len(STANCE2ID)), float("nan"))
        sentiment = torch.full((len(recs), len(SENTIMENT2ID)), float("nan"))
        for i, r in enumerate(recs):
            target = self.soft_targets.get(r.id)
            if target is None:
                continue
            sentiment[i] = torch.as_tensor(target["sentiment"])
            for j, d in enumerate(dyads):
                probs = target["stance"].get(d)
                if probs is not None:
                    stance[i, j] = torch.as_tensor(probs)
        return stance, sentiment


def index_dataset(records: Sequence[QuoteRecord], tokenizer: Any, max_length: int):
    """A ``datasets.Dataset`` of record indices and token lengths (for length-grouped sampling)."""
    from datasets import Dataset

    enc = encode_quotes(tokenizer, [QuoteInput(r.text, r.speaker, r.context, r.speaker_actor) for r in records], max_length)
    return Dataset.from_dict({"idx": list(range(len(records))), "length": [len(x) for x in enc["input_ids"]]})
