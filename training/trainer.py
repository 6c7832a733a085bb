"""Fine-tuning on the Hugging Face ``Trainer``: the loss and the optimiser's groups are ours, the loop is not.

Building on ``Trainer`` gives device pick-up (CPU, one GPU, ``torchrun`` on
several), the progress bar and the schedule for free.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch.nn import functional as F
from transformers import Trainer, TrainingArguments, set_seed

from models.calibration import fit_temperature
from models.label_schema import PROJECT_DYADS, QuoteRecord, canonical_dyad
from models.network import StanceModel
from models.predictor import Predictor
from training import data as data_mod
from training.batching import BatchingConfig, StanceCollator, index_dataset
from training.config import TrainConfig
from training.evaluation import evaluate, format_report, headline_metrics, score_logits, scored_sets, stance_pairs
from training.weight_averaging import WeightAverage, WeightAverageCallback

log = logging.getLogger(__name__)


def bf16_wanted(setting: str, device: torch.device) -> bool:
    """bf16 autocast where the hardware does it fast: about 2.4x per mpnet step on an AVX-512 BF16 CPU."""
    if setting != "auto":
        return setting == "true"
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)())


class StanceTrainer(Trainer):
    """Sums the named loss parts for the step and logs each one; heads and encoder layers get their own rates."""

    def __init__(self, *args: Any, stance_config: TrainConfig, use_bf16: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stance_config = stance_config
        self.use_bf16 = use_bf16
        self._parts: dict[str, list[float]] = defaultdict(list)

    def _autocast(self):
        if not self.use_bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.args.device.type, dtype=torch.bfloat16)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        teacher_stance = inputs.pop("teacher_stance", None)
        teacher_sentiment = inputs.pop("teacher_sentiment", None)
        with self._autocast():
            outputs = model(**inputs)
        loss = outputs["loss"]
        extra = self.stance_config.sentiment_loss_weight - 1.0
        if extra and "sentiment_loss" in outputs:  # the model's loss weighs sentiment 1, like stance
            loss = loss + extra * outputs["sentiment_loss"]
        if teacher_stance is not None:
            parts = distillation_losses(outputs, teacher_stance, teacher_sentiment)
            alpha = self.stance_config.distill_alpha
            loss = (1 - alpha) * loss + alpha * (parts["distill_stance"] + parts["distill_sentiment"])
            outputs.update(parts)
        for name in ("stance_loss", "sentiment_loss", "party_loss", "distill_stance", "distill_sentiment"):
            if name in outputs:
                self._parts[name].append(float(outputs[name].detach()))
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:
            for name, values in self._parts.items():
                if values:
                    logs[name] = round(sum(values) / len(values), 4)
            self._parts.clear()
        super().log(logs, start_time)

    def create_optimizer(self, model=None):
        if self.optimizer is None:
            self.optimizer = torch.optim.AdamW(parameter_groups(self.model, self.stance_config), fused=True)
        return self.optimizer


def distillation_losses(
    outputs: dict[str, torch.Tensor], teacher_stance: torch.Tensor, teacher_sentiment: torch.Tensor
) -> dict[str, torch.Tensor]:
    """KL from the teacher's probabilities, over the cells the teacher labelled (NaN elsewhere)."""
    parts = {}
    s_logits = outputs["stance_logits"].float()
    known = ~torch.isnan(teacher_stance[..., 0])
    if known.any():
        parts["distill_stance"] = F.kl_div(
            F.log_softmax(s_logits[known], -1), teacher_stance[known].to(s_logits.device), reduction="batchmean"
        )
    else:
        parts["distill_stance"] = s_logits.sum() * 0.0
    t_logits = outputs["sentiment_logits"].float()
    known_t = ~torch.isnan(teacher_sentiment[:, 0])
    if known_t.any():
        parts["distill_sentiment"] = F.kl_div(
            F.log_softmax(t_logits[known_t], -1), teacher_sentiment[known_t].to(t_logits.device), reduction="batchmean"
        )
    else:
        parts["distill_sentiment"] = t_logits.sum() * 0.0
    return parts


