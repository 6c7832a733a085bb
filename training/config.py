"""The one training config: parsed from the CLI, handed to the trainer, saved in the model card."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from models.backbones import BACKBONE_NAMES
from models.errors import StanceError

MODEL_NAME = "stance-classifier"


class TrainConfigError(StanceError, ValueError):
    """An option out of its range, or a config file the trainer cannot read; the message names the option."""


@dataclass
class TrainConfig:
    data: str = field(metadata={"help": "JSONL/CSV/Parquet file, or a directory of train/dev/test files"})
    backbone: str = field(default="minilm", metadata={"help": f"one of {BACKBONE_NAMES} or a local encoder directory"})
    model_name: str = field(default=MODEL_NAME, metadata={"help": "name in the BentoML model store"})
    epochs: float = field(default=5.0, metadata={"help": "training epochs"})
    batch_size: int = field(default=16, metadata={"help": "training batch size per device"})
    eval_batch_size: int = field(default=64, metadata={"help": "batch size for dev/test scoring"})
    learning_rate: float = field(default=8e-5, metadata={"help": "peak learning rate of the encoder's top layer"})
    head_learning_rate: float = field(default=1e-3, metadata={"help": "peak learning rate of the stance and sentiment heads"})
    layer_decay: float = field(default=1.0, metadata={"help": "each lower encoder layer's learning rate is this times the one above"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay"})
    warmup_ratio: float = field(default=0.06, metadata={"help": "fraction of steps for linear warm-up"})
    max_length: int = field(default=192, metadata={"help": "token limit for quote + speaker + context"})
    dropout: float = field(default=0.1, metadata={"help": "dropout in the heads"})
    attention_heads: int = field(default=4, metadata={"help": "heads of each actor's attention pooling"})
    bf16: str = field(default="auto", metadata={"help": "train under bf16 autocast: auto (where the CPU/GPU has fast bf16), true, false"})
    speaker_actor_dropout: float = field(default=0.5, metadata={"help": "share of steps a record's speaker actor is hidden"})
    negatives_per_record: int = field(default=1, metadata={"help": "absent-actor dyads labelled none per record and step"})
    negative_weight: float = field(default=0.5, metadata={"help": "loss weight of those absent-dyad labels"})
    party_loss_weight: float = field(default=0.0, metadata={"help": "weight of an auxiliary loss: is each actor a party to what is said (0: off)"})
    sentiment_loss_weight: float = field(default=1.0, metadata={"help": "weight of the sentiment loss against the stance loss's 1"})
    dyad_in_text: bool = field(default=False, metadata={"help": "name the dyad in the input: one encoder pass per (quote, dyad) instead of one per quote"})
    ema_decay: float = field(default=0.0, metadata={"help": "keep a moving average of the weights with this decay per step (0: off); dev picks it or the final weights"})
    ema_start: float = field(default=0.5, metadata={"help": "share of the optimiser steps after which the weight average starts"})
    seed: int = field(default=42, metadata={"help": "seed for splits, init and data order"})
    dev_fraction: float = field(default=0.15, metadata={"help": "dev share when the data has no split"})
    test_fraction: float = field(default=0.15, metadata={"help": "test share when the data has no split"})
    max_train_samples: int = field(default=0, metadata={"help": "cap on training records (0: all); quick runs"})
    max_steps: int = field(default=0, metadata={"help": "stop after this many optimiser steps (0: by epochs)"})
    dev_slice: int = field(default=0, metadata={"help": "score only this many dev records (a fixed slice; 0: all)"})
    skip_test: bool = field(default=False, metadata={"help": "do not score the test split (recipe trials look at dev only)"})
    holdout_dyad: str = field(default="", metadata={"help": "remove this dyad from training; report it as unseen"})
    seed_quotes: str = field(default="seeds/quotes.jsonl", metadata={"help": "real-text quotes reported on their own line"})
    default_dyad_fraction: float = field(
        default=0.5, metadata={"help": "dyads labelled on at least this share of records are answered by default"}
    )
    teacher: str = field(default="", metadata={"help": "distil from this stored model (tag), or the average of several (joined by commas); a member may be a soft-label file (.json.gz) instead of a tag"})
    distill_alpha: float = field(default=0.7, metadata={"help": "weight of the teacher's soft labels against the gold labels"})
    unlabelled: str = field(default="", metadata={"help": "extra quotes (JSONL with text/speaker/context) the teacher labels for the student"})
    register: bool = field(default=True, metadata={"help": "save the model to the BentoML model store"})
    promote: str = field(default="auto", metadata={"help": "auto: promote if it passes the gate; force; never"})
    gate_data: str = field(default="", metadata={"help": "fixed file the promotion gate compares on (default: the data's test split)"})
    gate_tolerance: float = field(default=0.01, metadata={"help": "a candidate may be this much below the promoted model per head"})
    work_dir: str = field(default="runs/train", metadata={"help": "scratch directory for the trainer"})
    report_json: str = field(default="", metadata={"help": "also write the evaluation report to this JSON file"})
    experiment_log: str = field(default="", metadata={"help": "append one row (config, dev F1, minutes) to this JSONL file"})
    note: str = field(default="", metadata={"help": "a word on what this run tries; goes into the experiment row"})

    def __post_init__(self) -> None:
        if self.epochs <= 0:
            raise TrainConfigError(f"--epochs must be > 0, got {self.epochs}")
        if self.batch_size < 1 or self.eval_batch_size < 1:
            raise TrainConfigError(f"--batch_size and --eval_batch_size must be >= 1, got {self.batch_size} / {self.eval_batch_size}")
        for name in ("learning_rate", "head_learning_rate"):
            if not 0 < getattr(self, name) < 1:
                raise TrainConfigError(f"--{name} must be in (0, 1), got {getattr(self, name)}")
        if not 0 < self.layer_decay <= 1:
            raise TrainConfigError(f"--layer_decay must be in (0, 1], got {self.layer_decay}")
        if not 0 <= self.warmup_ratio < 1:
            raise TrainConfigError(f"--warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if not 0 < self.dev_fraction < 0.5 or not 0 < self.test_fraction < 0.5:
            raise TrainConfigError(
                f"--dev_fraction and --test_fraction must be in (0, 0.5), got {self.dev_fraction}, {self.test_fraction}"
            )
        if self.max_length < 16:
            raise TrainConfigError(f"--max_length must be >= 16, got {self.max_length}")
        if self.max_train_samples < 0 or self.max_steps < 0 or self.dev_slice < 0:
            raise TrainConfigError("--max_train_samples, --max_steps and --dev_slice must be >= 0, got "
                                   f"{self.max_train_samples} / {self.max_steps} / {self.dev_slice}")
        if self.bf16 not in ("auto", "true", "false"):
            raise TrainConfigError(f"--bf16 must be auto, true or false, got {self.bf16!r}")
        if self.promote not in ("auto", "force", "never"):
            raise TrainConfigError(f"--promote must be auto, force or never, got {self.promote!r}")
        if not 0 <= self.speaker_actor_dropout <= 1 or not 0 <= self.distill_alpha <= 1:
            raise TrainConfigError("--speaker_actor_dropout and --distill_alpha must be in [0, 1], got "
                                   f"{self.speaker_actor_dropout} / {self.distill_alpha}")
        if self.negatives_per_record < 0 or self.negative_weight < 0:
            raise TrainConfigError("--negatives_per_record and --negative_weight must be >= 0, got "
                                   f"{self.negatives_per_record} / {self.negative_weight}")
        if not 0 <= self.ema_decay < 1:
            raise TrainConfigError(f"--ema_decay must be in [0, 1), got {self.ema_decay}")
        if not 0 <= self.ema_start < 1:
            raise TrainConfigError(f"--ema_start must be in [0, 1), got {self.ema_start}")
        if not 0 < self.sentiment_loss_weight <= 10:
            raise TrainConfigError(f"--sentiment_loss_weight must be in (0, 10], got {self.sentiment_loss_weight}")
        if self.dyad_in_text and self.teacher:
            raise TrainConfigError(f"--dyad_in_text cannot be combined with --teacher (got --teacher {self.teacher!r}): "
                                   "distillation targets are per quote, not per (quote, dyad)")
        if self.holdout_dyad:
            from models.label_schema import split_dyad

            split_dyad(self.holdout_dyad)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
