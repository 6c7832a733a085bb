"""Several training trials in one process, for a short lease on a GPU machine.

A lease is minutes long and the trained weights are too big to bring back, so
each trial leaves what is small and lasting: its experiment row (dev F1), its
headline figures, and its soft labels on the training quotes (the input of
``stance train --teacher FILE,FILE``).  Everything is written the moment a
trial ends, and the running ensemble of the trials so far is scored on dev and
test, so a run cut off by its time limit keeps every finished trial.

    python -m training.trial_batch --plan PLAN.json --out DIR [--deadline_minutes 8]

``PLAN.json`` is ``{"base": {TrainConfig fields}, "trials": [{"name": "s7", "seed": 7, ...}, ...]}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class TrialPlan:
    base: dict[str, Any]
    trials: list[dict[str, Any]]
    deadline_minutes: float = 0.0
    out: Path = field(default_factory=lambda: Path("runs/trials"))

    @classmethod
    def from_file(cls, path: str, out: str, deadline_minutes: float) -> "TrialPlan":
        body = json.loads(Path(path).read_text())
        trials = body.get("trials") or []
        names = [t.get("name") for t in trials]
        if not trials or not all(names) or len(set(names)) != len(names):
            raise ValueError(f"{path}: 'trials' must be a non-empty list with a unique 'name' each, got {names}")
        shared = [f"{t['name']}.{k}" for t in trials for k in ("data", "unlabelled") if k in t]
        if shared:
            raise ValueError(f"{path}: {', '.join(shared)}: data and unlabelled belong in 'base' (the ensemble "
                             "and the soft labels are over one data set)")
        return cls(dict(body.get("base") or {}), trials, deadline_minutes, Path(out))

    def configs(self) -> list[tuple[str, Any]]:
        """(name, TrainConfig) per trial, checked before anything trains."""
        from training.config import TrainConfig

        out = []
        for trial in self.trials:
            fields = {**self.base, **{k: v for k, v in trial.items() if k != "name"}}
            fields.update(register=False, experiment_log=str(self.out / "experiments.jsonl"),
                          work_dir=str(Path(self.base.get("work_dir", "runs/trials")) / trial["name"]))
            out.append((trial["name"], TrainConfig(**fields)))
        return out


def _device_name() -> str:
    import torch

    return torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"


def _append(path: Path, row: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")


def run(plan: TrialPlan) -> list[dict[str, Any]]:
    from models.predictor import Predictor
    from training.distillation import distillation_records, predictor_targets, write_soft_labels
    from training.ensemble import EnsemblePredictor
    from training.evaluation import evaluate, headline_metrics, scored_sets
    from training.trainer import train_model

    plan.out.mkdir(parents=True, exist_ok=True)
    results = plan.out / "trials.jsonl"
    started, per_epoch, rows, members = time.monotonic(), 0.0, [], []
    for name, config in plan.configs():
        elapsed, expected = (time.monotonic() - started) / 60, per_epoch * config.epochs
        if plan.deadline_minutes and elapsed + expected > plan.deadline_minutes:
            log.warning("stopping before %s: %.1f min used, it would take about %.1f, deadline %.1f",
                        name, elapsed, expected, plan.deadline_minutes)
            break
        t0 = time.monotonic()
        result = train_model(config)
        predictor = Predictor(result.model, model_tag=name, batch_size=config.eval_batch_size)
        records = distillation_records(result.splits.train, config.unlabelled)
        source = {"trial": name, "device": _device_name(), "config": config.to_dict(),
                  "metrics": headline_metrics(scored_sets(result.reports))}
        write_soft_labels(plan.out / f"soft-{name}.json.gz", predictor_targets(predictor, records), source, records)
        minutes = (time.monotonic() - t0) / 60
        per_epoch = max(per_epoch, minutes / config.epochs)
        row = {"trial": name, "minutes": round(minutes, 2), "train_minutes": result.minutes,
               "device": source["device"], "metrics": source["metrics"]}
        members.append(predictor)
        if len(members) > 1:
            ensemble = EnsemblePredictor(members)
            row["ensemble"] = {"members": [m.model_tag for m in members], "metrics": headline_metrics(
                {"dev": evaluate(ensemble, result.splits.dev), "test": evaluate(ensemble, result.splits.test)})}
        _append(results, row)
        rows.append(row)
        log.info("trial %s done in %.1f min: %s", name, minutes, json.dumps(row))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.trial_batch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--plan", required=True, help="JSON: {'base': {...}, 'trials': [{'name': ..., ...}]}")
    parser.add_argument("--out", required=True, help="directory for trials.jsonl, experiments.jsonl, soft-NAME.json.gz")
    parser.add_argument("--deadline_minutes", type=float, default=0.0,
                        help="start no trial that would end past this many minutes (by the slowest minutes per epoch so far); 0: none")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        plan = TrialPlan.from_file(args.plan, args.out, args.deadline_minutes)
        plan.configs()
    except (ValueError, TypeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    run(plan)
    return 0


if __name__ == "__main__":
    sys.exit(main())
