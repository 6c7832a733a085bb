"""``stance train`` and ``stance eval``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path


def train_main(argv: list[str]) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import HfArgumentParser

    from training.config import TrainConfig
    from training.trainer import train_model

    parser = HfArgumentParser(TrainConfig, prog="stance train")
    if len(argv) == 1 and argv[0].endswith(".json"):
        (config,) = parser.parse_json_file(argv[0])
    else:
        (config,) = parser.parse_args_into_dataclasses(args=argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    result = train_model(config)
    print(result.report_text)
    if config.report_json:
        Path(config.report_json).write_text(json.dumps(result.reports, indent=2))
    if result.tag:
        print(f"\nsaved model: {result.tag}")
    return 0


def eval_main(argv: list[str]) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(prog="stance eval", description="Re-score a labelled file with a stored model.")
    parser.add_argument("--model", default=None, help="model tag (default: STANCE_MODEL_TAG or newest)")
    parser.add_argument("--data", required=True, help="labelled JSONL/CSV/Parquet file or directory")
    parser.add_argument("--seed-quotes", default="seeds/quotes.jsonl", help="also report these real quotes")
    parser.add_argument("--json", default="", help="write the report as JSON here")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)

    from models import model_store
    from models.predictor import Predictor
    from training import data as data_mod
    from training.evaluation import evaluate, format_report

    tag, path = model_store.resolve(args.model)
    predictor = Predictor.from_directory(path, tag, device=args.device)
    known = list(predictor.config.dyads)
    reports = {Path(args.data).name: evaluate(predictor, data_mod.normalise_dyad_names(data_mod.load_records(args.data), known))}
    if args.seed_quotes and Path(args.seed_quotes).is_file():
        reports["seed-article"] = evaluate(
            predictor, data_mod.normalise_dyad_names(data_mod.load_records(args.seed_quotes), known)
        )
    print(f"model: {tag}")
    print(format_report(reports))
    if args.json:
        Path(args.json).write_text(json.dumps({"model": tag, "reports": reports}, indent=2))
    return 0
