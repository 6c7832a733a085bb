"""``stance audit``: find training labels a blind reader and the model both reject.

A 4-epoch mpnet still disagrees with about 8% of the *training* stance cells it
has read four times; some of those are the model's errors, some the corpus's.
Neither the model nor the corpus is trusted alone:

``stance audit queue --model TAG --data train.jsonl --out DIR`` scores the
records, keeps every one where the model's label differs from the corpus on a
project dyad or sentiment, mixes in a share of records it agrees with
(``--control_share``) so the reader cannot tell flagged from ordinary, and
writes ``DIR/queue-K.jsonl`` (quote, speaker, speaker's actor, context: no
labels) for ``--shards`` readers, plus ``DIR/flags.jsonl`` (what the model said,
for the verdicts; readers never open it).

A reader labels every queued record by the guidelines, blind, into
``DIR/reader-K.jsonl`` (``{"id", "labels": {dyad: label}, "sentiment"}``).

``stance audit verdicts --dir DIR`` changes a corpus label only where the
reader and the model agree against it (two readings of three), writes those in
the second reading's adjudication format to ``DIR/verdicts.jsonl`` (the corpus
builder applies them) and prints how often the reader sided with the corpus
on controls and on flagged cells.  Run it on the training split only: dev and
test labels are never changed by what a model says.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from models.calibration import softmax
from models.errors import StanceError
from models.label_schema import (
    PROJECT_DYADS,
    SENTIMENT_LABELS,
    STANCE_LABELS,
    SchemaError,
    check_sentiment,
    check_stance,
)

HEADS = (*PROJECT_DYADS, "sentiment")
RULE = "AUDIT"
BLIND_FIELDS = ("id", "text", "speaker", "speaker_actor", "context")


class AuditError(StanceError, ValueError):
    """A queue or reader file that does not fit; the message names the file, line and field."""


@dataclass(frozen=True)
class Flag:
    """One cell where the model's label differs from the corpus's."""

    id: str
    head: str
    corpus: str
    model: str
    probability: float  # the model's calibrated probability of its own label

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "head": self.head, "corpus": self.corpus, "model": self.model,
                "probability": round(self.probability, 4)}


def flags_from(records: Sequence[dict[str, Any]], stance_probs: np.ndarray, sentiment_probs: np.ndarray
               ) -> list[Flag]:
    """Cells where the arg-max disagrees with the record; ``stance_probs`` is (N, project dyads, labels)."""
    out = []
    for k, r in enumerate(records):
        for j, dyad in enumerate(PROJECT_DYADS):
            gold = r["labels"].get(dyad)
            pred = STANCE_LABELS[int(stance_probs[k, j].argmax())]
            if gold is not None and pred != gold:
                out.append(Flag(r["id"], dyad, gold, pred, float(stance_probs[k, j].max())))
        if r.get("sentiment"):
            pred = SENTIMENT_LABELS[int(sentiment_probs[k].argmax())]
            if pred != r["sentiment"]:
                out.append(Flag(r["id"], "sentiment", r["sentiment"], pred, float(sentiment_probs[k].max())))
    return out


def queue_rows(records: Sequence[dict[str, Any]], flagged: set[str], control_share: float, seed: int
               ) -> tuple[list[dict[str, Any]], list[str]]:
    """Flagged records plus ``control_share`` of the queue drawn from the rest, shuffled; and the control ids."""
    if not 0 <= control_share < 1:
        raise AuditError(f"--control_share must be in [0, 1), got {control_share}")
    rng = random.Random(seed)
    rest = [r for r in records if r["id"] not in flagged]
    n_controls = min(len(rest), round(len(flagged) * control_share / (1 - control_share)))
    controls = rng.sample(rest, n_controls)
    rows = [r for r in records if r["id"] in flagged] + controls
    rng.shuffle(rows)
    blind = [{f: r.get(f, "") for f in BLIND_FIELDS} for r in rows]
    return blind, sorted(r["id"] for r in controls)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise AuditError(f"{path}:{n}: not JSON ({e.msg})") from None
    return rows


def read_readings(paths: Sequence[Path]) -> dict[str, dict[str, str]]:
    """id -> head -> the reader's label, checked against the label schema."""
    out: dict[str, dict[str, str]] = {}
    for path in paths:
        for n, row in enumerate(_read_jsonl(path), 1):
            where = f"{path}:{n}"
            if not isinstance(row.get("id"), str):
                raise AuditError(f"{where}: field 'id' must be a string, got {row.get('id')!r}")
            labels = row.get("labels") or {}
            cell = {}
            for dyad in PROJECT_DYADS:
                try:
                    cell[dyad] = check_stance(labels.get(dyad), f"{where} labels.{dyad}")
                except SchemaError as e:
                    raise AuditError(str(e)) from None
            try:
                cell["sentiment"] = check_sentiment(row.get("sentiment"), f"{where} sentiment")
            except SchemaError as e:
                raise AuditError(str(e)) from None
            out[row["id"]] = cell
    return out


@dataclass
class AuditSummary:
    controls_read: int
    control_cells_agree: dict[str, float]  # head -> reader == corpus on controls
    flagged_read: int
    sided: dict[str, Counter]  # head -> Counter(corpus | model | other)
    changed: int


