"""Evaluation: per-dyad and sentiment metrics, calibration error, one printable report.

An evaluator is a callable ``(predictor) -> dict``; the trainer's report, the
model card and ``stance eval`` all use the same one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from models.calibration import expected_calibration_error, softmax
from models.input_encoding import QuoteInput
from models.label_schema import SENTIMENT2ID, STANCE2ID, QuoteRecord, dyad_key
from models.predictor import Predictor, RawLogits


def label_metrics(gold: Sequence[int], pred: Sequence[int], labels: Sequence[str]) -> dict[str, Any]:
    """Macro-F1 over the labels that occur (gold or predicted), per-label P/R/F1, confusion."""
    gold = np.asarray(gold, dtype=int)
    pred = np.asarray(pred, dtype=int)
    present = sorted(set(gold.tolist()) | set(pred.tolist()))
    p, r, f, s = precision_recall_fscore_support(
        gold, pred, labels=list(range(len(labels))), zero_division=0
    )
    per_label = {
        labels[i]: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
        for i in range(len(labels))
    }
    macro = float(np.mean([f[i] for i in present])) if present else 0.0
    return {
        "n": int(len(gold)),
        "macro_f1": macro,
        "accuracy": float((gold == pred).mean()) if len(gold) else 0.0,
        "per_label": per_label,
        "confusion": {
            "labels": list(labels),
            "matrix": confusion_matrix(gold, pred, labels=list(range(len(labels)))).tolist(),
        },
    }


@dataclass
class Gold:
    stance: dict[str, np.ndarray]  # dyad -> (N,) label ids, -1 where unknown
    sentiment: np.ndarray  # (N,), -1 where unknown


def gold_labels(records: Sequence[QuoteRecord], dyads: Sequence[str]) -> Gold:
    stance = {}
    for dyad in dyads:
        key = dyad_key(dyad)
        ids = []
        for r in records:
            value = next((v for d, v in r.labels.items() if dyad_key(d) == key), None)
            ids.append(STANCE2ID[value] if value else -1)
        stance[dyad] = np.asarray(ids, dtype=int)
    sentiment = np.asarray([SENTIMENT2ID[r.sentiment] if r.sentiment else -1 for r in records], dtype=int)
    return Gold(stance, sentiment)


def score_logits(
    predictor: Predictor, records: Sequence[QuoteRecord], dyads: Sequence[str] | None = None
) -> tuple[RawLogits, Gold]:
    """Raw logits for every dyad labelled in ``records`` (or the given ones), plus gold ids."""
    if dyads is None:
        found: list[str] = []
        for r in records:
            for d in r.labels:
                spelled = predictor.resolve_dyads([d])[0]
                if spelled not in found:
                    found.append(spelled)
        dyads = found
    quotes = [QuoteInput(r.text, r.speaker, r.context, r.speaker_actor) for r in records]
    gold = gold_labels(records, dyads)
    # Only labelled cells are read: a dyad-in-text model runs each dyad on the quotes that label it.
    needed = np.stack([gold.stance[d] >= 0 for d in dyads], axis=1) if dyads else None
    raw = predictor.logits(quotes, dyads, needed)
    return raw, gold


def stance_pairs(raw: RawLogits, gold: Gold) -> tuple[np.ndarray, np.ndarray]:
    """All (logits, label) pairs over known (record, dyad) cells: what calibration fits on."""
    logits, labels = [], []
    for j, dyad in enumerate(raw.dyads):
        known = gold.stance[dyad] >= 0
        logits.append(raw.stance[known, j])
        labels.append(gold.stance[dyad][known])
    if not logits:
        return np.zeros((0, 4)), np.zeros((0,), dtype=int)
    return np.concatenate(logits), np.concatenate(labels)


def _calibrated_stance(raw: RawLogits, gold: Gold, cfg: Any) -> np.ndarray:
    """Calibrated probabilities of all known (record, dyad) cells, in :func:`stance_pairs` order."""
    parts = [softmax(raw.stance[gold.stance[d] >= 0, j], cfg.temperature_for(d)) for j, d in enumerate(raw.dyads)]
    return np.concatenate(parts) if parts else np.zeros((0, 4))


def evaluate(
    predictor: Predictor, records: Sequence[QuoteRecord], dyads: Sequence[str] | None = None
) -> dict[str, Any]:
    """The full report for one labelled set."""
    cfg = predictor.config
    raw, gold = score_logits(predictor, records, dyads)
    report: dict[str, Any] = {"n_quotes": len(records), "dyads": {}}
    for j, dyad in enumerate(raw.dyads):
        known = gold.stance[dyad] >= 0
        if not known.any():
            continue
        pred = raw.stance[known, j].argmax(-1)
        metrics = label_metrics(gold.stance[dyad][known], pred, cfg.stance_labels)
        metrics["trained"] = predictor.is_trained(dyad)
        probs = softmax(raw.stance[known, j], cfg.temperature_for(dyad))
        metrics["ece"] = expected_calibration_error(probs, gold.stance[dyad][known])
        metrics["ece_raw"] = expected_calibration_error(softmax(raw.stance[known, j]), gold.stance[dyad][known])
        report["dyads"][dyad] = metrics
    known_s = gold.sentiment >= 0
    if known_s.any():
        report["sentiment"] = label_metrics(
            gold.sentiment[known_s], raw.sentiment[known_s].argmax(-1), cfg.sentiment_labels
        )
    s_logits, s_labels = stance_pairs(raw, gold)
    report["calibration"] = {
        "stance_temperature": cfg.stance_temperature,
        "sentiment_temperature": cfg.sentiment_temperature,
        "stance_ece_raw": expected_calibration_error(softmax(s_logits), s_labels),
        "stance_ece": expected_calibration_error(_calibrated_stance(raw, gold, cfg), s_labels),
        "sentiment_ece_raw": expected_calibration_error(
            softmax(raw.sentiment[known_s]), gold.sentiment[known_s]
        ),
        "sentiment_ece": expected_calibration_error(
            softmax(raw.sentiment[known_s], cfg.sentiment_temperature), gold.sentiment[known_s]
        ),
    }
    return report


def format_report(reports: dict[str, dict[str, Any]]) -> str:
    """One table line per (set, dyad) and per set for sentiment, then the details."""
    lines = [f"{'set':<14}{'target':<22}{'n':>6}{'macro-F1':>10}{'acc':>8}{'ECE':>7}  trained"]
    for name, rep in reports.items():
        for dyad, m in rep.get("dyads", {}).items():
            lines.append(
                f"{name:<14}{dyad:<22}{m['n']:>6}{m['macro_f1']:>10.3f}{m['accuracy']:>8.3f}{m.get('ece', float('nan')):>7.3f}  "
                f"{'yes' if m.get('trained', True) else 'NO (unseen dyad)'}"
            )
        if "sentiment" in rep:
            m = rep["sentiment"]
            lines.append(f"{name:<14}{'sentiment':<22}{m['n']:>6}{m['macro_f1']:>10.3f}{m['accuracy']:>8.3f}")
    lines.append("")
    lines.append(f"{'set':<14}{'ECE stance raw→cal':>22}{'ECE sentiment raw→cal':>26}")
    for name, rep in reports.items():
        c = rep.get("calibration")
        if c:
            lines.append(
                f"{name:<14}{c['stance_ece_raw']:>12.3f} → {c['stance_ece']:.3f}"
                f"{c['sentiment_ece_raw']:>16.3f} → {c['sentiment_ece']:.3f}"
            )
    for name, rep in reports.items():
        for target, m in list(rep.get("dyads", {}).items()) + (
            [("sentiment", rep["sentiment"])] if "sentiment" in rep else []
        ):
            if m["n"] < 1:
                continue
            lines.append("")
            lines.append(f"[{name}] {target}: per-label precision / recall / F1 (support)")
            for label, pl in m["per_label"].items():
                lines.append(
                    f"  {label:<12}{pl['precision']:>7.3f}{pl['recall']:>8.3f}{pl['f1']:>8.3f}  ({pl['support']})"
                )
            labels = m["confusion"]["labels"]
            lines.append("  confusion (rows gold, cols predicted): " + " ".join(f"{l[:5]:>6}" for l in labels))
            for label, row in zip(labels, m["confusion"]["matrix"]):
                lines.append(f"  {label[:12]:<12}" + "".join(f"{v:>7}" for v in row))
    return "\n".join(lines)


def scored_sets(reports: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The per-set evaluation reports among a run's reports (not its minutes or weight choice)."""
    return {k: v for k, v in reports.items() if isinstance(v, dict) and "dyads" in v}


def headline_metrics(reports: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Flat floats for the model store's metadata (which wants simple values)."""
    flat: dict[str, float] = {}
    for name, rep in reports.items():
        for dyad, m in rep.get("dyads", {}).items():
            flat[f"{name}/{dyad}/macro_f1"] = round(m["macro_f1"], 4)
        if "sentiment" in rep:
            flat[f"{name}/sentiment/macro_f1"] = round(rep["sentiment"]["macro_f1"], 4)
        for dyad, m in rep.get("dyads", {}).items():
            if "ece" in m and dyad in ("russia-israel", "russia-iran"):
                flat[f"{name}/{dyad}/ece"] = round(m["ece"], 4)
        if "calibration" in rep:
            flat[f"{name}/sentiment_ece"] = round(rep["calibration"]["sentiment_ece"], 4)
            flat[f"{name}/stance_ece"] = round(rep["calibration"]["stance_ece"], 4)
            flat[f"{name}/stance_ece_raw"] = round(rep["calibration"]["stance_ece_raw"], 4)
    return flat
