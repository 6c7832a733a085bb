"""``stance select`` and ``stance import``: the annotation loop through Label Studio.

``stance select --model TAG INPUT --n 200 --out tasks.json`` scores a file of
quotes and writes Label Studio tasks for the ones the model is least sure of,
plus a random share (``--random-share``, default 0.2) that measures the model
on ordinary quotes rather than hard ones.  Each task carries the model's
labels as a pre-annotation, and ``tasks.label_config.xml`` next to it is the
labelling interface to paste into the Label Studio project: one choice per
project dyad (and per ``--dyads``) with the four stance labels, and sentiment.

``stance import EXPORT.json --out new_records.jsonl`` reads the project's JSON
export, checks every annotation against the label schema and writes records
in the corpus format, ready for ``stance train --data``.  Tasks nobody
annotated, or whose annotations were all skipped or cancelled, are reported
and not imported; a task whose annotators disagree is reported as a conflict
(mark one annotation as ground truth in Label Studio to settle it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence
from xml.sax.saxutils import quoteattr

from models.errors import StanceError
from models.table_io import chunked, iter_rows, quote_row_problem
from models.label_schema import (
    PROJECT_DYADS,
    SENTIMENT_LABELS,
    STANCE_LABELS,
    SchemaError,
    actor_display,
    check_actor,
    check_sentiment,
    check_stance,
    dyad_key,
    split_dyad,
)

QUOTE_FIELDS = ("text", "speaker", "context", "speaker_actor")
SENTIMENT = "sentiment"
TEXT_OBJECT = "text"  # the Label Studio object every choice is attached to
WHY = ("uncertain", "random")
SELECT_CHUNK = 1024

STANCE_HINTS = {
    "cooperative": "presents the two as aligned: agreement, support, partnership, friendly talks",
    "hedging": "keeps a deliberate distance or balance: qualifies a tie, non-denial, mediation",
    "adversarial": "presents the two as opposed: criticism, warning, threat, accusation (also calm)",
    "none": "says nothing about the relationship between these two",
}
SENTIMENT_HINTS = {
    "positive": "the quote's own words praise or welcome",
    "neutral": "boilerplate, factual, or a flat statement of difference",
    "negative": "criticism, concern, warning, condemnation (even in a calm register)",
}


class AnnotationError(StanceError, ValueError):
    """A bad option, or a Label Studio export that does not fit the label schema; the message says where."""


# ================================================================== select
@dataclass(frozen=True)
class Candidate:
    number: int  # line or row of INPUT
    confidence: float  # lowest top-label probability over the heads
    entropy: float  # mean entropy over the heads, each divided by log(labels): 0 sure .. 1 uniform


def head_scores(pred: Any) -> list[dict[str, float]]:
    """Each head's label -> probability: every requested dyad, then sentiment."""
    return [s.scores for s in pred.stance.values()] + [pred.sentiment.scores]


def uncertainty(pred: Any) -> tuple[float, float]:
    """(confidence, normalised entropy) of one prediction over all its heads."""
    heads = head_scores(pred)
    confidence = min(max(scores.values()) for scores in heads)
    entropies = []
    for scores in heads:
        h = -sum(p * math.log(p) for p in scores.values() if p > 0)
        entropies.append(h / math.log(len(scores)) if len(scores) > 1 else 0.0)
    return confidence, sum(entropies) / len(entropies)


def rank_key(by: str):
    if by == "entropy":
        return lambda c: (-c.entropy, c.confidence, c.number)
    return lambda c: (c.confidence, -c.entropy, c.number)


def choose(candidates: Sequence[Candidate], n: int, random_share: float, seed: int, by: str = "confidence"
           ) -> list[tuple[int, str]]:
    """(row number, why) of the selected rows, shuffled (seeded) so annotators cannot tell the two kinds apart."""
    n = min(n, len(candidates))
    n_random = min(n, int(round(n * random_share)))
    ranked = sorted(candidates, key=rank_key(by))
    uncertain = [c.number for c in ranked[: n - n_random]]
    taken = set(uncertain)
    rng = random.Random(seed)
    rest = [c.number for c in candidates if c.number not in taken]
    randoms = sorted(rng.sample(rest, n_random)) if n_random else []
    picked = [(k, "uncertain") for k in uncertain] + [(k, "random") for k in randoms]
    rng.shuffle(picked)
    return picked