def parameter_groups(model: StanceModel, config: TrainConfig) -> list[dict[str, Any]]:
    """Heads at ``head_learning_rate``; encoder layer ``i`` of ``L`` at ``learning_rate * layer_decay**(L-i)``.

    Embeddings count as layer 0.  Biases and LayerNorm weights take no weight decay.
    """
    import re

    n_layers = getattr(model.encoder.config, "num_hidden_layers", 0)
    groups: dict[tuple[float, float], list[torch.nn.Parameter]] = defaultdict(list)
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        decay = 0.0 if param.ndim < 2 else config.weight_decay  # biases, norms, scales
        if name.startswith("encoder."):
            m = re.search(r"\.layer\.(\d+)\.", name)
            depth = int(m.group(1)) + 1 if m else (0 if "embeddings" in name else n_layers)
            lr = config.learning_rate * config.layer_decay ** (n_layers - depth)
        else:
            lr = config.head_learning_rate
        groups[(lr, decay)].append(param)
    return [{"params": ps, "lr": lr, "weight_decay": wd} for (lr, wd), ps in sorted(groups.items())]


@dataclass
class TrainResult:
    tag: str | None
    model: StanceModel | None
    reports: dict[str, Any]
    report_text: str
    splits: data_mod.Splits
    minutes: float
    promotion: dict[str, Any] | None = None
    report_path: str | None = None


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
    if config.dev_slice:
        splits.dev = sorted(splits.dev, key=lambda r: data_mod.stable_rank(0, r.id))[: config.dev_slice]
    seeds: list[QuoteRecord] = []
    if config.seed_quotes and Path(config.seed_quotes).is_file():
        seeds = data_mod.normalise_dyad_names(data_mod.load_records(config.seed_quotes), known)
    return splits, seeds, known


MIN_CALIBRATION_LABELS = 150


def calibrate(predictor: Predictor, dev: Sequence[QuoteRecord]) -> None:
    """Fit temperatures on dev and store them in the model's config: one for sentiment, one per dyad
    with enough dev labels (the project dyads), one pooled for the rest."""
    raw, gold = score_logits(predictor, dev, list(predictor.config.dyads))
    s_logits, s_labels = stance_pairs(raw, gold)
    known = gold.sentiment >= 0
    predictor.config.stance_temperature = fit_temperature(s_logits, s_labels)
    predictor.config.sentiment_temperature = fit_temperature(raw.sentiment[known], gold.sentiment[known])
    predictor.config.dyad_temperatures = {}
    for j, dyad in enumerate(raw.dyads):
        rows = gold.stance[dyad] >= 0
        if rows.sum() >= MIN_CALIBRATION_LABELS:
            predictor.config.dyad_temperatures[dyad] = fit_temperature(raw.stance[rows, j], gold.stance[dyad][rows])


def dev_score(report: dict[str, Any]) -> float:
    """One number to choose weights by on dev: the mean macro-F1 of the project dyads and sentiment."""
    heads = [report["dyads"][d]["macro_f1"] for d in PROJECT_DYADS if d in report.get("dyads", {})]
    if "sentiment" in report:
        heads.append(report["sentiment"]["macro_f1"])
    return sum(heads) / len(heads) if heads else 0.0


