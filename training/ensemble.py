"""Several stored models scored as one, for ``stance eval --model A,B``: the mean of their calibrated probabilities.

Two seeds of the mpnet teacher differ by up to 2.5 points of dev macro-F1;
their average is what a distilled student (``stance train --teacher A,B``)
tries to carry into one model, so it needs a figure of its own, measured by
the same report as a single model.
"""

from __future__ import annotations

import copy
from typing import Sequence

import numpy as np

from models.calibration import softmax
from models.input_encoding import QuoteInput
from models.predictor import Predictor, RawLogits


class EnsemblePredictor:
    """Answers ``logits`` with ``log(mean_k p_k)``, each member's ``p_k`` calibrated by its own temperatures.

    Its config is the first member's with every temperature at 1, so the evaluation's softmax of those
    "logits" gives the mean probabilities back exactly.  Members must share the label schema.
    """

    def __init__(self, members: Sequence[Predictor]) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one model")
        first = members[0]
        for m in members[1:]:
            if (m.config.stance_labels, m.config.sentiment_labels) != (first.config.stance_labels,
                                                                       first.config.sentiment_labels):
                raise ValueError(f"{m.model_tag}: its labels differ from {first.model_tag}'s; cannot average them")
        self.members = list(members)
        self.model_tag = "+".join(m.model_tag for m in members)
        self.config = copy.copy(first.config)
        self.config.stance_temperature = 1.0
        self.config.sentiment_temperature = 1.0
        self.config.dyad_temperatures = {}

    def resolve_dyads(self, dyads):
        return self.members[0].resolve_dyads(dyads)

    def is_trained(self, dyad: str) -> bool:
        return all(m.is_trained(dyad) for m in self.members)

    def logits(self, quotes: Sequence[QuoteInput], dyads: Sequence[str], needed: np.ndarray | None = None) -> RawLogits:
        dyads = list(dyads)
        stance_probs, sentiment_probs = [], []
        for m in self.members:
            raw = m.logits(quotes, dyads, needed)
            temps = np.array([m.config.temperature_for(d) for d in dyads], dtype=np.float32)[None, :, None]
            stance_probs.append(softmax(raw.stance / temps))
            sentiment_probs.append(softmax(raw.sentiment, m.config.sentiment_temperature))
        stance = np.log(np.mean(stance_probs, axis=0) + 1e-12).astype(np.float32)
        sentiment = np.log(np.mean(sentiment_probs, axis=0) + 1e-12).astype(np.float32)
        return RawLogits(stance, sentiment, dyads)