def _valid_rows(path: Path, on_error: str, quiet: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """(number, row) of every row a quote can be read from; a bad row stops the job or is skipped."""
    for item in iter_rows(path):
        number, row, error = item.number, item.data, item.error
        problem = error or quote_row_problem(row or {}, "text")
        if problem:
            if on_error == "stop":
                raise AnnotationError(f"{path} line {number}: {problem}; fix the row or re-run with --on-error skip")
            if not quiet:
                print(f"stance select: skipped {path} line {number}: {problem}", file=sys.stderr)
            continue
        yield number, row


def _quote_inputs(rows: Sequence[tuple[int, dict[str, Any]]]) -> list[Any]:
    from models.input_encoding import QuoteInput

    return [QuoteInput(r["text"], r.get("speaker") or "", r.get("context") or "", r.get("speaker_actor") or "")
            for _, r in rows]


def task_for(row: dict[str, Any], number: int, why: str, pred: Any, tag: str, input_stem: str) -> dict[str, Any]:
    """One Label Studio task: the quote, why it was picked, and the model's labels as a pre-annotation."""
    raw_id = row.get("id")
    quote_id = str(raw_id).strip() if isinstance(raw_id, (str, int)) and str(raw_id).strip() else f"{input_stem}-{number}"
    data: dict[str, Any] = {"id": quote_id}
    for name in QUOTE_FIELDS:
        data[name] = (row.get(name) or "").strip() if name != "text" else row["text"].strip()
    data["why"] = why
    confidence, _ = uncertainty(pred)
    result = [
        {"from_name": dyad, "to_name": TEXT_OBJECT, "type": "choices", "value": {"choices": [s.label]},
         "score": s.scores[s.label]}
        for dyad, s in pred.stance.items()
    ]
    result.append({"from_name": SENTIMENT, "to_name": TEXT_OBJECT, "type": "choices",
                   "value": {"choices": [pred.sentiment.label]}, "score": pred.sentiment.scores[pred.sentiment.label]})
    return {"data": data,
            "predictions": [{"model_version": tag, "score": round(confidence, 6), "result": result}]}


def label_config(dyads: Sequence[str]) -> str:
    """The Label Studio labelling interface for these tasks (paste into the project's settings)."""
    lines = [
        "<View>",
        '  <Header value="Quote" size="4"/>',
        f'  <Text name={quoteattr(TEXT_OBJECT)} value="$text"/>',
        '  <Header value="Speaker (speaks for)" size="6"/>',
        '  <Text name="speaker" value="$speaker"/>',
        '  <Text name="speaker_actor" value="$speaker_actor"/>',
        '  <Header value="Context" size="6"/>',
        '  <Text name="context" value="$context"/>',
        '  <Header value="Rules: docs/labelling.md (R1-R8, C-*, S-*). Read the quote in its context." size="6"/>',
    ]
    for dyad in dyads:
        a, b = split_dyad(dyad)
        required = "true" if dyad_key(dyad) in {dyad_key(d) for d in PROJECT_DYADS} else "false"
        lines.append(f"  <Header value={quoteattr(f'Stance {dyad}: {actor_display(a)} and {actor_display(b)}')} size=\"5\"/>")
        lines.append(f"  <Choices name={quoteattr(dyad)} toName={quoteattr(TEXT_OBJECT)} choice=\"single-radio\" "
                     f"showInline=\"true\" required=\"{required}\">")
        lines += [f"    <Choice value={quoteattr(label)} hint={quoteattr(STANCE_HINTS[label])}/>" for label in STANCE_LABELS]
        lines.append("  </Choices>")
    lines.append('  <Header value="Sentiment of the quote\'s own words" size="5"/>')
    lines.append(f"  <Choices name={quoteattr(SENTIMENT)} toName={quoteattr(TEXT_OBJECT)} choice=\"single-radio\" "
                 "showInline=\"true\" required=\"true\">")
    lines += [f"    <Choice value={quoteattr(label)} hint={quoteattr(SENTIMENT_HINTS[label])}/>" for label in SENTIMENT_LABELS]
    lines += ["  </Choices>", "</View>", ""]
    return "\n".join(lines)


def config_path_for(out: Path) -> Path:
    """``tasks.json`` -> ``tasks.label_config.xml``."""
    return out.with_name(out.stem + ".label_config.xml")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def select_tasks(predictor: Any, input_path: Path, n: int, random_share: float = 0.2,
                 dyads: Sequence[str] | None = None, seed: int = 0, by: str = "confidence",
                 on_error: str = "stop") -> tuple[list[dict[str, Any]], list[str], dict[str, Any]]:
    """(tasks, dyads labelled, summary).  Two passes over INPUT: score everything, keep only its
    (confidence, entropy); then read back and re-score just the chosen rows for their pre-annotations."""
    if n < 1:
        raise AnnotationError(f"--n must be >= 1, got {n}")
    if not 0 <= random_share <= 1:
        raise AnnotationError(f"--random-share must be in [0, 1], got {random_share}")
    if by not in ("confidence", "entropy"):
        raise AnnotationError(f"--by must be 'confidence' or 'entropy', got {by!r}")
    if on_error not in ("stop", "skip"):
        raise AnnotationError(f"--on-error must be 'stop' or 'skip', got {on_error!r}")
    if not input_path.is_file():
        raise AnnotationError(f"INPUT {input_path}: no such file")
    wanted = predictor.resolve_dyads([*PROJECT_DYADS, *(dyads or ())])

    candidates: list[Candidate] = []
    for batch in chunked(_valid_rows(input_path, on_error), SELECT_CHUNK):
        for (number, _), pred in zip(batch, predictor.predict(_quote_inputs(batch), wanted)):
            confidence, entropy = uncertainty(pred)
            candidates.append(Candidate(number, confidence, entropy))
    if not candidates:
        raise AnnotationError(f"INPUT {input_path}: no quote to select from")
    picked = choose(candidates, n, random_share, seed, by)
    why = dict(picked)
    rows = {number: row for number, row in _valid_rows(input_path, "skip", quiet=True) if number in why}
    chosen = [(number, rows[number]) for number, _ in picked]
    preds = []
    for batch in chunked(iter(chosen), SELECT_CHUNK):
        preds += predictor.predict(_quote_inputs(batch), wanted)
    tasks = [task_for(row, number, why[number], pred, predictor.model_tag, input_path.stem)
             for (number, row), pred in zip(chosen, preds)]
    ids = [t["data"]["id"] for t in tasks]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise AnnotationError(f"INPUT {input_path}: quote id {dup!r} is used by more than one selected row; "
                              "give every row a unique 'id'")
    summary = {"scored": len(candidates), "tasks": len(tasks),
               "uncertain": sum(1 for _, w in picked if w == "uncertain"),
               "random": sum(1 for _, w in picked if w == "random"), "dyads": wanted}
    return tasks, wanted, summary


def select_main(args: argparse.Namespace) -> int:
    from models import model_store
    from models.predictor import Predictor

    out = Path(args.out)
    if out.suffix.lower() != ".json":
        raise AnnotationError(f"--out {out}: Label Studio imports tasks from a .json file")
    extra = [d.strip() for d in (args.dyads or "").split(",") if d.strip()]
    for d in extra:
        split_dyad(d)
    tag, path = model_store.resolve(args.model)
    predictor = Predictor.from_directory(path, tag, device=args.device, batch_size=args.batch_size)
    tasks, dyads, summary = select_tasks(predictor, Path(args.input), args.n, args.random_share, extra, args.seed,
                                         args.by, args.on_error)
    out.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(out, json.dumps(tasks, indent=2, ensure_ascii=False) + "\n")
    config = config_path_for(out)
    _atomic_write(config, label_config(dyads))
    print(json.dumps({"model": tag, "out": str(out), "label_config": str(config), **summary}))
    return 0


# ================================================================== import
@dataclass
class ImportReport:
    records: list[dict[str, Any]]
    skipped: list[Any]  # every annotation skipped or cancelled
    unlabelled: list[Any]  # no annotation at all
    conflicts: list[Any]  # annotators disagree and none is ground truth

    def summary(self) -> dict[str, Any]:
        whys: dict[str, int] = {}
        for r in self.records:
            whys[r.get("why", "")] = whys.get(r.get("why", ""), 0) + 1
        return {"imported": len(self.records), "by_why": whys, "skipped": self.skipped,
                "unlabelled": self.unlabelled, "conflicts": self.conflicts}


def _where(task: dict[str, Any], index: int) -> str:
    tid = task.get("id", f"#{index + 1}")
    data = task.get("data") if isinstance(task.get("data"), dict) else {}
    qid = data.get("id")
    return f"task {tid}" + (f" (quote {qid!r})" if qid is not None else "")


def parse_annotation(annotation: dict[str, Any], where: str) -> tuple[tuple[tuple[str, str], ...], list[str]]:
    """((field, label) pairs sorted, problems) of one annotation's choices."""
    problems: list[str] = []
    labels: dict[str, str] = {}
    keys: dict[frozenset[str], str] = {}
    named: set[Any] = set()  # every field the annotation names, valid or not (a bad one is not also "missing")
    result = annotation.get("result")
    if not isinstance(result, list):
        return (), [f"{where}: field 'result' must be a list, got {result!r}"]
    for item in result:
        if not isinstance(item, dict):
            problems.append(f"{where}: result item must be an object, got {item!r}")
            continue
        name = item.get("from_name")
        named.add(name)
        if isinstance(name, str) and "-" in name:
            try:
                named.add(dyad_key(name))
            except SchemaError:
                pass
        if item.get("type") != "choices":
            if name == SENTIMENT or (isinstance(name, str) and "-" in name):
                problems.append(f"{where}: field {name!r} has type {item.get('type')!r}, expected 'choices'")
            continue  # another control (a comment box): not a label
        value = item.get("value") if isinstance(item.get("value"), dict) else {}
        choices = value.get("choices")
        if not isinstance(choices, list) or len(choices) != 1:
            problems.append(f"{where}: field {name!r} must have exactly one choice, got {choices!r}")
            continue
        label = choices[0]
        try:
            if name == SENTIMENT:
                check_sentiment(label, f"{where}: field 'sentiment'")
                field = SENTIMENT
            else:
                try:
                    a, b = split_dyad(name)
                except SchemaError:
                    raise SchemaError(f"{where}: field {name!r} is neither 'sentiment' nor a dyad like 'russia-iran'"
                                      ) from None
                check_stance(label, f"{where}: field {name!r}")
                key = frozenset((a, b))
                if key in keys:
                    raise SchemaError(f"{where}: field {name!r} labels dyad {keys[key]!r} a second time")
                keys[key] = name
                field = f"{a}-{b}"
            if field in labels:
                raise SchemaError(f"{where}: field {name!r} appears twice")
            labels[field] = label
        except SchemaError as exc:
            problems.append(str(exc))
    project = {dyad_key(d): d for d in PROJECT_DYADS}
    for key, dyad in project.items():
        if key not in named:
            problems.append(f"{where}: field {dyad!r} is missing (every record labels the project dyads)")
    if SENTIMENT not in named:
        problems.append(f"{where}: field 'sentiment' is missing")
    return tuple(sorted(labels.items())), problems


def _annotator(annotation: dict[str, Any]) -> str:
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        who = who.get("email") or who.get("id")
    return "" if who is None else str(who)


def import_export(tasks: Any, split: str | None = "train", source_name: str = "EXPORT") -> ImportReport:
    """Label Studio JSON export -> corpus records; every problem is collected, then raised at once."""
    from training.data import DataError, parse_record

    if not isinstance(tasks, list):
        raise AnnotationError(f"{source_name}: expected a JSON list of tasks (Label Studio's JSON export), "
                              f"got {type(tasks).__name__}")
    problems: list[str] = []
    report = ImportReport([], [], [], [])
    seen: dict[str, str] = {}
    for index, task in enumerate(tasks):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            hint = " (a JSON-MIN or CSV export? export as JSON)" if isinstance(task, dict) else ""
            problems.append(f"{source_name} item {index + 1}: not a Label Studio task with 'data'{hint}")
            continue
        where = _where(task, index)
        tid = task.get("id", index + 1)
        annotations = task.get("annotations", task.get("completions")) or []
        if not isinstance(annotations, list):
            problems.append(f"{where}: field 'annotations' must be a list, got {annotations!r}")
            continue
        if not annotations:
            report.unlabelled.append(tid)
            continue
        done = [a for a in annotations if isinstance(a, dict) and not a.get("was_cancelled")
                and not (a.get("skipped") is True)]
        if not done:
            report.skipped.append(tid)
            continue
        parsed = []
        task_problems = []
        for a in done:
            labels, errs = parse_annotation(a, f"{where} annotation {a.get('id', '?')}")
            task_problems += errs
            parsed.append((a, labels))
        if task_problems:
            problems += task_problems
            continue
        truth = [(a, lab) for a, lab in parsed if a.get("ground_truth")] or parsed
        if len({lab for _, lab in truth}) > 1:
            report.conflicts.append(tid)
            continue
        annotation, labels = truth[0]
        data = task["data"]
        label_map = dict(labels)
        obj: dict[str, Any] = {"id": data.get("id"), "text": data.get("text")}
        for name in ("speaker", "speaker_actor", "context"):
            obj[name] = data.get(name) or ""
        project = [d for d in PROJECT_DYADS if d in label_map]
        obj["labels"] = {k: label_map[k] for k in [*project, *(k for k in label_map if k not in project and k != SENTIMENT)]}
        obj["sentiment"] = label_map[SENTIMENT]
        obj["source"] = "annotation"
        if split:
            obj["split"] = split
        if data.get("why") in WHY:
            obj["why"] = data["why"]
        who = _annotator(annotation)
        if who:
            obj["annotator"] = who
        obj["label_studio_task"] = tid
        if obj["id"] is None or (isinstance(obj["id"], str) and not obj["id"].strip()):
            problems.append(f"{where}: data field 'id' is missing; the quote needs its id")
            continue
        if obj["speaker_actor"]:
            try:
                check_actor(str(obj["speaker_actor"]).lower())
            except SchemaError:
                problems.append(f"{where}: data field 'speaker_actor' {obj['speaker_actor']!r} is not a lower-case "
                                "actor name (e.g. 'russia')")
                continue
        try:
            record = parse_record(obj, where)
        except DataError as exc:
            problems.append(str(exc))
            continue
        if record.id in seen:
            problems.append(f"{where}: quote id {record.id!r} is also in {seen[record.id]}")
            continue
        seen[record.id] = where
        out = {"id": record.id, "text": record.text, "speaker": record.speaker, "speaker_actor": record.speaker_actor,
               "context": record.context, "labels": dict(record.labels), "sentiment": record.sentiment,
               "source": "annotation"}
        out.update({k: v for k, v in record.extra.items()})
        report.records.append(out)
    if problems:
        head = f"{source_name}: {len(problems)} problem(s) with the annotations; nothing was written"
        raise AnnotationError("\n".join([head, *("  " + p for p in problems[:50]),
                                         *([f"  ... and {len(problems) - 50} more"] if len(problems) > 50 else [])]))
    return report


def import_main(args: argparse.Namespace) -> int:
    export = Path(args.export)
    out = Path(args.out)
    if out.suffix.lower() != ".jsonl":
        raise AnnotationError(f"--out {out}: records are written as JSONL (name it *.jsonl)")
    try:
        tasks = json.loads(export.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AnnotationError(f"EXPORT {export}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AnnotationError(f"EXPORT {export}: not a JSON file ({exc})") from None
    split = None if args.split == "none" else args.split
    report = import_export(tasks, split, str(export))
    for name, ids in (("skipped or cancelled", report.skipped), ("not annotated", report.unlabelled),
                      ("annotators disagree (mark one ground truth)", report.conflicts)):
        if ids:
            print(f"stance import: {len(ids)} task(s) {name}, not imported: {', '.join(map(str, ids))}",
                  file=sys.stderr)
    if not report.records:
        raise AnnotationError(f"EXPORT {export}: no task has a usable annotation; nothing was written")
    out.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in report.records))
    print(json.dumps({"out": str(out), "split": split, **report.summary()}))
    return 0


# =================================================================== CLI
def register(sub: argparse._SubParsersAction) -> None:
    from models.predictor import DEFAULT_BATCH_SIZE

    sel = sub.add_parser("select", help="pick the quotes the model is least sure of (+ a random share) as Label Studio tasks",
                         description=__doc__.split("\n\n")[1])
    sel.add_argument("input", help="JSONL, CSV or Parquet file of quotes (text; speaker, context, speaker_actor, id optional)")
    sel.add_argument("--model", default=None, help="model tag (default: STANCE_MODEL_TAG, else the promoted model)")
    sel.add_argument("--n", type=int, default=200, help="number of tasks")
    sel.add_argument("--random-share", type=float, default=0.2,
                     help="share of the tasks drawn at random, for calibration (marked why=random)")
    sel.add_argument("--dyads", default="", help="comma-separated dyads labelled besides the project dyads")
    sel.add_argument("--by", default="confidence", choices=["confidence", "entropy"],
                     help="least sure = lowest top-label probability over the heads (default), or highest mean entropy")
    sel.add_argument("--seed", type=int, default=0, help="seed of the random share and of the task order")
    sel.add_argument("--on-error", default="stop", choices=["stop", "skip"], help="a malformed row: stop, or skip it")
    sel.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    sel.add_argument("--device", default="auto")
    sel.add_argument("--out", required=True, help="tasks file (.json); the labelling config is written next to it")
    sel.set_defaults(func=select_main)

    imp = sub.add_parser("import", help="turn a Label Studio JSON export into training records",
                         description=__doc__.split("\n\n")[2])
    imp.add_argument("export", help="Label Studio export (JSON format) of tasks made by 'stance select'")
    imp.add_argument("--out", required=True, help="records file (.jsonl): put it in the corpus directory, or train on it")
    imp.add_argument("--split", default="train", choices=["train", "dev", "test", "none"],
                     help="the records' split (default train: a directory's dev/test stay fixed); "
                          "none: no split field, for a file trained on alone")
    imp.set_defaults(func=import_main)