def choose_weights(predictor: Predictor, dev: Sequence[QuoteRecord],
                   average: WeightAverage) -> tuple[dict[str, Any], dict[str, Any]]:
    """Keep the final or the averaged weights, whichever scores better on dev, calibrated for the one kept.

    Returns (what was compared and kept, the dev report of the kept weights).
    """
    cfg = predictor.config
    calibrate(predictor, dev)
    final = evaluate(predictor, dev)
    final_temperatures = (cfg.stance_temperature, cfg.sentiment_temperature, dict(cfg.dyad_temperatures))
    average.swap(predictor.model)
    calibrate(predictor, dev)
    averaged = evaluate(predictor, dev)
    kept = "averaged" if dev_score(averaged) > dev_score(final) else "final"
    if kept == "final":
        average.swap(predictor.model)
        cfg.stance_temperature, cfg.sentiment_temperature, cfg.dyad_temperatures = final_temperatures
    log.info("weight average: dev %.4f against the final weights' %.4f; keeping the %s weights",
             dev_score(averaged), dev_score(final), kept)
    heads = lambda rep: {**{d: round(rep["dyads"][d]["macro_f1"], 4) for d in PROJECT_DYADS if d in rep["dyads"]},
                         "sentiment": round(rep["sentiment"]["macro_f1"], 4)}
    choice = {"kept": kept, "updates": average.updates, "decay": average.decay, "start_step": average.start_step,
              "dev_final": heads(final), "dev_averaged": heads(averaged)}
    return choice, (averaged if kept == "averaged" else final)


def build_trainer(config: TrainConfig, model: StanceModel, train: Sequence[QuoteRecord], dyads: Sequence[str],
                  soft_targets: dict[str, Any] | None = None,
                  average: WeightAverage | None = None) -> StanceTrainer:
    train_ds = index_dataset(train, model.tokenizer, config.max_length)
    collator = StanceCollator(
        model.tokenizer,
        train,
        dyads,
        BatchingConfig(config.max_length, config.speaker_actor_dropout, config.negatives_per_record, config.negative_weight,
                       config.dyad_in_text),
        seed=config.seed,
        soft_targets=soft_targets,
    )
    # torchrun on a machine without CUDA: data-parallel over CPU processes with gloo (accelerate otherwise
    # leaves each process training alone).  Heads are used per batch's dyads, so some parameters get no
    # gradient on a rank: DDP must look for unused ones.
    cpu_ddp = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
    args = TrainingArguments(
        output_dir=config.work_dir,
        use_cpu=cpu_ddp,
        ddp_backend="gloo" if cpu_ddp else None,
        ddp_find_unused_parameters=True,
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
        train_sampling_strategy="group_by_length",
        length_column_name="length",
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    return StanceTrainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        data_collator=collator,
        stance_config=config,
        use_bf16=bf16_wanted(config.bf16, args.device),
        callbacks=[WeightAverageCallback(average, config.ema_start)] if average is not None else None,
    )


