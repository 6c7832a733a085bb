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

from models.errors import StanceError

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
FORMAT_VERSION = 2


class ModelLoadError(StanceError, RuntimeError):
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
    max_length: int = 192
    dropout: float = 0.1
    attention_heads: int = 4
    stance_temperature: float = 1.0  # for dyads without their own
    sentiment_temperature: float = 1.0
    dyad_temperatures: dict[str, float] = field(default_factory=dict)  # fitted per well-labelled dyad
    # weight of the auxiliary loss "is this actor a party to what is said" (0: no such head); training only
    party_loss_weight: float = 0.0
    # one encoder pass per (quote, dyad) with the dyad named at the head of the second segment
    # (models/input_encoding.py); False: one pass per quote serves every dyad
    dyad_in_text: bool = False
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        for dyad in self.dyads:
            split_dyad(dyad)
        missing = [d for d in self.default_dyads if d not in self.dyads]
        if missing:
            raise ValueError(f"default_dyads {missing} are not in dyads {self.dyads}")
        if self.max_length < 8:
            raise ValueError(f"max_length must be >= 8, got {self.max_length}")

    def temperature_for(self, dyad: str) -> float:
        return float(self.dyad_temperatures.get(dyad, self.stance_temperature))

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


def _encoder_inputs(encoder: nn.Module) -> set[str]:
    """Argument names the encoder's forward takes (MPNet has no token_type_ids)."""
    import inspect

    return set(inspect.signature(encoder.forward).parameters)


class DyadHead(nn.Module):
    """Stance logits for any dyad from the encoder's token states.

    Each actor is a query (its description embedded by the encoder, then
    projected); each actor attention-pools the quote's tokens with a few heads,
    so the head sees what the text says *about* each actor.  A dyad combines
    its two actors' pooled vectors symmetrically (sum, product, distance), so
    ``a-b`` and ``b-a`` get the same answer and an unseen pair of known or
    described actors still gets one.  Token states are layer-normalised and
    the scores carry a learned scale: a larger encoder's smaller, flatter token
    states (mpnet) would otherwise give near-uniform attention, and both actors
    of a dyad would pool the same vector.

    The key projection is folded into the queries (``scores = H·(W_k^T q) +
    b_k·q``): the same numbers as projecting every token, at the cost of
    projecting a handful of actor queries instead.
    """

    def __init__(self, hidden: int, n_labels: int, heads: int, dropout: float) -> None:
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden size {hidden} is not divisible by {heads} attention heads")
        self.heads = heads
        self.head_dim = hidden // heads
        self.norm = nn.LayerNorm(hidden)
        self.actor_proj = nn.Sequential(nn.Linear(hidden, hidden), nn.LayerNorm(hidden))
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.log_scale = nn.Parameter(torch.tensor(math.log(4.0)))
        self.dropout = nn.Dropout(dropout)
        self.mlp = nn.Sequential(
            nn.Linear(5 * hidden, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_labels),
        )
        # (A) "is this actor a party to what is said", read from the same per-actor pooling as the stance
        # logits so the auxiliary loss shapes what each actor attends to; set when that loss is on
        self.party: nn.Linear | None = None

    def pooled_per_actor(
        self, hidden: torch.Tensor, mask: torch.Tensor, actors: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per actor, the token states it attends to: (B, A, H); plus (B, H) mean and (A, H) actor queries."""
        normed = self.norm(hidden)  # (B, T, H)
        b, t, h = normed.shape
        a = self.actor_proj(actors)  # (A, H)
        q = self.query(a).view(-1, self.heads, self.head_dim)  # (A, n, d)
        wk = self.key.weight.view(self.heads, self.head_dim, h)  # (n, d, H)
        folded = torch.einsum("and,ndh->anh", q, wk)  # (A, n, H)
        bias = torch.einsum("and,nd->an", q, self.key.bias.view(self.heads, self.head_dim))
        scores = torch.einsum("bth,anh->bant", normed, folded) + bias[None, :, :, None]
        scores = scores * (self.log_scale.exp() / math.sqrt(self.head_dim))
        scores = scores.masked_fill(mask[:, None, None, :] == 0, torch.finfo(scores.dtype).min)
        weights = scores.softmax(-1)  # (B, A, n, T)
        values = normed.view(b, t, self.heads, self.head_dim)
        pooled = torch.einsum("bant,btnd->band", weights, values).reshape(b, -1, h)
        return pooled, masked_mean(normed, mask), a

    def forward(
        self, hidden: torch.Tensor, mask: torch.Tensor, actor_vectors: torch.Tensor, pairs: Sequence[tuple[int, int]],
        with_party: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """(B, D, S) stance logits; with ``with_party`` also (B, A) party logits from the same pooling."""
        pooled, mean, queries = self.pooled_per_actor(hidden, mask, actor_vectors)
        i = [p for p, _ in pairs]
        j = [q for _, q in pairs]
        first, second = pooled[:, i], pooled[:, j]  # (B, D, H)
        b, d, _ = first.shape
        dyad = (queries[i] + queries[j]).unsqueeze(0).expand(b, d, -1)
        feats = torch.cat(
            [mean.unsqueeze(1).expand(b, d, -1), first + second, first * second, (first - second).abs(), dyad], dim=-1
        )
        logits = self.mlp(self.dropout(feats))  # (B, D, S)
        if with_party:
            if self.party is None:
                raise RuntimeError("this model was built without the party head (party_loss_weight 0)")
            return logits, self.party(self.dropout(pooled)).squeeze(-1)
        return logits


class SentimentHead(nn.Module):
    """Sentiment from the quote's own tokens (``quote_mask``), as the guidelines define it."""

    def __init__(self, hidden: int, n_labels: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.mlp = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(2 * hidden, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, n_labels)
        )

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor, quote_mask: torch.Tensor | None) -> torch.Tensor:
        normed = self.norm(hidden)
        whole = masked_mean(normed, mask)
        own = whole if quote_mask is None else masked_mean(normed, quote_mask * mask)
        return self.mlp(torch.cat([own, whole], dim=-1))


