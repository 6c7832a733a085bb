"""An exponential moving average of the weights over the last part of training.

Two seeds of the teacher recipe differ by up to 2.5 points of dev macro-F1 and
averaging two runs' logits gains 1 to 3 points, so much of the error is the
variance of where one run ends.  Averaging one run's weights along its own
late trajectory is the free part of that ensemble: no second run, no second
forward pass at serving time.  Whether it helps is decided on dev, per run
(see ``trainer.choose_weights``), not assumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from transformers import TrainerCallback


@dataclass
class WeightAverage:
    """``avg = decay * avg + (1 - decay) * w`` after every optimiser step from ``start_step`` on.

    The average is kept in float32 beside the model (one copy of the trainable
    weights); before ``start_step`` nothing is copied, so the early, poor
    weights never enter it.
    """

    decay: float
    start_step: int
    updates: int = 0
    _shadow: list[torch.Tensor] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.decay < 1:
            raise ValueError(f"ema_decay must be in (0, 1), got {self.decay}")
        if self.start_step < 0:
            raise ValueError(f"start_step must be >= 0, got {self.start_step}")

    @staticmethod
    def _params(model: torch.nn.Module) -> list[torch.Tensor]:
        return [p for p in model.parameters() if p.requires_grad]

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        if step < self.start_step:
            return
        params = [p.detach().float() for p in self._params(model)]
        if not self._shadow:
            self._shadow = [p.clone() for p in params]
        else:
            torch._foreach_mul_(self._shadow, self.decay)
            torch._foreach_add_(self._shadow, params, alpha=1 - self.decay)
        self.updates += 1

    @torch.no_grad()
    def swap(self, model: torch.nn.Module) -> None:
        """Exchange the model's weights and the average (calling it twice restores the model)."""
        if not self._shadow:
            raise RuntimeError("no weight average to swap in: training ended before its start step")
        for p, s in zip(self._params(model), self._shadow):
            current = p.detach().float().clone()
            p.copy_(s.to(p.dtype))
            s.copy_(current)


class WeightAverageCallback(TrainerCallback):
    """Feeds the ``Trainer``'s optimiser steps to a :class:`WeightAverage`, from ``start`` (a share of them) on."""

    def __init__(self, average: WeightAverage, start: float = 0.0) -> None:
        self.average = average
        self.start = start

    def on_train_begin(self, args, state, control, **kwargs):
        self.average.start_step = int(state.max_steps * self.start)
        return control

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if model is not None:
            self.average.update(model, state.global_step)
        return control
