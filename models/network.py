"""The stance + sentiment network: one encoder pass per quote serves every dyad.

A dyad is not a fixed output head.  Each actor is embedded by the same
encoder from a short description ("Iran, Tehran, Iranian"), the two actor
vectors are summed (a dyad is unordered) into a dyad query, and that query
pools the quote's token states before a shared stance classifier.  A dyad
never seen in training therefore still gets an answer: only its actors'
descriptions are needed.

Persistence is safetensors + JSON only: ``stance_config.json`` (this
module's config), the encoder's ``config.json`` and tokenizer files, and
``model.safetensors`` holding every weight.  Nothing is unpickled.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from models.label_schema import (
    SENTIMENT_LABELS,
    STANCE_LABELS,
    UNKNOWN_LABEL_ID,
    actor_description,
    split_dyad,
)

CONFIG_NAME = "stance_config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT_VERSION = 1


class ModelLoadError(RuntimeError):
    """A model directory that cannot be loaded; the message says which file and why."""


@dataclass
class StanceModelConfig:
    """Everything needed to rebuild the network around its saved weights."""

    dyads: list[str]
    default_dyads: list[str]
    stance_labels: list[str] = field(default_factory=lambda: list(STANCE_LABELS))
    sentiment_labels: list[str] = field(default_factory=lambda: list(SENTIMENT_LABELS))
    dyad_train_counts: dict[str, int] = field(default_factory=dict)
    backbone: str = ""
    max_length: int = 160
    dropout: float = 0.1
    stance_temperature: float = 1.0
    sentiment_temperature: float = 1.0
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        for dyad in self.dyads:
            split_dyad(dyad)
        missing = [d for d in self.default_dyads if d not in self.dyads]
        if missing:
            raise ValueError(f"default_dyads {missing} are not in dyads {self.dyads}")
        if self.max_length < 8:
            raise ValueError(f"max_length must be >= 8, got {self.max_length}")

    @property
    def actors(self) -> list[str]:
        seen: dict[str, None] = {}
        for dyad in self.dyads:
            for actor in split_dyad(dyad):
                seen.setdefault(actor, None)
        return list(seen)


def masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def verify_model_dir(directory: str | Path) -> StanceModelConfig:
    """Cheap start-up check (config parses, weights header readable) without building the network."""
    from safetensors import safe_open

    directory = Path(directory)
    for name in (CONFIG_NAME, WEIGHTS_NAME, "config.json"):
        if not (directory / name).is_file():
            raise ModelLoadError(f"model directory {str(directory)!r} lacks {name}")
    try:
        config = StanceModelConfig(**json.loads((directory / CONFIG_NAME).read_text()))
    except (ValueError, TypeError) as exc:
        raise ModelLoadError(f"{directory / CONFIG_NAME} is not a valid stance config: {exc}") from exc
    try:
        with safe_open(str(directory / WEIGHTS_NAME), framework="pt") as fh:
            if not list(fh.keys()):
                raise ModelLoadError(f"{directory / WEIGHTS_NAME} holds no tensors")
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"{directory / WEIGHTS_NAME} is not a readable safetensors file: {exc}") from exc
    return config


def _dense_parameters(linear: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of a Linear as plain tensors, also for a dynamically quantised one (int8)."""
    weight = linear.weight() if callable(linear.weight) else linear.weight
    bias = linear.bias() if callable(linear.bias) else linear.bias
    return (weight.dequantize() if weight.is_quantized else weight), bias


