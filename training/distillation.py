"""Soft labels from a teacher model, for training a fast student (``stance train --teacher TAG``).

The teacher (the accurate mpnet model) labels the training quotes and
unlabelled variants of them: each quote once more with its context dropped or
its speaker dropped, the inputs a student meets when a caller sends less.  The
student learns the teacher's calibrated probabilities on both (and the gold
labels where there are any), at MiniLM's cost per quote.
"""

from __future__ import annotations

import logging
import random
from dataclasses import replace
from typing import Any, Sequence

import numpy as np

from models.input_encoding import QuoteInput
from models.label_schema import PROJECT_DYADS, QuoteRecord

log = logging.getLogger(__name__)


def unlabelled_variants(records: Sequence[QuoteRecord], seed: int = 0) -> list[QuoteRecord]:
    """One variant per record, context or speaker dropped, with no gold labels (the teacher provides them)."""
    rng = random.Random(seed)
    out = []
    for r in records:
        if r.context and (not r.speaker or rng.random() < 0.5):
            out.append(replace(r, id=f"{r.id}~no-context", context="", labels={}, sentiment=""))
        elif r.speaker:
            out.append(replace(r, id=f"{r.id}~no-speaker", speaker="", speaker_actor="", labels={}, sentiment=""))
    return out


def load_unlabelled(path: str) -> list[QuoteRecord]:
    """Extra unlabelled quotes (JSONL/CSV/Parquet with text, speaker?, context?, speaker_actor?)."""
    from models.table_io import iter_rows

    out = []
    for row in iter_rows(path):
        if row.data is None or not str(row.data.get("text") or "").strip():
            continue
        d = row.data
        out.append(QuoteRecord(id=f"unlabelled-{row.number}", text=str(d["text"]), labels={}, sentiment="",
                               speaker=str(d.get("speaker") or ""), context=str(d.get("context") or ""),
                               speaker_actor=str(d.get("speaker_actor") or "")))
    return out


def teacher_targets(
    teacher: str, train: Sequence[QuoteRecord], dyads: Sequence[str], unlabelled: str = "", batch_size: int = 64
) -> tuple[list[QuoteRecord], dict[str, Any]]:
    """(records to train on, {record id: {"stance": {dyad: probs}, "sentiment": probs}}) from the teacher.

    ``teacher`` is a tag, or several joined by commas: an ensemble, whose calibrated probabilities are
    averaged (two mpnet seeds averaged score 1 to 3 points above either alone; distilling the average
    gives one model that carries some of that gain).  The teacher answers for the project dyads and each
    record's own labelled dyads (the student's other dyads keep their gold labels only).
    """
    from models.model_store import split_tags

    tags = split_tags(teacher)
    extra = unlabelled_variants(train) + (load_unlabelled(unlabelled) if unlabelled else [])
    records = list(train) + extra
    wanted = [list(dict.fromkeys([*PROJECT_DYADS, *r.labels])) for r in records]
    each = [_one_teacher(tag, records, wanted, batch_size) for tag in tags]
    mean = lambda rows: np.mean(rows, axis=0).tolist()
    targets = {
        r.id: {"stance": {d: mean([t[r.id]["stance"][d] for t in each]) for d in each[0][r.id]["stance"]},
               "sentiment": mean([t[r.id]["sentiment"] for t in each])}
        for r in records
    }
    log.info("teacher %s labelled %d quotes (%d unlabelled variants)", "+".join(tags), len(records), len(extra))
    return records, targets


def _one_teacher(teacher: str, records: Sequence[QuoteRecord], wanted: list[list[str]],
                 batch_size: int) -> dict[str, Any]:
    from models import model_store
    from models.predictor import Predictor

    tag, path = model_store.resolve(teacher)
    predictor = Predictor.from_directory(path, tag, batch_size=batch_size)
    preds = predictor.predict(
        [QuoteInput(r.text, r.speaker, r.context, r.speaker_actor) for r in records], per_quote_dyads=wanted
    )
    labels = predictor.config.stance_labels
    return {
        r.id: {
            "stance": {d: [s.scores[label] for label in labels] for d, s in p.stance.items()},
            "sentiment": [p.sentiment.scores[label] for label in predictor.config.sentiment_labels],
        }
        for r, p in zip(records, preds)
    }