def train_model(config: TrainConfig) -> TrainResult:
    """Load, split, fine-tune, calibrate, evaluate and (unless told not to) register."""
    started = time.monotonic()
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
        attention_heads=config.attention_heads,
        party_loss_weight=config.party_loss_weight,
        dyad_in_text=config.dyad_in_text,
        dyad_train_counts={d: int(counts[d]) for d in dyads},
    )
    soft_targets = None
    if config.teacher:
        from training.distillation import teacher_targets

        train, soft_targets = teacher_targets(config.teacher, train, dyads, config.unlabelled, config.eval_batch_size)
    average = WeightAverage(config.ema_decay, start_step=0) if config.ema_decay else None
    trainer = build_trainer(config, model, train, dyads, soft_targets, average)
    trainer.train()
    if not trainer.is_world_process_zero():
        # Under torchrun every rank trains; only rank 0 evaluates, registers and promotes.  The others wait
        # for its outcome, so every rank reports it and exits with the same code.
        shared = _share_outcome(None)
        return TrainResult(shared.get("tag"), None, shared.get("reports", {}), "", splits,
                           (time.monotonic() - started) / 60, shared.get("promotion"), shared.get("report_path"))
    model = trainer.model.eval()

    predictor = Predictor(model, model_tag="(unsaved)", batch_size=config.eval_batch_size)
    if average is not None and average.updates:
        weight_choice, dev_report = choose_weights(predictor, dev, average)
        reports: dict[str, Any] = {"dev": dev_report, "weight_average": weight_choice}
    else:
        calibrate(predictor, dev)
        reports = {"dev": evaluate(predictor, dev)}
    gate_records = gate_set(config, splits)
    if not config.skip_test:
        reports["test"] = evaluate(predictor, splits.test)
    if seeds:
        reports["seed-article"] = evaluate(predictor, seeds)
    if holdout:
        reports["holdout_dyad"] = holdout
    report_text = format_report(scored_sets(reports))
    minutes = (time.monotonic() - started) / 60
    reports["minutes"] = round(minutes, 1)

    tag = promotion = report_path = None
    if config.register:
        from training import model_admin
        from training.data import data_hash
        from training.registry import save_to_store

        gate_name, gate_recs = gate_records
        candidate_gate = model_admin.gate_scores(
            reports["test"] if gate_name == "test" and "test" in reports else evaluate(predictor, gate_recs))
        incumbent_tag, incumbent_gate = incumbent_scores(gate_name, gate_recs, config.eval_batch_size)
        decision = model_admin.decide(candidate_gate, incumbent_gate, config.gate_tolerance, incumbent_tag)
        if config.promote == "force":
            decision.promoted, decision.reason = True, f"forced (gate: {decision.reason})"
        elif config.promote == "never":
            decision.promoted, decision.reason = False, f"--promote never (gate: {decision.reason})"
        gate = {**decision.to_json(), "file": gate_name, "file_hash": _records_hash(gate_recs)}
        tag, report_path = save_to_store(
            model,
            config.model_name,
            config.to_dict(),
            data_hash(config.data),
            reports,
            headline_metrics(scored_sets(reports)),
            report_text,
            gate=gate,
            predictor=predictor,
            splits={"test": splits.test, "seed": seeds},
        )
        if decision.promoted:
            model_admin.promote(tag)
        promotion = {**gate, "tag": tag}
    if config.experiment_log:
        from training.experiments import append_row

        append_row(config, reports, minutes, tag)
    _share_outcome({"tag": tag, "promotion": promotion, "report_path": report_path, "reports": reports})
    return TrainResult(tag, model, reports, report_text, splits, minutes, promotion, report_path)


def _share_outcome(outcome: dict[str, Any] | None) -> dict[str, Any]:
    """Under torchrun: rank 0's outcome (tag, promotion, report) sent to every rank; alone: ``outcome``."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return outcome or {}
    box = [outcome]
    dist.broadcast_object_list(box, src=0)
    return box[0] or {}


def gate_set(config: TrainConfig, splits: data_mod.Splits) -> tuple[str, list[QuoteRecord]]:
    """(name, records) of the fixed file the promotion gate compares candidate and promoted model on."""
    if config.gate_data:
        return config.gate_data, data_mod.load_records(config.gate_data)
    return "test", list(splits.test)


def _records_hash(records: Sequence[QuoteRecord]) -> str:
    import hashlib

    digest = hashlib.sha256()
    for r in sorted(records, key=lambda r: r.id):
        digest.update(f"{r.id}\t{r.text}\t{sorted(r.labels.items())}\t{r.sentiment}\n".encode())
    return digest.hexdigest()


def incumbent_scores(gate_name: str, gate_records: Sequence[QuoteRecord], batch_size: int) -> tuple[str | None, dict[str, float] | None]:
    """The promoted model's gate scores on the same file: from its metadata when it was gated on the same
    records, else by scoring it now."""
    from models import model_store
    from training.model_admin import gate_scores

    tag = model_store.promoted_tag()
    if tag is None:
        return None, None
    import bentoml

    meta = dict(bentoml.models.get(tag).info.metadata)
    stored = meta.get("gate", {})
    if stored.get("file_hash") == _records_hash(gate_records) and stored.get("candidate"):
        return tag, dict(stored["candidate"])
    _, path = model_store.resolve(tag)
    incumbent = Predictor.from_directory(path, tag, batch_size=batch_size)
    known = list(incumbent.config.dyads)
    return tag, gate_scores(evaluate(incumbent, data_mod.normalise_dyad_names(gate_records, known)))