class StanceModel(nn.Module):
    """Encoder + dyad-conditioned stance head + sentiment head."""

    def __init__(self, encoder: nn.Module, tokenizer: Any, config: StanceModelConfig) -> None:
        super().__init__()
        self.encoder = encoder
        self.tokenizer = tokenizer
        self.config = config
        hidden = encoder.config.hidden_size
        self.hidden_size = hidden
        self.stance_head = DyadHead(hidden, len(config.stance_labels), config.attention_heads, config.dropout)
        self.sentiment_head = SentimentHead(hidden, len(config.sentiment_labels), config.dropout)
        if config.party_loss_weight > 0:
            self.stance_head.party = nn.Linear(hidden, 1)
        self._actor_cache: dict[str, torch.Tensor] = {}

    # ----------------------------------------------------------------- build
    @classmethod
    def from_backbone(
        cls, backbone: str, dyads: Sequence[str], default_dyads: Sequence[str], **config_kwargs: Any
    ) -> "StanceModel":
        """A fresh model on a pretrained local encoder (``minilm``, ``mpnet`` or a directory; never a hub)."""
        from transformers import AutoModel, AutoTokenizer

        from models.backbones import BackboneError, resolve_backbone

        try:
            resolved = resolve_backbone(backbone)
        except BackboneError as exc:
            raise ModelLoadError(str(exc)) from None
        encoder = AutoModel.from_pretrained(str(resolved.path), trust_remote_code=False)
        tokenizer = AutoTokenizer.from_pretrained(str(resolved.path), trust_remote_code=False)
        config = StanceModelConfig(
            dyads=list(dyads), default_dyads=list(default_dyads), backbone=resolved.name, **config_kwargs
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
        if "token_type_ids" not in _encoder_inputs(self.encoder):
            batch.pop("token_type_ids", None)
        out = self.encoder(**batch).last_hidden_state
        return masked_mean(out, batch["attention_mask"])

    def actor_vectors(self, actors: Sequence[str]) -> torch.Tensor:
        """Actor embeddings by the current encoder: recomputed every step in training, cached in eval.

        No gradient flows through them (the heads' projections learn instead): with
        a few dozen actors a batch, backpropagating through their descriptions
        would add about 40% to a training step.
        """
        if self.training or torch.is_grad_enabled():
            with torch.no_grad():
                return self._encode_actor_texts(actors)
        missing = [a for a in actors if a not in self._actor_cache]
        if missing:
            vectors = self._encode_actor_texts(missing)
            for actor, vec in zip(missing, vectors):
                self._actor_cache[actor] = vec
        return torch.stack([self._actor_cache[a] for a in actors])

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        quote_mask: torch.Tensor | None = None,
        dyads: Sequence[str] | None = None,
        stance_labels: torch.Tensor | None = None,
        sentiment_labels: torch.Tensor | None = None,
        stance_weights: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        dyads = list(dyads) if dyads is not None else list(self.config.dyads)
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None and "token_type_ids" in _encoder_inputs(self.encoder):
            kwargs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**kwargs).last_hidden_state  # (B, T, H)
        with_party = stance_labels is not None and self.config.party_loss_weight > 0
        out = self.heads(hidden, attention_mask, dyads, quote_mask, with_party=with_party)
        if stance_labels is not None or sentiment_labels is not None:
            out.update(self.losses(out["stance_logits"], out["sentiment_logits"], stance_labels, sentiment_labels,
                                   stance_weights))
            if with_party:
                out["party_loss"] = self.party_loss(out["party_logits"], dyads, stance_labels)
                out["loss"] = out["loss"] + self.config.party_loss_weight * out["party_loss"]
        return out

    def party_loss(self, party_logits: torch.Tensor, dyads: Sequence[str], stance_labels: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy of the party head (``party_logits`` (B, A), actors sorted as :meth:`heads`
        orders them).  An actor is a party when any labelled dyad it belongs to has a stance other than
        ``none``, and not one when every labelled dyad it belongs to is ``none``; actors in no labelled dyad
        of the record are left out.  Derived from the stance labels, so the corpus needs nothing new."""
        pairs = [split_dyad(d) for d in dyads]
        index = {a: i for i, a in enumerate(sorted({a for pair in pairs for a in pair}))}
        member = torch.zeros(len(index), len(pairs), device=party_logits.device)  # (A, D)
        for j, (a, b) in enumerate(pairs):
            member[index[a], j] = member[index[b], j] = 1.0
        known = (stance_labels != UNKNOWN_LABEL_ID).float()  # (B, D)
        stance = known * (stance_labels != self.config.stance_labels.index("none")).float()
        known_actor = known @ member.T > 0  # (B, A)
        if not known_actor.any():
            return party_logits.sum() * 0.0
        party = (stance @ member.T > 0).float()
        return F.binary_cross_entropy_with_logits(party_logits.float()[known_actor], party[known_actor])

    def heads(
        self,
        hidden: torch.Tensor,
        attention_mask: torch.Tensor,
        dyads: Sequence[str],
        quote_mask: torch.Tensor | None = None,
        with_party: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Stance and sentiment logits from the encoder's token states (the predictor may encode by other means);
        with ``with_party``, the party head's logits too, one column per actor in sorted order."""
        pairs = [split_dyad(d) for d in dyads]
        actors = sorted({a for pair in pairs for a in pair})
        index = {a: i for i, a in enumerate(actors)}
        vectors = self.actor_vectors(actors).to(hidden.dtype)
        out: dict[str, torch.Tensor] = {}
        stance = self.stance_head(hidden, attention_mask, vectors, [(index[a], index[b]) for a, b in pairs],
                                  with_party=with_party)
        if with_party:
            stance, out["party_logits"] = stance
        out["stance_logits"] = stance
        out["sentiment_logits"] = self.sentiment_head(hidden, attention_mask, quote_mask)
        return out

    @staticmethod
    def losses(
        stance_logits: torch.Tensor,
        sentiment_logits: torch.Tensor,
        stance_labels: torch.Tensor | None,
        sentiment_labels: torch.Tensor | None,
        stance_weights: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Named loss parts; unknown dyads (-100) are masked out; ``stance_weights`` (B, D) scales cells."""
        parts: dict[str, torch.Tensor] = {}
        if stance_labels is not None:
            flat = stance_labels.reshape(-1)
            known = flat != UNKNOWN_LABEL_ID
            if known.any():
                cells = F.cross_entropy(
                    stance_logits.reshape(-1, stance_logits.shape[-1]).float(), flat,
                    ignore_index=UNKNOWN_LABEL_ID, reduction="none",
                )
                weights = known.float() if stance_weights is None else stance_weights.reshape(-1).float() * known
                parts["stance_loss"] = (cells * weights).sum() / weights.sum().clamp(min=1e-6)
            else:
                parts["stance_loss"] = stance_logits.sum() * 0.0
        if sentiment_labels is not None:
            if (sentiment_labels != UNKNOWN_LABEL_ID).any():
                parts["sentiment_loss"] = F.cross_entropy(
                    sentiment_logits.float(), sentiment_labels, ignore_index=UNKNOWN_LABEL_ID
                )
            else:
                parts["sentiment_loss"] = sentiment_logits.sum() * 0.0
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