def verdicts(flags: Sequence[dict[str, Any]], controls: Sequence[str], corpus: dict[str, dict[str, str]],
             readings: dict[str, dict[str, str]], reader_name: str) -> tuple[list[dict[str, Any]], AuditSummary]:
    """Adjudications (second-reading format) for flagged cells where reader and model agree against the corpus."""
    out = []
    sided: dict[str, Counter] = {h: Counter() for h in HEADS}
    for f in flags:
        reading = readings.get(f["id"])
        if reading is None:
            continue
        said = reading[f["head"]]
        side = "corpus" if said == f["corpus"] else "model" if said == f["model"] else "other"
        sided[f["head"]][side] += 1
        if side == "model":
            out.append({"id": f["id"], "head": f["head"], "corpus": f["corpus"], "second_reader": said,
                        "final": said, "rule": RULE,
                        "note": f"blind reader ({reader_name}) and model agree against the corpus "
                                f"(model p={f['probability']:.2f})",
                        "applied": True})
    read_controls = [c for c in controls if c in readings]
    agree = {h: (float(np.mean([readings[c][h] == corpus[c][h] for c in read_controls])) if read_controls else 0.0)
             for h in HEADS}
    flagged_read = len({f["id"] for f in flags if f["id"] in readings})
    return out, AuditSummary(len(read_controls), agree, flagged_read, sided, len(out))


def corpus_labels(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {r["id"]: {**{d: r["labels"][d] for d in PROJECT_DYADS}, "sentiment": r["sentiment"]} for r in records}


# ================================================================== CLI
def queue_main(args: argparse.Namespace) -> int:
    from models import model_store
    from models.predictor import Predictor
    from training import data as data_mod
    from training.evaluation import score_logits

    out = Path(args.out)
    if args.shards < 1:
        raise AuditError(f"--shards must be at least 1, got {args.shards}")
    if not Path(args.data).is_file():
        raise AuditError(f"--data {args.data}: not a file (give one labelled JSONL file, e.g. the training split)")
    loaded = data_mod.load_records(args.data)  # validates every record before the model is loaded
    rows = [{"id": r.id, "text": r.text, "speaker": r.speaker, "speaker_actor": r.speaker_actor,
             "context": r.context, "labels": dict(r.labels), "sentiment": r.sentiment} for r in loaded]
    tag, path = model_store.resolve(args.model)
    predictor = Predictor.from_directory(path, tag)
    records = data_mod.normalise_dyad_names(loaded, list(predictor.config.dyads))
    raw, _ = score_logits(predictor, records, list(PROJECT_DYADS))
    cfg = predictor.config
    stance = np.stack([softmax(raw.stance[:, j], cfg.temperature_for(d)) for j, d in enumerate(PROJECT_DYADS)], 1)
    sentiment = softmax(raw.sentiment, cfg.sentiment_temperature)
    flags = flags_from(rows, stance, sentiment)
    blind, controls = queue_rows(rows, {f.id for f in flags}, args.control_share, args.seed)
    out.mkdir(parents=True, exist_ok=True)
    for k in range(args.shards):
        part = blind[k :: args.shards]
        (out / f"queue-{k + 1}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in part), encoding="utf-8")
    meta = {"model": tag, "data": str(args.data), "controls": controls, "seed": args.seed,
            "flags": [f.as_json() for f in flags]}
    (out / "flags.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    per_head = Counter(f.head for f in flags)
    print(f"{len(rows)} records; {len({f.id for f in flags})} flagged ({dict(per_head)} cells), "
          f"{len(controls)} controls; {args.shards} queue files in {out}")
    return 0


def verdicts_main(args: argparse.Namespace) -> int:
    folder = Path(args.dir)
    meta = json.loads((folder / "flags.json").read_text(encoding="utf-8"))
    records = _read_jsonl(Path(meta["data"]))
    readers = sorted(folder.glob("reader-*.jsonl"))
    if not readers:
        raise AuditError(f"no reader-*.jsonl files in {folder}")
    readings = read_readings(readers)
    unknown = sorted(set(readings) - {r["id"] for r in records})
    if unknown:
        raise AuditError(f"reader files name ids not in {meta['data']}: {unknown[:3]}")
    found, summary = verdicts(meta["flags"], meta["controls"], corpus_labels(records), readings, args.reader)
    (folder / "verdicts.jsonl").write_text(
        "".join(json.dumps(v, ensure_ascii=False) + "\n" for v in found), encoding="utf-8")
    print(f"controls read: {summary.controls_read}; reader agrees with the corpus on them: "
          + ", ".join(f"{h} {v:.1%}" for h, v in summary.control_cells_agree.items()))
    print(f"flagged records read: {summary.flagged_read}")
    for head, c in summary.sided.items():
        total = sum(c.values())
        if total:
            print(f"  {head}: {total} flagged cells; reader sides with corpus {c['corpus']}, "
                  f"model {c['model']}, neither {c['other']}")
    print(f"{summary.changed} labels changed -> {folder / 'verdicts.jsonl'}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    audit = sub.add_parser("audit", help="blind re-reading of the training labels a model disagrees with")
    verbs = audit.add_subparsers(dest="audit_command", required=True)
    q = verbs.add_parser("queue", help="score a labelled file and write blind reading queues")
    q.add_argument("--model", default=None, help="model tag (default: the promoted model)")
    q.add_argument("--data", required=True, help="labelled JSONL (the training split)")
    q.add_argument("--out", required=True, help="folder for queue-K.jsonl and flags.json")
    q.add_argument("--shards", type=int, default=1, help="number of queue files (one per reader)")
    q.add_argument("--control_share", type=float, default=0.12, help="share of the queue the model agrees with")
    q.add_argument("--seed", type=int, default=13)
    q.set_defaults(func=queue_main)
    v = verbs.add_parser("verdicts", help="labels the reader and the model both reject -> verdicts.jsonl")
    v.add_argument("--dir", required=True, help="the queue folder holding reader-K.jsonl")
    v.add_argument("--reader", default="second reader", help="who read, for the verdict notes")
    v.set_defaults(func=verdicts_main)
