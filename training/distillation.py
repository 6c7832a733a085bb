"""Soft labels from a teacher model, for training a fast student (``stance train --teacher TAG``).

The teacher (the accurate mpnet model) labels the training quotes and
unlabelled variants of them: each quote once more with its context dropped or
its speaker dropped, the inputs a student meets when a caller sends less.  The
student learns the teacher's calibrated probabilities on both (and the gold
labels where there are any), at MiniLM's cost per quote.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import random
from dataclasses import replace
from pathlib import Path
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


# /2 adds "inputs": each labelled quote's fingerprint, so labels written for other words are refused.
SOFT_LABEL_FORMAT = "stance-soft-labels/2"


def input_fingerprint(record: QuoteRecord) -> str:
    """A short hash of what the teacher read: the quote, speaker, speaker's actor and context."""
    body = json.dumps([record.text, record.speaker, record.speaker_actor, record.context], ensure_ascii=False)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


def is_soft_label_file(spec: str) -> bool:
    """A teacher named by a file of saved soft labels rather than by a stored model's tag."""
    return spec.endswith((".json", ".json.gz"))


def teacher_targets(
    teacher: str, train: Sequence[QuoteRecord], dyads: Sequence[str], unlabelled: str = "", batch_size: int = 64
) -> tuple[list[QuoteRecord], dict[str, Any]]:
    """(records to train on, {record id: {"stance": {dyad: probs}, "sentiment": probs}}) from the teacher.

    ``teacher`` is a tag, or several joined by commas: an ensemble, whose calibrated probabilities are
    averaged (two mpnet seeds averaged score 1 to 3 points above either alone; distilling the average
    gives one model that carries some of that gain).  Each member may also be a soft-label file written by
    ``write_soft_labels`` (labelled once, e.g. on a GPU machine, and trained from anywhere).  The teacher
    answers for the project dyads and each record's own labelled dyads (the student's other dyads keep
    their gold labels only).
    """
    from models.model_store import split_tags

    tags = split_tags(teacher)
    records = distillation_records(train, unlabelled)
    each = [load_soft_labels(tag, records) if is_soft_label_file(tag) else _one_teacher(tag, records, batch_size)
            for tag in tags]
    targets = average_targets(each, records)
    log.info("teacher %s labelled %d quotes (%d unlabelled variants)", "+".join(tags), len(records),
             len(records) - len(train))
    return records, targets


def distillation_records(train: Sequence[QuoteRecord], unlabelled: str = "") -> list[QuoteRecord]:
    """The training records, one context- or speaker-dropped variant of each, and any extra quotes."""
    return list(train) + unlabelled_variants(train) + (load_unlabelled(unlabelled) if unlabelled else [])


def average_targets(each: Sequence[dict[str, Any]], records: Sequence[QuoteRecord]) -> dict[str, Any]:
    mean = lambda rows: np.mean(rows, axis=0).tolist()
    return {
        r.id: {"stance": {d: mean([t[r.id]["stance"][d] for t in each]) for d in each[0][r.id]["stance"]},
               "sentiment": mean([t[r.id]["sentiment"] for t in each])}
        for r in records
    }


def predictor_targets(predictor: Any, records: Sequence[QuoteRecord]) -> dict[str, Any]:
    """One model's calibrated probabilities for the project dyads and each record's own dyads."""
    wanted = [list(dict.fromkeys([*PROJECT_DYADS, *r.labels])) for r in records]
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


def _one_teacher(teacher: str, records: Sequence[QuoteRecord], batch_size: int) -> dict[str, Any]:
    from models import model_store
    from models.predictor import Predictor

    tag, path = model_store.resolve(teacher)
    return predictor_targets(Predictor.from_directory(path, tag, batch_size=batch_size), records)


def write_soft_labels(
    path: str | Path, targets: dict[str, Any], source: dict[str, Any], records: Sequence[QuoteRecord]
) -> Path:
    """Save a teacher's soft labels (gzip JSON) with the label schema they are in, where they came from, and
    the fingerprint of each quote they label (``records``: what the teacher read)."""
    from models.label_schema import SENTIMENT_LABELS, STANCE_LABELS

    read = {r.id for r in records}
    unread = [k for k in targets if k not in read]
    if unread:
        raise ValueError(f"soft labels for {len(unread)} ids not among the records given (first: {unread[0]!r})")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"format": SOFT_LABEL_FORMAT, "stance_labels": list(STANCE_LABELS),
            "sentiment_labels": list(SENTIMENT_LABELS), "source": source, "targets": targets,
            "inputs": {r.id: input_fingerprint(r) for r in records if r.id in targets}}
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as fh:
        json.dump(body, fh)
    return path


def load_soft_labels(path: str, records: Sequence[QuoteRecord]) -> dict[str, Any]:
    """A soft-label file's targets for ``records``; every record must be in it, in today's label order."""
    from models.label_schema import SENTIMENT_LABELS, STANCE_LABELS
    from training.data import DataError

    if not Path(path).is_file():
        raise DataError(f"--teacher {path}: no such soft-label file")
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            body = json.load(fh)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable soft-label file ({exc})") from exc
    if not isinstance(body, dict) or body.get("format") != SOFT_LABEL_FORMAT:
        raise DataError(f"{path}: not a soft-label file (format {body.get('format') if isinstance(body, dict) else None!r}, "
                        f"expected {SOFT_LABEL_FORMAT!r})")
    if (body["stance_labels"], body["sentiment_labels"]) != (list(STANCE_LABELS), list(SENTIMENT_LABELS)):
        raise DataError(f"{path}: labels {body['stance_labels']} / {body['sentiment_labels']} differ from the "
                        f"schema's {list(STANCE_LABELS)} / {list(SENTIMENT_LABELS)}")
    targets = body["targets"]
    missing = [r.id for r in records if r.id not in targets]
    if missing:
        raise DataError(f"{path}: no soft labels for {len(missing)} of {len(records)} training quotes "
                        f"(first: {missing[0]!r}); label the same data and --unlabelled file")
    inputs = body.get("inputs") or {}
    changed = [r.id for r in records if inputs.get(r.id) != input_fingerprint(r)]
    if changed:
        raise DataError(f"{path}: {len(changed)} of {len(records)} training quotes differ from the words the teacher "
                        f"labelled (first: {changed[0]!r}); relabel the edited data with the teacher")
    return {r.id: targets[r.id] for r in records}
