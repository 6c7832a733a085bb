"""``stance train``, ``eval``, ``eval-extraction``, ``models``, ``promote``, ``rollback``, ``select``, ``import``.

``stance train`` ends with one line of JSON on stdout saying what happened,
and an exit code a scheduler can act on: 0 promoted (serving by default from
the next start), 3 trained and registered but not promoted (the gate refused
it, or ``--promote never``), 2 bad input, 1 anything else.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import Any

from training.config import TrainConfig, TrainConfigError

EXIT_PROMOTED = 0
EXIT_NOT_PROMOTED = 3


def _bool(value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


_TYPES: dict[str, Any] = {"int": int, "float": float, "bool": _bool, "str": str}


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """One option per config field, typed and documented from the dataclass (the one config object)."""
    for f in dataclasses.fields(cls):
        type_name = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "str")
        has_default = f.default is not dataclasses.MISSING
        parser.add_argument(
            f"--{f.name}",
            type=_TYPES.get(type_name, str),
            default=None,
            help=f.metadata.get("help", "") + (f" (default: {f.default!r})" if has_default else " (required)"),
        )


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    values: dict[str, Any] = {}
    if getattr(args, "config", None):
        try:
            loaded = json.loads(Path(args.config).read_text())
        except (OSError, ValueError) as exc:
            raise TrainConfigError(f"--config {args.config!r} is not a readable JSON file: {exc}") from None
        if not isinstance(loaded, dict):
            raise TrainConfigError(f"--config {args.config!r} must hold a JSON object, got {type(loaded).__name__}")
        known = {f.name for f in dataclasses.fields(TrainConfig)}
        unknown = sorted(set(loaded) - known)
        if unknown:
            raise TrainConfigError(f"--config {args.config!r} has unknown options {unknown}")
        json_types = {"float": (int, float), "int": int, "bool": bool, "str": str}
        for f in dataclasses.fields(TrainConfig):
            value, wanted = loaded.get(f.name), json_types.get(str(f.type))
            if f.name in loaded and wanted and (not isinstance(value, wanted) or
                                                 (isinstance(value, bool) and str(f.type) != "bool")):
                raise TrainConfigError(f"--config {args.config!r}: {f.name} must be {f.type}, got {value!r}")
        values.update(loaded)
    for f in dataclasses.fields(TrainConfig):
        v = getattr(args, f.name, None)
        if v is not None:
            values[f.name] = v
    if "data" not in values:
        raise TrainConfigError("--data is required (or a --config file that sets it)")
    return TrainConfig(**values)


def register(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="fine-tune a model, register it as a candidate, promote it if it passes the gate",
                           description=__doc__.split("\n\n")[0])
    train.add_argument("--config", default=None, help="a JSON file of options (command-line options override it)")
    add_dataclass_arguments(train, TrainConfig)
    train.set_defaults(func=train_main)

    ev = sub.add_parser("eval", help="re-score a labelled file with a stored model and print the report")
    ev.add_argument("--model", default=None, help="model tag (default: STANCE_MODEL_TAG, else the promoted model); "
                    "several joined by commas score as one ensemble (the mean of their calibrated probabilities)")
    ev.add_argument("--data", required=True, help="labelled JSONL/CSV/Parquet file or directory")
    ev.add_argument("--seed-quotes", default="seeds/quotes.jsonl", help="also report these real quotes")
    ev.add_argument("--json", default="", help="write the report as JSON here")
    ev.add_argument("--device", default="auto")
    ev.set_defaults(func=eval_main)

    ex = sub.add_parser("eval-extraction", help="quote P/R/F1 and speaker accuracy on the corpus's gold articles")
    ex.add_argument("--split", default="test", choices=("dev", "test", "all", "seed"),
                    help="which gold articles (the extractor is tuned on dev; test is held out)")
    ex.add_argument("--kind", default="direct", choices=("direct", "indirect"))
    ex.add_argument("--layout", default="as-written", choices=("as-written", "single-newline", "wrapped"),
                    help="re-lay the articles out as scraped text often is: paragraphs split by one line break, "
                         "or hard-wrapped at 72 columns (offsets kept)")
    ex.add_argument("--errors", type=int, default=0, help="print this many errors")
    ex.add_argument("--json", default="", help="also write the scores here")
    ex.set_defaults(func=eval_extraction_main)

    beh = sub.add_parser("eval-behaviour", help="none for unrelated quotes on any dyad; a stance for unseen dyads")
    beh.add_argument("--model", default=None, help="model tag (default: STANCE_MODEL_TAG, else the promoted model)")
    beh.add_argument("--json", default="", help="also write the report here")
    beh.set_defaults(func=lambda a: __import__("training.behaviour_eval", fromlist=["main"]).main(a))

    from training import model_admin

    model_admin.register(sub)
    __import__("training.annotation", fromlist=["register"]).register(sub)
    __import__("training.label_audit", fromlist=["register"]).register(sub)


def run_training(argv: list[str]) -> int:
    """``stance train`` from a plain argument list (the serve bootstrap builds the default model this way)."""
    parser = argparse.ArgumentParser(prog="stance train")
    parser.add_argument("--config", default=None)
    add_dataclass_arguments(parser, TrainConfig)
    return train_main(parser.parse_args(argv))


def train_main(args: argparse.Namespace) -> int:
    from training.trainer import train_model

    config = config_from_args(args)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    result = train_model(config)
    print(result.report_text, file=sys.stderr)
    if config.report_json:
        Path(config.report_json).write_text(json.dumps(result.reports, indent=2))
    promoted = bool(result.promotion and result.promotion.get("promoted"))
    status = "promoted" if promoted else ("registered" if result.tag else "not_registered")
    print(json.dumps({"status": status, "tag": result.tag, "promotion": result.promotion,
                      "report": result.report_path, "minutes": round(result.minutes, 1)}))
    return EXIT_PROMOTED if promoted or not config.register else EXIT_NOT_PROMOTED


def eval_extraction_main(args: argparse.Namespace) -> int:
    from training.extraction_eval import run_cli

    return run_cli(args)


def eval_main(args: argparse.Namespace) -> int:
    from models import model_store
    from models.predictor import Predictor
    from training import data as data_mod
    from training.evaluation import evaluate, format_report

    tags = model_store.split_tags(args.model) if args.model else [None]
    members = [Predictor.from_directory(path, tag, device=args.device)
               for tag, path in (model_store.resolve(t) for t in tags)]
    if len(members) == 1:
        predictor = members[0]
    else:
        from training.ensemble import EnsemblePredictor

        predictor = EnsemblePredictor(members)
    tag = predictor.model_tag
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
