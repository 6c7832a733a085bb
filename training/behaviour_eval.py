"""Behaviour checks on a stored model: ``stance eval-behaviour --model TAG``.

1. Unrelated quotes (sport, weather, business, greetings; ``benchmarks/data/unrelated_quotes.jsonl``
   and the corpus test split's unrelated snippets) must get ``none`` for any dyad: the project dyads,
   other trained dyads, and dyads of actors no training record ever labelled (India–Pakistan,
   Brazil–Argentina, Japan–Korea).  Target: at least 95% for each group.
2. Quotes that do speak of both actors of such an unseen dyad (``benchmarks/data/unseen_dyads.jsonl``)
   must still get a stance (not ``none``), ideally the right one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from models.input_encoding import QuoteInput

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"
UNSEEN = ("india-pakistan", "brazil-argentina", "japan-korea")
TRAINED_OTHER = ("russia-turkey", "iran-us", "china-iran", "israel-iran")  # the names the model was trained on
PROJECT = ("russia-israel", "russia-iran")


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def unrelated_quotes() -> list[QuoteInput]:
    quotes = [QuoteInput(r["text"], r.get("speaker", ""), r.get("context", "")) for r in _rows(DATA / "unrelated_quotes.jsonl")]
    test = ROOT / "training" / "data" / "corpus" / "test.jsonl"
    if test.is_file():
        for r in _rows(test):  # the targeted unrelated snippets (art-N-001..130) that fell into the test split
            num = r["id"].split("#")[0].removeprefix("art-N-")
            if r["id"].startswith("art-N-") and num.isdigit() and int(num) <= 130:
                quotes.append(QuoteInput(r["text"], r["speaker"], r["context"]))
    return quotes


def run(predictor: Any) -> dict[str, Any]:
    report: dict[str, Any] = {}
    quotes = unrelated_quotes()
    groups = {"project": PROJECT, "trained_other": TRAINED_OTHER, "unseen": UNSEEN}
    preds = predictor.predict(quotes, [d for ds in groups.values() for d in ds])
    report["unrelated"] = {"n_quotes": len(quotes)}
    for name, dyads in groups.items():
        cells = [p.stance[d].label == "none" for p in preds for d in dyads]
        report["unrelated"][f"{name}_none_share"] = round(sum(cells) / len(cells), 4)
        report["unrelated"][f"{name}_dyads"] = list(dyads)
    rows = _rows(DATA / "unseen_dyads.jsonl")
    # One dyad asked per quote; the answer is keyed by the dyad's canonical spelling, so take the only one.
    got = [next(iter(predictor.predict([QuoteInput(r["text"], r.get("speaker", ""), r.get("context", ""))],
                                       [r["dyad"]])[0].stance.values())) for r in rows]
    report["unseen_related"] = {
        "n_quotes": len(rows),
        "stance_share": round(sum(g.label != "none" for g in got) / len(rows), 4),
        "accuracy": round(sum(g.label == r["label"] for g, r in zip(got, rows)) / len(rows), 4),
        "trained": any(g.trained for g in got),
    }
    return report


def main(args: argparse.Namespace) -> int:
    from models import model_store
    from models.predictor import Predictor

    tag, path = model_store.resolve(args.model)
    report = {"model": tag, **run(Predictor.from_directory(path, tag))}
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0