class StanceModel(nn.Module):
    """Encoder + dyad-conditioned stance head + sentiment head."""

    def __init__(self, encoder: nn.Module, tokenizer: Any, config: StanceModelConfig) -> None:
        super().__init__()
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.config = config
        hidden = encoder.config.hidden_size
        self.hidden_size = hidden
        self.dropout = nn.Dropout(config.dropout)
        self.actor_proj = nn.Linear(hidden, hidden)
        self.token_key = nn.Linear(hidden, hidden)
        self.stance_mlp = nn.Sequential(
            nn.Linear(4 * hidden, hidden),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(hidden, len(config.stance_labels)),
        )
        self.sentiment_head = nn.Sequential(
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(hidden, len(config.sentiment_labels)),
        )
        self._actor_cache: dict[str, torch.Tensor] = {}

    # ----------------------------------------------------------------- build
    @classmethod
    def from_backbone(
        cls, backbone: str, dyads: Sequence[str], default_dyads: Sequence[str], **config_kwargs: Any
    ) -> "StanceModel":
        """A fresh model on a pretrained local encoder directory (never a hub download)."""
        from transformers import AutoModel, AutoTokenizer

        path = Path(backbone)
        if not (path / "config.json").is_file():
            raise ModelLoadError(
                f"backbone {backbone!r} is not a local Hugging Face model directory "
                "(no config.json there); downloads from a hub are not used"
            )
        encoder = AutoModel.from_pretrained(str(path), trust_remote_code=False)
        tokenizer = AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)
        config = StanceModelConfig(
            dyads=list(dyads), default_dyads=list(default_dyads), backbone=str(backbone), **config_kwargs
        )
        return cls(encoder, tokenizer, config)

    # --------------------------------------------------------------- forward
    def train(self, mode: bool = True) -> "StanceModel":
        self._actor_cache.clear()
        return super().train(mode)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def _encode_actor_texts(self, actors: Sequence[str]) -> torch.Tensor:
        batch = self.tokenizer(
            [actor_description(a) for a in actors], padding=True, return_tensors="pt"
        ).to(self.device)
        out = self.encoder(**batch).last_hidden_state
        return masked_mean(out, batch["attention_mask"])

    def actor_vectors(self, actors: Sequence[str]) -> torch.Tensor:
        """Actor embeddings; recomputed every step in training, cached in eval."""
        if self.training or torch.is_grad_enabled():
            return self._encode_actor_texts(actors)
        missing = [a for a in actors if a not in self._actor_cache]
        if missing:
            vectors = self._encode_actor_texts(missing)
            for actor, vec in zip(missing, vectors):
                self._actor_cache[actor] = vec
        return torch.stack([self._actor_cache[a] for a in actors])

    def dyad_queries(self, dyads: Sequence[str]) -> torch.Tensor:
        pairs = [split_dyad(d) for d in dyads]
        actors = sorted({a for pair in pairs for a in pair})
        index = {a: i for i, a in enumerate(actors)}
        vecs = self.actor_proj(self.actor_vectors(actors))
        first = vecs[[index[a] for a, _ in pairs]]
        second = vecs[[index[b] for _, b in pairs]]
        return torch.tanh(first + second)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        dyads: Sequence[str] | None = None,
        stance_labels: torch.Tensor | None = None,
        sentiment_labels: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        dyads = list(dyads) if dyads is not None else list(self.config.dyads)
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**kwargs).last_hidden_state  # (B, T, H)
        out = self.heads(hidden, attention_mask, dyads)
        if stance_labels is not None or sentiment_labels is not None:
            out.update(self.losses(out["stance_logits"], out["sentiment_logits"], stance_labels, sentiment_labels))
        return out

    def heads(self, hidden: torch.Tensor, attention_mask: torch.Tensor, dyads: Sequence[str]) -> dict[str, torch.Tensor]:
        """Stance and sentiment logits from the encoder's token states (the predictor may encode by other means)."""
        mean = masked_mean(hidden, attention_mask)  # (B, H)
        sentiment_logits = self.sentiment_head(self.dropout(mean))

        query = self.dyad_queries(dyads)  # (D, H)
        if torch.is_grad_enabled():
            keys = self.token_key(hidden)  # (B, T, H)
            scores = torch.einsum("bth,dh->bdt", keys, query)
        else:
            # Inference: token_key(hidden) . query, folded so the key projection is applied to the D
            # queries instead of the B*T tokens; the same numbers up to float rounding, far less work.
            weight, bias = _dense_parameters(self.token_key)
            scores = torch.einsum("bth,dh->bdt", hidden, query @ weight.to(query.dtype))
            scores = scores + (query @ bias.to(query.dtype))[None, :, None]
        scores = scores / math.sqrt(self.hidden_size)
        scores = scores.masked_fill(attention_mask[:, None, :] == 0, torch.finfo(scores.dtype).min)
        pooled = torch.einsum("bdt,bth->bdh", scores.softmax(-1), hidden)  # (B, D, H)
        b, d = pooled.shape[:2]
        q = query.unsqueeze(0).expand(b, d, -1)
        feats = torch.cat([mean.unsqueeze(1).expand(b, d, -1), pooled, q, pooled * q], dim=-1)
        stance_logits = self.stance_mlp(self.dropout(feats))  # (B, D, S)
        return {"stance_logits": stance_logits, "sentiment_logits": sentiment_logits}

    @staticmethod
    def losses(
        stance_logits: torch.Tensor,
        sentiment_logits: torch.Tensor,
        stance_labels: torch.Tensor | None,
        sentiment_labels: torch.Tensor | None,
    ) -> dict[str, torch.Tensor]:
        """Named loss parts; unknown dyads (-100) are masked out of the stance loss."""
        parts: dict[str, torch.Tensor] = {}
        if stance_labels is not None:
            flat = stance_labels.reshape(-1)
            if (flat != UNKNOWN_LABEL_ID).any():
                parts["stance_loss"] = F.cross_entropy(
                    stance_logits.reshape(-1, stance_logits.shape[-1]),
                    flat,
                    ignore_index=UNKNOWN_LABEL_ID,
                )
            else:
                parts["stance_loss"] = stance_logits.sum() * 0.0
        if sentiment_labels is not None:
            parts["sentiment_loss"] = F.cross_entropy(
                sentiment_logits, sentiment_labels, ignore_index=UNKNOWN_LABEL_ID
            )
        parts["loss"] = sum(parts.values())
        return parts

    # ----------------------------------------------------------- persistence
    def save_pretrained(self, directory: str | Path) -> None:
        from safetensors.torch import save_model

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.encoder.config.save_pretrained(str(directory))
        self.tokenizer.save_pretrained(str(directory))
        save_model(self, str(directory / WEIGHTS_NAME))
        (directory / CONFIG_NAME).write_text(json.dumps(asdict(self.config), indent=2, sort_keys=True))

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str | torch.device = "cpu") -> "StanceModel":
        from safetensors.torch import load_model
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        directory = Path(directory)
        config_path = directory / CONFIG_NAME
        weights_path = directory / WEIGHTS_NAME
        for needed in (config_path, weights_path, directory / "config.json"):
            if not needed.is_file():
                raise ModelLoadError(f"model directory {str(directory)!r} lacks {needed.name}")
        try:
            raw = json.loads(config_path.read_text())
            config = StanceModelConfig(**raw)
        except (ValueError, TypeError) as exc:
            raise ModelLoadError(f"{config_path} is not a valid stance config: {exc}") from exc
        if config.format_version != FORMAT_VERSION:
            raise ModelLoadError(
                f"{config_path}: format_version {config.format_version} is not {FORMAT_VERSION}"
            )
        try:
            encoder_config = AutoConfig.from_pretrained(str(directory), trust_remote_code=False)
            encoder = AutoModel.from_config(encoder_config)
            tokenizer = AutoTokenizer.from_pretrained(str(directory), trust_remote_code=False)
        except Exception as exc:  # transformers raises many types here
            raise ModelLoadError(f"cannot rebuild the encoder from {directory}: {exc}") from exc
        model = cls(encoder, tokenizer, config)
        try:
            missing, unexpected = load_model(model, str(weights_path), strict=False)
        except Exception as exc:
            raise ModelLoadError(f"{weights_path} is not a readable safetensors file: {exc}") from exc
        # Position ids are a buffer some encoders rebuild themselves; anything else is a real gap.
        missing = [m for m in missing if not m.endswith("position_ids")]
        if missing or unexpected:
            raise ModelLoadError(
                f"{weights_path} does not match the network: missing {missing[:5]}, "
                f"unexpected {list(unexpected)[:5]}"
            )
        model.to(device)
        model.eval()
        return model
