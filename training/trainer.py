"""Fine-tuning on the Hugging Face ``Trainer``: the loss is ours, the loop is not.

Building on ``Trainer`` gives device pick-up (CPU, one GPU, ``torchrun`` on
several), the progress bar and the schedule for free.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from transformers import Trainer, TrainingArguments, set_seed

from models.calibration import fit_temperature
from models.label_schema import PROJECT_DYADS, QuoteRecord, canonical_dyad
from models.network import StanceModel
from models.predictor import Predictor
from training import data as data_mod
from training.config import TrainConfig
from training.evaluation import evaluate, format_report, headline_metrics, score_logits, stance_pairs

log = logging.getLogger(__name__)


class StanceCollator:
    """Pads each batch to its own longest row; label tensors pass through."""

    def __init__(self, tokenizer: Any) -> None:
        self.pad_id = tokenizer.pad_token_id or 0

    def __call__(self, rows: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        width = max(len(r["input_ids"]) for r in rows)
        batch: dict[str, torch.Tensor] = {}
        for key, fill in (("input_ids", self.pad_id), ("attention_mask", 0), ("token_type_ids", 0)):
            if key in rows[0]:
                batch[key] = torch.tensor([list(r[key]) + [fill] * (width - len(r[key])) for r in rows])
        batch["stance_labels"] = torch.tensor([r["stance_labels"] for r in rows], dtype=torch.long)
        batch["sentiment_labels"] = torch.tensor([r["sentiment_labels"] for r in rows], dtype=torch.long)
        return batch


class StanceTrainer(Trainer):
    """Sums the named loss parts for the step and logs each one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._parts: dict[str, list[float]] = defaultdict(list)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(**inputs)
        for name in ("stance_loss", "sentiment_loss"):
            if name in outputs:
                self._parts[name].append(float(outputs[name].detach()))
        return (outputs["loss"], outputs) if return_outputs else outputs["loss"]

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:
            for name, values in self._parts.items():
                if values:
                    logs[name] = round(sum(values) / len(values), 4)
            self._parts.clear()
        super().log(logs, start_time)


@dataclass
class TrainResult:
    tag: str | None
    model: StanceModel
    reports: dict[str, Any]
    report_text: str
    splits: data_mod.Splits


def known_spellings(records: Sequence[QuoteRecord]) -> list[str]:
    """Project dyads first, then every other dyad in order of first appearance."""
    known = list(PROJECT_DYADS)
    for r in records:
        for d in r.labels:
            spelled = canonical_dyad(d, known)
            if spelled not in known:
                known.append(spelled)
    return known


def prepare_splits(config: TrainConfig) -> tuple[data_mod.Splits, list[QuoteRecord], list[str]]:
    records = data_mod.load_records(config.data)
    known = known_spellings(records)
    records = data_mod.normalise_dyad_names(records, known)
    strat_dyads = data_mod.choose_default_dyads(records, config.default_dyad_fraction)
    splits = data_mod.split_records(
        records, strat_dyads, config.dev_fraction, config.test_fraction, config.seed
    )
    if config.max_train_samples:
        splits.train = splits.train[: config.max_train_samples]
    seeds: list[QuoteRecord] = []
    if config.seed_quotes and Path(config.seed_quotes).is_file():
        seeds = data_mod.normalise_dyad_names(data_mod.load_records(config.seed_quotes), known)
    return splits, seeds, known


def calibrate(predictor: Predictor, dev: Sequence[QuoteRecord]) -> None:
    """Fit one temperature per head on dev and store it in the model's config."""
    raw, gold = score_logits(predictor, dev, list(predictor.config.dyads))
    s_logits, s_labels = stance_pairs(raw, gold)
    known = gold.sentiment >= 0
    predictor.config.stance_temperature = fit_temperature(s_logits, s_labels)
    predictor.config.sentiment_temperature = fit_temperature(raw.sentiment[known], gold.sentiment[known])


def train_model(config: TrainConfig) -> TrainResult:
    """Load, split, fine-tune, calibrate, evaluate and (unless told not to) register."""
    set_seed(config.seed)
    splits, seeds, known = prepare_splits(config)
    holdout = canonical_dyad(config.holdout_dyad, known) if config.holdout_dyad else ""
    train, dev = splits.train, splits.dev
    if holdout:
        train = data_mod.without_dyad(train, holdout)
        dev = data_mod.without_dyad(dev, holdout)
    if not train:
        raise data_mod.DataError(f"{config.data}: no training records after splitting")
    counts = data_mod.dyad_counts(train)
    dyads = [d for d in known if counts.get(d)]
    default_dyads = [d for d in data_mod.choose_default_dyads(train, config.default_dyad_fraction) if d in dyads]
    log.info("training on %d records, %d dyads: %s", len(train), len(dyads), dyads)

    model = StanceModel.from_backbone(
        config.backbone,
        dyads,
        default_dyads,
        max_length=config.max_length,
        dropout=config.dropout,
        dyad_train_counts={d: int(counts[d]) for d in dyads},
    )
    train_ds = data_mod.to_dataset(train, model.tokenizer, dyads, config.max_length)
    args = TrainingArguments(
        output_dir=config.work_dir,
        per_device_train_batch_size=config.batch_size,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup_ratio,
        lr_scheduler_type="linear",
        logging_steps=20,
        save_strategy="no",
        report_to=[],
        seed=config.seed,
        data_seed=config.seed,
        remove_unused_columns=False,
        label_names=["stance_labels", "sentiment_labels"],
        train_sampling_strategy="group_by_length",
        length_column_name="length",
        dataloader_num_workers=0,
    )
    trainer = StanceTrainer(
        model=model, args=args, train_dataset=train_ds, data_collator=StanceCollator(model.tokenizer)
    )
    trainer.train()
    model = trainer.model.eval()

    predictor = Predictor(model, model_tag="(unsaved)", batch_size=config.eval_batch_size)
    calibrate(predictor, dev)
    reports = {
        "dev": evaluate(predictor, dev),
        "test": evaluate(predictor, splits.test),
    }
    if seeds:
        reports["seed-article"] = evaluate(predictor, seeds)
    if holdout:
        reports["holdout_dyad"] = holdout
    report_text = format_report({k: v for k, v in reports.items() if isinstance(v, dict)})

    tag = None
    if config.register:
        from training.data import data_hash
        from training.registry import save_to_store

        tag = save_to_store(
            model,
            config.model_name,
            config.to_dict(),
            data_hash(config.data),
            reports,
            headline_metrics({k: v for k, v in reports.items() if isinstance(v, dict)}),
            report_text,
        )
    return TrainResult(tag, model, reports, report_text, splits)
