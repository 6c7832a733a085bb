"""The experiment table: one row per training trial, appended by ``stance train --experiment_log``.

``python -m training.experiments FILE`` prints the table as Markdown (the
README's recipe table is this output).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from models.label_schema import PROJECT_DYADS

COLUMNS = ("backbone", "epochs", "max_steps", "learning_rate", "head_learning_rate", "layer_decay", "warmup_ratio",
           "max_length", "seed", "negatives_per_record", "party_loss_weight", "ema_decay", "ema_start", "teacher", "dyad_in_text", "sentiment_loss_weight", "note")


def append_row(config: Any, reports: dict[str, Any], minutes: float, tag: str | None) -> dict[str, Any]:
    dev = reports.get("dev", {})
    row = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "tag": tag,
        "data": config.data,
        **{k: getattr(config, k) for k in COLUMNS},
        "dev_n": dev.get("n_quotes"),
        "dev": {d: round(dev["dyads"][d]["macro_f1"], 4) for d in PROJECT_DYADS if d in dev.get("dyads", {})},
        "dev_sentiment": round(dev["sentiment"]["macro_f1"], 4) if "sentiment" in dev else None,
        "minutes": round(minutes, 1),
    }
    if "weight_average" in reports:
        row["weight_average"] = reports["weight_average"]
    path = Path(config.experiment_log)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
    return row


def _average_cell(row: dict[str, Any]) -> str:
    """``decay from share: kept`` where the run kept a weight average (dev figures are of the weights kept)."""
    choice = row.get("weight_average")
    if not choice:
        return "-"
    return f"{row['ema_decay']:g} from {row['ema_start']:g}: {choice['kept']}"


def markdown(rows: list[dict[str, Any]]) -> str:
    head = ("| # | backbone | steps / epochs | lr enc / head | layer decay | warm-up | max len | seed | negatives | party | "
            "weight avg | dyad in text | dev n | dev RI | dev RIr | dev sent | min | note |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for i, r in enumerate(rows, start=1):
        steps = f"{r['max_steps']} steps" if r.get("max_steps") else f"{r['epochs']:g} ep"
        lines.append(
            f"| {i} | {r['backbone']} | {steps} | {r['learning_rate']:g} / {r['head_learning_rate']:g} | "
            f"{r['layer_decay']:g} | {r['warmup_ratio']:g} | {r['max_length']} | {r['seed']} | "
            f"{r['negatives_per_record']} | {r.get('party_loss_weight') or 0:g} | {_average_cell(r)} | {'yes' if r.get('dyad_in_text') else '-'} | {r['dev_n']} | {r['dev'].get('russia-israel', float('nan')):.3f} | "
            f"{r['dev'].get('russia-iran', float('nan')):.3f} | {r['dev_sentiment']:.3f} | {r['minutes']} | {r.get('note', '')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    path = Path(argv[0] if argv else "benchmarks/experiments.jsonl")
    rows = [json.loads(l) for l in path.read_text().splitlines() if l.strip()]
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
